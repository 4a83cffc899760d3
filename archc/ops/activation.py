"""Element-wise activations and softmax; each keeps its input's shape."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    BOOL,
    FLOAT,
    INT,
    STR,
    Attr,
    Attrs,
    Op,
    OpError,
    Shape,
    format_shape,
    register,
    standard_construct,
)


def _same(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return inputs[0]


def _check_dim(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    rank = len(inputs[0])
    dim = attrs["dim"]
    if not -rank <= dim < rank:
        raise OpError(f"dim {dim} is out of range for a rank-{rank} input", attr="dim",
                      expected=f"{-rank} ≤ dim < {rank}", found=format_shape(inputs[0]))
    if dim in (0, -rank):
        raise OpError("dim 0 is the batch dimension", attr="dim", expected="dim ≥ 1")
    return attrs


def _activation(name: str, callee: str, doc: str, *attrs: Attr, **extra: object) -> Op:
    always = tuple(a.name for a in attrs if a.name == "dim")  # nn.Softmax's default dim warns
    op = Op(
        name=name,
        family="activation",
        doc=doc,
        attrs=attrs,
        shape=_same,
        module=lambda op, a, inputs: standard_construct(callee, a, op, positional=(),
                                                        always=always),
        shape_rule="unchanged",
        **extra,  # type: ignore[arg-type]
    )
    return register(op)


INPLACE = Attr("inplace", BOOL, False, "overwrite the input")

_activation("relu", "nn.ReLU", "max(0, x)", INPLACE)
_activation("relu6", "nn.ReLU6", "min(max(0, x), 6)", INPLACE)
_activation("leaky_relu", "nn.LeakyReLU", "x if x ≥ 0 else negative_slope·x",
            Attr("negative_slope", FLOAT, 0.01, "slope for x < 0"), INPLACE)
_activation("elu", "nn.ELU", "exponential linear unit", Attr("alpha", FLOAT, 1.0, "scale"),
            INPLACE)
_activation("gelu", "nn.GELU", "Gaussian error linear unit",
            Attr("approximate", STR, "none", "'none' or 'tanh'", choices=("none", "tanh")))
_activation("silu", "nn.SiLU", "x·sigmoid(x)", INPLACE)
_activation("sigmoid", "nn.Sigmoid", "1 / (1 + e^-x)")
_activation("tanh", "nn.Tanh", "hyperbolic tangent")
_activation("hardswish", "nn.Hardswish", "x·relu6(x + 3) / 6", INPLACE)
_activation("softmax", "nn.Softmax", "exponentials normalised to sum 1 along dim",
            Attr("dim", INT, -1, "the dimension that sums to 1"), infer=_check_dim)
_activation("log_softmax", "nn.LogSoftmax", "log of softmax along dim",
            Attr("dim", INT, -1, "the dimension that sums to 1"), infer=_check_dim)
