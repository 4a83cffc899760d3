"""The evaluator: expression values over parameters and the shape flowing in, as Python
computes them, and names that are not in scope."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archc.dims import BATCH
from archc.errors import ArchcError
from archc.expr.evaluate import Evaluator
from archc.frontend.expressions import parse_expression


def evaluate(text: str, **env: object) -> object:
    return Evaluator(env, (BATCH, 8, 6, 4))(parse_expression(text))


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


def test_keywords_are_not_names() -> None:
    with pytest.raises(ArchcError, match="undefined name 'if'"):
        evaluate("if + 1")
