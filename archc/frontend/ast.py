"""The abstract syntax both spellings (YAML and text) lower to.

Input: nothing (these are the types). Output: frozen dataclasses, every node with a span, so
that any later stage can point at the text a node came from. Nothing downstream of the
frontend knows which spelling a spec was written in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
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
        return _same(self, other)

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


def _same(left: Any, right: Any) -> bool:
    stack = [(left, right)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if type(a) is not type(b):
            return False
        if isinstance(a, Node):
            stack.extend((getattr(a, n), getattr(b, n)) for n in _compared(type(a)))
        elif isinstance(a, tuple):
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

# ---------------------------------------------------------------- entries


@dataclass(frozen=True, eq=False)
class Argument(Node):
    """One argument of a layer or block call; `name` is None for a positional one."""

    name: str | None
    value: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Call(Node):
    """A layer or block call: `conv(64, 3, stride=2)`, `relu`, `inception(64, ...)`."""

    name: str
    args: tuple[Argument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Ref(Node):
    """`@stem` or `@block3.branch1`: the output of an earlier named entry."""

    path: tuple[str, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Sequence(Node):
    """Entries applied one after the other."""

    entries: tuple[Entry, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Named(Node):
    """`name: entry`: names the entry's module and makes its output referable.

    A name may interpolate expressions, `denselayer{i + 1}`: `template` then holds the text
    and expression parts, and `name` the written text.
    """

    name: str
    entry: Entry
    span: Span = field(compare=False)
    template: tuple[str | Expr, ...] = ()


@dataclass(frozen=True, eq=False)
class Merge(Node):
    """`concat` / `add` / `mul` over branches; every branch receives the same input."""

    op: str
    branches: tuple[Entry, ...]
    args: tuple[Argument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Repeat(Node):
    """The body `count` times, each iteration taking the previous output; `var` counts from 0."""

    count: Expr
    var: str | None
    body: Entry
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class If(Node):
    """A structural condition, evaluated when the spec is elaborated."""

    test: Expr
    then: Entry
    orelse: Entry | None
    span: Span = field(compare=False)


Entry = Call | Ref | Sequence | Named | Merge | Repeat | If

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, eq=False)
class Param(Node):
    """A parameter of a block or of the spec, with an optional default expression."""

    name: str
    default: Expr | None
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class InputDecl(Node):
    """A named input and its shape without the batch dimension."""

    name: str
    dims: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class BlockDef(Node):
    name: str
    params: tuple[Param, ...]
    body: Entry
    inline: bool
    doc: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Spec(Node):
    """One network: its parameters, inputs, reusable blocks, body and outputs."""

    name: str
    doc: str | None
    params: tuple[Param, ...]
    inputs: tuple[InputDecl, ...]
    blocks: tuple[BlockDef, ...]
    body: Sequence
    outputs: tuple[Ref, ...]
    span: Span = field(compare=False)
    comments: tuple[Comment, ...] = field(default=(), compare=False)


@dataclass(frozen=True, eq=False)
class Comment(Node):
    """A `# ...` comment of the source, kept so that fmt and convert can put it back."""

    line: int
    column: int
    text: str  # without the leading '#'


def scan_comments(text: str, yaml: bool) -> tuple[Comment, ...]:
    """The comments of a spec: `#` outside quotes (in YAML, only after a space or at the start
    of a line, as YAML itself reads them)."""
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        quote = None
        escaped = False
        for index, char in enumerate(line):
            if quote:
                if escaped:
                    escaped = False
                elif char == "\\" and (not yaml or quote == '"'):
                    escaped = True  # "a \" # b" is one string: the '#' is inside it
                else:
                    quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#" and (not yaml or index == 0 or line[index - 1] in " \t"):
                found.append(Comment(number, index + 1, line[index + 1:].rstrip()))
                break
    return tuple(found)


def unique_params(params: tuple[Param, ...]) -> tuple[Param, ...]:
    """The parameters, refused if one name is declared twice."""
    from archc.errors import ArchcError

    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise ArchcError(f"parameter '{param.name}' is declared twice", param.span)
        seen.add(param.name)
    return params
