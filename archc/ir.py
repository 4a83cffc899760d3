"""The IR: a DAG of op nodes (networkx on demand), plus the module tree they live in.

Input: built by `elaborate`. Output: what every backend and analysis reads: each node's op,
resolved attributes, inputs, static output shape, parameter count, source span and module
path. `verify` re-derives every shape from the registry so a backend can trust `node.shape`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from archc.errors import Frame, Span
from archc.expr.nodes import Expr
from archc.expr.nodes import same as same  # attribute values compare as expressions do
from archc.format import render_value
from archc.gcpause import without_collector
from archc.ops import OPS
from archc.ops.registry import Shape

Path = tuple[str, ...]
INPUT = "input"  # the op name of a network input's node (no registry entry)


@dataclass(frozen=True)
class Node:
    """One op application (or a network input, op 'input')."""

    id: int
    op: str
    attrs: dict[str, Any]
    inputs: tuple[int, ...]
    shape: Shape
    span: Span
    scope: Path  # the module this node is computed in
    module: Path | None  # the module this node *is* (ops that become modules), else None
    name: str | None = None  # the user's name for it, if any
    frames: tuple[Frame, ...] = ()
    sources: dict[str, Expr] = field(default_factory=dict, compare=False)
    # attribute -> the spec expression it was written as, for readable generated code
    given: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # the attributes as the spec gave them, before inference from the inputs' shapes (what
    # elaboration.resized infers again at other input sizes)

    def at(self, attrs: dict[str, Any], shape: Shape) -> Node:
        """The same node with other attributes and shape (the constructor: dataclasses.replace
        takes ten times as long, and the --min-input search remakes every node dozens of
        times)."""
        return Node(self.id, self.op, attrs, self.inputs, shape, self.span, self.scope,
                    self.module, self.name, self.frames, self.sources, self.given)

    @property
    def is_input(self) -> bool:
        """A network input: a placeholder with a shape, not an op of the registry."""
        return self.op == INPUT

    @property
    def path(self) -> str:
        """Dot-separated path for tables: the module path, or scope + op for functions."""
        if self.module is not None:
            return ".".join(self.module)
        return ".".join((*self.scope, self.name or self.op))


@dataclass(frozen=True)
class Loop:
    """A `repeat` elaborated directly in a module: its count and variable as written, and what
    each iteration made (its child modules and its first node), for code that loops as the
    spec does. `names` is the entry-name template of the iteration's one named child
    (`denselayer{j + 1}`), if it has one."""

    count: Expr
    var: str | None
    value: int  # the value the first iteration reads
    children: tuple[tuple[str, ...], ...]  # per iteration
    starts: tuple[int, ...]  # per iteration: the id of its first node
    end: int  # the id after the loop's last node
    names: tuple[str | Expr, ...] | None = None
    depth: int = 0  # how many of the module's repeats and ifs it is inside


@dataclass(frozen=True)
class Choice:
    """An `if` elaborated directly in a module: its test as written, the branch taken, and the
    child modules that branch made, and which branches pass the value through unchanged (so
    that code can make the other branch's children optional)."""

    test: Expr
    taken: bool
    value: int  # the value flowing in (what `in` is in the test)
    children: tuple[str, ...]
    start: int
    end: int
    passes: tuple[bool, bool]  # whether the then and the else branch pass the value through
    depth: int = 0  # how many of the module's repeats and ifs it is inside


@dataclass
class Module:
    """A module in the hierarchy: the network, a block instance, a named container or an op."""

    path: Path
    kind: str  # 'root' | 'block' | 'container' | 'op'
    span: Span
    block: str | None = None  # block definition name for kind 'block'
    args: dict[str, Any] = field(default_factory=dict)  # bound block arguments
    children: list[str] = field(default_factory=list)
    node: int | None = None  # for kind 'op': the node it computes
    sources: dict[str, Expr] = field(default_factory=dict)  # block argument -> its expression
    # the repeats and ifs elaborated directly in this module, in order
    control: list[Loop | Choice] = field(default_factory=list)
    # a block's tensor arguments: parameter → the caller's node it was given (`skip=@enc3`)
    tensors: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(frozen=True)
class BlockInfo:
    """What backends need of a block definition to write a class a person would write."""

    params: list[str]  # its parameters of values (not its tensor arguments)
    doc: str | None
    defaults: dict[str, Any]  # parameters whose default is a plain value
    # parameters whose default is an expression (of `in` or the parameters before them)
    computed: dict[str, Expr] = field(default_factory=dict)


@dataclass(frozen=True)
class Counts:
    """What a node weighs: its parameters and buffers, and its multiply-accumulates (per
    sample). A side table of the network (`Network.counts`), not part of the node:
    elaboration computes structure and shapes only."""

    params: int = 0
    buffers: int = 0
    macs: int = 0


@dataclass(frozen=True)
class Boundary:
    """What a set of nodes (a module, or one entry of it) exchanges with the rest of the
    network: the values it reads from outside and the values it gives outside, both sorted."""

    reads: tuple[int, ...]
    gives: tuple[int, ...]
    last: int | None  # the last node of the set

    @property
    def output(self) -> int | None:
        """The value a module returns: the last one it gives (its last node when nothing
        leaves it, an unused side path)."""
        return self.gives[-1] if self.gives else self.last


@dataclass
class Network:
    """The elaborated network: its nodes (a DAG in topological order), the module tree, inputs
    and outputs. `graph` gives the same DAG as a networkx DiGraph for graph algorithms; it is
    built on first use, so the paths that never need it (archc shapes, check) never import
    networkx."""

    name: str
    doc: str | None
    node_list: list[Node]  # node i has id i; inputs always have smaller ids
    modules: dict[Path, Module]
    inputs: dict[str, int]  # input name -> node id, in declaration order
    outputs: list[tuple[str, int]]  # (name, node id), in order
    params: dict[str, Any]  # the spec parameters' final values
    blocks: dict[str, BlockInfo] = field(default_factory=dict)
    # the spec parameters only the network's own entries read, with the names reading them
    parameter_uses: dict[str, tuple[Expr, ...]] = field(default_factory=dict)
    # whether elaborating it read a size of some `in` (other than channels and rank): its
    # structure or attributes may then differ at other input sizes
    sizes_read: bool = True
    # the network returns its outputs as a dict keyed by their names (torchvision's
    # segmentation models: {"out": ..., "aux": ...}), not as a tensor or a tuple
    keyed: bool = False
    # what forward returns while training, when that differs (Inception-v3's auxiliary
    # logits): (name, node id) in order, and whether it is a dict; see `training_only`
    training_outputs: list[tuple[str, int]] = field(default_factory=list)
    training_keyed: bool = False
    consumer_lists: list[list[int]] = field(default_factory=list, init=False, repr=False)
    boundaries: dict[tuple[int, ...], Boundary] = field(default_factory=dict, init=False,
                                                       repr=False, compare=False)
    # what is remembered by module path (units, chains): forgotten when modules are renamed
    by_path: dict[tuple[str, Path], Any] = field(default_factory=dict, init=False, repr=False,
                                                 compare=False)

    def __post_init__(self) -> None:
        self.consumer_lists = [[] for _ in self.node_list]
        for node in self.node_list:
            for source in node.inputs:
                if not self.consumer_lists[source] or self.consumer_lists[source][-1] != node.id:
                    self.consumer_lists[source].append(node.id)

    def node(self, node_id: int) -> Node:
        return self.node_list[node_id]

    def nodes(self) -> Iterator[Node]:
        """Every node, in elaboration order (which is a topological order)."""
        return iter(self.node_list)

    def consumers(self, node_id: int) -> list[int]:
        """The nodes that read `node_id`'s output, in order (each once)."""
        return self.consumer_lists[node_id]

    def descendants(self, node_id: int) -> set[int]:
        """The nodes computed from `node_id`'s output, at any distance (not itself). Read by
        the lint pass on every check, so it walks the consumer lists rather than importing
        networkx, which would be a fifth of a `check`."""
        found: set[int] = set()
        todo = [node_id]
        while todo:
            for consumer in self.consumer_lists[todo.pop()]:
                if consumer not in found:
                    found.add(consumer)
                    todo.append(consumer)
        return found

    @cached_property
    def members(self) -> dict[Path, list[int]]:
        """Module path → the nodes computed inside it (at any depth), in order; the network
        () holds every node but the inputs. Computed once, read by analysis and backends."""
        found: dict[Path, list[int]] = {}
        for node in self.node_list:
            if node.is_input:
                continue
            owner = node.module if node.module is not None else node.scope
            for depth in range(len(owner) + 1):
                found.setdefault(owner[:depth], []).append(node.id)
        return found

    @cached_property
    def output_ids(self) -> frozenset[int]:
        """The nodes forward returns, in eval or in training."""
        return frozenset(n for _, n in (*self.outputs, *self.training_outputs))

    @cached_property
    def training_only(self) -> frozenset[int]:
        """The nodes only the training outputs need: forward computes them only while
        training, and an inference (MACs, FLOPs, peak memory) does not."""
        if not self.training_outputs:
            return frozenset()

        def needed(outputs: list[tuple[str, int]]) -> set[int]:
            found, stack = set(), [n for _, n in outputs]
            while stack:
                node = stack.pop()
                if node not in found:
                    found.add(node)
                    stack.extend(self.node_list[node].inputs)
            return found

        return frozenset(needed(self.training_outputs) - needed(self.outputs))

    def boundary(self, nodes: Sequence[int]) -> Boundary:
        """The boundary of a set of nodes (asked many times of the same modules by codegen and
        diagrams, so remembered). A network output is always given."""
        key = tuple(nodes)
        known = self.boundaries.get(key)
        if known is None:
            inside = set(key)
            reads = sorted({i for n in key for i in self.node_list[n].inputs if i not in inside})
            gives = sorted(n for n in key if n in self.output_ids
                           or any(c not in inside for c in self.consumer_lists[n]))
            known = self.boundaries[key] = Boundary(tuple(reads), tuple(gives),
                                                     max(key, default=None))
        return known

    def module_boundary(self, path: Path) -> Boundary:
        """A module's boundary; the network's own (path ()) reads its inputs and gives its
        outputs, in declaration order. Remembered by path: codegen asks it of each module
        many times, and keying by the module's nodes would hash them all each time."""
        known = self.by_path.get(("boundary", path))
        if known is not None:
            return known  # type: ignore[no-any-return]
        if not path:
            outputs = tuple(n for _, n in self.outputs)
            known = Boundary(tuple(self.inputs.values()), outputs, max(outputs, default=None))
        else:
            known = self.boundary(self.members[path])
        self.by_path[("boundary", path)] = known
        return known

    def units(self, path: Path) -> list[tuple[str, list[int]]]:
        """A module's units in order: each direct child (by name) with the nodes inside it,
        and each functional node of its own (keyed a NUL and its id). Asked of each module
        many times by codegen: remembered."""
        known = self.by_path.get(("units", path))
        if known is not None:
            return known  # type: ignore[no-any-return]
        depth = len(path)
        groups: dict[str, list[int]] = {}
        for node_id in self.members.get(path, []):
            node = self.node_list[node_id]
            owner = node.module if node.module is not None else node.scope
            key = owner[depth] if len(owner) > depth else f"\0{node_id}"
            groups.setdefault(key, []).append(node_id)
        found = self.by_path[("units", path)] = list(groups.items())
        return found

    def is_chain(self, path: Path) -> bool:
        """Whether a module's children are applied one after the other and nothing else, each
        to the previous one's output (an nn.Sequential: its children are numbered by
        position)."""
        known = self.by_path.get(("chain", path))
        if known is None:
            known = self.by_path[("chain", path)] = self._is_chain(path)
        return known

    def _is_chain(self, path: Path) -> bool:
        module = self.modules[path]
        units = self.units(path)
        if not units or module.kind == "op":
            return False
        whole = self.module_boundary(path)
        if len(whole.reads) != 1 or len(whole.gives) != 1:
            return False
        current = whole.reads[0]
        for key, nodes in units:
            # a functional node, a parameter the module holds, or a module called otherwise
            # than `child(x)` (attention) is no child nn.Sequential can call
            if key.startswith("\0") or self._called((*path, key)):
                return False
            unit = self.boundary(nodes)
            if unit.reads != (current,) or len(unit.gives) != 1:
                return False
            current = unit.gives[0]
        return current == whole.gives[0]

    def run(self, path: Path) -> int | None:
        """For a block or a named sequence that is no chain but whose numbered children are
        applied one after the other from its input, its functional nodes all after them and
        reading their outputs or its input: the number of those children. It is an
        nn.Sequential with a forward that loops over its children (torchvision's
        ASPPPooling, which resizes the result to its input; a segmentation backbone, which
        also gives the output of an earlier child). None for any other module."""
        known = self.by_path.get(("run", path))
        if known is None:
            known = self.by_path[("run", path)] = self._run(path)
        return known if known != -1 else None

    def _run(self, path: Path) -> int:
        module = self.modules[path]
        if module.kind not in ("block", "container") or self.is_chain(path):
            return -1
        # its repeats and ifs make children (a loop of functions after them is no chain's)
        if any(not all(c.children) if isinstance(c, Loop) else not c.children
               for c in module.control):
            return -1
        whole = self.module_boundary(path)
        if len(whole.reads) != 1:
            return -1
        current, count = whole.reads[0], 0
        units = self.units(path)
        for key, nodes in units:
            if key.startswith("\0"):
                break
            if key != str(count) or self._called((*path, key)):
                return -1
            unit = self.boundary(nodes)
            if unit.reads != (current,) or len(unit.gives) != 1:
                return -1
            current, count = unit.gives[0], count + 1
        rest = units[count:]
        if not count or any(not key.startswith("\0") for key, _ in rest):
            return -1
        return count

    def parallel(self, path: Path) -> bool:
        """Whether a named merge applies each of its numbered children to its input and
        joins their outputs in order, by an op with a form over a list (`Op.gather`): an
        nn.ModuleList whose forward joins what each child gives (DeepLab's ASPP `convs`)."""
        known = self.by_path.get(("parallel", path))
        if known is None:
            known = self.by_path[("parallel", path)] = self._parallel(path)
        return known

    def _parallel(self, path: Path) -> bool:
        if self.modules[path].kind != "container":
            return False
        whole = self.module_boundary(path)
        units = self.units(path)
        if len(whole.reads) != 1 or len(units) < 2 or not units[-1][0].startswith("\0"):
            return False
        merge = self.node_list[units[-1][1][0]]
        if len(units[-1][1]) != 1 or OPS[merge.op].gather is None or whole.gives != (merge.id,):
            return False
        outputs = []
        for index, (key, nodes) in enumerate(units[:-1]):
            unit = self.boundary(nodes)
            if key != str(index) or self._called((*path, key)) or unit.reads != whole.reads \
                    or len(unit.gives) != 1:
                return False
            outputs.append(unit.gives[0])
        return list(merge.inputs) == outputs

    def sequential(self, path: Path) -> bool:
        """Whether a module is written as an nn.Sequential: a chain, and for the network
        itself one whose children are all unnamed or that has an unnamed child with weights
        (its number is its state_dict key); the network's named layers read better as a class
        with a forward."""
        if not self.is_chain(path):
            return False
        children = self.modules[path].children
        return bool(path) or all(child.isdigit() for child in children) or any(
            child.isdigit() and self.has_weights((*path, child)) for child in children)

    def listed(self, path: Path) -> Loop | None:
        """The loop of a module that is one repeat making one unnamed child per iteration,
        and functions of their outputs (a dense block): an nn.ModuleList whose forward loops
        over it, its children numbered by position. None for any other module."""
        module = self.modules[path]
        own = module.control
        if module.kind != "block" or len(own) != 1 or not isinstance(own[0], Loop) \
                or self.is_chain(path):
            return None
        loop = own[0]
        if not loop.starts or any(len(c) != 1 or not c[0].isdigit() for c in loop.children):
            return None
        if any(self._called((*path, c[0])) for c in loop.children):
            return None  # a parameter, or a module called otherwise than `layer(x)`
        if any(not loop.starts[0] <= n < loop.end for n in self.members.get(path, [])):
            return None
        return loop

    def _called(self, path: Path) -> bool:
        """Whether forward uses a child otherwise than `child(x)` (an op's `call`: a parameter
        its parent holds, attention)."""
        module = self.modules.get(path)
        return module is not None and module.node is not None \
            and OPS[self.node_list[module.node].op].call is not None

    def has_weights(self, path: Path) -> bool:
        """Whether a module holds parameters or buffers (its state_dict keys matter)."""
        for node_id in self.members.get(path, []):
            node = self.node_list[node_id]
            op, shapes = OPS[node.op], self.input_shapes(node)
            if op.params(node.attrs, shapes) or op.buffers(node.attrs, shapes):
                return True
        return False

    @cached_property
    def graph(self) -> Any:
        """The DAG as a networkx DiGraph (node attribute `node` holds the Node)."""
        import networkx as nx

        graph = nx.DiGraph()
        for node in self.node_list:
            graph.add_node(node.id, node=node)
            graph.add_edges_from((source, node.id) for source in node.inputs)
        return graph

    def label(self, module: Module) -> str:
        """How a module is named in tables and diagrams: `conv 7x7 /2, 64`,
        `inception(64, [96, 128], ...)`, `sequence`."""
        if module.kind == "op":
            assert module.node is not None
            node = self.node_list[module.node]
            key = OPS[node.op].key(node.attrs)
            return f"{node.op} {key}" if key else node.op
        if module.kind == "block":
            return f"{module.block}({', '.join(render_value(v) for v in module.args.values())})"
        return "sequence"

    def input_shapes(self, node: Node) -> list[Shape]:
        return [self.node_list[i].shape for i in node.inputs]

    @cached_property
    @without_collector  # thousands of small records: the cyclic collector would rescan them
    def counts(self) -> list[Counts]:
        """Node id → its counts, from the op's registry entry; computed once, on first use
        (analysis adds FLOPs, memory and receptive fields in its own table)."""
        table = []
        for node in self.node_list:
            if node.is_input:
                table.append(Counts())
                continue
            op, shapes = OPS[node.op], self.input_shapes(node)
            table.append(Counts(op.params(node.attrs, shapes), op.buffers(node.attrs, shapes),
                                op.macs(node.attrs, shapes, node.shape)))
        return table

    @property
    def total_params(self) -> int:
        return sum(c.params for c in self.counts)

    @property
    def total_buffers(self) -> int:
        return sum(c.buffers for c in self.counts)

    def output_shapes(self) -> list[Shape]:
        return [self.node(i).shape for _, i in self.outputs]


def verify(network: Network, shapes: bool = False) -> Network:
    """Check the invariants elaboration promises; an AssertionError here is a compiler bug.
    With `shapes`, also that each node's shape is what its op's rule gives for its inputs:
    that re-derives every shape, so the tests ask it of every spec and elaboration does not."""
    # inputs always precede their consumers, so the nodes are a topological order of a DAG
    for index, node in enumerate(network.nodes()):
        assert node.id == index, "node ids are not positions"
        assert all(i < node.id for i in node.inputs), f"node {node.id} uses a later node"
        if node.is_input or not shapes:
            continue
        op = OPS[node.op]
        given = [network.node(i).shape for i in node.inputs]
        assert op.shape(node.attrs, given) == node.shape, f"shape of node {node.id} drifted"
    for _, node_id in (*network.outputs, *network.training_outputs):
        assert 0 <= node_id < len(network.node_list)
    return network
