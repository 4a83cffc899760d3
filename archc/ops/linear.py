"""Fully connected layers: linear on the last dimension, any rank."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.init import check_init, init_attr
from archc.ops.registry import (
    BOOL,
    FEATURES,
    INT,
    WITH_BIAS,
    Attr,
    Attrs,
    Op,
    OpError,
    Role,
    Shape,
    check_tensor_size,
    everything,
    format_shape,
    numel,
    register,
    standard_construct,
    with_bias,
)


def linear_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) < 2:
        raise OpError("linear needs at least [N, features]", found=format_shape(x))
    in_features = x[-1]
    if attrs["out_features"] < 1:
        raise OpError("linear: out_features must be at least 1", attr="out_features",
                      found=str(attrs["out_features"]))
    check_tensor_size("linear", "weight", (attrs["out_features"], in_features),
                      attr="out_features")
    check_init("linear", attrs, (attrs["out_features"], in_features))
    return {**attrs, "in_features": in_features}


def _macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    return numel(inputs[0]) * int(attrs["out_features"])


LINEAR = register(Op(
    name="linear",
    writable_output=True,
    role=Role.LINEAR,
    bias="bias",
    doc="Affine map on the last dimension (nn.Linear); in_features is inferred.",
    attrs=(
        Attr("out_features", INT, doc="output features"),
        Attr("bias", BOOL, True, "add a learnable bias"),
        Attr("in_features", INT, None, "input features (inferred)", inferred=True,
             from_input=FEATURES),
        init_attr(),
    ),
    infer=linear_infer,
    shape=lambda attrs, inputs: (*inputs[0][:-1], attrs["out_features"]),
    params=lambda attrs, inputs: attrs["in_features"] * attrs["out_features"]
    + (attrs["out_features"] if attrs["bias"] else 0),
    macs=_macs,
    flops=with_bias(_macs),
    window=everything,
    module=lambda op, attrs, inputs: standard_construct(
        "nn.Linear", attrs, op, positional=("in_features", "out_features")),
    shape_rule="[N, *, F] → [N, *, out_features]",
    macs_rule="numel(input) × out_features (rows × in_features × out_features)",
    flops_rule=WITH_BIAS,
    window_rule="global: the output has no spatial layout",
    key=lambda attrs: str(attrs["out_features"]),
    torch=("nn.Linear", "nn.LazyLinear", "F.linear"),
))
