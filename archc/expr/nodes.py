"""Expression nodes: the one representation of a spec expression, from parser to codegen.

Input: nothing (these are the types). Output: frozen dataclasses with a span each. The
frontend parses text into them, elaboration evaluates them (`archc.expr.evaluate`), and
printing writes them back as archc text or as Python (`archc.expr.printer`). They live here,
not in the frontend, because the IR keeps them (`Node.sources`) for the code generator, and
the IR and the backends must not depend on the parser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from archc.errors import Span


class Node:
    """Structural equality and hashing for every AST node, without recursion.

    The dataclasses' own __eq__ and __hash__ recurse once per level, so comparing two ASTs
    of a 1,000-term sum (`convert` and `fmt` check that a printed spec reads back equal)
    overflowed Python's stack. These walk the trees with an explicit stack instead. Fields
    declared compare=False (spans, raw spellings, comments) are ignored, as dataclasses do;
    unlike dataclasses, values compare with their types (1, 1.0 and true differ, so a
    printer that changed one into another is caught), floats by sign and nan equals nan.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return same(self, other)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        parts: list[Any] = []
        stack: list[Any] = [self]
        while stack:
            value = stack.pop()
            if isinstance(value, Node):
                parts.append(type(value).__name__)
                stack.extend(getattr(value, name) for name in _compared(type(value)))
            elif isinstance(value, tuple):
                parts.append(len(value))
                stack.extend(value)
            elif isinstance(value, float):
                parts.append(("float", repr(value)))
            else:
                parts.append((type(value).__name__, value))
        return hash(tuple(parts))


_COMPARED: dict[type, tuple[str, ...]] = {}


def _compared(cls: type) -> tuple[str, ...]:
    names = _COMPARED.get(cls)
    if names is None:
        names = _COMPARED[cls] = tuple(f.name for f in fields(cls) if f.compare)
    return names


_SCALARS = frozenset({int, str, bool, type(None)})


def same(left: Any, right: Any) -> bool:
    """Equal as code must see them: of one type (True is not the channel count 1, nor 1.0
    the integer 1, which Python's == calls equal, and code written for one would stand for
    the other), floats by sign (-0.0 is not 0.0), nan the same as nan; tuples, lists and
    expression trees compared item by item, without recursion (a 1,000-term sum is a tree
    1,000 deep). Spans and other fields declared compare=False are ignored."""
    if left is right:  # a value checked and given back as it was (nan is nan: the same)
        return True
    if left.__class__ in _SCALARS or right.__class__ in _SCALARS:  # most calls: no walk
        return left.__class__ is right.__class__ and bool(left == right)
    stack = [(left, right)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if type(a) is not type(b):
            return False
        if isinstance(a, Node):
            stack.extend((getattr(a, n), getattr(b, n)) for n in _compared(type(a)))
        elif isinstance(a, (tuple, list)):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif isinstance(a, float):
            if math.isnan(a) or math.isnan(b):
                if not (math.isnan(a) and math.isnan(b)):
                    return False
            elif a != b or math.copysign(1.0, a) != math.copysign(1.0, b):
                return False
        elif a != b:
            return False
    return True

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, eq=False)
class Literal(Node):
    """A number, string, boolean or none."""

    value: int | float | str | bool | None
    span: Span = field(compare=False)
    raw: str | None = field(default=None, compare=False)  # a number as written: 1e-3


@dataclass(frozen=True, eq=False)
class Name(Node):
    """A parameter, loop variable or built-in function name."""

    id: str
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class InShape(Node):
    """`in`: the shape flowing into the current entry."""

    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class ListExpr(Node):
    items: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Unary(Node):
    op: str  # '-', '+', 'not'
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Binary(Node):
    op: str  # + - * / // % ** and or == != < <= > >=
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Conditional(Node):
    """`body if test else orelse`."""

    test: Expr
    body: Expr
    orelse: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Index(Node):
    value: Expr
    index: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Attribute(Node):
    """`in.c`, `in.shape`: attribute access (only shapes have attributes)."""

    value: Expr
    name: str
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class FunctionCall(Node):
    """A call to a built-in function inside an expression: min, max, len, ..."""

    func: str
    args: tuple[Expr, ...]
    span: Span = field(compare=False)


Expr = (
    Literal | Name | InShape | ListExpr | Unary | Binary | Conditional | Index | Attribute
    | FunctionCall
)


def names_in(*roots: Any) -> list[Name]:
    """Every name read in some trees (expressions, or any dataclasses holding them: the
    frontend's entries and declarations), in no particular order; without recursion."""
    return found_in((Name,), *roots)


def found_in(kinds: tuple[type, ...], *roots: Any) -> list[Any]:
    """Every node of these classes in some trees (as names_in), in no particular order."""
    found: list[Any] = []
    todo = list(roots)
    while todo:
        item = todo.pop()
        cls = item.__class__
        if cls in _SCALARS or cls is float:
            continue
        if cls in kinds:
            found.append(item)
        elif isinstance(item, (tuple, list)):
            todo += item
        else:
            names = _WALKED.get(cls)
            if names is None:
                names = _WALKED[cls] = tuple(f.name for f in fields(cls) if f.name != "span") \
                    if is_dataclass(cls) else ()
            todo += [getattr(item, n) for n in names]
    return found


# each dataclass's fields but its span, by class: fields() is slow at a million nodes
_WALKED: dict[type, tuple[str, ...]] = {}
