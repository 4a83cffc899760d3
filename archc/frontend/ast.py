"""The abstract syntax both spellings (YAML and text) lower to.

Input: nothing (these are the types). Output: frozen dataclasses, every node with a span, so
that any later stage can point at the text a node came from. Nothing downstream of the
frontend knows which spelling a spec was written in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.errors import Span

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal:
    """A number, string, boolean or none."""

    value: int | float | str | bool | None
    span: Span = field(compare=False)
    raw: str | None = field(default=None, compare=False)  # a number as written: 1e-3


@dataclass(frozen=True)
class Name:
    """A parameter, loop variable or built-in function name."""

    id: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class InShape:
    """`in`: the shape flowing into the current entry."""

    span: Span = field(compare=False)


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Unary:
    op: str  # '-', '+', 'not'
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / // % ** and or == != < <= > >=
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Conditional:
    """`body if test else orelse`."""

    test: Expr
    body: Expr
    orelse: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Index:
    value: Expr
    index: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Attribute:
    """`in.c`, `in.shape`: attribute access (only shapes have attributes)."""

    value: Expr
    name: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class FunctionCall:
    """A call to a built-in function inside an expression: min, max, len, ..."""

    func: str
    args: tuple[Expr, ...]
    span: Span = field(compare=False)


Expr = (
    Literal | Name | InShape | ListExpr | Unary | Binary | Conditional | Index | Attribute
    | FunctionCall
)

# ---------------------------------------------------------------- entries


@dataclass(frozen=True)
class Argument:
    """One argument of a layer or block call; `name` is None for a positional one."""

    name: str | None
    value: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Call:
    """A layer or block call: `conv(64, 3, stride=2)`, `relu`, `inception(64, ...)`."""

    name: str
    args: tuple[Argument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Ref:
    """`@stem` or `@block3.branch1`: the output of an earlier named entry."""

    path: tuple[str, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Sequence:
    """Entries applied one after the other."""

    entries: tuple[Entry, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Named:
    """`name: entry`: names the entry's module and makes its output referable.

    A name may interpolate expressions, `denselayer{i + 1}`: `template` then holds the text
    and expression parts, and `name` the written text.
    """

    name: str
    entry: Entry
    span: Span = field(compare=False)
    template: tuple[str | Expr, ...] = ()


@dataclass(frozen=True)
class Merge:
    """`concat` / `add` / `mul` over branches; every branch receives the same input."""

    op: str
    branches: tuple[Entry, ...]
    args: tuple[Argument, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Repeat:
    """The body `count` times, each iteration taking the previous output; `var` counts from 0."""

    count: Expr
    var: str | None
    body: Entry
    span: Span = field(compare=False)


@dataclass(frozen=True)
class If:
    """A structural condition, evaluated when the spec is elaborated."""

    test: Expr
    then: Entry
    orelse: Entry | None
    span: Span = field(compare=False)


Entry = Call | Ref | Sequence | Named | Merge | Repeat | If

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Param:
    """A parameter of a block or of the spec, with an optional default expression."""

    name: str
    default: Expr | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class InputDecl:
    """A named input and its shape without the batch dimension."""

    name: str
    dims: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: Entry
    inline: bool
    doc: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Spec:
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


@dataclass(frozen=True)
class Comment:
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
        for index, char in enumerate(line):
            if quote:
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
