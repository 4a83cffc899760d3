"""Expression nodes → text, in two dialects: archc's own, and Python for generated source.

Input: an `archc.expr.nodes` expression. Output of `expression` (the archc dialect): spec text
that parses back to an equal tree, with the fewest parentheses archc's grammar needs (what
`archc fmt` and `archc convert` write). Output of `python` (the Python dialect): a `Python`
(its text, the resolver names it used, how tightly it binds), or None when the expression has
no Python spelling with archc's meaning; names and `in` come through a resolver the caller
gives. Python text is parenthesised where Python's grammar needs it and where the two
languages read the same text differently (archc's `(a < b) < c` is not Python's chained
`a < b < c`). Both walk the tree with an explicit stack: a 1,000-term sum is a tree 1,000
levels deep, too deep to print by recursion. Nothing here evaluates anything.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archc.errors import ArchcError
from archc.expr import nodes
from archc.expr.evaluate import FUNCTIONS, SAME_IN_PYTHON

# binding strength, loosest first: the tiers of grammar.lark, which are Python's
TERNARY, OR, AND, NOT, COMPARE, SUM, TERM, UNARY, POWER, POSTFIX, ATOM = range(11)
_BINARY = {"or": OR, "and": AND, "+": SUM, "-": SUM, "*": TERM, "/": TERM, "//": TERM,
           "%": TERM, "**": POWER, "==": COMPARE, "!=": COMPARE, "<": COMPARE,
           "<=": COMPARE, ">": COMPARE, ">=": COMPARE}


# ------------------------------------------------------------------ literals


def literal_text(value: Any) -> str:
    """A literal value as archc text."""
    if isinstance(value, float) and math.isinf(value):
        return "-1e999" if value < 0 else "1e999"  # reads back as the float infinity
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        if "\\" not in value and "\n" not in value and "'" not in value:
            return f"'{value}'"
        return quoted(value)
    return repr(value)


def quoted(text: str) -> str:
    """A string in double quotes, escaped as the grammar reads it."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def string_literal(text: str) -> str:
    """`repr(text)`, in double quotes where it has no quote of either kind (as formatters
    write strings); Python's own escaping either way."""
    code = repr(text)
    return f'"{code[1:-1]}"' if code.startswith("'") and '"' not in text else code


def python_literal(value: Any) -> str:
    """A Python literal for a value (tuples stay tuples, as PyTorch prints them).

    Spec text reaches generated code only through here (as `repr`) or as an identifier
    archc.names validated; inf and nan have no literal, so they are written as float()."""
    if isinstance(value, tuple):
        inner = ", ".join(python_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")' if value > 0 or math.isnan(value) else '-float("inf")'
    if isinstance(value, str):
        return string_literal(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")  # a compiler bug


def _literal_strength(text: str) -> int:
    """How tightly a literal's text binds: `-1` is a negation, `float('inf')` a call."""
    if text.startswith("-"):  # -0.0 and -float('inf') too
        return UNARY
    return POSTFIX if text.startswith("float(") else ATOM


# ------------------------------------------------------------------ text as ropes

# text under construction: a string, or a tuple of ropes to concatenate (so that building a
# deeply nested expression costs linear time, and flattening it needs no recursion)
_Rope = str | tuple[Any, ...]
_Printed = tuple[_Rope, int]  # text and how strongly it binds


def _flatten(rope: _Rope) -> str:
    out: list[str] = []
    stack: list[_Rope] = [rope]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(item))
    return "".join(out)


def _join(separator: str, ropes: Sequence[_Rope]) -> _Rope:
    parts: list[_Rope] = []
    for index, rope in enumerate(ropes):
        if index:
            parts.append(separator)
        parts.append(rope)
    return tuple(parts)


def _wrap(printed: _Printed, minimum: int) -> _Rope:
    text, strength = printed
    return text if strength >= minimum else ("(", text, ")")


def _children(expr: nodes.Expr) -> tuple[nodes.Expr, ...]:
    if isinstance(expr, nodes.ListExpr):
        return expr.items
    if isinstance(expr, nodes.Unary):
        return (expr.operand,)
    if isinstance(expr, nodes.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, nodes.Conditional):
        return (expr.body, expr.test, expr.orelse)
    if isinstance(expr, nodes.Index):
        return (expr.value, expr.index)
    if isinstance(expr, nodes.Attribute):
        return (expr.value,)
    if isinstance(expr, nodes.FunctionCall):
        return expr.args
    return ()


# ------------------------------------------------------------------ the shared walk


class _Dialect:
    """What differs between the dialects: the leaves (literals, names, `in`), attributes and
    calls. Operators, conditionals, indexing and lists print alike in both, because Python
    and archc share their tiers of binding strength."""

    def children(self, expr: nodes.Expr) -> tuple[nodes.Expr, ...]:
        return _children(expr)

    def leaf(self, expr: nodes.Expr) -> _Printed:
        raise NotImplementedError

    def attribute(self, expr: nodes.Attribute, kids: list[_Printed]) -> _Printed:
        raise NotImplementedError

    def call(self, expr: nodes.FunctionCall, args: list[_Printed]) -> _Printed:
        return (expr.func, "(", _join(", ", [a[0] for a in args]), ")"), POSTFIX

    def walk(self, expr: nodes.Expr) -> _Printed:
        """The text of `expr`, children first with an explicit stack."""
        done: list[_Printed] = []
        todo: list[tuple[nodes.Expr, bool]] = [(expr, False)]
        while todo:
            node, expanded = todo.pop()
            children = self.children(node)
            if children and not expanded:
                todo.append((node, True))
                todo.extend((child, False) for child in reversed(children))
                continue
            kids = done[len(done) - len(children):] if children else []
            if children:
                del done[len(done) - len(children):]
            done.append(self.combine(node, kids))
        return done[0]

    def combine(self, expr: nodes.Expr, kids: list[_Printed]) -> _Printed:
        """One node's text from its children's (text, strength)."""
        if isinstance(expr, nodes.ListExpr):
            return ("[", _join(", ", [k[0] for k in kids]), "]"), ATOM
        if isinstance(expr, nodes.Unary):
            if expr.op == "not":
                return ("not ", _wrap(kids[0], NOT)), NOT
            return (expr.op, _wrap(kids[0], UNARY)), UNARY
        if isinstance(expr, nodes.Binary):
            return _binary(expr.op, kids[0], kids[1])
        if isinstance(expr, nodes.Conditional):
            body, test, orelse = kids
            return (_wrap(body, OR), " if ", _wrap(test, OR), " else ",
                    _wrap(orelse, TERNARY)), TERNARY
        if isinstance(expr, nodes.Index):
            return (_wrap(kids[0], POSTFIX), "[", kids[1][0], "]"), POSTFIX
        if isinstance(expr, nodes.Attribute):
            return self.attribute(expr, kids)
        if isinstance(expr, nodes.FunctionCall):
            return self.call(expr, kids)
        return self.leaf(expr)


def _binary(op: str, left: _Printed, right: _Printed) -> _Printed:
    """`left op right`, parenthesised to keep the tree: `**` groups to the right and binds
    tighter than a unary minus on its left (`(-x) ** 2`) but not on its right (`2 ** -1`);
    comparisons never chain (`(a < b) < c`); the rest group to the left (`a - (b - c)`)."""
    strength = _BINARY[op]
    if op == "**":
        return (_wrap(left, POSTFIX), " ** ", _wrap(right, UNARY)), strength
    if strength == COMPARE:
        return (_wrap(left, SUM), f" {op} ", _wrap(right, SUM)), strength
    return (_wrap(left, strength), f" {op} ", _wrap(right, strength + 1)), strength


# ------------------------------------------------------------------ archc's dialect


class _Archc(_Dialect):
    def leaf(self, expr: nodes.Expr) -> _Printed:
        if isinstance(expr, nodes.Literal):
            if isinstance(expr.value, float) and math.isnan(expr.value) and expr.raw is None:
                raise ArchcError("nan has no spelling in the text form", expr.span,
                                 notes=["it comes from YAML's .nan; keep this spec in YAML, or "
                                        "give the value another way"])
            text = expr.raw if expr.raw is not None else literal_text(expr.value)
            return text, _literal_strength(text)
        if isinstance(expr, nodes.Name):
            return expr.id, ATOM
        assert isinstance(expr, nodes.InShape)
        return "in", ATOM

    def attribute(self, expr: nodes.Attribute, kids: list[_Printed]) -> _Printed:
        text = _wrap(kids[0], POSTFIX)
        if isinstance(text, str) and text[:1].isdigit():
            text = ("(", text, ")")  # 3.c would read as the number 3. and a name
        return (text, ".", expr.name), POSTFIX


def expression(expr: nodes.Expr) -> str:
    """An expression as archc text, parenthesised only where the grammar needs it."""
    return _flatten(_Archc().walk(expr)[0])


# ------------------------------------------------------------------ Python's dialect


@dataclass(frozen=True)
class Python:
    """Python source for an expression: its text, the names of the resolver's answers it
    used (their `uses`), and how tightly it binds, so that it can go inside another
    expression with the parentheses it needs there."""

    text: str
    uses: frozenset[str] = frozenset()
    strength: int = ATOM

    def __str__(self) -> str:  # in an op's code template, as its text
        return self.text

    @classmethod
    def value(cls, value: Any) -> Python:
        """A value written as a Python literal (it uses no names)."""
        text = python_literal(value)
        return cls(text, frozenset(), _literal_strength(text))


# a name, `in` or `in.<attribute>` → its Python text, or None when it has none
Resolver = Callable[[str], Python | None]


class _Unprintable(Exception):
    """The expression has no Python spelling: a name, attribute or call without one."""


class _Python(_Dialect):
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.uses: set[str] = set()

    def children(self, expr: nodes.Expr) -> tuple[nodes.Expr, ...]:
        if isinstance(expr, nodes.Attribute):
            return ()  # `in.c` is one question to the resolver
        return _children(expr)

    def leaf(self, expr: nodes.Expr) -> _Printed:
        if isinstance(expr, nodes.Literal):
            code = Python.value(expr.value)
        elif isinstance(expr, nodes.Name):
            code = self.ask(expr.id)
        else:
            assert isinstance(expr, nodes.InShape)
            code = self.ask("in")
        return code.text, code.strength

    def combine(self, expr: nodes.Expr, kids: list[_Printed]) -> _Printed:
        if isinstance(expr, nodes.Index):  # an item of a literal list: the item's literal
            try:
                items, index = (ast.literal_eval(_flatten(text)) for text, _ in kids)
            except (ValueError, TypeError, SyntaxError, MemoryError):
                items, index = None, None
            if isinstance(items, list) and type(index) is int and 0 <= index < len(items):
                code = Python.value(items[index])
                return code.text, code.strength
        return super().combine(expr, kids)

    def attribute(self, expr: nodes.Attribute, kids: list[_Printed]) -> _Printed:
        if not isinstance(expr.value, nodes.InShape):
            raise _Unprintable  # only shapes have attributes
        code = self.ask(f"in.{expr.name}")
        return code.text, code.strength

    def call(self, expr: nodes.FunctionCall, args: list[_Printed]) -> _Printed:
        same = SAME_IN_PYTHON.get(expr.func)
        if same is None or not same(expr.args):
            # Python's function of that name means something else (or none has the name):
            # over literals (the spec's parameters are written as their values) archc's own
            # function gives the value, written as its literal: `sum(depths)` is `16`
            return self.folded(expr.func, args)
        return super().call(expr, args)

    @staticmethod
    def folded(func: str, args: list[_Printed]) -> _Printed:
        try:
            values = [ast.literal_eval(_flatten(text)) for text, _ in args]
            value = FUNCTIONS[func](*values)
            code = Python.value(value)
        except (ValueError, TypeError, SyntaxError, KeyError, ArithmeticError, MemoryError):
            raise _Unprintable from None
        return code.text, code.strength

    def ask(self, key: str) -> Python:
        code = self.resolve(key)
        if code is None:
            raise _Unprintable
        self.uses |= code.uses
        return code


def python(expr: nodes.Expr, resolve: Resolver) -> Python | None:
    """`expr` as Python text with archc's meaning, or None if it has none: a name or `in`
    attribute the resolver cannot write, or a function Python spells differently."""
    dialect = _Python(resolve)
    try:
        rope, strength = dialect.walk(expr)
    except _Unprintable:
        return None
    return Python(_flatten(rope), frozenset(dialect.uses), strength)
