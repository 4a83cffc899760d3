"""The expression printer, against independent oracles: archc's own parser for the archc
dialect (the text reads back as the same tree), and Python itself for the Python dialect (its
value is the evaluator's). Python's eval runs only here, in the tests, never in archc."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from archc.errors import UNKNOWN_SPAN, ArchcError
from archc.expr import nodes
from archc.expr.evaluate import SAME_IN_PYTHON, Evaluator
from archc.expr.printer import Python, expression, python
from archc.frontend.expressions import parse_expression

NAMES = ("a", "b", "c", "x")
BINARY = ("+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or")
S = UNKNOWN_SPAN


def by_name(name: str) -> Python | None:
    """The tests' resolver: a name is written as itself, `in` and its attributes not at all."""
    return Python(name, frozenset({name})) if name in NAMES else None


def as_python(text: str, env: dict[str, Any]) -> Any:
    with warnings.catch_warnings():  # [1, 2][0.5] compiles with a SyntaxWarning
        warnings.simplefilter("ignore", SyntaxWarning)
        return eval(text, {}, dict(env))  # the oracle: Python reads the text itself


def archc_value(tree: nodes.Expr, env: dict[str, Any]) -> Any:
    return Evaluator(env, None)(tree)


def same_value(left: Any, right: Any) -> bool:
    """Equal, and of the same type (1, 1.0 and True differ); nan equals nan."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


# ------------------------------------------------------------------ random trees

numbers = (st.integers(-1000, 1000) | st.integers(-(2**62), 2**62) | st.booleans()
           | st.floats(allow_nan=False) | st.sampled_from([0, 1, 2, -1, 0.5, -0.0]))
values = numbers | st.just(math.nan)  # names may hold nan; a literal nan has no text spelling


def negate(operand: nodes.Expr) -> nodes.Expr:
    """`-operand` as the parser builds it: the minus of a number is folded into the number."""
    if isinstance(operand, nodes.Literal) and isinstance(operand.value, (int, float)) and \
            not isinstance(operand.value, bool):
        return nodes.Literal(-operand.value, S)
    return nodes.Unary("-", operand, S)


def unary(op: str, operand: nodes.Expr) -> nodes.Expr:
    return negate(operand) if op == "-" else nodes.Unary(op, operand, S)


def call(func: str, args: list[nodes.Expr], as_list: bool) -> nodes.Expr:
    items = (nodes.ListExpr(tuple(args), S),) if as_list else tuple(args)
    return nodes.FunctionCall(func, items, S)


def extend(inner: st.SearchStrategy[nodes.Expr]) -> st.SearchStrategy[nodes.Expr]:
    return st.one_of(
        st.builds(unary, st.sampled_from(["-", "+", "not"]), inner),
        st.builds(lambda op, a, b: nodes.Binary(op, a, b, S), st.sampled_from(BINARY),
                  inner, inner),
        st.builds(lambda t, b, o: nodes.Conditional(t, b, o, S), inner, inner, inner),
        st.builds(call, st.sampled_from(sorted(SAME_IN_PYTHON)),
                  st.lists(inner, min_size=1, max_size=3), st.booleans()),
        st.builds(lambda items, i: nodes.Index(nodes.ListExpr(tuple(items), S), i, S),
                  st.lists(inner, min_size=1, max_size=3), inner),
    )


leaves = (st.builds(lambda v: nodes.Literal(v, S), numbers)
          | st.builds(lambda n: nodes.Name(n, S), st.sampled_from(NAMES)))
trees = st.recursive(leaves, extend, max_leaves=12)
environments = st.fixed_dictionaries({name: values for name in NAMES})


@settings(max_examples=400, deadline=None)
@given(trees)
def test_the_archc_dialect_reads_back_as_the_same_tree(tree: nodes.Expr) -> None:
    text = expression(tree)
    assert parse_expression(text) == tree, text


@settings(max_examples=400, deadline=None)
@given(trees, environments)
def test_the_python_dialect_means_what_archc_means(tree: nodes.Expr,
                                                   env: dict[str, Any]) -> None:
    code = python(tree, by_name)
    if code is None:  # a call whose Python builtin means something else (min(3), sum(1, 2))
        event("no Python spelling")
        return
    assert code.uses <= set(NAMES)
    try:
        expected = archc_value(tree, env)
    except ArchcError as error:
        # where archc refuses, Python refuses too, except where archc is deliberately
        # stricter (64-bit integers, no arithmetic on booleans, no complex powers): code is
        # generated only from values archc computed
        event("archc refuses: " + re.sub(r"-?\d+", "N", error.message))
        if error.message == "division by zero":
            with pytest.raises(ZeroDivisionError):
                as_python(code.text, env)
        elif error.message.startswith("index ") and error.message.endswith("out of range"):
            with pytest.raises(IndexError):
                as_python(code.text, env)
        return
    event("the same value")
    assert same_value(as_python(code.text, env), expected), code.text


@pytest.mark.parametrize(("text", "error"), [
    ("a // (b - b)", ZeroDivisionError), ("a % 0.0", ZeroDivisionError),
    ("0 ** -1", ZeroDivisionError), ("[a, b][2]", IndexError), ("round(1e999)", OverflowError),
])
def test_where_archc_refuses_python_does_too(text: str, error: type[Exception]) -> None:
    env = {"a": 1, "b": 2}
    code = python(parse_expression(text), by_name)
    assert code is not None
    with pytest.raises(ArchcError):
        archc_value(parse_expression(text), env)
    with pytest.raises(error):
        as_python(code.text, env)


# ------------------------------------------------------------------ by hand


@pytest.mark.parametrize(("text", "printed", "env"), [
    ("(a < b) < c", "(a < b) < c", {"a": 3, "b": 2, "c": 1}),  # Python's a < b < c is False
    ("-x ** 2", "-x ** 2", {"x": 3}),
    ("(-x) ** 2", "(-x) ** 2", {"x": 3}),
    ("a - (b - c)", "a - (b - c)", {"a": 1, "b": 2, "c": 3}),
    ("(a - b) - c", "a - b - c", {"a": 1, "b": 2, "c": 3}),
    ("2 ** -1", "2 ** -1", {}),
    ("(-1) ** 2", "(-1) ** 2", {}),
    ("2 ** 3 ** 2", "2 ** 3 ** 2", {}),
    ("(2 ** 3) ** 2", "(2 ** 3) ** 2", {}),
    ("not a == b", "not a == b", {"a": 1, "b": 2}),
    ("(not a) == b", "(not a) == b", {"a": 1, "b": False}),
    ("-(a + b)", "-(a + b)", {"a": 1, "b": 2}),
    ("not -a", "not -a", {"a": 1}),
    ("(a if b else c) + 1", "(a if b else c) + 1", {"a": 1, "b": 0, "c": 5}),
    ("a if b else (c if a else b)", "a if b else c if a else b", {"a": 1, "b": 0, "c": 5}),
    ("(a or b) and c", "(a or b) and c", {"a": 0, "b": 2, "c": 3}),
    ("a or (b or c)", "a or (b or c)", {"a": 0, "b": 0, "c": 3}),
    ("true + 1e999", 'True + float("inf")', {}),
    ("max(-1e999, a)", 'max(-float("inf"), a)', {"a": 2}),
    ("min([a, -b]) * 2", "min([a, -b]) * 2", {"a": 2, "b": 3}),
])
def test_python_text(text: str, printed: str, env: dict[str, Any]) -> None:
    tree = parse_expression(text)
    code = python(tree, by_name)
    assert code is not None and code.text == printed
    assert same_value(as_python(code.text, env), archc_value(tree, env))


@pytest.mark.parametrize("text", ["floor(a)", "ceil(a)", "min(a)", "max(a)", "sum(a, b)",
                                  "sum(a)", "in.c", "in", "in.h + a", "d + 1", "len(in.shape)"])
def test_what_python_cannot_say_is_refused(text: str) -> None:
    assert python(parse_expression(text), by_name) is None


def test_in_and_names_come_from_the_resolver() -> None:
    loose = Python("width + 1", frozenset({"width"}), strength=5)  # a sum: binds loosely

    def resolve(name: str) -> Python | None:
        return {"in.c": loose, "k": Python.value(-2), "s": Python("s", frozenset({"s"}))}.get(name)

    code = python(parse_expression("in.c * k ** 2 + s"), resolve)
    assert code is not None
    assert code.text == "(width + 1) * (-2) ** 2 + s"
    assert code.uses == {"width", "s"}
    assert python(parse_expression("in.c + t"), resolve) is None


def test_literals_as_python_reads_them() -> None:
    tree = nodes.ListExpr(tuple(nodes.Literal(v, S) for v in
                                (True, False, None, math.inf, -math.inf, math.nan, -0.0, "it's")),
                          S)
    code = python(tree, by_name)
    assert code is not None
    assert code.text == ('[True, False, None, float("inf"), -float("inf"), float("nan"), -0.0, '
                         "\"it's\"]")


def test_a_two_thousand_term_sum_prints_without_recursion() -> None:
    names = ["abc"[i % 3] for i in range(2_000)]
    tree: nodes.Expr = nodes.Name(names[0], S)
    for name in names[1:]:
        tree = nodes.Binary("+", tree, nodes.Name(name, S), S)
    text = " + ".join(names)
    assert expression(tree) == text
    code = python(tree, by_name)
    assert code is not None and code.text == text
    env = {"a": 1, "b": 2, "c": 3}
    assert as_python(code.text, env) == archc_value(tree, env) == 3_999
    deep: nodes.Expr = nodes.Name("a", S)
    for _ in range(2_000):
        deep = nodes.Unary("not", deep, S)
    assert expression(deep) == "not " * 2_000 + "a"
