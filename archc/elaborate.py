"""Elaboration: AST + parameter values + input shapes → IR network, shapes inferred on the way.

Input: an `ast.Spec`, parameter overrides and optional input shapes. Output: an `ir.Network`
whose every node carries its static output shape. Elaboration and shape inference walk the
spec together because structure may depend on shapes (`in.c`, conditions); every mistake
becomes an ArchcError pointing at the spec text, with the chain of block instances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import prod
from typing import Any, ClassVar

from archc import names
from archc.errors import ArchcError, Frame, Span, suggest
from archc.format import render_value, short_value
from archc.frontend import ast
from archc.frontend.expressions import MAX_TOKENS
from archc.ir import INPUT, BlockInfo, Module, Network, Node, Path, same, verify
from archc.ops import OPS
from archc.ops.registry import BATCH, Attr, Op, OpError, Shape, format_shape, suggest_op

MAX_NODES = 30_000  # the zoo's largest network has about 600; 10,000-layer specs fit
MAX_DEPTH = 64
MAX_REPEAT = 10_000
MAX_STEPS = 100_000  # a 10,000-layer spec takes about 25,000, DenseNet-121 2,100
REPEAT_COST = 4  # steps per repeat iteration, beside its body's
# sizes no network on one machine reaches (the zoo's largest: VGG-16 with 138M parameters,
# 3.2M elements in its largest activation), far below what makes arithmetic slow or overflow
MAX_PARAMS = 10**10  # 40 GB of float32
MAX_ELEMENTS = 2**26  # 256 MiB of float32 for one tensor of one sample


@dataclass(frozen=True)
class Limits:
    """How large a network may grow before elaboration refuses it (every spec in the zoo fits
    with room to spare: DenseNet-121 has about 600 nodes and 3 levels of blocks)."""

    max_nodes: int = MAX_NODES  # op nodes in the elaborated network
    max_depth: int = MAX_DEPTH  # block instances nested in each other
    max_repeat: int = MAX_REPEAT  # iterations of one repeat
    max_steps: int = MAX_STEPS  # work: entries, repeat iterations and expression steps
    max_params: int = MAX_PARAMS  # parameters and buffers of the whole network
    max_elements: int = MAX_ELEMENTS  # elements of one tensor, for one sample
    max_tokens: int = MAX_TOKENS  # words, numbers and symbols of the spec text


# ------------------------------------------------------------------ values of expressions


@dataclass(frozen=True)
class ShapeValue:
    """The value of `in`: the shape flowing into an entry."""

    shape: Shape

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("c", "h", "w", "d", "l", "features", "shape", "rank")
    ALIASES: ClassVar[dict[str, str]] = {
        "channels": "c", "height": "h", "width": "w", "depth": "d", "length": "l",
    }

    def attribute(self, name: str) -> Any:
        dims = self.shape[1:]
        spatial = self.shape[2:]
        table: dict[str, Callable[[], Any]] = {
            "c": lambda: self.shape[1] if len(self.shape) >= 2 else None,
            "h": lambda: spatial[-2] if len(spatial) >= 2 else None,
            "w": lambda: spatial[-1] if len(spatial) >= 1 else None,
            "d": lambda: spatial[-3] if len(spatial) >= 3 else None,
            "l": lambda: spatial[-1] if len(spatial) == 1 else None,
            "features": lambda: self.shape[-1],
            "shape": lambda: list(dims),
            "rank": lambda: len(self.shape),
        }
        name = self.ALIASES.get(name, name)
        if name not in table:
            raise KeyError(name)
        return table[name]()


INT64 = 2**63 - 1  # PyTorch's sizes and counts are 64-bit integers
MAX_ITEMS = 100_000  # elements of one list value, nested lists counted in full
MAX_STRING = 100_000  # characters of one string value


def _numbers(values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _reduce(function: Callable[..., Any]) -> Callable[..., Any]:
    """min / max / sum over numbers: `f(a, b, ...)` or `f([a, b, ...])`, never over lists of
    lists or strings (their sums concatenate: unbounded work for a few characters)."""
    def run(*args: Any) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        if not items or not _numbers(items):
            raise TypeError(f"{function.__name__} takes numbers, or one list of numbers")
        return function(items)

    return run


def _length(*args: Any) -> int:
    if len(args) != 1 or not isinstance(args[0], (list, str)):
        raise TypeError("len takes one list or string")
    return len(args[0])


def _numeric(function: Callable[..., Any], arity: int) -> Callable[..., Any]:
    """A function of numbers only (abs, round, floor, ceil)."""
    def run(*args: Any) -> Any:
        if not 1 <= len(args) <= arity or not _numbers(args):
            raise TypeError(f"{function.__name__} takes {'a number' if arity == 1 else 'numbers'}")
        return function(*args)

    return run


def _convert(function: Callable[..., Any]) -> Callable[..., Any]:
    """int / float of one number or numeric string (no base argument)."""
    def run(*args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], (int, float, str)):
            raise TypeError(f"{function.__name__} takes one number or string")
        return function(args[0])

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": _reduce(min),
    "max": _reduce(max),
    "abs": _numeric(abs, 1),
    "round": _numeric(round, 2),
    "floor": _numeric(math.floor, 1),
    "ceil": _numeric(math.ceil, 1),
    "len": _length,
    "int": _convert(int),
    "float": _convert(float),
    "sum": _reduce(sum),
}


def _arithmetic(operation: Callable[[Any, Any], Any], power: bool = False
                ) -> Callable[[Any, Any], Any]:
    """`- / // % **` on numbers only (on a string Python's % formats it, and a format width
    can ask for gigabytes)."""
    def run(a: Any, b: Any) -> Any:
        if not _numbers((a, b)):
            raise TypeError
        if (power and isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b > 0
                and b * math.log2(abs(a)) > 64):
            raise OverflowError  # known too large before Python computes its digits
        result = operation(a, b)
        if isinstance(result, complex):  # (-8) ** 0.5
            raise ValueError("a negative number to a fractional power")
        return result

    return run


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": _arithmetic(lambda a, b: a - b),
    "*": lambda a, b: a * b,
    "/": _arithmetic(lambda a, b: a / b),
    "//": _arithmetic(lambda a, b: a // b),
    "%": _arithmetic(lambda a, b: a % b),
    "**": _arithmetic(lambda a, b: a**b, power=True),
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _size(value: Any) -> int:
    """How many elements a value holds (a string its characters, nested lists in full)."""
    if isinstance(value, list):  # an empty list still counts: [[]] * n holds n lists
        return max(1, sum(_size(v) for v in value))
    if isinstance(value, str):
        return len(value)
    return 1


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, ShapeValue):
        return "a shape"
    return "none" if value is None else type(value).__name__


class Budget:
    """The work one elaboration may do. Entries elaborated, repeat iterations and expression
    steps all count, so that no spec (nested empty repeats, a large expression evaluated in
    a loop) keeps `check` busy for long."""

    def __init__(self, steps: int) -> None:
        self.limit = steps
        self.left = steps

    def spend(self, span: Span) -> None:
        self.left -= 1
        if self.left < 0:
            self.exhausted(span)

    def spend_many(self, steps: int, span: Span) -> None:
        """Work proportional to a value's size (copying or comparing a long list)."""
        self.left -= steps
        if self.left < 0:
            self.exhausted(span)

    def exhausted(self, span: Span) -> None:
        raise ArchcError(
            f"the spec passes the work limit: more than {self.limit:,} steps of elaboration",
            span, notes=["repeat iterations, entries and expression steps count; nested "
                         "repeats multiply: check the repeat counts",
                         "to raise the limit: archc --max-steps N, or "
                         "archc.Limits(max_steps=N)"])


class Evaluator:
    """Evaluates expressions over an environment; never Python's eval. Every value stays
    bounded: integers fit int64, lists hold at most MAX_ITEMS elements and strings at most
    MAX_STRING characters, and each step is paid from the elaboration's budget."""

    def __init__(self, env: Mapping[str, Any], shape: Shape | None,
                 budget: Budget | None = None) -> None:
        self.env = env
        self.shape = shape
        self.budget = budget or Budget(MAX_STEPS)

    def __call__(self, expr: ast.Expr) -> Any:
        self.budget.spend(expr.span)
        method: Callable[[Any], Any] = getattr(self, "eval_" + type(expr).__name__)
        try:
            return method(expr)
        except RecursionError:  # the deepest expression says where (sums are iterative)
            raise ArchcError("the expression nests too deeply to evaluate", expr.span,
                             notes=["hint: name its parts as parameters"]) from None

    @staticmethod
    def bounded(value: Any, span: Span) -> Any:
        """`value`, if archc can hold it; else a located error."""
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64:
            raise ArchcError("number too large", span,
                             expected=f"an integer of at most 64 bits (|n| ≤ {INT64:,})",
                             found=f"{value.bit_length()} bits")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise ArchcError("string too long", span,
                             expected=f"at most {MAX_STRING:,} characters", found=f"{len(value):,}")
        return value

    def eval_Literal(self, expr: ast.Literal) -> Any:
        return self.bounded(expr.value, expr.span)

    def eval_Name(self, expr: ast.Name) -> Any:
        if expr.id in self.env:
            return self.env[expr.id]
        candidates = [*self.env, *FUNCTIONS]
        raise ArchcError(f"undefined name '{expr.id}'", expr.span,
                         suggestions=suggest(expr.id, candidates),
                         notes=["names in expressions are parameters, loop variables and in"])

    def eval_InShape(self, expr: ast.InShape) -> Any:
        if self.shape is None:
            raise ArchcError("'in' is only defined inside an entry", expr.span)
        return ShapeValue(self.shape)

    def eval_ListExpr(self, expr: ast.ListExpr) -> Any:
        items = [self(item) for item in expr.items]
        return self.sized(items, sum(_size(i) for i in items), expr.span)

    def sized(self, value: Any, size: int, span: Span) -> Any:
        """`value` (of `size` elements) if it is small enough; building it is paid for."""
        if size > MAX_ITEMS:
            raise ArchcError("value too large", span, expected=f"at most {MAX_ITEMS:,} "
                             "elements in a list (nested lists counted in full)",
                             found=f"{size:,}")
        self.budget.spend_many(size, span)
        return value

    def eval_Unary(self, expr: ast.Unary) -> Any:
        value = self(expr.operand)
        if expr.op == "not":
            return not value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArchcError(f"'{expr.op}' needs a number", expr.span, found=_type_name(value))
        return self.bounded(-value if expr.op == "-" else value, expr.span)

    def eval_Binary(self, expr: ast.Binary) -> Any:
        if expr.op == "and":
            return self(expr.left) and self(expr.right)
        if expr.op == "or":
            return self(expr.left) or self(expr.right)
        # a chain `a + b + c + ...` nests to the left as deep as it is long: walk it in a loop
        chain = [expr]
        leftmost = expr.left
        while isinstance(leftmost, ast.Binary) and leftmost.op not in ("and", "or"):
            chain.append(leftmost)
            leftmost = leftmost.left
        value = self(leftmost)
        for link in reversed(chain):
            if link is not expr:
                self.budget.spend(link.span)
            value = self.combine(link, value, self(link.right))
        return value

    def combine(self, expr: ast.Binary, left: Any, right: Any) -> Any:
        """`left op right` for one binary operator (not and/or), bounded."""
        # the size of a + or * of lists and strings is known before it is built
        sequences = [v for v in (left, right) if isinstance(v, (list, str))]
        if sequences and expr.op not in ("+", "*"):  # comparisons walk both
            self.budget.spend_many(sum(_size(v) for v in sequences), expr.span)
        if expr.op == "+" and len(sequences) == 2:
            self.sized(None, _size(left) + _size(right), expr.span)
        if expr.op == "*" and len(sequences) == 1:
            count = right if sequences[0] is left else left
            if isinstance(count, int) and not isinstance(count, bool):
                self.sized(None, _size(sequences[0]) * max(count, 0), expr.span)
        try:
            result = _BINARY[expr.op](left, right)
        except ZeroDivisionError:
            raise ArchcError("division by zero", expr.span) from None
        except OverflowError:
            raise ArchcError("number too large", expr.span,
                             expected=f"an integer of at most 64 bits (|n| ≤ {INT64:,}) or a "
                             "finite float") from None
        except (TypeError, ValueError) as error:
            raise ArchcError(
                f"'{expr.op}' cannot combine {_type_name(left)} and {_type_name(right)}",
                expr.span, found=f"{short_value(left)} {expr.op} {short_value(right)}",
                notes=[str(error)] if str(error) else [],
            ) from None
        return self.bounded(result, expr.span)

    def eval_Conditional(self, expr: ast.Conditional) -> Any:
        return self(expr.body) if self(expr.test) else self(expr.orelse)

    def eval_Index(self, expr: ast.Index) -> Any:
        value, index = self(expr.value), self(expr.index)
        if isinstance(value, ShapeValue):
            value = list(value.shape[1:])
        if not isinstance(value, (list, str)):
            raise ArchcError("only lists can be indexed", expr.span, found=_type_name(value))
        if isinstance(index, bool) or not isinstance(index, int):
            raise ArchcError("an index must be an integer", expr.index.span,
                             found=_type_name(index))
        if not -len(value) <= index < len(value):
            raise ArchcError(f"index {index} is out of range", expr.index.span,
                             expected=f"an index below {len(value)}", found=repr(value))
        return value[index]

    def eval_Attribute(self, expr: ast.Attribute) -> Any:
        value = self(expr.value)
        if not isinstance(value, ShapeValue):
            raise ArchcError(f"'.{expr.name}': only shapes (in) have attributes", expr.span,
                             found=_type_name(value))
        try:
            result = value.attribute(expr.name)
        except KeyError:
            raise ArchcError(f"a shape has no attribute '{expr.name}'", expr.span,
                             expected=", ".join(ShapeValue.ATTRIBUTES),
                             suggestions=self._shape_suggestions(expr.name)) from None
        if result is None:
            raise ArchcError(f"in.{expr.name} is not defined for a {format_shape(value.shape)}"
                             " input", expr.span)
        return result

    @staticmethod
    def _shape_suggestions(name: str) -> list[str]:
        aliases = ShapeValue.ALIASES
        found = suggest(name, [*ShapeValue.ATTRIBUTES, *aliases])
        return list(dict.fromkeys(aliases.get(f, f) for f in found))

    def eval_FunctionCall(self, expr: ast.FunctionCall) -> Any:
        if expr.func not in FUNCTIONS:
            raise ArchcError(f"unknown function '{expr.func}'", expr.span,
                             expected=", ".join(FUNCTIONS),
                             suggestions=suggest(expr.func, FUNCTIONS))
        args = [self(a) for a in expr.args]
        if expr.func in ("min", "max", "sum"):  # they walk their list
            self.budget.spend_many(sum(_size(a) for a in args), expr.span)
        try:
            return self.bounded(FUNCTIONS[expr.func](*args), expr.span)
        except (TypeError, ValueError, OverflowError) as error:
            raise ArchcError(f"{expr.func}(...) failed: {error}", expr.span) from None


def to_value(value: Any) -> Any:
    """Expression values as op attributes: lists become tuples, shapes their dims."""
    if isinstance(value, list):
        return tuple(to_value(v) for v in value)
    if isinstance(value, ShapeValue):
        return tuple(value.shape[1:])
    return value


# ------------------------------------------------------------------ elaboration state


@dataclass
class _Scope:
    """A module being filled: its path and the counter that names unnamed children."""

    path: Path
    counter: list[int] = field(default_factory=lambda: [0])

    def next_index(self) -> str:
        index = self.counter[0]
        self.counter[0] += 1
        return str(index)


@dataclass
class _Names:
    """The names an entry can reference: one table per block instance (and the network)."""

    entries: dict[str, list[tuple[Path, int]]] = field(default_factory=dict)
    input: int | None = None

    def define(self, qualified: Path, node: int) -> None:
        self.entries.setdefault(qualified[-1], []).append((qualified, node))


@dataclass
class _Context:
    env: dict[str, Any]
    scope: _Scope
    names: _Names
    prefix: Path  # names of the enclosing named entries within this name table
    frames: tuple[Frame, ...]
    blocks: tuple[str, ...]  # block definitions being expanded, for recursion checks
    name: str | None = None  # the name given to the entry being elaborated

    def child(self, **changes: Any) -> _Context:
        # a copy of the fields without the dataclass constructor: elaboration makes one per
        # entry and per repeat iteration, so this is its inner loop
        context = _Context(self.env, self.scope, self.names, self.prefix, self.frames,
                           self.blocks)
        if changes:
            context.__dict__.update(changes)
        return context


_ENTRY_METHODS = {kind: "entry_" + kind.__name__ for kind in (
    ast.Call, ast.Ref, ast.Sequence, ast.Named, ast.Merge, ast.Repeat, ast.If)}


class Elaborator:
    def __init__(self, spec: ast.Spec, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.budget = Budget(self.limits.max_steps)
        self.total_params = 0
        self.spec = spec
        self.blocks = {b.name: b for b in spec.blocks}
        self.node_list: list[Node] = []
        self.child_names: dict[Path, set[str]] = {}  # the children of each module, for lookups
        self.modules: dict[Path, Module] = {}
        self.next_id = 0
        self.seen_blocks: set[str] = set()
        self.last_sources: dict[str, ast.Expr] = {}  # the expressions the last bind read

    def evaluator(self, env: Mapping[str, Any], shape: Shape | None) -> Evaluator:
        """An evaluator that spends this elaboration's budget."""
        return Evaluator(env, shape, self.budget)

    # -- errors
    def _fail(self, error: ArchcError, ctx: _Context) -> ArchcError:
        for frame in reversed(ctx.frames):
            error.with_frame(frame)
        return error

    @contextmanager
    def located(self, ctx: _Context, span: Span) -> Iterator[None]:
        """Turn an OpError into an ArchcError at `span` inside the block chain of `ctx`."""
        try:
            yield
        except OpError as error:
            raise self._fail(ArchcError(error.message, span, expected=error.expected,
                                        found=error.found, notes=error.notes), ctx) from None

    # -- graph building
    def add_node(self, op: str, attrs: dict[str, Any], inputs: Sequence[int], shape: Shape,
                 span: Span, ctx: _Context, module: Path | None, params: int = 0,
                 buffers: int = 0, macs: int = 0,
                 sources: dict[str, ast.Expr] | None = None) -> int:
        if self.next_id >= self.limits.max_nodes:
            raise self._fail(ArchcError(
                f"the network grows past {self.limits.max_nodes:,} nodes", span,
                notes=["check repeat counts and recursion",
                       "to raise the limit: archc --max-nodes N"]), ctx)
        elements = prod(d for d in shape[1:] if d is not None)
        if elements > self.limits.max_elements:
            raise self._fail(ArchcError(
                f"{op} gives a tensor of {elements:,} elements per sample", span,
                expected=f"at most {self.limits.max_elements:,}", found=format_shape(shape),
                notes=["to raise the limit: archc --max-elements N"]), ctx)
        self.total_params += params + buffers
        if self.total_params > self.limits.max_params:
            raise self._fail(ArchcError(
                f"the network grows past {self.limits.max_params:,} parameters", span,
                found=f"{self.total_params:,} with this {op}",
                notes=["to raise the limit: archc --max-params N"]), ctx)
        node = Node(self.next_id, op, attrs, tuple(inputs), shape, span, ctx.scope.path, module,
                    ctx.name, ctx.frames, params, buffers, macs, sources or {})
        self.node_list.append(node)
        self.next_id += 1
        return node.id

    def add_module(self, ctx: _Context, module: Module, span: Span) -> None:
        parent = self.modules[module.path[:-1]]
        taken = self.child_names.setdefault(module.path[:-1], set())
        if module.path[-1] in taken:
            where = ".".join(module.path[:-1]) or "the network"
            raise self._fail(ArchcError(
                f"duplicate name '{module.path[-1]}' in {where}", span,
                notes=["names within one module must be unique; they become attribute names"]),
                ctx)
        parent.children.append(module.path[-1])
        taken.add(module.path[-1])
        self.modules[module.path] = module

    def shape(self, node: int) -> Shape:
        return self.node_list[node].shape

    def name_entry(self, ctx: _Context, node: int) -> None:
        if ctx.name is not None:
            ctx.names.define((*ctx.prefix, ctx.name), node)

    # -- entries
    def entry(self, entry: ast.Entry, x: int, ctx: _Context) -> int:
        self.budget.spend(entry.span)
        method: Callable[[Any, int, _Context], int] = getattr(self, _ENTRY_METHODS[type(entry)])
        return method(entry, x, ctx)

    def entry_Sequence(self, entry: ast.Sequence, x: int, ctx: _Context) -> int:
        name = ctx.name
        inner = ctx.child()
        for item in entry.entries:
            x = self.entry(item, x, inner)
        if name is not None:
            ctx.names.define((*ctx.prefix, name), x)
        return x

    def entry_Named(self, entry: ast.Named, x: int, ctx: _Context) -> int:
        if entry.template:
            evaluate = self.evaluator(ctx.env, self.shape(x))
            name = "".join(p if isinstance(p, str) else str(evaluate(p)) for p in entry.template)
            try:
                names.check_attribute(name, entry.span, f"the entry name (from '{entry.name}')")
            except ArchcError as error:
                raise self._fail(error, ctx) from None
            entry = ast.Named(name, entry.entry, entry.span)
        if entry.name in self.child_names.get(ctx.scope.path, ()):
            where = ".".join(ctx.scope.path) or "the network"
            raise self._fail(ArchcError(
                f"duplicate name '{entry.name}' in {where}", entry.span,
                notes=["names within one module must be unique; they become attribute names"]),
                ctx)
        inner = entry.entry
        if isinstance(inner, ast.If):
            chosen = self.choose(inner, x, ctx)
            if chosen is None:
                ctx.names.define((*ctx.prefix, entry.name), x)
                return x
            return self.entry_Named(ast.Named(entry.name, chosen, entry.span), x, ctx)
        if isinstance(inner, ast.Call) and not self._is_inline_block(inner):
            return self.entry(inner, x, ctx.child(name=entry.name))
        if isinstance(inner, ast.Ref):
            node = self.entry(inner, x, ctx)
            ctx.names.define((*ctx.prefix, entry.name), node)
            return node
        # a named sequence, merge, repeat or inline block: a container module
        path = (*ctx.scope.path, entry.name)
        self.add_module(ctx, Module(path, "container", entry.span), entry.span)
        ctx.scope.next_index()
        inner_ctx = ctx.child(scope=_Scope(path), prefix=(*ctx.prefix, entry.name))
        first = self.next_id
        out = self.entry(inner, x, inner_ctx)
        if self.next_id == first:  # nothing inside (a repeat of zero): no module either
            del self.modules[path]
            self.modules[path[:-1]].children.remove(entry.name)
        ctx.names.define((*ctx.prefix, entry.name), out)
        return out

    def _is_inline_block(self, call: ast.Call) -> bool:
        block = self.blocks.get(call.name)
        return block is not None and block.inline

    def entry_Ref(self, entry: ast.Ref, x: int, ctx: _Context) -> int:
        node = self.resolve(entry, ctx)
        self.name_entry(ctx, node)
        return node

    def resolve(self, ref: ast.Ref, ctx: _Context) -> int:
        if ref.path == ("in",):
            assert ctx.names.input is not None
            return ctx.names.input
        candidates = [
            (qualified, node)
            for qualified, node in ctx.names.entries.get(ref.path[-1], [])
            if qualified[len(qualified) - len(ref.path):] == ref.path
        ]
        text = "@" + ".".join(ref.path)
        if not candidates:
            known = sorted({".".join(q) for entries in ctx.names.entries.values()
                            for q, _ in entries} | set(ctx.names.entries))
            raise self._fail(ArchcError(
                f"undefined reference {text}", ref.span,
                suggestions=suggest(".".join(ref.path), known),
                notes=["a reference names an earlier entry in the same block (or the network)"]
                if known else ["no entry before this one has a name"]), ctx)
        if len(candidates) > 1:
            options = ", ".join("@" + ".".join(q) for q, _ in candidates)
            raise self._fail(ArchcError(f"ambiguous reference {text}", ref.span,
                                        notes=[f"it could be {options}: write the full path"]),
                             ctx)
        return candidates[0][1]

    def entry_Merge(self, entry: ast.Merge, x: int, ctx: _Context) -> int:
        name = ctx.name
        if len(entry.branches) < 2:
            raise self._fail(ArchcError(
                f"{entry.op} has {['no branches', 'one branch'][len(entry.branches)]}",
                entry.span,
                expected="two or more branches, each a list item under the merge",
                notes=["hint: are the branches indented under it? A line indented like the "
                       f"{entry.op} itself is the next entry, not a branch"]), ctx)
        inner = ctx.child()
        outputs = [self.entry(branch, x, inner) for branch in entry.branches]
        op = OPS[entry.op]
        with self.located(ctx, entry.span):
            attrs = self.bind(op, entry.args, ctx, self.shape(x), entry.span)
            shapes = [self.shape(o) for o in outputs]
            attrs = dict(op.infer(attrs, shapes))
            shape = op.shape(attrs, shapes)
        node = self.add_node(entry.op, attrs, outputs, shape, entry.span, ctx.child(name=name),
                             None)
        if name is not None:
            ctx.names.define((*ctx.prefix, name), node)
        return node

    def entry_Repeat(self, entry: ast.Repeat, x: int, ctx: _Context) -> int:
        name = ctx.name
        count = self.evaluator(ctx.env, self.shape(x))(entry.count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise self._fail(ArchcError("repeat needs a count ≥ 0", entry.count.span,
                                        found=repr(count)), ctx)
        if count > self.limits.max_repeat:
            raise self._fail(ArchcError(f"repeat count {count} is over the limit",
                                        entry.count.span,
                                        expected=f"≤ {self.limits.max_repeat}"), ctx)
        # an iteration costs about as much as four steps of its body (a new environment and
        # context), so a repeat of an empty or false body is paid for as work too
        if isinstance(entry.body, ast.Sequence) and not entry.body.entries:
            self.budget.spend_many(REPEAT_COST * count, entry.span)
            count = 0
        for i in range(count):
            self.budget.spend_many(REPEAT_COST - 1, entry.span)
            env = {**ctx.env, entry.var: i} if entry.var else ctx.env
            x = self.entry(entry.body, x, ctx.child(env=env))
        if name is not None:
            ctx.names.define((*ctx.prefix, name), x)
        return x

    def choose(self, entry: ast.If, x: int, ctx: _Context) -> ast.Entry | None:
        test = self.evaluator(ctx.env, self.shape(x))(entry.test)
        return entry.then if test else entry.orelse

    def entry_If(self, entry: ast.If, x: int, ctx: _Context) -> int:
        chosen = self.choose(entry, x, ctx)
        if chosen is None:
            self.name_entry(ctx, x)
            return x
        return self.entry(chosen, x, ctx)

    def entry_Call(self, entry: ast.Call, x: int, ctx: _Context) -> int:
        if entry.name in self.blocks:
            return self.block(self.blocks[entry.name], entry, x, ctx)
        if entry.name not in OPS or OPS[entry.name].arity is None:
            merge = entry.name in OPS
            raise self._fail(ArchcError(
                f"'{entry.name}' is a merge: write it with branches" if merge
                else f"unknown op or block '{entry.name}'", entry.span,
                suggestions=[] if merge else suggest_op(entry.name, [*OPS, *self.blocks]),
                expected="{" + entry.name + ": [branch, branch, ...]}" if merge else None), ctx)
        op = OPS[entry.name]
        shapes = [self.shape(x)]
        try:
            attrs = self.bind(op, entry.args, ctx, shapes[0], entry.span)
            bound = attrs
            attrs = dict(op.infer(attrs, shapes))
            shape = op.shape(attrs, shapes)
        except OpError as error:
            span = self.argument_spans(op, entry).get(error.attr or "", entry.span)
            raise self._fail(ArchcError(error.message, span, expected=error.expected,
                                        found=error.found, notes=error.notes), ctx) from None
        except (OverflowError, ValueError, ZeroDivisionError, MemoryError) as error:
            # arithmetic the op's rule could not finish (inf, nan, absurd sizes)
            raise self._fail(ArchcError(
                f"{op.name}: its arguments give sizes that cannot be computed", entry.span,
                found=str(error), notes=["check for huge, zero or infinite values"]),
                ctx) from None
        sources = self.last_sources
        # the written expression stands for the value in generated code only where inference
        # kept the value, and where it is a scalar (a list literal is not PyTorch's tuple)
        sources = {name: expr for name, expr in sources.items()
                   if same(attrs.get(name), bound.get(name))
                   and isinstance(attrs.get(name), (int, float, str))}
        module: Path | None = None
        if op.module is not None:
            module = (*ctx.scope.path, ctx.name or ctx.scope.next_index())
            if ctx.name is not None:
                ctx.scope.next_index()
        node = self.add_node(op.name, attrs, [x], shape, entry.span, ctx, module,
                             params=op.params(attrs, shapes), buffers=op.buffers(attrs, shapes),
                             macs=op.macs(attrs, shapes, shape), sources=sources)
        if module is not None:
            self.add_module(ctx, Module(module, "op", entry.span, node=node), entry.span)
        self.name_entry(ctx, node)
        return node

    @staticmethod
    def argument_spans(op: Op, entry: ast.Call) -> dict[str, Span]:
        """Where each attribute was written in a call (for errors about one argument)."""
        spans = {a.name: a.span for a in entry.args if a.name}
        positional = [a for a in op.attrs if not a.inferred and not a.keyword_only]
        given = [a for a in entry.args if a.name is None]
        for attr, arg in zip(positional, given, strict=False):
            spans.setdefault(attr.name, arg.span)
            if attr.variadic and len(given) > 1:
                last = given[-1].span
                spans[attr.name] = Span(arg.span.source, arg.span.line, arg.span.column,
                                        last.end_line, last.end_column)
        return spans

    # -- arguments
    def argument(self, evaluate: Evaluator, expr: ast.Expr) -> Any:
        """An argument's value as an op attribute; converting a list is paid for."""
        value = evaluate(expr)
        if isinstance(value, list):
            self.budget.spend_many(_size(value), expr.span)
        return to_value(value)

    def bind(self, op: Op, args: Sequence[ast.Argument], ctx: _Context, shape: Shape,
             span: Span) -> dict[str, Any]:
        """Match call arguments to the op's attributes, type-checked, defaults filled in."""
        evaluate = self.evaluator(ctx.env, shape)
        positional_attrs = [a for a in op.attrs if not a.inferred and not a.keyword_only]
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        self.last_sources = {}
        self.check_order(args, ctx)
        positional = [a for a in args if a.name is None]
        variadic = next((a for a in positional_attrs if a.variadic), None)
        if variadic is not None and len(positional) > 1:
            values[variadic.name] = tuple(self.argument(evaluate, a.value) for a in positional)
            first, last = positional[0].span, positional[-1].span
            spans[variadic.name] = Span(first.source, first.line, first.column, last.end_line,
                                        last.end_column)
            positional = []
        if len(positional) > len(positional_attrs):
            names = ", ".join(a.name for a in positional_attrs) or "none"
            extra = positional[len(positional_attrs)]
            raise self._fail(ArchcError(
                f"{op.name} takes {len(positional_attrs)} positional argument"
                f"{'s' if len(positional_attrs) != 1 else ''}", extra.span,
                expected=f"at most {len(positional_attrs)} ({names})",
                found=f"{len(positional)}"), ctx)
        for attr, arg in zip(positional_attrs, positional, strict=False):
            values[attr.name] = self.argument(evaluate, arg.value)
            spans[attr.name] = arg.span
            self.last_sources[attr.name] = arg.value
        known = [a.name for a in op.attrs]
        for arg in args:
            if arg.name is None:
                continue
            found = op.attr(arg.name)
            if found is None:
                raise self._fail(ArchcError(
                    f"{op.name} has no argument '{arg.name}'", arg.span,
                    expected=", ".join(known) or "no arguments",
                    suggestions=suggest(arg.name, known)), ctx)
            if arg.name in values:
                raise self._fail(ArchcError(f"{op.name}: '{arg.name}' is given twice",
                                            arg.span), ctx)
            values[arg.name] = self.argument(evaluate, arg.value)
            spans[arg.name] = arg.span
            self.last_sources[arg.name] = arg.value
        for attr in op.attrs:
            if attr.name not in values:
                if attr.required:
                    raise self._fail(ArchcError(
                        f"{op.name} is missing its argument '{attr.name}'", span,
                        expected=op.signature()), ctx)
                values[attr.name] = attr.default
                continue
            written = values[attr.name]
            values[attr.name] = self.check(op, attr, written, spans[attr.name], ctx)
            if not same(values[attr.name], written):  # eps=1 is the float 1.0: the expression
                self.last_sources.pop(attr.name, None)  # `1` would not say so in the code
        return values

    def check_order(self, args: Sequence[ast.Argument], ctx: _Context) -> None:
        keyword = next((a for a in args if a.name is not None), None)
        for arg in args:
            if arg.name is None and keyword is not None and args.index(arg) > args.index(keyword):
                raise self._fail(ArchcError(
                    "positional argument after a keyword argument", arg.span,
                    notes=[f"positional arguments come first; '{keyword.name}=' is given before "
                           "this one"]), ctx)

    def check(self, op: Op, attr: Attr, value: Any, span: Span, ctx: _Context) -> Any:
        try:
            value = attr.type.check(value)
        except (TypeError, ValueError):
            raise self._fail(ArchcError(
                f"{op.name}: '{attr.name}' must be {attr.type.name}", span,
                expected=attr.type.name, found=f"{short_value(value)} ({_type_name(value)})"),
                ctx) from None
        if attr.choices and value not in attr.choices:
            raise self._fail(ArchcError(
                f"{op.name}: '{attr.name}' must be one of {', '.join(map(repr, attr.choices))}",
                span, found=repr(value), suggestions=suggest(str(value), attr.choices)), ctx)
        return value

    # -- blocks
    def block(self, block: ast.BlockDef, call: ast.Call, x: int, ctx: _Context) -> int:
        if block.name in ctx.blocks:
            chain = " → ".join((*ctx.blocks[ctx.blocks.index(block.name):], block.name))
            raise self._fail(ArchcError(f"recursion between blocks: {chain}", call.span,
                                        notes=["a block cannot contain itself"]), ctx)
        if len(ctx.frames) >= self.limits.max_depth:
            raise self._fail(ArchcError("blocks nest too deeply", call.span,
                                        expected=f"at most {self.limits.max_depth} levels"),
                             ctx)
        args = self.bind_block(block, call, x, ctx)
        sources = dict(self.last_sources)
        rendered = ", ".join(short_value(v) for v in args.values())
        frame = Frame(f"{block.name}({rendered})", call.span)
        self.seen_blocks.add(block.name)
        env = {**self.globals, **args}
        names = _Names(input=x)
        if block.inline:
            inner = ctx.child(env=env, names=names, prefix=(), frames=(*ctx.frames, frame),
                              blocks=(*ctx.blocks, block.name))
            out = self.entry(block.body, x, inner)
            self.name_entry(ctx, out)
            return out
        path = (*ctx.scope.path, ctx.name or ctx.scope.next_index())
        if ctx.name is not None:
            ctx.scope.next_index()
        self.add_module(ctx, Module(path, "block", call.span, block=block.name, args=args,
                                    sources=sources), call.span)
        inner = ctx.child(env=env, names=names, prefix=(), scope=_Scope(path),
                          frames=(*ctx.frames, frame), blocks=(*ctx.blocks, block.name))
        out = self.entry(block.body, x, inner)
        if out == x:  # a block that passes its input through still computes a value of its own
            out = self.add_node("identity", {}, [x], self.shape(x), call.span, inner, None)
        self.name_entry(ctx, out)
        return out

    def node_path(self, node: int) -> Path:
        value = self.node_list[node]
        assert value.module is not None
        return value.module

    def bind_block(self, block: ast.BlockDef, call: ast.Call, x: int,
                   ctx: _Context) -> dict[str, Any]:
        evaluate = self.evaluator(ctx.env, self.shape(x))
        names = [p.name for p in block.params]
        self.check_order(call.args, ctx)
        given: dict[str, Any] = {}
        self.last_sources = {}
        positional = [a for a in call.args if a.name is None]
        if len(positional) > len(block.params):
            raise self._fail(ArchcError(
                f"block {block.name} takes {len(block.params)} argument"
                f"{'' if len(block.params) == 1 else 's'}",
                positional[len(block.params)].span,
                expected=f"{block.name}({', '.join(names)})", found=f"{len(positional)}"), ctx)
        for param, arg in zip(block.params, positional, strict=False):
            given[param.name] = evaluate(arg.value)
            self.last_sources[param.name] = arg.value
        for arg in call.args:
            if arg.name is None:
                continue
            if arg.name not in names:
                raise self._fail(ArchcError(
                    f"block {block.name} has no parameter '{arg.name}'", arg.span,
                    expected=f"{block.name}({', '.join(names)})",
                    suggestions=suggest(arg.name, names)), ctx)
            if arg.name in given:
                raise self._fail(ArchcError(f"'{arg.name}' is given twice", arg.span), ctx)
            given[arg.name] = evaluate(arg.value)
            self.last_sources[arg.name] = arg.value
        bound: dict[str, Any] = {}
        for param in block.params:
            if param.name in given:
                bound[param.name] = given[param.name]
            elif param.default is not None:
                env = {**self.globals, **bound}
                bound[param.name] = self.evaluator(env, self.shape(x))(param.default)
            else:
                raise self._fail(ArchcError(
                    f"block {block.name} is missing its argument '{param.name}'", call.span,
                    expected=f"{block.name}({', '.join(names)})"), ctx)
        return bound

    # -- the network
    def network(self, overrides: Mapping[str, Any],
                input_shapes: Mapping[str, Sequence[int]] | None) -> Network:
        spec = self.spec
        check_names(spec)
        self.globals: dict[str, Any] = {}
        declared = {p.name for p in spec.params}
        for key in overrides:
            if key not in declared:
                raise ArchcError(f"the spec has no parameter '{key}'",
                                 expected=", ".join(sorted(declared)) or "no parameters",
                                 suggestions=suggest(key, declared))
        for param in spec.params:
            if param.name in overrides:
                self.globals[param.name] = overrides[param.name]
            elif param.default is None:
                raise ArchcError(f"parameter '{param.name}' needs a value (-p "
                                 f"{param.name}=...)", param.span)
            else:
                self.globals[param.name] = self.evaluator(self.globals, None)(param.default)
        root = Module((), "root", spec.span)
        self.modules[()] = root
        scope = _Scope(())
        names = _Names()
        ctx = _Context(dict(self.globals), scope, names, (), (), ())
        inputs = self.declare_inputs(ctx, input_shapes)
        first = next(iter(inputs.values()))
        names.input = first
        out = self.entry(spec.body, first, ctx)
        outputs: list[tuple[str, int]]
        if spec.outputs:
            outputs = [(ref.path[-1], self.resolve(ref, ctx)) for ref in spec.outputs]
        else:
            outputs = [("output", out)]
        blocks = {b.name: BlockInfo([p.name for p in b.params], b.doc, {
            p.name: constant for p in b.params
            if p.default is not None and (constant := _constant(p.default)) is not _NOT_CONSTANT
        }) for b in spec.blocks}
        network = Network(spec.name, spec.doc, self.node_list, self.modules, inputs, outputs,
                          dict(self.globals), blocks)
        return verify(network)

    def declare_inputs(self, ctx: _Context,
                       input_shapes: Mapping[str, Sequence[int]] | None) -> dict[str, int]:
        spec = self.spec
        declared = {d.name: d for d in spec.inputs}
        given = dict(input_shapes or {})
        if "" in given:  # an unnamed --input applies to the only input
            if len(declared) > 1:
                raise ArchcError("the spec has several inputs: name the one to set",
                                 expected=" ".join(f"--input {n}=..." for n in declared))
            given[next(iter(declared), "input")] = given.pop("")
        for name in given:
            if declared and name not in declared:
                raise ArchcError(f"the spec has no input '{name}'",
                                 expected=", ".join(declared), suggestions=suggest(name, declared))
        if not declared:
            if not given:
                raise ArchcError("the spec declares no input shape", spec.span,
                                 expected="input: [3, 224, 224] in the spec, or --input 3x224x224")
            declared = {n: ast.InputDecl(n, (), spec.span) for n in given}
        inputs: dict[str, int] = {}
        for name, decl in declared.items():
            if name in given:
                dims = list(given[name])
            else:
                dims = [self.evaluator(self.globals, None)(d) for d in decl.dims]
            if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                               for d in dims):
                raise ArchcError(f"input '{name}' needs positive integer sizes", decl.span,
                                 found=render_value(dims))
            shape: Shape = (BATCH, *dims)
            node = self.add_node(INPUT, {"name": name}, [], shape, decl.span,
                                 ctx.child(name=name), None)
            inputs[name] = node
            ctx.names.define((name,), node)
        return inputs


def check_names(spec: ast.Spec) -> None:
    """Every name the spec writes can stand in generated PyTorch unchanged (archc.names)."""
    names.check_name(spec.name, spec.span, "the network name")
    for param in spec.params:
        names.check_parameter(param.name, param.span)
    for decl in spec.inputs:
        names.check_name(decl.name, decl.span, "the input name")
    for block in spec.blocks:
        names.check_name(block.name, block.span, "the block name")
        for param in block.params:
            names.check_parameter(param.name, param.span)
        _check_entry_names(block.body)
    _check_entry_names(spec.body)


def _check_entry_names(entry: ast.Entry) -> None:
    stack: list[ast.Entry] = [entry]
    while stack:
        entry = stack.pop()
        if isinstance(entry, ast.Named):
            if not entry.template:  # a template's name is checked once it is known
                names.check_attribute(entry.name, entry.span)
            stack.append(entry.entry)
        elif isinstance(entry, ast.Sequence):  # reversed: the first name is checked first
            stack.extend(reversed(entry.entries))
        elif isinstance(entry, ast.Merge):
            stack.extend(reversed(entry.branches))
        elif isinstance(entry, ast.Repeat):
            stack.append(entry.body)
        elif isinstance(entry, ast.If):
            stack.extend(e for e in (entry.orelse, entry.then) if e is not None)


_NOT_CONSTANT = object()


def _constant(expr: ast.Expr) -> Any:
    """The value of an expression made only of literals, else _NOT_CONSTANT."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.ListExpr):
        items = [_constant(i) for i in expr.items]
        return _NOT_CONSTANT if _NOT_CONSTANT in items else items
    return _NOT_CONSTANT


def elaborate(spec: ast.Spec, params: Mapping[str, Any] | None = None,
              inputs: Mapping[str, Sequence[int]] | None = None,
              limits: Limits | None = None) -> Network:
    """Spec AST → IR network with every shape inferred (raises ArchcError)."""
    return Elaborator(spec, limits).network(params or {}, inputs)
