"""The lark grammar: layer strings and expressions to AST, with positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archc.errors import ArchcError
from archc.expr.evaluate import Evaluator
from archc.frontend import ast
from archc.frontend.expressions import parse_expression, parse_layer


def evaluate(text: str, **env: object) -> object:
    return Evaluator(env, (None, 8, 6, 4))(parse_expression(text))


def test_layer_call_with_positional_and_keyword_arguments() -> None:
    call = parse_layer("conv(64, 3, stride=2, padding=k // 2)")
    assert isinstance(call, ast.Call) and call.name == "conv"
    assert [a.name for a in call.args] == [None, None, "stride", "padding"]
    assert (call.args[2].span.column, call.args[2].span.end_column) == (13, 21)


def test_sequence_and_reference() -> None:
    seq = parse_layer("@stem; conv(8, 1); relu")
    assert isinstance(seq, ast.Sequence)
    assert isinstance(seq.entries[0], ast.Ref) and seq.entries[0].path == ("stem",)
    assert parse_layer("@block3.branch1") == ast.Ref(("block3", "branch1"), seq.span)


def test_positions_are_shifted_into_the_file() -> None:
    call = parse_layer("conv(8, 3)", None, line=7, column=5)
    assert (call.span.line, call.span.column) == (7, 5)
    assert (call.args[1].span.line, call.args[1].span.column) == (7, 13)


@pytest.mark.parametrize(("text", "value"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 ** 3 ** 2", 512), ("-2 ** 2", -4),
    ("7 // 2", 3), ("7 % 4", 3), ("7 / 2", 3.5), ("1 < 2 and not false", True),
    ("3 if 1 > 2 else 4", 4), ("[1, 2, 3][1]", 2), ("(4, 5)", [4, 5]), ("max(1, 5, 2)", 5),
    ("min([3, 1])", 1), ("floor(2.5) + ceil(2.1)", 5), ("len([1, 2])", 2), ("'a'", "a"),
    ("in.c", 8), ("in.h * in.w", 24), ("in.shape", [8, 6, 4]), ("in.rank", 4),
    ("in.channels", 8), ("none", None), ("True", True),
])
def test_expression_values(text: str, value: object) -> None:
    assert evaluate(text) == value


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(1, 50))
def test_arithmetic_agrees_with_python(a: int, b: int, c: int) -> None:
    assert evaluate("a + b * c - a // c % 7", a=a, b=b, c=c) == a + b * c - a // c % 7
    assert evaluate("a if a > b else b", a=a, b=b) == max(a, b)


@pytest.mark.parametrize(("text", "expected"), [
    ("conv(8 3)", "')', ',' or an operator"),
    ("conv(8,", "')' or an expression"),
    ("conv(stride=)", "an expression"),
])
def test_syntax_errors_say_what_was_expected_in_words(text: str, expected: str) -> None:
    with pytest.raises(ArchcError) as caught:
        parse_layer(text)
    assert caught.value.expected == expected


def test_keywords_are_not_names() -> None:
    with pytest.raises(ArchcError, match="undefined name 'if'"):
        evaluate("if + 1")
