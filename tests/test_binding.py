"""Argument binding: ops and blocks bind a call's arguments by one set of rules."""

from __future__ import annotations

import pytest

import archc
from archc.binding import Signature, Slot, bind
from archc.errors import ArchcError
from archc.frontend import ast
from archc.frontend.expressions import parse_layer
from archc.ops import OPS


def call_args(text: str) -> tuple[ast.Argument, ...]:
    call = parse_layer(text, None, 1, 1)
    assert isinstance(call, ast.Call)
    return call.args


def literal(expr: ast.Expr) -> object:
    assert isinstance(expr, ast.Literal)
    return expr.value


SIGNATURE = Signature("f", "f(a, b, *rest)", (Slot("a"), Slot("b"), Slot("k", positional=False)))


def test_values_spans_and_sources_of_each_argument() -> None:
    bound = bind(SIGNATURE, call_args("f(1, k=3)"), literal)
    assert bound.values == {"a": 1, "k": 3}
    assert [(s.line, s.column) for s in bound.spans.values()] == [(1, 3), (1, 6)]
    assert {name: literal(e) for name, e in bound.sources.items()} == {"a": 1, "k": 3}


@pytest.mark.parametrize(("text", "message"), [
    ("f(a=1, 2)", "positional argument after a keyword argument"),
    ("f(1, 2, 3)", "f takes 2 positional arguments"),
    ("f(1, kk=2)", "f has no argument 'kk'"),
    ("f(1, a=2)", "f: 'a' is given twice"),
])
def test_each_rule_once(text: str, message: str) -> None:
    with pytest.raises(ArchcError, match=message):
        bind(SIGNATURE, call_args(text), literal)


def test_variadic_collects_positional_arguments() -> None:
    signature = Signature.of_op(OPS["permute"])
    bound = bind(signature, call_args("permute(0, 2, 1)"), literal)
    assert bound.values == {"dims": (0, 2, 1)} and not bound.sources
    assert (bound.spans["dims"].column, bound.spans["dims"].end_column) == (9, 16)


BLOCKS = """
input: [3, 8, 8]
blocks:
  unit:
    params: [out, k]
    body: conv(out, k)
layers:
  - {call}
"""


@pytest.mark.parametrize(("call", "op_call", "message"), [
    ("unit(4, 3, 5)", "conv(" + ", ".join(["1"] * 20) + ")", "takes [0-9]+ positional argument"),
    ("unit(4, kk=3)", "conv(4, kk=3)", "has no (parameter|argument) 'kk'"),
    ("unit(4, out=3)", "conv(4, out_channels=3)", "is given twice"),
    ("unit(out=4, 3)", "conv(out_channels=4, 3)", "positional argument after a keyword"),
    ("unit(4)", "conv(4)", "is missing its argument"),
])
def test_ops_and_blocks_refuse_alike(call: str, op_call: str, message: str) -> None:
    for text in (call, op_call):
        with pytest.raises(ArchcError, match=message) as caught:
            archc.network(BLOCKS.format(call=f"'{text}'" if "=" in text else text))
        assert caught.value.span.line == 8, caught.value.render()


def test_a_misspelt_keyword_gets_a_suggestion_for_blocks_and_ops() -> None:
    for text in ("unit(4, kk=3)", "conv(4, kernel_sise=3)"):
        with pytest.raises(ArchcError) as caught:
            archc.network(BLOCKS.format(call=f"'{text}'"))
        assert caught.value.suggestions, caught.value.render()
