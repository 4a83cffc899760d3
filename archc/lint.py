"""Warnings: specs that are valid but probably not what their author meant.

Input: an elaborated `ir.Network`. Output: a list of ArchcErrors of kind "warning", each
located at the entry it is about and rendered like an error (`path:line:col: warning: ...`).
`archc check` and `archc shapes` print them; they never change an exit status. Torch-free.
"""

from __future__ import annotations

from archc.analysis import strided
from archc.errors import ArchcError
from archc.ir import Network, Node
from archc.ops import OPS
from archc.ops.registry import format_shape, is_static, numel

DIMS = {1: "columns", 2: "rows"}


def lint(network: Network) -> list[ArchcError]:
    """The warnings for a network, one per place in the spec (a block used nine times warns
    once, saying so)."""
    found = [*_unused(network), *_bias_before_norm(network), *_dropped_rows(network),
             *_features_of_a_feature_map(network)]
    places: dict[tuple[str, int, int, str], list[ArchcError]] = {}
    for warning in found:
        key = (warning.span.path, warning.span.line, warning.span.column, warning.message)
        places.setdefault(key, []).append(warning)
    merged = []
    for same in places.values():
        first = same[0]
        if len(same) > 1:
            first.notes.append(f"(in {len(same)} places this entry is used)")
        merged.append(first)
    return sorted(merged, key=lambda w: (w.span.line, w.span.column, w.message))


def _warning(message: str, node: Node, notes: list[str]) -> ArchcError:
    return ArchcError(message, node.span, notes=notes, kind="warning")


def _unused(network: Network) -> list[ArchcError]:
    """A computed value that nothing reads and that is not an output: a dead side path."""
    outputs = network.output_ids
    warnings = []
    for node in network.nodes():
        if node.is_input or network.consumers(node.id) or node.id in outputs:
            continue
        what = f"'{node.name}'" if node.name else f"the output of {node.op}"
        warnings.append(_warning(f"{what} is never used", node, [
            "nothing reads it and it is not among the outputs: list it in `outputs`, "
            "reference it with @, or remove it"]))
    return warnings


def _bias_before_norm(network: Network) -> list[ArchcError]:
    """A layer's bias cancelled by the op (a batch norm) that takes its output alone."""
    warnings = []
    for node in network.nodes():
        op = OPS.get(node.op)
        if node.is_input or op is None or not op.has_bias(node.attrs):
            continue
        readers = network.consumers(node.id)
        reader = network.node(readers[0]) if len(readers) == 1 else None
        if reader is not None and not reader.is_input and OPS[reader.op].cancels_bias(
                reader.attrs):
            warnings.append(_warning(
                f"{node.op} has a bias that the {reader.op} after it cancels", node,
                [f"hint: {node.op}(..., {op.bias}=false) saves the parameters; the "
                 f"{reader.op}'s own shift does the same job"]))
    return warnings


def _dropped_rows(network: Network) -> list[ArchcError]:
    """A strided window whose last positions never reach the end of the input: input rows or
    columns (not just padding) are silently ignored.

    The op's own output size says how many windows there are (its shape rule floors, or
    rounds up where the op offers that, as pools' ceil_mode does), and its window where the
    last one ends: output position o reads up to o·stride − padding + span − 1."""
    warnings = []
    seen: set[tuple[int, int]] = set()
    for item in strided(network):
        window = item.window
        node = network.node(item.node)
        span = (window.kernel - 1) * window.dilation + 1
        if span < item.stride:
            continue  # windows that skip positions by design (a strided 1x1 conv)
        outputs = node.shape[2 + item.dim]
        if not is_static(outputs):
            continue  # a symbolic size: which rows are read depends on its value
        dropped = item.size - ((outputs - 1) * item.stride - int(window.padding) + span)
        if dropped <= 0 or (item.node, item.dim) in seen:
            continue
        seen.add((item.node, item.dim))
        where = DIMS.get(len(node.shape) - 2 - item.dim, f"positions along dim {item.dim + 2}")
        warnings.append(_warning(
            f"{node.op} ignores the last {dropped} input {where} "
            f"(size {item.size}, kernel {window.kernel}, stride {item.stride})", node,
            ["the output size is floored; pad the input, change the size, or use ceil_mode "
             "for pools, if those values matter"]))
    return warnings


def _features_of_a_feature_map(network: Network) -> list[ArchcError]:
    """A linear layer (an op that reads its input's last dim as features) on a conv or pool
    output: valid PyTorch (it acts on the last dim, the width), but almost always a forgotten
    flatten."""
    warnings = []
    for node in network.nodes():
        if node.is_input or not OPS[node.op].reads_features:
            continue
        source = network.node(node.inputs[0])
        if len(source.shape) < 3:
            continue
        # through the ops that keep the layout (activations, norms, dropout) to the one that
        # made it
        while not source.is_input and len(source.inputs) == 1 and OPS[source.op].window(
                source.attrs, [network.node(source.inputs[0]).shape]) is None:
            source = network.node(source.inputs[0])
        if source.is_input:
            spatial = len(source.shape) >= 4
        else:
            reach = OPS[source.op].window(source.attrs,
                                          [network.node(i).shape for i in source.inputs])
            spatial = bool(reach)
        if not spatial:
            continue
        shape = network.node(node.inputs[0]).shape
        warnings.append(_warning(
            f"{node.op} on a {format_shape(shape)} feature map acts on its last dim only "
            f"({shape[-1]} features)", node,
            [f"hint: a flatten before it gives {node.op} all {numel(shape):,} features; if "
             "the last dim is meant, a permute before it says so"]))
    return warnings
