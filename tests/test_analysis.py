"""Static analysis (archc.analysis, `archc shapes` columns, --min-input) against the reference
numbers and against PyTorch: MACs of the torchvision specs, receptive fields (ResNet-50 and
gradients of small networks), parameters of every built spec, and the bytes of every node's
real tensor (forward hooks), MACs of every built spec's conv and linear modules counted by the
textbook formula from hooks. torchvision is not needed: the references are constants."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import archc
from archc.analysis import DTYPES, Analysis, Strided, analyse, min_input, strided
from archc.elaborate import resized
from archc.ir import Network
from archc.ops import OPS
from archc.report import COLUMNS, parse_columns, shape_report
from tests.conftest import (
    ALL_SPECS,
    COMPUTED_SPECS,
    ROOT,
    as_tuple,
    count,
    measured_macs,
    run_cli,
    spec_id,
)
from tests.conftest import TORCHVISION_SPECS as TORCHVISION
from tests.ops.test_ops import CASES, spec_text

RESNET50 = TORCHVISION / "resnet50.yaml"
GOOGLENET = TORCHVISION / "googlenet.yaml"

# ------------------------------------------------------------------ reference numbers


@pytest.mark.parametrize(("spec", "macs"), [
    (RESNET50, 4_089_184_256),
    (GOOGLENET, 1_498_376_192),  # aux_logits=False
], ids=["resnet50", "googlenet"])
def test_macs_reproduce_the_reference(spec: Path, macs: int) -> None:
    network = archc.network(spec, [3, 224, 224])
    assert analyse(network).totals.macs == macs


def test_macs_count_only_conv_and_linear() -> None:
    network = archc.network(RESNET50)
    analysis = analyse(network)
    weighted = {"conv", "conv_transpose", "linear"}
    assert len({n.op for n in network.nodes()} - weighted - {"input"}) >= 4  # bn, relu, ...
    for node in network.nodes():
        assert (analysis.nodes[node.id].macs > 0) == (node.op in weighted), node.op


def test_flops_of_a_small_network_counted_by_hand() -> None:
    # every number below is worked out by hand from docs/analysis.md's table, not read from
    # the registry: input 1x4x4
    network = archc.network("input: [1, 4, 4]\nlayers:\n  - conv(2, 3, padding=1)\n  - bn\n"
                            "  - relu\n  - maxpool(2)\n  - flatten\n  - linear(3)\n")
    analysis = analyse(network)
    conv_macs = (2 * 4 * 4) * (1 * 3 * 3)  # 32 outputs, each a 1x3x3 dot product: 288
    linear_macs = 8 * 3  # 2x2x2 = 8 features in, 3 out: 24
    expected = [
        2 * conv_macs + 32,  # 2 per MAC and 1 per output for the bias: 608
        2 * 32,  # bn at inference: a scale and a shift per element
        32,  # relu: one compare per element
        8 * (2 * 2 - 1),  # maxpool 2x2: 3 compares for each of 8 outputs
        0,  # flatten: a view
        2 * linear_macs + 3,  # 51
    ]
    flops = [analysis.nodes[node.id].flops for node in network.nodes() if node.op != "input"]
    assert flops == expected
    assert analysis.totals.flops == 779 and analysis.totals.macs == 312


def test_resnet50_layer4_receptive_field_is_427() -> None:
    network = archc.network(RESNET50)
    analysis = analyse(network)
    layer4 = analysis.nodes[analysis.modules[("layer4",)].output].field
    assert layer4 is not None
    assert [e.size for e in layer4] == [427, 427]
    assert [e.jump for e in layer4] == [32, 32]
    assert [e.start for e in layer4] == [0, 0]
    stem = analysis.nodes[analysis.modules[("maxpool",)].output].field
    assert stem is not None and (stem[0].size, stem[0].jump) == (11, 4)
    pooled = analysis.nodes[analysis.modules[("avgpool",)].output].field
    assert pooled is not None and all(e.whole and e.size == 224 for e in pooled)


def test_googlenet_concat_takes_the_largest_branch_field() -> None:
    network = archc.network(GOOGLENET)
    analysis = analyse(network)
    block = analysis.modules[("inception3a",)]
    branches = [analysis.nodes[analysis.modules[("inception3a", b)].output].field
                for b in ("branch1", "branch2", "branch3", "branch4")]
    sizes = [f[0].size for f in branches if f is not None]
    assert sizes == [27, 43, 43, 43]  # 1x1; 1x1 then 3x3; 3x3 pool then 1x1 (jump 8)
    merged = analysis.nodes[block.output].field
    assert merged is not None and merged[0].size == max(sizes)


def test_googlenet_minimum_input_is_15() -> None:
    network = archc.network(GOOGLENET)
    tree = archc.load(GOOGLENET)
    found = min_input(network, lambda shape: archc.network(tree, shape))
    assert found is not None
    assert found.smallest == 15
    assert found.failure is not None and "maxpool output size would be" in found.failure
    with pytest.raises(archc.ArchcError):
        archc.network(GOOGLENET, [3, 14, 14])
    for dim in found.dims:
        assert dim.smallest == 15
        assert (dim.period, dim.divisible) == (32, (0,))  # multiples of 32 avoid flooring
    assert found.rounding == ()  # 224 is one


def test_min_input_follows_structure_that_depends_on_in() -> None:
    text = """
name: adaptive
input: [3, 32, 32]
layers:
  - conv(8, 3, stride=2, padding=1)
  - if: in.h >= 8
    then: maxpool(4)
  - conv(8, 3)
"""
    tree = archc.load(text)
    network = archc.network(tree)
    found = min_input(network, lambda shape: archc.network(tree, shape))
    assert found is not None
    # 5 → 3 (no pool) → the last conv gives 1; 15 → 8 → the pool gives 2 < 3, until 23 → 12
    assert found.smallest == 5
    assert "maxpool" not in {n.op for n in archc.network(tree, [3, 14, 14]).nodes()}
    for size in range(15, 23):  # the pool appears and leaves 2 < 3 for the last conv
        with pytest.raises(archc.ArchcError):
            archc.network(tree, [3, size, size])
    assert "maxpool" in {n.op for n in archc.network(tree, [3, 23, 23]).nodes()}


SEARCHED = [ROOT / "specs" / "googlenet.yaml", TORCHVISION / "densenet121.yaml",
            TORCHVISION / "mobilenet_v2.yaml", ROOT / "specs" / "resnet.yaml",
            ROOT / "examples" / "constructs" / "conditions.yaml"]


def searched_by_elaborating(path: Path) -> Any:
    tree = archc.load(path)
    return min_input(archc.network(tree), lambda shape: archc.network(tree, shape))


@pytest.mark.parametrize("path", SEARCHED, ids=spec_id)
def test_the_search_on_the_graph_finds_what_elaborating_every_size_finds(path: Path) -> None:
    # the oracle: the search that elaborates the spec at every size it tries
    expected = searched_by_elaborating(path)
    tree = archc.load(path)
    net = archc.network(tree)
    data = archc.api.min_input(net, tree)
    assert data == archc.report.min_input_data(expected) | {
        "elaborations": data["elaborations"], "sizes": data["sizes"]}
    if net.sizes_read:  # structure that reads in.h: every size is elaborated
        assert data["elaborations"] == data["sizes"] == expected.elaborations
    else:
        # elaborated to confirm: at the smallest size, and below it for its error
        assert data["elaborations"] == (1 if expected.smallest == 1 else 2)
        assert data["sizes"] <= expected.elaborations  # none below the floor


# every spec but the torchvision variants and twins, whose smallest inputs test_torchvision
# holds to torchvision's published figures (an oracle independent of the search)
@pytest.mark.parametrize("path", COMPUTED_SPECS, ids=spec_id)
def test_no_size_below_the_floor_is_valid_and_the_search_from_it_finds_the_same(
        path: Path) -> None:
    from archc.analysis import reference_input, size_floor
    from archc.elaborate import resized

    tree = archc.load(path)
    net = archc.network(tree)
    reference = reference_input(net)
    if reference is None or net.sizes_read:
        return
    floor = size_floor(net, reference[1])
    # the oracle: the same search on the graph from size 1, every size tried
    expected = min_input(net, lambda shape: resized(net, {reference[0]: shape}))
    assert expected is not None
    data = archc.api.min_input(net, tree)
    assert data is not None
    if net.training_outputs:  # the whole graph's floor is the training outputs' (the eval
        # floor by hand: test_training_only_heads_count_weights_but_not_inference_macs)
        assert data["training"]["smallest"] == archc.report.min_input_data(expected)["smallest"]
        return
    # the same answer; the failure below it is elaboration's own message, not the graph's
    assert data == archc.report.min_input_data(expected) | {
        "elaborations": data["elaborations"], "sizes": data["sizes"],
        "failure": data["failure"]}
    if expected.smallest is not None:
        assert max(floor) <= expected.smallest
        below = max(floor) - 1
        if below >= 1:  # the floor is a bound the search can trust: the size under it fails
            with pytest.raises(archc.ArchcError):
                archc.network(tree, {reference[0]: [expected.declared[0],
                                                    *[below] * len(floor)]})


def test_the_floor_is_the_smallest_size_for_a_chain_of_windows() -> None:
    from archc.analysis import reference_input, size_floor

    # 3 convs of kernel 3 without padding, stride 2: (((n - 3) // 2 + 1 - 3) // 2 + 1 - 3) ≥ 0
    text = ("name: c\ninput: [1, 64, 40]\nlayers:\n  - conv(2, 3, stride=2)\n"
            "  - conv(2, 3, stride=2)\n  - conv(2, [3, 1])\n")
    net = archc.network(text)
    reference = reference_input(net)
    assert reference is not None
    # by hand: the last conv needs 3 rows (1 column); the second 2·(3 − 1) + 3 = 7 rows,
    # 2·0 + 3 = 3 columns; the first 2·(7 − 1) + 3 = 15 rows, 2·(3 − 1) + 3 = 7 columns
    assert size_floor(net, reference[1]) == (15, 7)
    archc.network(text, [1, 15, 7])
    for small in ([1, 14, 7], [1, 15, 6]):
        with pytest.raises(archc.ArchcError):
            archc.network(text, small)


def test_a_search_elaboration_disagrees_with_is_done_again_by_elaborating(
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = searched_by_elaborating(GOOGLENET)
    tree = archc.load(GOOGLENET)
    net = archc.network(tree)
    # a graph that refuses every size below 100: elaboration finds 99 valid, so the size
    # the graph found is not the smallest

    def wrong(net: Network, inputs: dict[str, list[int]], limits: Any = None,
              memo: Any = None) -> Network:
        if inputs["x"][1] < 100:
            raise archc.ArchcError("refused by a wrong graph")
        return net

    monkeypatch.setattr(archc.api, "resized", wrong)
    data = archc.api.min_input(net, tree)
    assert data["smallest"] == [3, expected.smallest, expected.smallest]
    assert data["failure"] == expected.failure and data["elaborations"] > 2


def test_rectangular_inputs_are_searched_per_dim() -> None:
    text = """
name: rect
input: [1, 8, 64]
layers:
  - conv(4, [3, 1], stride=[2, 1], padding=[1, 0])
  - maxpool([1, 4])
"""
    tree = archc.load(text)
    found = min_input(archc.network(tree), lambda shape: archc.network(tree, shape))
    assert found is not None
    assert [d.smallest for d in found.dims] == [1, 4]
    assert [(d.period, d.divisible) for d in found.dims] == [(2, (0,)), (4, (0,))]


# ------------------------------------------------------------ parameters and MACs of every spec


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_params_and_macs_equal_the_built_module(path: Path) -> None:
    """Parameters counted by torch and MACs by forward hooks (shapes only: the meta device),
    for the network and every module in it."""
    network = archc.network(path)
    analysis = analyse(network)
    with torch.device("meta"):
        model = archc.build(path)
    inputs = [torch.empty(1, *network.node(i).shape[1:], device="meta")
              for i in network.inputs.values()]
    macs = measured_macs(model, inputs)
    # what runs only while training (an auxiliary head) is measured there; no inference has it
    trained = measured_macs(model, inputs, training=True) if network.training_outputs else {}
    assert analysis.totals.params == count(model.parameters()) > 0
    assert analysis.totals.buffers == count(model.buffers())
    assert analysis.totals.macs == macs[""] > 0
    assert analysis.totals.inputs == sum(x.numel() for x in inputs) * 4 > 0
    assert analysis.totals.inputs <= analysis.totals.peak <= analysis.totals.training
    checked = 0
    for path_, cost in analysis.modules.items():
        if path_:
            name = ".".join(path_)
            held = network.modules[path_].node
            if held is not None and OPS[network.node(held).op].held:  # a parameter
                assert cost.params == model.get_parameter(name).numel(), path_
                continue
            module = model.get_submodule(name)
            assert cost.params == count(module.parameters()), path_
            only = network.training_only.issuperset(cost.nodes)
            assert cost.macs == (trained if only else macs)[name], path_
            assert not only or macs[name] == 0, path_
            checked += cost.macs > 0
    assert checked > 0


# ------------------------------------------------------------------ bytes of real tensors


def _tensors(network: Network, analysis: Analysis, model: nn.Module,
             inputs: list[torch.Tensor]) -> tuple[dict[int, torch.Tensor], dict[int, int]]:
    """Every node's real output that a hook can see: op modules (outputs and inputs), block
    and container modules (their output node), and the network's outputs. Also the storage
    address of each op module's input, to check aliasing."""
    seen: dict[int, torch.Tensor] = {}
    storage_in: dict[int, int] = {}
    handles = []
    inside = network.members

    def keep(node_id: int, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            seen.setdefault(node_id, value)

    for path, module in network.modules.items():
        if not path or not inside.get(path) or not _hookable(network, path):
            continue
        real = model.get_submodule(".".join(path))
        out = network.boundary(inside[path]).output
        handles.append(real.register_forward_hook(
            lambda m, a, o, out=out: keep(out, o)))
        if module.kind == "op" and module.node is not None:
            node = network.node(module.node)

            def before(_: nn.Module, args: Any, node: Any = node) -> None:
                keep(node.inputs[0], args[0])
                storage_in[node.id] = args[0].untyped_storage().data_ptr()

            handles.append(real.register_forward_pre_hook(before))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = model(*inputs)
    for handle in handles:
        handle.remove()
    for (_, node_id), value in zip(network.outputs, as_tuple(result), strict=True):
        keep(node_id, value)
    for name, node_id in network.inputs.items():
        keep(node_id, inputs[list(network.inputs).index(name)])
    return seen, storage_in


def _hookable(network: Network, path: tuple[str, ...]) -> bool:
    """Whether a module path is an nn.Module (not a parameter its parent holds)."""
    node = network.modules[path].node
    return node is None or not OPS[network.node(node).op].held


def _hooked(network: Network, node_id: int) -> bool:
    node = network.node(node_id)
    return node.module is not None and _hookable(network, node.module)


def check_memory(network: Network, model: nn.Module) -> int:
    """Static bytes equal the real tensors' for every node a hook sees, and a node that the
    registry says allocates nothing shares its input's storage (and the others do not)."""
    analysis = analyse(network)
    model.eval()
    inputs = [torch.randn(1, *network.node(i).shape[1:]) for i in network.inputs.values()]
    seen, storage_in = _tensors(network, analysis, model, inputs)
    for node_id, tensor in seen.items():
        node = network.node(node_id)
        assert tensor.numel() * tensor.element_size() == analysis.nodes[node_id].bytes, (
            f"{node.op} at {node.path}")
    for node_id, address in storage_in.items():
        node = network.node(node_id)
        if node_id in seen:
            shared = seen[node_id].untyped_storage().data_ptr() == address
            assert shared == (not analysis.nodes[node_id].allocates), f"{node.op} {node.path}"
    # unseen: only nodes that no hook can see (an identity, a function feeding a function)
    # (a parameter its module holds is no module either)
    hidden = {n.id for n in network.nodes() if n.op == "identity" or (
        not _hooked(network, n.id) and all(not _hooked(network, c)
                                           for c in network.consumers(n.id)))}
    missing = {n.id for n in network.nodes()} - set(seen) - hidden
    assert not missing, [network.node(i).path for i in sorted(missing)]
    return len(seen)


def _cases() -> Iterator[Any]:
    for op, cases in CASES.items():
        for case in cases:
            yield pytest.param(case[0], case[1], id=f"{op}: {case[1]}")


@pytest.mark.parametrize(("input_shape", "layers"), list(_cases()))
def test_memory_of_every_op_configuration(input_shape: tuple[int, ...], layers: Any) -> None:
    text = spec_text(input_shape, layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        seen = check_memory(archc.network(text), archc.build(text))
    assert seen >= 2  # the input and the output at least: the comparison has something to see


@pytest.mark.parametrize("name", ["resnet18.yaml", "googlenet.yaml", "densenet121.yaml"])
def test_memory_of_a_zoo_spec_at_a_small_input(name: str) -> None:
    path = TORCHVISION / name
    network = archc.network(path, [3, 64, 64])
    assert check_memory(network, archc.build(path, [3, 64, 64])) > 50


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_dtype_scales_memory(dtype: str) -> None:
    network = archc.network(ROOT / "specs" / "lenet.yaml")
    single = analyse(network).totals
    other = analyse(network, dtype).totals
    factor = Fraction(DTYPES[dtype], 4)
    assert single.peak >= 6 * 28 * 28 * 4 and single.macs > 0  # lenet's first conv output
    assert other.peak == single.peak * factor and other.training == single.training * factor
    assert other.macs == single.macs


def test_peak_memory_frees_after_the_last_consumer() -> None:
    # input 4x8x8 floats = 1 KiB; every layer keeps 4x8x8
    text = spec_text((4, 8, 8), ["conv(4, 3, padding=1)", "relu(inplace=true)",
                                 {"add": ["conv(4, 3, padding=1)", "identity"]},
                                 "conv(4, 1)"])
    network = archc.network(text)
    totals = analyse(network).totals
    size = 4 * 8 * 8 * 4
    assert totals.inputs == size
    # conv → relu in place (no tensor) → the add's conv while its input lives, then the add
    # with both its inputs live: input + relu'd conv + branch conv + sum
    assert totals.peak == 4 * size
    assert totals.activations == 4 * size  # conv, branch conv, add, 1x1 conv
    assert totals.training == 5 * size


# ------------------------------------------------------------------ receptive fields by gradient


def _gradient_extent(model: nn.Module, shape: tuple[int, ...], position: tuple[int, ...],
                     ) -> list[tuple[int, int]]:
    """Per spatial dim, the first and last input position the output at `position` (channel
    0) depends on: where its gradient is non-zero, every weight 1 and the input all ones."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(1.0)
    x = torch.ones(1, *shape, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x)[(0, 0, *position)], x)
    mask = grad[0].abs().sum(0) > 0
    extent = []
    for dim in range(mask.dim()):
        hit = mask
        for other in reversed(range(mask.dim())):
            if other != dim:
                hit = hit.any(dim=other)
        index = hit.nonzero().flatten()
        extent.append((int(index.min()), int(index.max())))
    return extent


RF_CASES = [
    ((1, 40, 40), ["conv(2, 3, stride=2, padding=1)", "conv(2, 3, dilation=2, padding=2)",
                   "avgpool(3, stride=2, padding=1)", "conv(2, 5, padding=2)"]),
    ((1, 40, 40), ["conv(2, 3, stride=2)",
                   {"add": ["conv(2, 3, padding=1); conv(2, 3, padding=1)", "identity"]},
                   {"concat": ["conv(2, 1)", "avgpool(5, stride=1, padding=2)"]},
                   "conv(2, 3, stride=2, padding=1)"]),
    ((1, 40), ["conv(2, 7, stride=3, padding=3)", "conv(2, [3], dilation=3)"]),
    ((1, 30, 30), ["conv(2, [3, 5], stride=[1, 2], padding=[1, 2])",
                   {"mul": ["identity", "conv(2, 3, padding=1)"]}]),
]
# after upsampling (fractional windows) the size is exact here, the centre within 1
UPSAMPLED = [
    ((1, 24, 24), ["conv(2, 3, stride=2, padding=1)", "upsample(scale_factor=2)",
                   "conv(2, 3, padding=1)"]),
    ((1, 24, 24), ["conv(2, 3, stride=2, padding=1)", "conv_transpose(2, 4, stride=2, "
                   "padding=1)", "conv(2, 3, padding=1)"]),
]


@pytest.mark.parametrize(("shape", "layers", "exact"),
                         [(*case, True) for case in RF_CASES]
                         + [(*case, False) for case in UPSAMPLED],
                         ids=lambda v: str(v)[:40])
def test_receptive_field_matches_gradients(shape: tuple[int, ...], layers: Any,
                                           exact: bool) -> None:
    text = spec_text(shape, layers)
    network = archc.network(text)
    analysis = analyse(network)
    (_, out_id), = network.outputs
    field = analysis.nodes[out_id].field
    assert field is not None
    sizes = network.node(out_id).shape[2:]
    model = archc.build(text).eval()
    position = tuple(int(s) // 2 for s in sizes)  # type: ignore[call-overload]
    extent = _gradient_extent(model, shape, position)
    for e, (first, last), o, n in zip(field, extent, position, shape[1:], strict=True):
        assert e.jump is not None and e.start is not None
        centre = e.start + o * e.jump
        low, high = centre - (e.size - 1) / 2, centre + (e.size - 1) / 2
        assert low > 0 and high < n - 1, "choose a larger input: the field is clipped"
        if exact:
            assert (first, last) == (low, high)
        else:
            assert last - first + 1 == e.size
            assert abs(Fraction(first + last, 2) - centre) <= 1


def test_global_ops_see_the_whole_input_and_merges_keep_the_grid() -> None:
    text = spec_text((4, 16, 16), ["conv(4, 3, padding=1)",
                                   {"mul": ["identity", "adaptive_avgpool(1); conv(4, 1)"]},
                                   "conv(4, 3, stride=2, padding=1)", "flatten", "linear(3)"])
    network = archc.network(text)
    analysis = analyse(network)
    fields = {n.op: analysis.nodes[n.id].field for n in network.nodes()}
    gate = fields["mul"]
    assert gate is not None and all(e.whole and e.size == 16 and e.jump == 1 for e in gate)
    strided = [analysis.nodes[n.id].field for n in network.nodes() if n.op == "conv"][-1]
    assert strided is not None and all(e.whole and e.jump == 2 for e in strided)
    assert all(e.whole and e.jump is None for e in fields["linear"] or ())


def test_softmax_over_a_spatial_dim_reads_all_of_it() -> None:
    network = archc.network(spec_text((2, 9, 9), ["conv(2, 3, padding=1)", "softmax(dim=3)"]))
    field = analyse(network).nodes[2].field
    assert field is not None
    assert (field[0].size, field[0].whole) == (3, False)
    assert (field[1].size, field[1].whole) == (9, True)


def test_networks_without_spatial_input_have_no_field() -> None:
    network = archc.network(ROOT / "specs" / "mlp.yaml")
    analysis = analyse(network)
    assert analysis.reference is None
    assert all(c.field is None for c in analysis.nodes.values())
    assert min_input(network, lambda shape: network) is None


# ------------------------------------------------------------------ registry, report, CLI


def test_only_conv_and_linear_ops_count_macs() -> None:
    # MACs as the papers count them: multiply-accumulates of weighted layers (attention's
    # projections and its score products), nothing else
    assert {op.name for op in OPS.values() if op.macs_rule} == {
        "conv", "conv_transpose", "linear", "attention", "window_attention", "patch_merging",
        "window_attention_v2", "patch_merging_v2", "relative_attention", "matmul",
        "window_attention_3d"}


def test_report_rows_and_totals() -> None:
    network = archc.network(RESNET50)
    report = shape_report(network, depth=1)
    assert report["macs"] == 4_089_184_256
    assert report["memory"]["dtype"] == "float32" and report["memory"]["batch"] == 1
    row = next(r for r in report["layers"] if r["path"] == "layer4")
    assert row["rf"] == [427, 427] and row["stride"] == [32, 32]
    assert row["memory"] == 2048 * 7 * 7 * 4
    with torch.device("meta"):
        model = archc.build(RESNET50)
    macs = measured_macs(model, [torch.empty(1, 3, 224, 224, device="meta")])
    assert {r["path"]: r["macs"] for r in report["layers"]} == {
        name: macs[name] for name, _ in model.named_children()}
    assert macs["layer3"] > 0 and macs["bn1"] == 0
    assert json.loads(json.dumps(report)) == report


def test_cli_table_has_macs_by_default_and_columns_on_request() -> None:
    code, out, _ = run_cli("shapes", str(RESNET50), "--depth", "1")
    assert code == 0
    assert "MACs" in out and "4.09G" in out and "RF" not in out
    code, out, _ = run_cli("shapes", str(RESNET50), "--depth", "1", "--columns", "rf,stride,memory")
    assert code == 0
    assert "427" in out and "all" in out and "output shape" not in out
    assert "392.00 KiB" in out  # layer4: 2048·7·7 floats


def test_cli_columns_are_checked_and_listed_in_help() -> None:
    code, _, err = run_cli("shapes", str(RESNET50), "--columns", "op,speed")
    assert code == 2 and "speed" in err
    _, out, _ = run_cli("shapes", "--help")
    for column in COLUMNS:
        assert column in out
    assert parse_columns("all") == COLUMNS


def test_cli_json_dtype_and_min_input() -> None:
    code, out, _ = run_cli("shapes", str(GOOGLENET), "--format", "json", "--dtype", "float16",
                       "--depth", "1", "--min-input")
    assert code == 0
    report = json.loads(out)
    assert report["macs"] == 1_498_376_192 and isinstance(report["flops"], int)
    assert report["memory"]["dtype"] == "float16" and report["memory"]["element_size"] == 2
    assert report["min_input"]["smallest"] == [3, 15, 15]
    assert report["min_input"]["dims"]["H"]["divisible"] == [0]
    assert {"macs", "flops", "memory", "rf", "stride"} <= set(report["layers"][0])


def test_cli_min_input_table() -> None:
    code, out, _ = run_cli("shapes", str(GOOGLENET), "--depth", "1", "--min-input")
    assert code == 0
    assert "min input x: 3×15×15" in out and "multiples of 32" in out


@pytest.mark.parametrize("path", [GOOGLENET, ROOT / "specs/torchvision/densenet121.yaml"],
                         ids=["googlenet", "densenet121"])
def test_windows_kept_by_input_shapes_are_the_windows(path: Path) -> None:
    # one memo across sizes, as the search keeps it: each size's windows as computed afresh
    net = archc.network(path)
    memo: dict[tuple[object, ...], list[Strided]] = {}
    for size in (32, 33, 47, 64, 64, 95):
        at = resized(net, {"x": [3, size, size]})
        assert list(strided(at, memo)) == list(strided(at)), size
    assert memo


def test_training_only_heads_count_weights_but_not_inference_macs() -> None:
    """examples/constructs/auxiliary_head.yaml by hand: the auxiliary head's weights are the
    model's, its MACs are no inference's; eval is valid from 4x4 (two 2x2 pools) and the
    head's 5x5 convolution needs an 8x8 map while training, so 20x20 at least (19 pools to
    9, then 4)."""
    path = ROOT / "examples" / "constructs" / "auxiliary_head.yaml"
    data = archc.shapes(path, with_min_input=True)
    conv = {"stem": 16 * 3 * 9 * 32 * 32, "middle": 32 * 16 * 9 * 16 * 16,
            "head": 64 * 32 * 9 * 8 * 8 + 64 * 10, "aux": 8 * 32 * 25 * 4 * 4 + 8 * 10}
    assert data["macs"] == conv["stem"] + conv["middle"] + conv["head"]
    rows = {row["path"]: row for row in data["layers"]}
    assert rows["aux"]["macs"] == conv["aux"] and rows["aux"]["training_only"]
    assert "training_only" not in rows["head"]
    aux_weights = 8 * 32 * 25 + 8 + 8 * 10 + 10
    assert rows["aux"]["params"] == aux_weights
    assert data["params"] == count(archc.build(path).parameters())
    assert data["training_output_names"] == ["head", "aux"]
    found = data["min_input"]
    assert found["smallest"] == [3, 4, 4]
    assert found["training"]["smallest"] == [3, 20, 20]
    assert "kernel larger than the padded input" in found["training"]["failure"]
