"""The lark grammar: layer strings and expressions to AST, with positions (their values:
tests/expr/test_evaluate.py)."""

from __future__ import annotations

import pytest

from archc.errors import ArchcError
from archc.frontend import ast
from archc.frontend.expressions import parse_layer


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


@pytest.mark.parametrize(("text", "expected"), [
    ("conv(8 3)", "')', ',' or an operator"),
    ("conv(8,", "')' or an expression"),
    ("conv(stride=)", "an expression"),
])
def test_syntax_errors_say_what_was_expected_in_words(text: str, expected: str) -> None:
    with pytest.raises(ArchcError) as caught:
        parse_layer(text)
    assert caught.value.expected == expected
