"""Symbolic dimensions (issue #13): the shape type's `Symbol`, its helpers, and the shape rules
given a second symbol beside the batch.

Input: archc.dims, the registry's rules called directly on shapes such as [N, L, 64] (no spec
can declare a symbol yet), the JSON and text forms of shapes. Output: assertions that each
helper does what it says, that rules pass a symbol through where its size does not matter and
refuse it, naming the op and the dim, where it does, and that networks still read [N, ...].
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import pytest

import archc
from archc.backends.graphviz import format_dims
from archc.dims import BATCH, Shape, Symbol, is_static, numel, static_dims
from archc.format import format_shape
from archc.ops import OPS, OpError
from archc.ops.registry import check_tensor_size, known
from archc.report import _json_shape, _shape

L = Symbol("L", 1, 512)  # a sequence length


def apply(name: str, inputs: Sequence[Shape], **given: Any) -> Shape:
    """An op's output shape, its arguments bound as elaboration binds them: the defaults, then
    what is given, then the op's infer rule."""
    op = OPS[name]
    attrs = {a.name: a.default for a in op.attrs if not a.required} | given
    attrs = dict(op.infer(attrs, inputs))
    return op.shape(attrs, inputs)


def refusal(name: str, inputs: Sequence[Shape], **given: Any) -> OpError:
    with pytest.raises(OpError) as caught:
        apply(name, inputs, **given)
    return caught.value


# ------------------------------------------------------------------ the type and its helpers


def test_a_symbol_has_a_name_and_bounds_and_prints_as_its_name() -> None:
    assert (BATCH.name, BATCH.low, BATCH.high) == ("N", 1, None)
    assert str(L) == "L" and L.bounds == "1 ≤ L ≤ 512" and BATCH.bounds == "N ≥ 1"


def test_symbols_compare_and_hash_by_name_and_bounds() -> None:
    assert Symbol("N") == BATCH and hash(Symbol("N")) == hash(BATCH)
    assert Symbol("L", 1, 512) == L and Symbol("L", 1, 1024) != L and Symbol("M", 1, 512) != L
    assert len({BATCH, Symbol("N"), L, Symbol("L", 2, 512)}) == 3
    assert L != 512 and BATCH != 1


def test_symbols_and_shapes_holding_them_pickle() -> None:
    shape = (BATCH, L, 768)
    assert pickle.loads(pickle.dumps(shape)) == shape
    assert pickle.loads(pickle.dumps(L)) is not L and pickle.loads(pickle.dumps(L)) == L


@pytest.mark.parametrize(("name", "low", "high"), [("", 1, None), ("2L", 1, None),
                                                   ("N, 3", 1, None), ("L", 5, 4),
                                                   ("L", -1, None)])
def test_a_symbol_needs_an_identifier_and_bounds_that_hold_a_size(
        name: str, low: int, high: int | None) -> None:
    with pytest.raises(ValueError):
        Symbol(name, low, high)


def test_is_static_tells_numbers_from_symbols() -> None:
    assert is_static(3) and is_static(1)
    assert not is_static(BATCH) and not is_static(L)


def test_static_dims_keeps_the_numbers_in_order() -> None:
    assert static_dims((BATCH, 3, 224, 224)) == (3, 224, 224)
    assert static_dims((BATCH, L, 64)) == (64,)
    assert static_dims((64, 3, 7, 7)) == (64, 3, 7, 7)  # a weight: no symbol at all
    assert static_dims((BATCH,)) == ()


def test_numel_counts_the_known_dims() -> None:
    assert numel((BATCH, 3, 224, 224)) == 3 * 224 * 224  # per sample
    assert numel((BATCH, L, 64)) == 64  # per sample and position
    assert numel((8, 3, 3)) == 72  # a weight, all of it
    assert numel((BATCH,)) == 1


def test_known_gives_a_number_and_refuses_a_symbol_naming_op_and_dim() -> None:
    assert known("conv", (BATCH, 16, 32), 2, "a spatial size") == 32
    assert known("linear", (BATCH, L, 64), -1, "its features") == 64
    with pytest.raises(OpError) as caught:
        known("conv", (BATCH, 16, L), -1, "a spatial size", attr="padding")
    error = caught.value
    assert error.message == ("conv needs a known size for dim 2 of its input, a spatial size, "
                             "not the symbol L")
    assert error.attr == "padding" and error.expected == "a number in dim 2"
    assert error.found == "input [N, 16, L]"
    assert error.notes == ["L is any size with 1 ≤ L ≤ 512, fixed only when the network runs"]


def test_tensor_size_checks_leave_symbols_out_and_name_them() -> None:
    check_tensor_size("linear", "output", (BATCH, L, 2**40))  # per position: fits
    with pytest.raises(OpError) as caught:
        check_tensor_size("linear", "output", (BATCH, L, 2**63))
    assert caught.value.found == f"[N, L, {2**63}]"
    with pytest.raises(OpError, match="too large for PyTorch to allocate"):
        check_tensor_size("linear", "output", (BATCH, L, 2**31, 2**31))


# ------------------------------------------------------------------ how shapes read


def test_shapes_read_as_before_and_a_symbol_by_its_name() -> None:
    assert format_shape((BATCH, 3, 224, 224)) == "[N, 3, 224, 224]"
    assert format_shape((BATCH, L, 768)) == "[N, L, 768]"
    assert format_dims((BATCH, L, 768)) == "N×L×768"


def test_json_keeps_the_batch_null_and_names_other_symbols() -> None:
    assert _json_shape((BATCH, 3, 224, 224)) == [None, 3, 224, 224]
    assert _json_shape((BATCH, L, 768)) == [None, "L", 768]
    assert _shape(_json_shape((BATCH, L, 768))) == "[N, L, 768]"


def test_a_spec_network_still_reports_the_batch_as_n() -> None:
    text = "network tiny {\n  input [3, 8, 8]\n  conv(4, 3)\n  flatten\n  linear(2)\n}\n"
    network = archc.network(text)
    assert network.output_shapes() == [(BATCH, 2)]
    assert format_shape(network.node(network.inputs["x"]).shape) == "[N, 3, 8, 8]"
    report = archc.shapes(text)
    assert report["inputs"] == {"x": [None, 3, 8, 8]} and report["outputs"] == [[None, 2]]


# ------------------------------------------------------------------ rules given a second symbol


SEQUENCE = (BATCH, L, 64)


@pytest.mark.parametrize("name", ["relu", "gelu", "sigmoid", "dropout", "identity"])
def test_pointwise_ops_pass_a_symbol_through(name: str) -> None:
    assert apply(name, [SEQUENCE]) == SEQUENCE


def test_linear_keeps_the_leading_symbol_and_counts_per_position() -> None:
    assert apply("linear", [SEQUENCE], out_features=32) == (BATCH, L, 32)
    op = OPS["linear"]
    attrs = dict(op.infer({"out_features": 32, "bias": True, "in_features": None,
                           "init": "default"}, [SEQUENCE]))
    assert attrs["in_features"] == 64
    assert op.params(attrs, [SEQUENCE]) == 64 * 32 + 32
    assert op.macs(attrs, [SEQUENCE], (BATCH, L, 32)) == 64 * 32  # per sample and position


def test_linear_refuses_a_symbol_as_its_features() -> None:
    error = refusal("linear", [(BATCH, 64, L)], out_features=32)
    assert error.message == ("linear needs a known size for dim 2 of its input, its features "
                             "(its last dim), not the symbol L")
    assert error.found == "input [N, 64, L]"


def test_layernorm_normalises_a_known_last_dim_beside_a_symbol() -> None:
    assert apply("layernorm", [SEQUENCE]) == SEQUENCE
    assert apply("layernorm", [SEQUENCE], normalized_shape=64) == SEQUENCE
    error = refusal("layernorm", [(BATCH, 64, L)])
    assert error.message.startswith("layernorm needs a known size for dim 2 of its input, its "
                                    "last dim")
    assert error.attr == "normalized_shape"
    with pytest.raises(OpError, match="trailing dimensions"):
        apply("layernorm", [(BATCH, 64, L)], normalized_shape=[64, 512])


def test_flatten_of_trailing_known_dims_keeps_the_symbol() -> None:
    assert apply("flatten", [(BATCH, L, 4, 16)], start_dim=2) == (BATCH, L, 64)
    assert apply("flatten", [SEQUENCE], start_dim=2) == SEQUENCE  # one dim: nothing merges
    assert apply("flatten", [(BATCH, L)]) == (BATCH, L)
    error = refusal("flatten", [SEQUENCE])  # L · 64 has no size archc can say
    assert error.message == ("flatten needs a known size for dim 1 of its input, one of the "
                             "dims it merges, not the symbol L")


def test_reshape_and_permute() -> None:
    assert apply("permute", [SEQUENCE], dims=(0, 2, 1)) == (BATCH, 64, L)
    error = refusal("reshape", [SEQUENCE], shape=(-1,))
    assert error.message.startswith("reshape needs a known size for dim 1 of its input")


def test_conv_keeps_a_symbolic_length_with_same_padding_and_refuses_it_otherwise() -> None:
    signal = (BATCH, 16, L)
    assert apply("conv", [signal], out_channels=8, kernel_size=3, padding="same") == (BATCH, 8, L)
    error = refusal("conv", [signal], out_channels=8, kernel_size=3)
    assert error.message == ("conv needs a known size for dim 2 of its input, a spatial size, "
                             "not the symbol L")
    error = refusal("conv", [(BATCH, L, 32)], out_channels=8, kernel_size=3)
    assert error.message == ("conv needs a known size for dim 1 of its input, its channels, "
                             "not the symbol L")


def test_pools_need_known_sizes_but_adaptive_ones_pool_a_symbol_away() -> None:
    signal = (BATCH, 16, L)
    error = refusal("maxpool", [signal], kernel_size=2)
    assert "dim 2" in error.message and "maxpool" in error.message
    assert apply("adaptive_avgpool", [signal], output_size=1) == (BATCH, 16, 1)
    op = OPS["adaptive_avgpool"]
    assert op.window({"output_size": 1}, [signal]) == (None,)
    assert apply("adaptive_maxpool", [(BATCH, 16, L, 8)], output_size=(None, 1)) == (
        BATCH, 16, L, 1)


def test_merges_join_equal_symbols_and_refuse_mixed_ones() -> None:
    assert apply("add", [SEQUENCE, SEQUENCE]) == SEQUENCE
    assert apply("mul", [SEQUENCE, (BATCH, 1, 64)]) == SEQUENCE  # 1 broadcasts to L
    with pytest.raises(OpError, match="add branches disagree"):
        apply("add", [SEQUENCE, (BATCH, 512, 64)])  # L is 512 only sometimes
    with pytest.raises(OpError, match="mul branches disagree"):
        apply("mul", [SEQUENCE, (BATCH, Symbol("M"), 64)])
    assert apply("concat", [(BATCH, L, 8), (BATCH, L, 4)], dim=2) == (BATCH, L, 12)
    error = refusal("concat", [SEQUENCE, SEQUENCE], dim=1)
    assert error.message == ("concat needs a known size for dim 1 of its input, the dim it "
                             "joins on, not the symbol L")


def test_bn_and_softmax_over_a_sequence() -> None:
    signal = (BATCH, 16, L)
    assert apply("bn", [signal]) == signal
    assert apply("softmax", [SEQUENCE], dim=1) == SEQUENCE
