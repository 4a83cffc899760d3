"""Static analysis of an IR network: parameters, MACs, FLOPs, activation memory and receptive
fields, per node, per module and in total; and the smallest valid input size. No torch.

Input: an `ir.Network` (for `min_input`, also a function that elaborates the spec at other
input sizes). Output: an `Analysis` (a record per node and per module path, and totals) and a
`MinInput`. Every cost comes from the op's registry entry (`Op.macs`, `Op.flops`,
`Op.window`, `Op.alias`); nothing here branches on an op's name. The conventions are
documented in docs/analysis.md:

- MACs: multiply-accumulates of conv, conv_transpose and linear only;
- FLOPs: 2 per MAC plus each op's stated cost per element (docs/ops.md);
- memory: bytes per sample (batch 1) of each output; the peak of live tensors over the
  elaboration (topological) order, freeing a tensor after its last consumer, views and
  in-place ops sharing their input's storage; the training total of every stored tensor;
- receptive field per spatial dim of the reference input, forward over the DAG:
  rf' = rf + (k−1)·d·jump, jump' = jump·s, start' = start + ((k−1)·d/2 − p)·jump; a node with
  several inputs takes the hull of their fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archc.errors import ArchcError
from archc.ir import Network, Node, Path
from archc.ops import OPS
from archc.ops.registry import OpError, Reach, Shape, Window, numel, static_dims

DTYPES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}

# ------------------------------------------------------------------ receptive fields


@dataclass(frozen=True)
class Extent:
    """The receptive field of a node's output along one spatial dim of the reference input.

    `size`: input positions that output position 0 reads (padding included, so it may exceed
    the input); `jump`: input positions between neighbouring output positions (the effective
    stride), None when the output has no grid along this dim; `start`: input coordinate of
    the centre of output position 0's field (input position i is at coordinate i);
    `whole`: the output depends on the entire input along this dim, and `size` is the input's
    size.
    """

    size: Fraction
    jump: Fraction | None
    start: Fraction | None
    whole: bool = False


Field = tuple[Extent, ...]
ORIGIN = Extent(Fraction(1), Fraction(1), Fraction(0))


def _whole(full: int, like: Extent | None = None) -> Extent:
    """The whole input along a dim; a grid (jump, start) may survive (a broadcast gate)."""
    return Extent(Fraction(full), like.jump if like else None, like.start if like else None,
                  True)


def _reduce(extent: Extent, size: int, full: int) -> Extent:
    """An output that reads all `size` positions of its input along a dim: the union of their
    fields, the whole input when it covers it."""
    if extent.whole or extent.jump is None or extent.start is None:
        return _whole(full) if extent.whole else extent
    half = (extent.size - 1) / 2
    low = extent.start - half
    high = extent.start + (size - 1) * extent.jump + half
    if low <= 0 and high >= full - 1:
        return _whole(full)
    return Extent(high - low + 1, None, (low + high) / 2)


def _apply(extent: Extent, window: Window, size: int, out: int, full: int) -> Extent:
    span = (window.kernel - 1) * window.dilation
    if out == 1 and span - window.padding >= size - 1:  # one window over the whole input
        return _reduce(extent, size, full)
    if extent.jump is None or extent.start is None:
        return extent  # no grid to move along: the field stays as it is
    jump = extent.jump * window.stride
    start = extent.start + (Fraction(span, 2) - window.padding) * extent.jump
    grown = Fraction(full) if extent.whole else extent.size + span * extent.jump
    return Extent(grown, jump, start, extent.whole)


def _spatial(shape: Shape, dims: int) -> tuple[int, ...] | None:
    """The spatial sizes of a tensor laid out like the reference input, else None (also when
    a spatial size is a symbol: a field is measured in positions of known dims)."""
    sizes = static_dims(shape[2:])
    if len(shape) != dims + 2 or len(sizes) != dims:
        return None
    return sizes


def _hull(items: Sequence[tuple[Extent, int | None]], full: int) -> Extent:
    """Several inputs (merges): the hull of their fields at output position 0 (the largest
    field when they are centred alike, as in residual and Inception blocks); the grid of the
    finest input that is not broadcast; the whole input if any input sees all of it."""
    sizes = [n for _, n in items if n is not None]
    largest = max(sizes, default=None)
    grid = [e for e, n in items if e.jump is not None
            and not (n == 1 and largest is not None and largest > 1)]
    finest = min(grid, key=lambda e: e.jump or 0, default=None)
    if any(e.whole for e, _ in items):
        return _whole(full, finest)
    spans = [(e.start - (e.size - 1) / 2, e.start + (e.size - 1) / 2)
             for e, _ in items if e.start is not None]
    if not spans:
        return items[0][0]
    low = min(s for s, _ in spans)
    high = max(h for _, h in spans)
    return Extent(high - low + 1, finest.jump if finest else None,
                  (low + high) / 2 if finest else None)


def node_field(network: Network, node: Node, fields: dict[int, Field | None],
               full: tuple[int, ...]) -> Field | None:
    """A node's receptive field from its inputs' fields and its op's window rule."""
    dims = len(full)
    known = [(fields[i], network.node(i).shape) for i in node.inputs if fields[i] is not None]
    if not known:
        return None
    shapes = [network.node(i).shape for i in node.inputs]
    if len(known) == 1:
        merged = known[0][0]
        assert merged is not None
    else:
        laid_out = [(f, _spatial(s, dims)) for f, s in known]
        merged = tuple(_hull([(f[d], sizes[d] if sizes else None)  # type: ignore[index]
                              for f, sizes in laid_out], full[d])
                       for d in range(dims))
    reach: Reach = OPS[node.op].window(node.attrs, shapes)
    if reach is None:
        return merged
    sizes_in = _spatial(shapes[0], dims)
    sizes_out = _spatial(node.shape, dims)
    if len(reach) != dims or sizes_in is None:
        # the output has no spatial layout: the union of the fields of every input position
        return tuple(_reduce(e, sizes_in[d] if sizes_in else 1, n)
                     for d, (e, n) in enumerate(zip(merged, full, strict=True)))
    result = []
    for d, (extent, window) in enumerate(zip(merged, reach, strict=True)):
        if window is None:
            result.append(_reduce(extent, sizes_in[d], full[d]))
        else:
            out = sizes_out[d] if sizes_out is not None else 1
            result.append(_apply(extent, window, sizes_in[d], out, full[d]))
    return tuple(result)


def reference_input(network: Network) -> tuple[str, int] | None:
    """The input receptive fields are measured on: the first one with spatial dims."""
    for name, node_id in network.inputs.items():
        if len(network.node(node_id).shape) >= 3:
            return name, node_id
    return None


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class NodeCost:
    """One node: its counts, the bytes of its output (per sample) and its receptive field."""

    id: int
    params: int
    buffers: int
    macs: int
    flops: int
    bytes: int
    allocates: bool  # False for views and in-place ops, which reuse their input's storage
    field: Field | None


@dataclass(frozen=True)
class ModuleCost:
    """A module (block instance, container, op module, the root) and everything inside it."""

    path: Path
    nodes: tuple[int, ...]
    output: int  # the node whose output the module gives
    params: int
    buffers: int
    macs: int
    flops: int
    activations: int  # bytes of the tensors its nodes allocate


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    flops: int
    inputs: int  # bytes of the network's inputs
    activations: int  # bytes of every tensor the nodes allocate
    peak: int  # the most bytes live at once in one inference, inputs included
    peak_node: int | None  # the node being computed at the peak
    training: int  # bytes stored for a backward pass: the inputs and every allocated tensor


@dataclass(frozen=True)
class Analysis:
    dtype: str
    element_size: int
    reference: str | None  # the input receptive fields refer to (None: no spatial input)
    input_size: tuple[int, ...]  # its spatial sizes
    nodes: dict[int, NodeCost]
    modules: dict[Path, ModuleCost]
    totals: Totals


def _output(network: Network, nodes: Sequence[int]) -> int:
    output = network.boundary(nodes).output
    assert output is not None  # members are never empty
    return output


def _storages(network: Network) -> dict[int, int]:
    """Node → the node that allocated its output's storage (itself unless it is an alias)."""
    storage: dict[int, int] = {}
    for node in network.nodes():
        aliases = not node.is_input and bool(node.inputs) and OPS[node.op].alias(node.attrs)
        storage[node.id] = storage[node.inputs[0]] if aliases else node.id
    return storage


def _peak(network: Network, storage: dict[int, int], size: dict[int, int]) -> tuple[int,
                                                                                     int | None]:
    """Walk the nodes in order; a storage lives from its node until the last consumer of any
    node sharing it; inputs (held by the caller) and outputs stay live."""
    keep = {storage[i] for i in network.inputs.values()}
    keep |= {storage[n] for _, n in network.outputs}
    last: dict[int, int] = {}
    for node in network.nodes():
        if node.id in network.training_only:  # not computed in an inference
            continue
        use = max(network.consumers(node.id), default=node.id)
        last[storage[node.id]] = max(last.get(storage[node.id], use), use)
    frees: dict[int, list[int]] = {}
    for owner, at in last.items():
        if owner not in keep:
            frees.setdefault(at, []).append(owner)
    live = sum(size[storage[i]] for i in network.inputs.values())
    peak, where = live, None
    for node in network.nodes():
        if node.is_input or node.id in network.training_only:
            continue
        if storage[node.id] == node.id:
            live += size[node.id]
        if live > peak:
            peak, where = live, node.id
        live -= sum(size[owner] for owner in frees.get(node.id, []))
    return peak, where


def analyse(network: Network, dtype: str = "float32") -> Analysis:
    """Counts, memory and receptive fields of every node and module of `network`."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    element = DTYPES[dtype]
    reference = reference_input(network)
    full: tuple[int, ...] = ()
    fields: dict[int, Field | None] = {}
    if reference is not None:
        full = static_dims(network.node(reference[1]).shape[2:])
    storage = _storages(network)
    nodes: dict[int, NodeCost] = {}
    for node in network.nodes():
        size = numel(node.shape) * element
        if node.is_input:
            is_reference = reference is not None and node.id == reference[1]
            fields[node.id] = (ORIGIN,) * len(full) if is_reference else None
            nodes[node.id] = NodeCost(node.id, 0, 0, 0, 0, size, True, fields[node.id])
            continue
        op = OPS[node.op]
        shapes = [network.node(i).shape for i in node.inputs]
        fields[node.id] = node_field(network, node, fields, full) if full else None
        counts = network.counts[node.id]
        nodes[node.id] = NodeCost(
            node.id, counts.params, counts.buffers, counts.macs, op.flops(node.attrs, shapes,
                                                                          node.shape),
            size, storage[node.id] == node.id, fields[node.id])
    sizes = {n: c.bytes for n, c in nodes.items()}
    peak, where = _peak(network, storage, sizes)
    inputs = sum(nodes[i].bytes for i in network.inputs.values())
    computed = [c for c in nodes.values() if not network.node(c.id).is_input]
    activations = sum(c.bytes for c in computed if c.allocates)
    # an inference runs what the outputs need; what only the training outputs need (an
    # auxiliary classifier) has weights and is stored for backward, but costs no MACs there
    inferred = [c for c in computed if c.id not in network.training_only]
    totals = Totals(
        params=sum(c.params for c in computed), buffers=sum(c.buffers for c in computed),
        macs=sum(c.macs for c in inferred), flops=sum(c.flops for c in inferred),
        inputs=inputs, activations=activations, peak=peak, peak_node=where,
        training=inputs + activations,
    )
    modules: dict[Path, ModuleCost] = {}
    for path, ids in network.members.items():
        costs = [nodes[i] for i in ids]
        modules[path] = ModuleCost(
            path, tuple(ids), _output(network, ids),
            params=sum(c.params for c in costs), buffers=sum(c.buffers for c in costs),
            macs=sum(c.macs for c in costs), flops=sum(c.flops for c in costs),
            activations=sum(c.bytes for c in costs if c.allocates),
        )
    return Analysis(dtype, element, reference[0] if reference else None, full, nodes, modules,
                    totals)


# ------------------------------------------------------------------ valid input sizes


@dataclass(frozen=True)
class Strided:
    """One strided window along one spatial dim at one input size."""

    node: int
    dim: int
    size: int  # the op's input size along the dim
    window: Window

    @property
    def stride(self) -> int:
        return int(self.window.stride)

    @property
    def divisible(self) -> bool:
        """The input size is a multiple of the stride: output = input / stride for a
        'same'-padded layer, and flooring drops nothing."""
        return self.size % self.stride == 0

    @property
    def aligned(self) -> bool:
        """The last window ends exactly at the padded edge (no remainder in the size rule)."""
        span = (self.window.kernel - 1) * self.window.dilation + 1
        return (self.size + 2 * self.window.padding - span) % self.stride == 0


def strided(network: Network,
            memo: dict[tuple[Any, ...], list[Strided]] | None = None) -> Iterator[Strided]:
    """Every window with an integer stride > 1 along a spatial dim of a tensor laid out like
    the reference input and computed from it. `memo` keeps each node's windows by its input
    shapes, for networks of one graph at several input sizes (elaborate.resized)."""
    reference = reference_input(network)
    if reference is None:
        return
    dims = len(network.node(reference[1]).shape) - 2
    reached = network.descendants(reference[1])
    for node in network.nodes():
        if node.id not in reached:
            continue
        shapes = [network.node(i).shape for i in node.inputs]
        key = (node.id, *shapes)
        known = memo.get(key) if memo is not None else None
        if known is None:
            known = _windows(node, shapes, dims)
            if memo is not None:
                memo[key] = known
        yield from known


def _windows(node: Node, shapes: Sequence[Shape], dims: int) -> list[Strided]:
    reach = OPS[node.op].window(node.attrs, shapes)
    sizes = _spatial(shapes[0], dims)
    if reach is None or len(reach) != dims or sizes is None:
        return []
    return [Strided(node.id, d, sizes[d], window) for d, window in enumerate(reach)
            if (window is not None and window.stride > 1
                and Fraction(window.stride).denominator == 1
                and Fraction(window.padding).denominator == 1)]


@dataclass(frozen=True)
class DimSizes:
    """What one spatial dim of the reference input may be."""

    smallest: int | None  # the smallest valid size, the other dims as declared
    period: int  # the lcm of the effective strides of the strided ops along this dim
    divisible: tuple[int, ...] | None  # sizes mod period where every strided input divides
    aligned: tuple[int, ...] | None  # sizes mod period where no window leaves a remainder
    unknown: tuple[int, ...] = ()  # residues not checked: the size there was invalid


@dataclass(frozen=True)
class MinInput:
    input: str
    declared: tuple[int, ...]  # the input's shape without the batch dim
    smallest: int | None  # the smallest valid size with every spatial dim equal
    failure: str | None  # why the size below `smallest` is invalid
    dims: tuple[DimSizes, ...]
    rounding: tuple[str, ...]  # at the declared size: strided ops whose input does not divide
    elaborations: int  # how many input sizes were elaborated
    sizes: int = 0  # how many input sizes were tried (the others computed on the graph)
    # the parameter count at the smallest size where it differs from the declared size's: the
    # weights' shapes follow the input (ViT's position embedding, a linear after a flatten),
    # so a model built at the declared size runs at that size only
    params_at_smallest: int | None = None


MAX_PERIOD = 256


def dim_names(count: int) -> tuple[str, ...]:
    """Names of the spatial dims: L; H, W; D, H, W (as `in.l`, `in.h`, `in.w`, `in.d`)."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(
        count, tuple(f"dim {i + 2}" for i in range(count)))


def min_input(network: Network, build: Callable[[list[int]], Network],
              dtype: str = "float32",
              elaborate: Callable[[list[int]], Network] | None = None) -> MinInput | None:
    """The smallest valid spatial size of the reference input, and the sizes that keep every
    strided op exact. `build(shape)` gives the network at that input shape (no batch) and
    raises ArchcError when it is invalid. This searches: sizes from 1 up, and one period of
    sizes around the declared one, the period being the lcm of the effective strides (jumps)
    of the strided ops on the static graph. Spatial dims declared equal are searched together
    (as one size); otherwise each dim alone, the others as declared. None when the network
    has no spatial input.

    `build` may compute the network on its elaborated graph (elaborate.resized) and
    `elaborate` elaborate the spec anew: the answer is then checked by elaborating at the
    smallest size and the one below it, and searched again by elaborating throughout if
    either disagrees; the error reported below the smallest size is always elaboration's."""
    reference = reference_input(network)
    if reference is None:
        return None
    found, confirmed = _min_input(network, reference, build, dtype, elaborate or build)
    if elaborate is None or confirmed:
        return found
    return _min_input(network, reference, elaborate, dtype, elaborate)[0]


def _min_input(network: Network, reference: tuple[str, int],
               build: Callable[[list[int]], Network], dtype: str,
               elaborate: Callable[[list[int]], Network]) -> tuple[MinInput, bool]:
    name, node_id = reference
    declared = static_dims(network.node(node_id).shape[1:])  # a spec's inputs are numbers
    search = _SizeSearch(network, build, declared, one_graph=build is not elaborate)
    spatial = search.spatial
    # on the graph the structure is the same at every size: no size below the floor is valid
    floor = size_floor(network, node_id) if build is not elaborate else (1,) * len(spatial)
    smallest = search.first_valid(lambda s: (s,) * len(spatial), max(spatial), max(floor))
    periods = _periods(network, len(spatial), dtype)
    dims: list[DimSizes] = []
    for d in range(len(spatial)):
        def along(s: int, d: int = d) -> tuple[int, ...]:
            if search.square:
                return (s,) * len(spatial)
            return tuple(s if i == d else n for i, n in enumerate(spatial))

        low = smallest if search.square else search.first_valid(along, spatial[d], floor[d])
        dims.append(search.scan(d, along, low, periods[d]))
    exact = search if build is elaborate else _SizeSearch(network, elaborate, declared)
    failure = exact.failure_below(smallest)  # the error elaboration gives there
    # elaboration agrees: valid at the smallest size, invalid below it
    at_smallest = None if smallest is None else exact.attempt((smallest,) * len(spatial))
    confirmed = smallest is None or (
        isinstance(at_smallest, Network) and (smallest == 1 or failure is not None))
    params = at_smallest.total_params if isinstance(at_smallest, Network) else None
    found = MinInput(name, declared, smallest, failure, tuple(dims),
                     _rounding(network, len(spatial)), len(exact.cache) - 1,
                     len(search.cache) - 1,
                     params if params is not None and params != network.total_params else None)
    return found, confirmed


def size_floor(network: Network, reference: int) -> tuple[int, ...]:
    """Per spatial dim of the reference input, a size below which the network cannot be
    valid, from its graph: walking back from the outputs, each node's output must be at least
    as large as its consumers need; a windowed op (conv, pool, upsample) needs the smallest
    input whose output is that large, found with the op's own shape rule (its output grows
    with its input), a pointwise op the same size (a broadcast input: any), and an op without
    spatial windows (flatten, linear, global pooling) nothing. Every smaller input leaves some
    windowed op an output smaller than one, which elaboration refuses. Sound only for a
    network whose structure reads no input size (`Network.sizes_read`)."""
    dims = len(network.node(reference).shape) - 2
    reached = network.descendants(reference)
    need: dict[int, list[int]] = {}
    for node in reversed(network.node_list):
        if node.id not in reached:
            continue
        wanted = need.get(node.id, [1] * dims)
        shapes = network.input_shapes(node)
        reach = OPS[node.op].window(node.attrs, shapes)
        output = _spatial(node.shape, dims)
        for position, source in enumerate(node.inputs):
            if source != reference and source not in reached:
                continue
            sizes = _spatial(shapes[position], dims)
            if sizes is None or output is None:
                continue
            have = need.setdefault(source, [1] * dims)
            for d in range(dims):
                if reach is None:  # pointwise: as large, unless broadcast from size 1
                    least = wanted[d] if sizes[d] == output[d] else 1
                elif len(reach) == dims and reach[d] is not None:
                    least = _least_input(node, shapes, position, d, wanted[d])
                else:
                    least = 1
                have[d] = max(have[d], least)
    return tuple(need.get(reference, [1] * dims))


def _least_input(node: Node, shapes: Sequence[Shape], position: int, d: int,
                 wanted: int) -> int:
    """The smallest size along spatial dim d of input `position` for which the node's output
    is at least `wanted` along d, by the op's shape rule (which grows with the input)."""
    op = OPS[node.op]

    def enough(size: int) -> bool:
        changed = list(shapes)
        shape = list(changed[position])
        shape[2 + d] = size
        changed[position] = tuple(shape)
        try:
            out = op.shape(node.attrs, changed)
        except (OpError, ArithmeticError, ValueError):
            return False
        got = out[2 + d]
        return isinstance(got, int) and got >= wanted

    high = 1
    while not enough(high):
        high *= 2
        if high > 2**40:  # nothing is large enough: no bound from this op
            return 1
    low = high // 2 + 1 if high > 1 else 1
    while low < high:  # the smallest size in (high/2, high] that is enough
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


class _SizeSearch:
    """Elaborations of one spec at input sizes, each remembered (valid or the error)."""

    def __init__(self, network: Network, build: Callable[[list[int]], Network],
                 declared: tuple[int, ...], one_graph: bool = False) -> None:
        self.build = build
        # networks of one graph (resized): each node's windows kept by its input shapes
        self.memo: dict[tuple[Any, ...], list[Strided]] | None = {} if one_graph else None
        self.channels, self.spatial = declared[0], declared[1:]
        self.square = len(set(self.spatial)) == 1
        self.cache: dict[tuple[int, ...], Network | ArchcError] = {declared: network}
        self.windows: dict[tuple[int, ...], list[Strided]] = {}

    def attempt(self, sizes: Sequence[int]) -> Network | ArchcError:
        shape = (self.channels, *sizes)
        if shape not in self.cache:
            try:
                self.cache[shape] = self.build(list(shape))
            except ArchcError as error:
                self.cache[shape] = error
        return self.cache[shape]

    def strided(self, sizes: Sequence[int]) -> list[Strided]:
        """The strided windows of the valid network at these sizes (asked once per dim)."""
        key = (self.channels, *sizes)
        if key not in self.windows:
            found = self.cache[key]
            assert isinstance(found, Network)
            self.windows[key] = list(strided(found, self.memo))
        return self.windows[key]

    def first_valid(self, sizes: Callable[[int], Sequence[int]], limit: int,
                    floor: int = 1) -> int | None:
        return next((s for s in range(max(floor, 1), limit + 1)
                     if isinstance(self.attempt(sizes(s)), Network)), None)

    def failure_below(self, smallest: int | None) -> str | None:
        """Why the size one below the smallest valid one fails, as the error says it (None
        if it does not fail)."""
        if smallest is None or smallest <= 1:
            return None
        error = self.attempt((smallest - 1,) * len(self.spatial))
        if not isinstance(error, ArchcError):
            return None
        failure = f"{error.span}: {error.message}" if error.span.line else error.message
        return failure + f" ({error.found})" if error.found else failure

    def scan(self, d: int, along: Callable[[int], Sequence[int]], low: int | None,
             period: int) -> DimSizes:
        """One period of sizes of dim `d` from the declared one: which keep every strided
        op along it exact (divisible) and free of remainders (aligned)."""
        if low is None or period > MAX_PERIOD:
            return DimSizes(low, period, None, None)
        first = max(self.spatial[d] - self.spatial[d] % period, low)
        divisible, aligned, unknown = [], [], []
        for n in range(first, first + period):
            found = self.attempt(along(n))
            if not isinstance(found, Network):
                unknown.append(n % period)
                continue
            checks = [s for s in self.strided(along(n)) if s.dim == d]
            if all(s.divisible for s in checks):
                divisible.append(n % period)
            if all(s.aligned for s in checks):
                aligned.append(n % period)
        return DimSizes(low, period, tuple(sorted(divisible)), tuple(sorted(aligned)),
                        tuple(sorted(unknown)))


def _rounding(network: Network, dims: int) -> tuple[str, ...]:
    """At the declared size: the strided ops whose input does not divide by their stride."""
    names = dim_names(dims)
    uneven: dict[tuple[int, int, int], list[str]] = {}
    for s in strided(network):
        if not s.divisible:
            uneven.setdefault((s.node, s.size, s.stride), []).append(names[s.dim])
    return tuple(f"{network.node(node).path}: {', '.join(which)} = {size} is not a "
                 f"multiple of {stride}" for (node, size, stride), which in uneven.items())


def _periods(network: Network, dims: int, dtype: str) -> list[int]:
    """Per spatial dim, the lcm of the whole effective strides (jumps) of the strided ops."""
    fields = analyse(network, dtype).nodes
    ops = list(strided(network))
    periods = []
    for d in range(dims):
        period = 1
        for s in ops:
            extents = fields[s.node].field
            jump = extents[d].jump if extents is not None and s.dim == d else None
            if jump is not None and jump.denominator == 1:
                period = math.lcm(period, int(jump))
        periods.append(period)
    return periods


def residues(period: int, values: Sequence[int] | None) -> str:
    """`multiples of 32`, `≡ 1 (mod 32)`, `any size`, `none`, or `not searched`."""
    if values is None:
        return "not searched (period too large)"
    if not values:
        return "none"
    if len(values) == period:
        return "any size"
    if tuple(values) == (0,):
        return f"multiples of {period}"
    return f"≡ {', '.join(map(str, values))} (mod {period})"
