"""Elaboration: module paths and numbering, references, blocks, repeat, conditions, `in`."""

from __future__ import annotations

import archc
from archc.dims import BATCH
from archc.ir import Network, Node


def paths(network: Network) -> list[str]:
    return [n.path for n in network.nodes() if n.module is not None]


def test_unnamed_entries_are_numbered_by_position() -> None:
    net = archc.network("input: [3, 8, 8]\nlayers:\n  - conv(4, 3)\n  - stem: relu\n"
                        "  - maxpool(2)\n")
    assert paths(net) == ["0", "stem", "2"]


def test_named_list_is_a_container_and_inline_blocks_splice() -> None:
    net = archc.network("""
input: [3, 16, 16]
blocks:
  stage:
    inline: true
    params: [out]
    body: conv(out, 3, padding=1); relu; maxpool(2)
layers:
  - features: stage(4); stage(8)
""")
    assert paths(net) == [f"features.{i}" for i in range(6)]


def test_block_instances_are_nested_modules() -> None:
    net = archc.network("""
input: [3, 16, 16]
blocks:
  unit:
    params: [out]
    body:
      - conv: conv(out, 3, padding=1)
      - relu
layers:
  - unit(4)
  - second: unit(8)
""")
    assert paths(net) == ["0.conv", "0.1", "second.conv", "second.1"]
    assert net.modules[("second",)].args == {"out": 8}


def test_merges_and_unnamed_branch_lists_are_transparent() -> None:
    net = archc.network("""
input: [3, 8, 8]
layers:
  - concat:
      - conv(4, 1)
      - conv(2, 1); relu
      - identity
""")
    # identity is a name for its input, not a module; in a module with a forward (not a
    # chain) unnamed children are named after their op
    assert paths(net) == ["conv", "conv2", "relu"]
    assert net.output_shapes() == [(BATCH, 9, 8, 8)]


def test_unnamed_children_outside_a_chain_are_named_after_their_op() -> None:
    spec = """
input: [3, 8, 8]
blocks:
  res:
    body:
      - add:
          - conv(3, 3, padding=1); relu; conv(3, 3, padding=1)
          - identity
      - relu
      - relu
layers:
  - res
  - res
  - flatten
  - linear(2)
"""
    net = archc.network(spec)
    # in the block (a forward, with an add) children are named after their op, as a person
    # names attributes; the network is a chain with an unnamed weighted child, an
    # nn.Sequential, so it keeps its numbers (the state_dict keys of its layers)
    assert paths(net) == ["0.conv", "0.relu", "0.conv2", "0.relu2", "0.relu3",
                          "1.conv", "1.relu", "1.conv2", "1.relu2", "1.relu3", "2", "3"]
    model = archc.build(spec)
    expected = {f"{i}.{c}.{p}" for i in (0, 1) for c in ("conv", "conv2")
                for p in ("weight", "bias")} | {"3.bias", "3.weight"}
    assert set(model.state_dict()) == expected
    assert {name for name, _ in model.named_modules()} >= set(paths(net))


def test_references_and_outputs() -> None:
    net = archc.network("""
input: [3, 8, 8]
layers:
  - a: conv(4, 1)
  - b: conv(6, 1)
  - '@a'
  - c: conv(2, 1)
outputs: [b, c]
""")
    assert net.output_shapes() == [(BATCH, 6, 8, 8), (BATCH, 2, 8, 8)]
    c = net.node(net.outputs[1][1])
    assert net.node(c.inputs[0]).name == "a"


def test_repeat_index_and_conditions_on_in() -> None:
    net = archc.network("""
input: [3, 32, 32]
layers:
  - repeat: 3
    as: i
    body:
      - conv(4 * (i + 1), 3, padding=1)
      - if: in.h > 8
        then: maxpool(2)
""")
    assert net.output_shapes() == [(BATCH, 12, 8, 8)]


def test_params_override_and_default_expressions() -> None:
    spec = """
params: {width: 4, double: false}
input: [3, 8, 8]
layers:
  - conv(width * 2 if double else width, 1)
"""
    assert archc.network(spec).output_shapes() == [(BATCH, 4, 8, 8)]
    assert archc.network(spec, width=5, double=True).output_shapes() == [(BATCH, 10, 8, 8)]


def test_several_named_inputs() -> None:
    net = archc.network("""
inputs: {image: [3, 8, 8], meta: [5]}
layers:
  - flatten
  - concat: ['@image; flatten', '@meta']
  - linear(2)
""")
    assert list(net.inputs) == ["image", "meta"]
    assert net.output_shapes() == [(BATCH, 2)]


def test_inferred_arguments_never_written() -> None:
    net = archc.network("input: [3, 28, 28]\nlayers:\n  - conv(6, 5, padding=2); "
                        "maxpool(2); flatten; linear(10)\n")
    linear = next(n for n in net.nodes() if n.op == "linear")
    assert linear.attrs["in_features"] == 6 * 14 * 14


# ------------------------------------------------------------------ bounded work and values

import time  # noqa: E402

import pytest  # noqa: E402


def refused(text: str) -> archc.ArchcError:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(text)
    return caught.value


@pytest.mark.parametrize(("expression", "word"), [
    ("len('%0999999999d' % 1)", "cannot combine"),  # a format width: gigabytes in Python
    ("len('%' % 1)", "cannot combine"),
    ("sum([[1] * 1000] * 1000, [])", "value too large"),
    ("sum([[1], [2]])", "failed"),
    ("2 ** 64 ** 64", "too large"),
    ("10 ** 30", "too large"),
    ("int(1e308)", "too large"),
    ("len([0] * 10 ** 9)", "value too large"),
    ("len([[0] * 1000] * 1000)", "value too large"),
    ("len('ab' * 10 ** 6)", "value too large"),
    ("int((-8) ** 0.5)", "cannot combine"),
    ("max([])", "failed"),
    ("len(5)", "failed"),
])
def test_expressions_stay_bounded(expression: str, word: str) -> None:
    start = time.perf_counter()
    error = refused(f"input: [3]\nlayers:\n  - linear({expression})\n")
    assert word in error.render() and error.span.line == 3
    assert time.perf_counter() - start < 5  # a hang bound, not a speed goal


def test_list_doubling_is_stopped_at_the_size_limit() -> None:
    # a list doubled by +, again and again through parameters
    params = "\n".join(f"  l{i}: l{i - 1} + l{i - 1}" for i in range(1, 30))
    error = refused(f"input: [3]\nparams:\n  l0: [1]\n{params}\nlayers:\n"
                    f"  - linear(len(l29))\n")
    assert "value too large" in error.message or "work limit" in error.message


def test_values_within_the_limits_are_computed_as_python_does() -> None:
    net = archc.network("input: [3]\nlayers:\n  - linear(len([0] * 90000) // 9000 + "
                        "max(1, 2) + min([3, 4]) + sum([1, 2]) + abs(-1) + round(2.5) + "
                        "int('3') + 2 ** 62 // 2 ** 60)\n")
    assert net.output_shapes() == [(BATCH, 10 + 2 + 3 + 3 + 1 + 2 + 3 + 4)]


def test_nested_empty_repeats_count_as_work() -> None:
    start = time.perf_counter()
    error = refused("input: [3]\nlayers:\n  - repeat: 10000\n    body:\n      repeat: 10000\n"
                    "      body: []\n")
    assert "work limit" in error.message and "--max-steps" in error.render()
    error = refused("input: [3]\nlayers:\n  - repeat: 10000\n    body:\n      repeat: 10000\n"
                    "      body: {if: false, then: relu}\n")
    assert "work limit" in error.message
    assert time.perf_counter() - start < 10  # a hang bound, not a speed goal


def test_the_work_limit_can_be_raised() -> None:
    text = "input: [3]\nlayers:\n  - repeat: 300\n    body:\n      repeat: 300\n      body: []\n"
    assert "work limit" in refused(text).message  # 90,000 iterations of 4 steps
    net = archc.network(text, limits=archc.Limits(max_steps=1_000_000))
    assert net.output_shapes() == [(BATCH, 3)]


def test_parameter_and_element_caps() -> None:
    error = refused("input: [2000]\nlayers:\n  - linear(1000)\n  - linear(20000000)\n")
    assert "parameters" in error.message and error.span.line == 4
    error = refused("input: [3, 8]\nlayers:\n  - upsample(scale_factor=2 ** 31)\n")
    assert "elements" in error.message and error.span.line == 3
    net = archc.network("input: [2000]\nlayers:\n  - linear(6000000)\n",
                        limits=archc.Limits(max_params=10**11))
    assert net.total_params == 2001 * 6_000_000


@pytest.mark.parametrize("merge", ["add", "concat", "mul"])
def test_a_merge_left_with_one_branch_is_an_error(merge: str) -> None:
    # the second branch indented like the merge itself: it is the next entry
    error = refused(f"input: [3, 8, 8]\nlayers:\n  - {merge}:\n    - conv(3, 1)\n"
                    "  - conv(3, 1)\n")
    assert error.span.line == 3 and "one branch" in error.message
    assert "indented" in error.render()


def test_long_sums_evaluate_as_python_sums_them() -> None:
    terms = list(range(1, 3001))
    text = "input: [3]\nlayers:\n  - linear(" + " + ".join(map(str, terms)) + " - 4500000)\n"
    assert archc.network(text).output_shapes() == [(BATCH, sum(terms) - 4500000)]


def test_an_expression_too_deep_to_evaluate_is_located() -> None:
    text = "input: [3]\nlayers:\n  - linear(2 ** " + "(1 ** " * 90 + "1" + ")" * 90 + ")\n"
    net = archc.network(text)  # 90 levels: evaluated
    assert net.output_shapes() == [(BATCH, 2)]


# ------------------------------------------------------------------ other input sizes

from pathlib import Path  # noqa: E402

from archc.elaborate import resized  # noqa: E402
from archc.expr.nodes import same  # noqa: E402
from tests.conftest import ALL_SPECS, spec_id  # noqa: E402


def other_sizes(net: Network) -> list[dict[str, list[int]]]:
    """Input shapes to try besides the declared ones: each input's last dims grown and shrunk
    (spatial sizes of an image, the features of a vector)."""
    tries = []
    for change in (lambda d: d + 7, lambda d: max(1, d // 2), lambda d: 1):
        shapes = {}
        for name, node_id in net.inputs.items():
            dims = [d for d in net.node(node_id).shape[1:] if isinstance(d, int)]
            shapes[name] = dims[:1] + [change(d) for d in dims[1:]] if len(dims) > 1 \
                else [change(dims[0])]
        tries.append(shapes)
    return tries


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_resized_gives_what_elaborating_at_those_sizes_gives(path: Path) -> None:
    tree = archc.load(path)
    net = archc.network(tree)
    if net.sizes_read:
        with pytest.raises(ValueError):
            resized(net, {})
        return
    memo: dict[tuple[object, ...], tuple[Node, int]] = {}  # shared by the sizes, as a search
    for shapes, remembered in [(shapes, memo) for shapes in other_sizes(net) * 2] + [
            (shapes, None) for shapes in other_sizes(net)]:
        try:
            expected = archc.network(tree, shapes)
        except archc.ArchcError as error:
            with pytest.raises(archc.ArchcError) as raised:
                resized(net, shapes, memo=remembered)
            assert raised.value.message == error.message, shapes
            continue
        got = resized(net, shapes, memo=remembered)
        assert len(got.node_list) == len(expected.node_list)
        for ours, theirs in zip(got.node_list, expected.node_list, strict=True):
            assert (ours.op, ours.inputs, ours.shape) == (theirs.op, theirs.inputs, theirs.shape)
            assert same(ours.attrs, theirs.attrs) or ours.attrs == theirs.attrs, ours.path
        assert got.total_params == expected.total_params


@pytest.mark.parametrize("layers, reads", [
    ("conv(in.c * 2, 3)", False),  # channels: the same at every size
    ("conv(8, 3); avgpool(in.h)", True),  # a kernel as large as the input
    ("conv(8, 3); flatten; linear(in.c)", True),  # a flattened image's features are a size
    ("conv(8, in.rank)", False),
    ("conv(8, 3); conv(in.shape[0], 1)", True),
    ("wide", False),  # a block parameter whose default is in.c
])
def test_elaboration_records_whether_it_read_an_input_size(layers: str, reads: bool) -> None:
    text = ("name: n\ninput: [3, 16, 16]\nblocks:\n  wide:\n    params: {c: in.c}\n"
            f"    body: conv(c * 2, 1)\nlayers:\n  - {layers}\n")
    assert archc.network(text).sizes_read is reads
    text = text.replace(f"  - {layers}\n", "  - repeat: in.h // 8\n    body: conv(8, 1)\n")
    assert archc.network(text).sizes_read


# -- op calls worked out once (Elaborator.call_key): the same network as without, the same
# work paid, and values Python calls equal (1, 1.0, true) kept apart

from archc.elaborate import Elaborator  # noqa: E402
from archc.errors import ArchcError  # noqa: E402


def _fingerprint(network: Network) -> list[tuple[object, ...]]:
    return [(n.op, n.attrs, n.inputs, n.shape, n.span, n.scope, n.module, n.name, n.given,
             n.sources, n.frames) for n in network.nodes()]


def _without_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Elaborator, "call_key", lambda self, op, args, ctx: None)


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_remembered_calls_give_the_same_network(path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    remembered = archc.network(path)
    _without_memo(monkeypatch)
    fresh = archc.network(path)
    assert same(_fingerprint(remembered), _fingerprint(fresh))
    assert remembered.total_params == fresh.total_params


def test_remembered_calls_pay_the_same_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [k]\n    body: conv(4, k, "
            "padding=k // 2, bias=false); relu\nlayers:\n  - repeat: 6\n    body: unit(3)\n")
    spent = []
    for memo in (True, False):
        if not memo:
            _without_memo(monkeypatch)
        elaborator = Elaborator(archc.api.load(spec))
        elaborator.network({}, None)
        spent.append(elaborator.budget.limit - elaborator.budget.left)
        assert not memo or elaborator.applied  # the calls were remembered
    assert spent[0] == spent[1] > 0


def test_values_python_calls_equal_are_not_one_key() -> None:
    # bias=true builds; bias=1 is refused: a remembered `true` must not pass the 1
    spec = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [b]\n    body: conv(4, 3, "
            "padding=1, bias=b)\nlayers:\n  - unit(true)\n  - unit(1)\n")
    with pytest.raises(ArchcError, match="'bias' must be"):
        archc.network(spec)
    # 2 and 2.0: a float kernel size is refused even after the integer one was remembered
    spec = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [k]\n    body: conv(4, k)\n"
            "layers:\n  - unit(2)\n  - unit(2.0)\n")
    with pytest.raises(ArchcError, match="kernel_size"):
        archc.network(spec)
    # -0.0 and 0.0 (a float by its repr): both elaborate, each with its own value
    spec = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: [s]\n    body: leaky_relu(s)\n"
            "layers:\n  - unit(0.0)\n  - unit(-0.0)\n")
    slopes = [n.attrs for n in archc.network(spec).nodes() if n.op == "leaky_relu"]
    assert [str(a["negative_slope"]) for a in slopes] == ["0.0", "-0.0"], slopes


def test_a_long_list_is_not_keyed() -> None:
    # a call that indexes a long list parameter reads one item: keying the call by the whole
    # list would cost the list's length on every call (unbounded work for a short spec)
    from archc.cache import typed
    from archc.elaborate import MAX_KEYED_ITEMS
    assert typed([1, 2.0, True]) == ("list", (("int", "1"), ("float", "2.0"), ("bool", "True")))
    assert typed(list(range(MAX_KEYED_ITEMS)), MAX_KEYED_ITEMS)
    with pytest.raises(TypeError):
        typed(list(range(MAX_KEYED_ITEMS + 1)), MAX_KEYED_ITEMS)
    with pytest.raises(TypeError):  # nested items count too
        typed([[0] * 9] * 8, MAX_KEYED_ITEMS)
    spec = ("params:\n  sizes: [" + ", ".join(["4"] * 200) + "]\ninput: [3, 8, 8]\n"
            "layers:\n  - repeat: 3\n    as: i\n    body: conv(sizes[i], 3, padding=1)\n")
    elaborator = Elaborator(archc.api.load(spec))
    elaborator.network({}, None)
    assert not elaborator.applied and not elaborator.bound  # not remembered, and correct:
    assert [n.attrs["out_channels"] for n in archc.network(spec).nodes() if n.op == "conv"] \
        == [4, 4, 4]


UNET = Path(__file__).parent.parent / "examples" / "constructs" / "unet.yaml"


def test_a_block_takes_the_caller_s_tensors_as_arguments() -> None:
    """U-Net's decoder as one block given the encoder's output (skip=@enc2): one class whose
    forward takes the tensor by the parameter's name; the oracle is the decoder written in
    torch over the built model's own modules."""
    import torch

    network = archc.network(UNET)
    up2 = network.modules[("up2",)]
    assert set(up2.tensors) == {"skip"}
    assert network.node(up2.tensors["skip"]).scope[:1] == ("enc2",)  # the output of enc2
    text = archc.source(UNET)
    assert text.count("class Up(nn.Module):") == 1
    assert "def forward(self, skip: torch.Tensor, x: torch.Tensor)" in text
    model = archc.build(UNET).eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if tensor.dim() == 1
                             else torch.randn_like(tensor) * 0.3)
        x = torch.randn(2, 1, 32, 32)
        enc1 = model.enc1(x)
        enc2 = model.enc2(enc1)
        enc3 = model.enc3(enc2)

        def up(block: torch.nn.Module, skip: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return block.conv(torch.cat([skip, block.upsample(y)], dim=1))

        want = model.head(up(model.up1, enc1, up(model.up2, enc2, enc3)))
        assert want.abs().mean() > 0.1
        torch.testing.assert_close(model(x), want)


@pytest.mark.parametrize(("call", "message"), [
    ("up(32, skp=@enc2)", "block up has no parameter 'skp'"),
    ("up(32)", "block up is missing its argument 'skip'"),
    ("up(32, 7)", "'skip' is a parameter of this block given a value"),
    ("conv(8, 3, skip=@enc2)", "conv takes no tensor argument"),
    ("up(32, skip=@nothere)", "undefined reference @nothere"),
])
def test_tensor_arguments_are_refused_where_they_cannot_go(call: str, message: str) -> None:
    text = UNET.read_text().replace("up(32, skip=@enc2)", call)
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(text)
    assert message in caught.value.render()


SIZED = """input: [3, 20, 28]
layers:
  - stem: conv(8, 3, stride=2, padding=1)
  - conv(4, 1)
  - up: upsample(size=@x, mode='bilinear')
  - final: upsample(size=@stem)
outputs: [up, final]
"""


@pytest.mark.parametrize("form", ["yaml", "arch"])
def test_upsample_to_the_size_of_a_tensor_is_interpolate_with_its_size(form: str) -> None:
    """`upsample(size=@x)` takes the height and width of @x (torchvision's segmentation heads):
    statically, and in the built module equal to F.interpolate by hand; upsample's own
    defaults hold (nearest), and the text form says it too."""
    import torch
    import torch.nn.functional as F

    from archc import api

    spec = SIZED if form == "yaml" else api.print_spec(api.parse(SIZED), "arch")
    network = archc.network(spec)
    shapes = [network.node(i).shape for _, i in network.outputs]
    assert shapes == [(BATCH, 4, 20, 28), (BATCH, 4, 10, 14)]
    model = archc.build(spec, seed=0).eval()
    x = torch.randn(2, 3, 20, 28)
    with torch.no_grad():
        up, out = model(x)
        stem = model.stem(x)
        low = model.conv(stem)
        want = F.interpolate(low, size=(20, 28), mode="bilinear", align_corners=False)
        assert want.abs().mean() > 0.05
        torch.testing.assert_close(up, want)
        torch.testing.assert_close(out, F.interpolate(want, size=(10, 14), mode="nearest"))


@pytest.mark.parametrize(("call", "message"), [
    ("upsample(size=@x, scale_factor=2)", "upsample(size=@...) takes only mode, align_corners"),
    ("upsample(scale_factor=@x)", "upsample takes no tensor argument"),
    ("upsample(size=@nowhere)", "undefined reference @nowhere"),
])
def test_upsample_to_a_tensor_size_refuses_what_cannot_go_with_it(call: str, message: str) -> None:
    text = SIZED.replace("upsample(size=@x, mode='bilinear')", call)
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(text)
    assert message in caught.value.render()
