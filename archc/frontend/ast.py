"""The abstract syntax both spellings (YAML and text) lower to.

Input: nothing (these are the types). Output: frozen dataclasses, every node with a span, so
that any later stage can point at the text a node came from. Nothing downstream of the
frontend knows which spelling a spec was written in. Expressions are `archc.expr` nodes; the
entries and declarations here hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.errors import Source, Span
from archc.expr.nodes import (  # the expressions, re-exported: the AST holds them
    Attribute as Attribute,
)
from archc.expr.nodes import (
    Binary as Binary,
)
from archc.expr.nodes import (
    Conditional as Conditional,
)
from archc.expr.nodes import (
    Expr as Expr,
)
from archc.expr.nodes import (
    FunctionCall as FunctionCall,
)
from archc.expr.nodes import (
    Index as Index,
)
from archc.expr.nodes import (
    InShape as InShape,
)
from archc.expr.nodes import (
    ListExpr as ListExpr,
)
from archc.expr.nodes import (
    Literal as Literal,
)
from archc.expr.nodes import (
    Name as Name,
)
from archc.expr.nodes import (
    Node as Node,
)
from archc.expr.nodes import (
    Unary as Unary,
)

# ---------------------------------------------------------------- entries


@dataclass(frozen=True, eq=False)
class Argument(Node):
    """One argument of a layer or block call; `name` is None for a positional one. A keyword
    argument of a block call may be a reference (`skip=@enc3`): an output of the caller that
    the block's body reads as `@skip`."""

    name: str | None
    value: Expr | Ref
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
class Import(Node):
    """`import: family.yaml`: another spec file whose parameters, blocks and network this one
    takes, relative to the importing file."""

    path: str
    span: Span = field(compare=False)


@dataclass(frozen=True, eq=False)
class Spec(Node):
    """One network: its parameters, inputs, reusable blocks, body and outputs.

    As parsed, `imports` are the files it names and its other fields what it writes itself
    (a spec that imports may leave out its layers: `body` is then empty). Once its imports
    are resolved (archc.frontend.imports), it holds what it takes from them as well, and
    `read` holds the sources of every imported file, for keys of what was built from it."""

    name: str
    doc: str | None
    params: tuple[Param, ...]
    inputs: tuple[InputDecl, ...]
    blocks: tuple[BlockDef, ...]
    body: Sequence
    outputs: tuple[Ref, ...]
    span: Span = field(compare=False)
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    imports: tuple[Import, ...] = ()
    read: tuple[Source, ...] = field(default=(), compare=False)
    # the keys of a dict output (`outputs: {out: classifier, aux: aux_classifier}`), one per
    # output; empty when the network returns its outputs as a tensor or a tuple
    output_keys: tuple[str, ...] = ()
    # what forward returns instead while the module is training (Inception-v3's
    # `(logits, aux_logits)`), with its keys when it is a dict; empty when training returns
    # the outputs. What only these need is computed only in training
    training_outputs: tuple[Ref, ...] = ()
    training_output_keys: tuple[str, ...] = ()


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
