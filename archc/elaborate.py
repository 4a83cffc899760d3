"""Elaboration: AST + parameter values + input shapes → IR network, shapes inferred on the way.

Input: an `ast.Spec`, parameter overrides and optional input shapes. Output: an `ir.Network`
whose every node carries its static output shape. Elaboration and shape inference walk the
spec together because structure may depend on shapes (`in.c`, conditions); every mistake
becomes an ArchcError pointing at the spec text, with the chain of block instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from math import prod
from typing import Any

from archc import names
from archc.binding import Bound, Signature, bind, missing
from archc.cache import typed
from archc.errors import ArchcError, Frame, Span, suggest
from archc.expr.evaluate import Budget, Evaluator, size_of, to_value, type_name
from archc.expr.nodes import InShape, Literal, Name, found_in, names_in
from archc.format import render_value, short_value
from archc.frontend import ast
from archc.ir import INPUT, BlockInfo, Choice, Loop, Module, Network, Node, Path, same, verify
from archc.limits import Limits as Limits  # re-exported
from archc.ops import MERGES, OPS
from archc.ops.registry import (
    BATCH,
    REQUIRED,
    Attr,
    Op,
    OpError,
    Shape,
    format_shape,
    suggest_op,
)

REPEAT_COST = 4  # steps per repeat iteration, beside its body's


# ------------------------------------------------------------------ elaboration state


class _Framed:
    """`with elaborator.framed(ctx):` an ArchcError raised inside gets the block-instance
    chain of `ctx`. A class rather than a @contextmanager generator: it is entered for every
    op and block, and a generator costs several times as much."""

    __slots__ = ("ctx", "elaborator")

    def __init__(self, elaborator: Elaborator, ctx: _Context) -> None:
        self.elaborator = elaborator
        self.ctx = ctx

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: Any) -> None:
        if isinstance(error, ArchcError):
            raise self.elaborator._fail(error, self.ctx) from None


@dataclass
class _Scope:
    """A module being filled. It names its child modules: by the entry's name, or by position
    for an unnamed one; a named child takes a position too, so that unnamed siblings are
    numbered as nn.Sequential numbers them. It refuses a name given twice, since names become
    attribute names."""

    path: Path
    frames: int = 0  # the block-instance depth of the module's own entries (not inline blocks')
    count: int = 0
    taken: set[str] = field(default_factory=set)

    def check_free(self, name: str, span: Span) -> None:
        if name in self.taken:
            where = ".".join(self.path) or "the network"
            raise ArchcError(
                f"duplicate name '{name}' in {where}", span,
                notes=["names within one module must be unique; they become attribute names"])

    def claim(self, name: str | None, span: Span) -> Path:
        """The path of a new child module."""
        child = str(self.count) if name is None else name
        self.count += 1
        self.check_free(child, span)
        self.taken.add(child)
        return (*self.path, child)


@dataclass
class _Names:
    """The names an entry can reference: one table per block instance (and the network)."""

    entries: dict[str, list[tuple[Path, int]]] = field(default_factory=dict)
    input: int | None = None
    # the named entries inside the named block calls of this table, each with how many steps
    # of its path are inside the call: a reference reaches them only through the call's name
    # (`@backbone.layer3`), never by their own name alone
    within: dict[str, list[tuple[Path, int, int]]] = field(default_factory=dict)

    def define(self, qualified: Path, node: int) -> None:
        self.entries.setdefault(qualified[-1], []).append((qualified, node))

    def export(self, inner: _Names, at: Path) -> None:
        """Make the names of a block call's own table reachable through its path `at`."""
        for table in (inner.entries, inner.within):
            for key, found in table.items():
                mine = self.within.setdefault(key, [])
                mine.extend(((*at, *item[0]), item[1], len(item[0])) for item in found)


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


# more list items than this in the values an op call reads: the call is worked out anew (a
# call that indexes a long list must not pay for the whole list each time: bounded work)
MAX_KEYED_ITEMS = 64


_ENTRY_METHODS = {kind: "entry_" + kind.__name__ for kind in (
    ast.Call, ast.Ref, ast.Sequence, ast.Named, ast.Merge, ast.Repeat, ast.If)}


class Elaborator:
    def __init__(self, spec: ast.Spec, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.budget = Budget(self.limits.max_steps)
        self.sizes_read = False  # whether an expression read a size of `in` (Network.sizes_read)
        self.total_params = 0
        self.spec = spec
        # the sequences looked at for calls that make modules there (`_chained`), and those
        # calls: by the AST node's id, which a block's every instance shares
        self.chains: dict[int, None] = {}
        self.chained_calls: set[int] = set()
        self.blocks = {b.name: b for b in spec.blocks}
        self.node_list: list[Node] = []
        self.modules: dict[Path, Module] = {}
        self.next_id = 0
        self.signatures = {name: Signature.of_op(op) for name, op in OPS.items()}
        self.open_controls: dict[Path, int] = {}  # per module: the repeats and ifs open now
        # op calls worked out before (call_key, remembered): by the arguments' expressions,
        # the names they read, their bound arguments and, with the input shapes, the rest
        self.reads: dict[int, tuple[str, ...] | None] = {}
        self.bound: dict[tuple[Any, ...], tuple[Bound, int]] = {}
        self.applied: dict[tuple[Any, ...], tuple[Bound, dict[str, Any], Shape, int, int]] = {}

    def evaluator(self, env: Mapping[str, Any], shape: Shape | None) -> Evaluator:
        """An evaluator that spends this elaboration's budget."""
        return Evaluator(env, shape, self.budget, self._read_sizes)

    def _read_sizes(self) -> None:
        self.sizes_read = True

    # -- errors
    def _fail(self, error: ArchcError, ctx: _Context) -> ArchcError:
        for frame in reversed(ctx.frames):
            error.with_frame(frame)
        return error

    def framed(self, ctx: _Context) -> _Framed:
        """Give an ArchcError raised inside the chain of block instances of `ctx`."""
        return _Framed(self, ctx)

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
                 span: Span, ctx: _Context, module: Path | None, weights: int = 0,
                 sources: dict[str, ast.Expr] | None = None,
                 given: dict[str, Any] | None = None) -> int:
        """Append a node. `weights` (its parameters and buffers) counts toward the limit on
        the network's size; the counts themselves are the network's side table."""
        if self.next_id >= self.limits.max_nodes:
            raise self._fail(ArchcError(
                f"the network grows past {self.limits.max_nodes:,} nodes", span,
                notes=["check repeat counts and recursion",
                       "to raise the limit: archc --max-nodes N"]), ctx)
        self.total_params += weights
        try:
            _within(self.limits, op, shape, self.total_params, span)
        except ArchcError as error:
            raise self._fail(error, ctx) from None
        node = Node(self.next_id, op, attrs, tuple(inputs), shape, span, ctx.scope.path, module,
                    ctx.name, ctx.frames, sources or {}, given)
        self.node_list.append(node)
        self.next_id += 1
        return node.id

    def add_module(self, module: Module) -> None:
        """Enter a module whose path its parent's scope has claimed."""
        self.modules[module.path[:-1]].children.append(module.path[-1])
        self.modules[module.path] = module

    def shape(self, node: int) -> Shape:
        return self.node_list[node].shape

    def name_entry(self, ctx: _Context, node: int, module: Path | None = None) -> None:
        if ctx.name is not None:
            ctx.names.define((*ctx.prefix, ctx.name), node)
        elif module is not None and ctx.prefix and module[-1].isdigit():
            # a numbered child of a named entry is reached by its number (`@backbone.4`, as
            # torch numbers the children of an nn.Sequential); alone, a number is no name
            ctx.names.define((*ctx.prefix, module[-1]), node)

    # -- entries
    def entry(self, entry: ast.Entry, x: int, ctx: _Context) -> int:
        self.budget.spend(entry.span)
        method: Callable[[Any, int, _Context], int] = getattr(self, _ENTRY_METHODS[type(entry)])
        return method(entry, x, ctx)

    def entry_Sequence(self, entry: ast.Sequence, x: int, ctx: _Context) -> int:
        name = ctx.name
        inner = ctx.child()
        if id(entry) not in self.chains:
            self.chains[id(entry)] = None
            self._chained(entry)
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
        with self.framed(ctx):
            ctx.scope.check_free(entry.name, entry.span)
        inner = entry.entry
        if isinstance(inner, ast.If):
            chosen = self.choose(inner, x, ctx)
            with self.recording(inner, chosen is inner.then, x, ctx):
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
        with self.framed(ctx):
            path = ctx.scope.claim(entry.name, entry.span)
        self.add_module(Module(path, "container", entry.span))
        inner_ctx = ctx.child(scope=_Scope(path, len(ctx.frames)), prefix=(*ctx.prefix, entry.name))
        first = self.next_id
        out = self.entry(inner, x, inner_ctx)
        if self.next_id == first:  # nothing inside (a repeat of zero): no module either
            del self.modules[path]
            self.modules[path[:-1]].children.remove(entry.name)
        elif isinstance(inner, ast.Merge) and not self.modules[path].children:
            # a merge of earlier values (`out: resize: ['@classifier', '@x']`): a name for its
            # value, computed in the enclosing module's forward, not a module of its own
            del self.modules[path]
            self.modules[path[:-1]].children.remove(entry.name)
            for node_id in range(first, self.next_id):
                made = self.node_list[node_id]
                if made.scope == path:
                    self.node_list[node_id] = Node(
                        made.id, made.op, made.attrs, made.inputs, made.shape, made.span,
                        path[:-1], made.module, entry.name if node_id == out else made.name,
                        made.frames, made.sources, made.given)
        ctx.names.define((*ctx.prefix, entry.name), out)
        return out

    def _chained(self, entry: ast.Sequence) -> None:
        """A sequence of unnamed calls that each make a module but for some that can (an
        op's `chained`: permute as torchvision's Permute): those make modules too, so that
        the sequence stays an nn.Sequential numbered as torch numbers it (ConvNeXt's
        `block.2` after a Permute at `block.1`)."""
        calls = [item for item in entry.entries if isinstance(item, ast.Call)]
        if len(calls) != len(entry.entries):
            return
        chained = [c for c in calls if c.name in OPS and OPS[c.name].chained]
        makers = [c for c in calls if (c.name in self.blocks and not self._is_inline_block(c))
                  or (c.name in OPS and OPS[c.name].module is not None
                      and OPS[c.name].function is None)]
        if chained and makers and len(chained) + len(makers) == len(calls):
            self.chained_calls.update(id(c) for c in chained)

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
        ] + [
            (qualified, node)
            for qualified, node, inside in ctx.names.within.get(ref.path[-1], [])
            if len(ref.path) > inside and qualified[len(qualified) - len(ref.path):] == ref.path
        ]
        text = "@" + ".".join(ref.path)
        if not candidates:
            known = sorted({".".join(q) for entries in ctx.names.entries.values()
                            for q, _ in entries} | set(ctx.names.entries)
                           | {".".join(q) for within in ctx.names.within.values()
                              for q, _, _ in within})
            notes = ["a reference names an earlier entry in the same block (or the network), "
                     "or one inside an earlier named block call through its name "
                     "(@backbone.layer3)"] if known else ["no entry before this one has a name"]
            if len(ref.path) == 1 and ref.path[0] in ctx.env and ref.path[0] not in self.globals:
                notes = [f"'{ref.path[0]}' is a parameter of this block given a value; a tensor "
                         f"argument is passed as {ref.path[0]}=@name"]
            raise self._fail(ArchcError(
                f"undefined reference {text}", ref.span,
                suggestions=suggest(".".join(ref.path), known), notes=notes), ctx)
        if len(candidates) > 1:
            options = ", ".join("@" + ".".join(q) for q, _ in candidates)
            raise self._fail(ArchcError(f"ambiguous reference {text}", ref.span,
                                        notes=[f"it could be {options}: write the full path"]),
                             ctx)
        return candidates[0][1]

    def sized_merge(self, op: Op, entry: ast.Call, tensor: ast.Argument,
                    ctx: _Context) -> ast.Merge:
        """`upsample(size=@x, mode='bilinear')` as the merge its registry entry names
        (`resize` of the input and @x): the call's other arguments, and the op's own defaults
        where the merge has the same attribute with another default (upsample's 'nearest')."""
        assert op.sized_by is not None
        merge = OPS[op.sized_by[1]]
        args = [a for a in entry.args if a is not tensor]
        for arg in args:
            if arg.name is None or merge.attr(arg.name) is None or isinstance(arg.value,
                                                                             ast.Ref):
                allowed = ", ".join(a.name for a in merge.attrs)
                raise self._fail(ArchcError(
                    f"{op.name}({tensor.name}=@...) takes "
                    + (f"only {allowed} besides" if allowed else "no other argument than")
                    + f" {tensor.name}", arg.span,
                    expected=f"{op.name}({tensor.name}=@ref"
                    + "".join(f", {a.name}=..." for a in merge.attrs) + ")",
                    found=f"{arg.name}=..." if arg.name else "a positional argument",
                    notes=[f"the size comes from the tensor {tensor.name} names"]), ctx)
        given = {a.name for a in args}
        for attr in merge.attrs:
            own = op.attr(attr.name)
            if attr.name not in given and own is not None and own.default is not None \
                    and own.default != attr.default:
                args.append(ast.Argument(attr.name, Literal(own.default, entry.span),
                                         entry.span))
        assert isinstance(tensor.value, ast.Ref)
        return ast.Merge(merge.name, (ast.Sequence((), entry.span), tensor.value),
                         tuple(args), entry.span)

    def entry_Merge(self, entry: ast.Merge, x: int, ctx: _Context) -> int:
        name = ctx.name
        if entry.op not in MERGES:  # the text form parses any `name { ... }` as a merge
            raise self._fail(ArchcError(
                f"'{entry.op}' is not a merge: only {', '.join(MERGES)} take branches in {{ }}",
                entry.span, expected=f"{MERGES[0]} {{ ... }}",
                suggestions=suggest(entry.op, MERGES),
                notes=[f"hint: to name a sequence, write `{entry.op}: {{ ... }}`",
                       "hint: to start a new sequence, put it on its own line"]), ctx)
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
            bound = self.bind_op(op, entry.args, ctx, self.shape(x), entry.span)
            given = bound.values
            shapes = [self.shape(o) for o in outputs]
            attrs = dict(op.infer(given, shapes))
            shape = op.shape(attrs, shapes)
        # as for a call: the written expression of a scalar attribute stands for it in code
        # (`window_departition(x, like, self.size, self.grid)` in a block's forward)
        sources = {key: expr for key, expr in bound.sources.items()
                   if same(attrs.get(key), given.get(key))
                   and isinstance(attrs.get(key), (int, float, str))
                   } if len(ctx.frames) == ctx.scope.frames else {}
        node = self.add_node(entry.op, attrs, outputs, shape, entry.span, ctx.child(name=name),
                             None, sources=sources, given=given)
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
        module = self.own_module(ctx)
        at = len(module.control) if module is not None else 0
        depth = self.open_controls.get(ctx.scope.path, 0)
        self.open_controls[ctx.scope.path] = depth + 1
        starts: list[int] = []
        children: list[tuple[str, ...]] = []
        first = x
        for i in range(count):
            self.budget.spend_many(REPEAT_COST - 1, entry.span)
            env = {**ctx.env, entry.var: i} if entry.var else ctx.env
            before = len(module.children) if module is not None else 0
            starts.append(self.next_id)
            x = self.entry(entry.body, x, ctx.child(env=env))
            if module is not None:
                children.append(tuple(module.children[before:]))
        self.open_controls[ctx.scope.path] = depth
        if module is not None:
            body = entry.body
            names = body.template if isinstance(body, ast.Named) and body.template else None
            module.control.insert(at, Loop(entry.count, entry.var, first, tuple(children),
                                           tuple(starts), self.next_id, names, depth))
        if name is not None:
            ctx.names.define((*ctx.prefix, name), x)
        return x

    def choose(self, entry: ast.If, x: int, ctx: _Context) -> ast.Entry | None:
        test = self.evaluator(ctx.env, self.shape(x))(entry.test)
        return entry.then if test else entry.orelse

    def entry_If(self, entry: ast.If, x: int, ctx: _Context) -> int:
        chosen = self.choose(entry, x, ctx)
        with self.recording(entry, chosen is entry.then, x, ctx):
            if chosen is None:
                self.name_entry(ctx, x)
                return x
            return self.entry(chosen, x, ctx)

    def own_module(self, ctx: _Context) -> Module | None:
        """The module whose own entries `ctx` elaborates (None inside an inline block, whose
        expressions are over the block's parameters, not the module's)."""
        return self.modules[ctx.scope.path] if len(ctx.frames) == ctx.scope.frames else None

    @contextmanager
    def recording(self, entry: ast.If, taken: bool, x: int, ctx: _Context) -> Iterator[None]:
        """Record an `if` on the module it is elaborated in, with what its branch made."""
        module = self.own_module(ctx)
        at = len(module.control) if module is not None else 0
        before = len(module.children) if module is not None else 0
        start = self.next_id
        depth = self.open_controls.get(ctx.scope.path, 0)
        self.open_controls[ctx.scope.path] = depth + 1
        try:
            yield
        finally:
            self.open_controls[ctx.scope.path] = depth
        if module is not None:
            module.control.insert(at, Choice(
                entry.test, taken, x, tuple(module.children[before:]), start, self.next_id,
                (self.passes(entry.then), self.passes(entry.orelse)), depth))

    def passes(self, entry: ast.Entry | None) -> bool:
        """Whether an entry gives its input unchanged (nothing, or an op such as identity)."""
        if entry is None or (isinstance(entry, ast.Sequence) and not entry.entries):
            return True
        return (isinstance(entry, ast.Call) and entry.name not in self.blocks
                and entry.name in OPS and OPS[entry.name].passthrough and not entry.args)

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
        tensor = next((a for a in entry.args if isinstance(a.value, ast.Ref)), None)
        if tensor is not None and op.sized_by is not None and tensor.name == op.sized_by[0]:
            return self.entry_Merge(self.sized_merge(op, entry, tensor, ctx), x, ctx)
        if tensor is not None:
            raise self._fail(ArchcError(
                f"{entry.name} takes no tensor argument: only a block's call does", tensor.span,
                expected=f"{tensor.name}=<a value>",
                notes=["to combine tensors, use a merge (concat, add, resize, ...) with "
                       "the reference as a branch"]), ctx)
        shapes = [self.shape(x)]
        bound = Bound()
        try:
            key = self.call_key(op, entry.args, ctx)
            known = self.remembered(key, shapes, entry.span)
            if known is not None:
                bound, attrs, shape, weights = known
            else:
                left = self.budget.left
                bound = self.bind_op(op, entry.args, ctx, shapes[0], entry.span, key)
                attrs = dict(op.infer(bound.values, shapes))
                shape = op.shape(attrs, shapes)
                weights = op.params(attrs, shapes) + op.buffers(attrs, shapes)
                if key is not None:
                    self.applied[(key, *shapes)] = (bound, dict(attrs), shape, weights,
                                                    left - self.budget.left)
        except OpError as error:
            span = bound.spans.get(error.attr or "", entry.span)
            raise self._fail(ArchcError(error.message, span, expected=error.expected,
                                        found=error.found, notes=error.notes), ctx) from None
        except (OverflowError, ValueError, ZeroDivisionError, MemoryError) as error:
            # arithmetic the op's rule could not finish (inf, nan, absurd sizes)
            raise self._fail(ArchcError(
                f"{op.name}: its arguments give sizes that cannot be computed", entry.span,
                found=str(error), notes=["check for huge, zero or infinite values"]),
                ctx) from None
        # the written expression stands for the value in generated code only where inference
        # kept the value, and where it is a scalar (a list literal is not PyTorch's tuple)
        # and where its names are the module's own: an inline block's expressions read the
        # inline block's parameters, which the enclosing module's code does not have
        sources = {name: expr for name, expr in bound.sources.items()
                   if same(attrs.get(name), bound.values.get(name))
                   and isinstance(attrs.get(name), (int, float, str))
                   } if len(ctx.frames) == ctx.scope.frames else {}
        module: Path | None = None
        if op.module is not None and (op.function is None or op.held
                                      or (id(entry) in self.chained_calls and ctx.name is None)):
            with self.framed(ctx):
                module = ctx.scope.claim(ctx.name, entry.span)
        node = self.add_node(op.name, attrs, [x], shape, entry.span, ctx, module,
                             weights=weights, sources=sources, given=bound.values)
        if module is not None:
            self.add_module(Module(module, "op", entry.span, node=node))
        self.name_entry(ctx, node, module)
        return node

    # -- arguments
    def argument(self, evaluate: Evaluator, expr: ast.Expr) -> Any:
        """An argument's value as an op attribute; converting a list is paid for."""
        value = evaluate(expr)
        if isinstance(value, list):
            self.budget.spend_many(size_of(value), expr.span)
        return to_value(value)

    def call_key(self, op: Op, args: Sequence[ast.Argument],
                 ctx: _Context) -> tuple[Any, ...] | None:
        """What an op call's arguments are a function of: the call (its expressions) and the
        values of the names they read, each with its type (1, 1.0 and true differ). None
        where they read `in` or a value with no such key: the call is then worked out anew."""
        reads = self.reads.get(id(args))
        if reads is None:
            found = found_in((Name, InShape), args)
            reads = self.reads[id(args)] = (
                None if any(isinstance(n, InShape) for n in found)
                else tuple(sorted({n.id for n in found})))
        if reads is None:
            return None
        env = ctx.env
        try:
            return (id(args), op.name, *(typed(env[name], MAX_KEYED_ITEMS) for name in reads))
        except (KeyError, TypeError):  # a name to refuse, a value that is not plain data
            return None

    def remembered(self, key: tuple[Any, ...] | None, shapes: Sequence[Shape],
                   span: Span) -> tuple[Bound, dict[str, Any], Shape, int] | None:
        """An op call worked out before with the same call key and input shapes: its bound
        arguments, inferred attributes, output shape and parameter and buffer count (pure
        functions of those). A dense block calls the same layers with the same arguments
        many times. The evaluation steps are paid again; an error is never remembered."""
        if key is None:
            return None
        known = self.applied.get((key, *shapes))
        if known is None:
            return None
        bound, attrs, shape, weights, steps = known
        self.budget.spend_many(steps, span)
        return Bound(dict(bound.values), bound.spans, bound.sources), dict(attrs), shape, weights

    def bind_op(self, op: Op, args: Sequence[ast.Argument], ctx: _Context, shape: Shape,
                span: Span, key: tuple[Any, ...] | None = None) -> Bound:
        """An op call's arguments bound, type-checked, defaults filled in (once per `key`,
        a call_key: the evaluation steps are paid each time)."""
        if key is not None:
            known = self.bound.get(key)
            if known is not None:
                self.budget.spend_many(known[1], span)
                return Bound(dict(known[0].values), known[0].spans, known[0].sources)
            left = self.budget.left
            bound = self.bind_op(op, args, ctx, shape, span)
            self.bound[key] = (bound, left - self.budget.left)
            return Bound(dict(bound.values), bound.spans, bound.sources)
        evaluate = self.evaluator(ctx.env, shape)
        signature = self.signatures[op.name]
        with self.framed(ctx):
            bound = bind(signature, args, lambda expr: self.argument(evaluate, expr))
        given = bound.values
        values = bound.values = {}  # in the op's order of attributes, defaults filled in
        for attr in op.attrs:
            name = attr.name
            if name not in given:
                if attr.default is REQUIRED:
                    raise self._fail(missing(signature, name, span), ctx)
                values[name] = attr.default
                continue
            written = given[name]
            values[name] = checked = self.check(op, attr, written, bound.spans[name], ctx)
            if checked is not written and not same(checked, written):  # eps=1 is the float
                bound.sources.pop(name, None)  # 1.0: the expression `1` would not say so
        return bound

    def check(self, op: Op, attr: Attr, value: Any, span: Span, ctx: _Context) -> Any:
        try:
            value = attr.type.check(value)
        except (TypeError, ValueError):
            raise self._fail(ArchcError(
                f"{op.name}: '{attr.name}' must be {attr.type.name}", span,
                expected=attr.type.name, found=f"{short_value(value)} ({type_name(value)})"),
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
        tensors = self.tensor_arguments(block, call, ctx)
        bound = self.bind_block(block, call, x, ctx, tensors)
        args = bound.values
        rendered = ", ".join(short_value(v) for v in args.values())
        frame = Frame(f"{block.name}({rendered})", call.span)
        env = {**self.globals, **args}
        names = _Names(input=x)
        for param, node in tensors.items():  # `@skip` in the body is the caller's value
            names.define((param,), node)
        if block.inline:
            inner = ctx.child(env=env, names=names, prefix=(), frames=(*ctx.frames, frame),
                              blocks=(*ctx.blocks, block.name))
            out = self.entry(block.body, x, inner)
            self.name_entry(ctx, out)
            return out
        with self.framed(ctx):
            path = ctx.scope.claim(ctx.name, call.span)
        self.add_module(Module(path, "block", call.span, block=block.name, args=args,
                               sources=bound.sources if len(ctx.frames) == ctx.scope.frames
                               else {}, tensors=tensors))
        inner = ctx.child(env=env, names=names, prefix=(), scope=_Scope(path, len(ctx.frames) + 1),
                          frames=(*ctx.frames, frame), blocks=(*ctx.blocks, block.name))
        out = self.entry(block.body, x, inner)
        if out == x:  # a block that passes its input through still computes a value of its own
            out = self.add_node("identity", {}, [x], self.shape(x), call.span, inner, None,
                                given={})
        self.name_entry(ctx, out, path)
        if ctx.name is not None:
            ctx.names.export(names, (*ctx.prefix, ctx.name))
        return out

    def tensor_arguments(self, block: ast.BlockDef, call: ast.Call,
                         ctx: _Context) -> dict[str, int]:
        """A block call's tensor arguments (`skip=@enc3`), each a parameter of the block
        without a default, resolved in the caller: parameter → node."""
        tensors: dict[str, int] = {}
        declared = {p.name: p for p in block.params}
        for arg in call.args:
            if not isinstance(arg.value, ast.Ref):
                continue
            assert arg.name is not None  # the grammar has no positional tensor argument
            param = declared.get(arg.name)
            if param is None:
                raise self._fail(ArchcError(
                    f"block {block.name} has no parameter '{arg.name}'", arg.span,
                    expected=", ".join(declared) or "no parameters",
                    suggestions=suggest(arg.name, declared)), ctx)
            if param.default is not None:
                raise self._fail(ArchcError(
                    f"'{arg.name}' of block {block.name} has a default, so it is a value: a "
                    "tensor argument is a parameter without one", arg.span,
                    expected=f"{arg.name}=<a value>",
                    found=f"{arg.name}=@{'.'.join(arg.value.path)}"), ctx)
            tensors[arg.name] = self.resolve(arg.value, ctx)
        return tensors

    def bind_block(self, block: ast.BlockDef, call: ast.Call, x: int,
                   ctx: _Context, tensors: Mapping[str, int] | None = None) -> Bound:
        """A block call's arguments bound, in the block's parameter order; a default is
        evaluated over the spec's parameters and the block's parameters before it. The
        tensor arguments are not values: they are bound apart (`tensor_arguments`)."""
        tensors = tensors or {}
        signature = Signature.of_block(block, tuple(tensors))
        values_args = [a for a in call.args if not isinstance(a.value, ast.Ref)]
        with self.framed(ctx):
            bound = bind(signature, values_args, self.evaluator(ctx.env, self.shape(x)))
        values: dict[str, Any] = {}
        for param in block.params:
            if param.name in tensors:
                continue
            if param.name in bound.values:
                values[param.name] = bound.values[param.name]
            elif param.default is not None:
                env = {**self.globals, **values}
                values[param.name] = self.evaluator(env, self.shape(x))(param.default)
            else:
                raise self._fail(missing(signature, param.name, call.span), ctx)
        bound.values = values
        return bound

    # -- the network
    def network(self, overrides: Mapping[str, Any],
                input_shapes: Mapping[str, Sequence[int]] | None) -> Network:
        spec = self.spec
        checknames_in(spec)
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
            outputs = [(spec.output_keys[i] if spec.output_keys else ref.path[-1],
                        self.resolve(ref, ctx)) for i, ref in enumerate(spec.outputs)]
        else:
            outputs = [("output", out)]
        training = [(spec.training_output_keys[i] if spec.training_output_keys
                     else ref.path[-1], self.resolve(ref, ctx))
                    for i, ref in enumerate(spec.training_outputs)]
        blocks = {b.name: BlockInfo([p.name for p in b.params], b.doc, {
            p.name: constant for p in b.params
            if p.default is not None and (constant := _constant(p.default)) is not _NOT_CONSTANT
        }, {p.name: p.default for p in b.params
            if p.default is not None and _constant(p.default) is _NOT_CONSTANT})
            for b in spec.blocks}
        network = Network(spec.name, spec.doc, self.node_list, self.modules, inputs, outputs,
                          dict(self.globals), blocks, parameter_uses(spec), self.sizes_read,
                          bool(spec.output_keys), training, bool(spec.training_output_keys))
        return verify(readable(network))

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


def readable(network: Network) -> Network:
    """The network with each unnamed child of a module with a forward named after its op or
    block (`relu2`, `conv_block`), as a person names the attributes of a class. Numbers stay
    where torch numbers children: in an nn.Sequential (a chain; the network itself only when
    its layers are all unnamed or an unnamed one has weights, whose number is then its
    state_dict key) and an nn.ModuleList (a module that is one repeat of one child)."""
    renames: dict[Path, Path] = {}
    for path, module in network.modules.items():
        if module.kind == "op" or not any(c.isdigit() for c in module.children) \
                or network.sequential(path) or network.listed(path) is not None \
                or network.run(path) is not None or network.parallel(path):
            continue
        taken = set(module.children)
        names: dict[str, str] = {}  # this module's children: old name → new
        for index, child in enumerate(module.children):
            if not child.isdigit():
                continue
            sub = network.modules[(*path, child)]
            base = (network.node(sub.node).op if sub.kind == "op" and sub.node is not None
                    else sub.block or "layer")
            name, counter = base, 2
            while name in taken:
                name, counter = f"{base}{counter}", counter + 1
            taken.add(name)
            module.children[index] = name
            renames[(*path, child)] = (*path, name)
            names[child] = name
        if names:  # the repeats and ifs name the children they made
            module.control = [
                replace(c, children=tuple(tuple(names.get(n, n) for n in it) for it in c.children))
                if isinstance(c, Loop) else
                replace(c, children=tuple(names.get(n, n) for n in c.children))
                for c in module.control]
    if not renames:
        return network

    # each step of a path renamed where its module was: a module comes after its parent
    moved: dict[Path, Path] = {(): ()}
    modules: dict[Path, Module] = {}
    for path, module in network.modules.items():
        if path:
            above = moved[path[:-1]]
            step = renames[path][-1] if path in renames else path[-1]
            module.path = moved[path] = (*above, step)
        modules[module.path] = module
    for index, node in enumerate(network.node_list):
        scope, owner = moved[node.scope], None if node.module is None else moved[node.module]
        if scope != node.scope or owner != node.module:
            network.node_list[index] = replace(node, scope=scope, module=owner)
    # the same network, renamed in place: what is cached by node (consumers, boundaries)
    # stays true, what is cached by path is renamed with it
    network.modules = modules
    kept = dict(network.by_path)  # renamed, not recomputed: codegen asks them all again
    network.by_path.clear()
    for (kind, path), value in kept.items():
        if kind == "units":  # keyed by each child's name (or a NUL and a node id)
            value = [(renames.get((*path, key), (key,))[-1], nodes) for key, nodes in value]
        network.by_path[(kind, moved[path])] = value
    if "members" in network.__dict__:
        network.__dict__["members"] = {moved[p]: n for p, n in network.members.items()}
    return network


def _within(limits: Limits, op: str, shape: Shape, total_params: int, span: Span) -> None:
    """Refuse a tensor or a network larger than the limits allow."""
    elements = prod(d for d in shape if isinstance(d, int))  # per value of the symbols
    if elements > limits.max_elements:
        raise ArchcError(f"{op} gives a tensor of {elements:,} elements per sample", span,
                         expected=f"at most {limits.max_elements:,}", found=format_shape(shape),
                         notes=["to raise the limit: archc --max-elements N"])
    if total_params > limits.max_params:
        raise ArchcError(f"the network grows past {limits.max_params:,} parameters", span,
                         found=f"{total_params:,} with this {op}",
                         notes=["to raise the limit: archc --max-params N"])


def resized(network: Network, inputs: Mapping[str, Sequence[int]],
            limits: Limits | None = None,
            memo: dict[tuple[Any, ...], tuple[Node, int]] | None = None) -> Network:
    """The network at other input sizes (shapes without the batch dim), without elaborating
    it again: each node's attributes inferred anew from those the spec gave and its shape
    computed by its op's rule, in order, as elaboration computes them. Only for a network
    whose elaboration read no size of `in` (`sizes_read` False): its structure and given
    attributes are then the same at every size, so this is what elaborating at `inputs`
    gives, in a fraction of the time (the --min-input search tries dozens of sizes).
    Raises the op's refusal as an ArchcError at its node's span.

    `memo`, shared by the calls of one search, keeps each node at the input shapes it was
    computed for: past the strided layers, neighbouring sizes give the same shapes."""
    if network.sizes_read:
        raise ValueError("the network's structure reads input sizes: elaborate it again")
    limits = limits or Limits()
    nodes = list(network.node_list)
    total = 0
    for index, node in enumerate(nodes):
        if node.is_input:
            dims = inputs.get(node.attrs["name"])
            if dims is not None:
                nodes[index] = node.at(node.attrs, (BATCH, *dims))
            continue
        op = OPS[node.op]
        shapes = [nodes[i].shape for i in node.inputs]
        key: tuple[Any, ...] = (node.id, *shapes)
        known = memo.get(key) if memo is not None else None
        if known is not None:
            nodes[index], weights = known
            total += weights
            _within(limits, node.op, known[0].shape, total, node.span)
            continue
        try:
            attrs = dict(op.infer(node.given if node.given is not None else node.attrs,
                                  shapes))
            shape = op.shape(attrs, shapes)
            weights = op.params(attrs, shapes) + op.buffers(attrs, shapes)
        except OpError as error:
            raise ArchcError(error.message, node.span, expected=error.expected,
                             found=error.found, notes=error.notes) from None
        except (OverflowError, ValueError, ZeroDivisionError, MemoryError) as error:
            raise ArchcError(f"{op.name}: its arguments give sizes that cannot be computed",
                             node.span, found=str(error)) from None
        total += weights
        _within(limits, node.op, shape, total, node.span)
        nodes[index] = node.at(attrs, shape)
        if memo is not None:
            memo[key] = nodes[index], weights
    return Network(network.name, network.doc, nodes, network.modules, network.inputs,
                   network.outputs, network.params, network.blocks, network.parameter_uses,
                   network.sizes_read, network.keyed, network.training_outputs,
                   network.training_keyed)


def parameter_uses(spec: ast.Spec) -> dict[str, tuple[ast.Expr, ...]]:
    """The spec parameters that only the network's own entries read, each with the names that
    read it there (kept alive, so that codegen can tell which it wrote as code). A parameter a
    block, an input size or another parameter's default reads, or whose default is not a
    literal, is not among them: code that takes it as an argument would have to pass it on."""
    declared = {p.name for p in spec.params}
    if not declared:  # nothing to look for: the walk is over the whole spec
        return {}
    elsewhere = {n.id for n in names_in(spec.inputs, spec.blocks, spec.params)}
    elsewhere |= {p.name for p in spec.params
                  if p.default is None or _constant(p.default) is _NOT_CONSTANT}
    uses: dict[str, list[ast.Expr]] = {name: [] for name in declared - elsewhere}
    for name in names_in(spec.body, spec.outputs) if uses else ():
        if name.id in uses:
            uses[name.id].append(name)
    return {name: tuple(found) for name, found in uses.items()}


def checknames_in(spec: ast.Spec) -> None:
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
        _check_entrynames_in(block.body)
    _check_entrynames_in(spec.body)


def _check_entrynames_in(entry: ast.Entry) -> None:
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
