"""Element-wise activations and softmax; each keeps its input's shape."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    BOOL,
    FLOAT32,
    INT,
    STR,
    Attr,
    Attrs,
    Op,
    OpError,
    Reach,
    Role,
    Shape,
    Window,
    format_shape,
    numel,
    per_element,
    register,
    same_shape,
    standard_construct,
)


def _check_dim(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    rank = len(inputs[0])
    dim = attrs["dim"]
    if not -rank <= dim < rank:
        raise OpError(f"dim {dim} is out of range for a rank-{rank} input", attr="dim",
                      expected=f"{-rank} ≤ dim < {rank}", found=format_shape(inputs[0]))
    if dim in (0, -rank):
        raise OpError("dim 0 is the batch dimension", attr="dim", expected="dim ≥ 1")
    return attrs


def _inplace(attrs: Attrs) -> bool:
    return bool(attrs.get("inplace", False))


def _activation(name: str, callee: str, doc: str, cost: int | str, *attrs: Attr,
                **extra: object) -> Op:
    """An element-wise op; `cost` is its FLOPs per element (or the rule in words when a
    `flops` rule is given in `extra`)."""
    always = tuple(a.name for a in attrs if a.name == "dim")  # nn.Softmax's default dim warns
    if isinstance(cost, int):
        extra = {"flops": per_element(cost), "flops_rule": f"{cost} per element", **extra}
    else:
        extra = {"flops_rule": cost, **extra}
    # PyTorch's module, its functional form, and torch.<name> where that exists too
    spellings = (callee, f"F.{name}", *((f"torch.{name}",) if name in _TORCH_FUNCTIONS else ()))
    op = Op(
        name=name,
        role=Role.ACTIVATION,
        doc=f"{doc} ({callee})",
        torch=spellings,
        attrs=attrs,
        shape=same_shape,
        module=lambda op, a, inputs: standard_construct(callee, a, op, positional=(),
                                                        always=always),
        shape_rule="unchanged",
        alias=_inplace,
        **extra,  # type: ignore[arg-type]
    )
    return register(op)


def _gelu_flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    return (9 if attrs["approximate"] == "tanh" else 5) * numel(output)


def _along_dim(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    """softmax over a spatial dim reads that whole dim; over channels it is pointwise."""
    rank = len(inputs[0])
    dim = attrs["dim"] % rank
    if dim < 2:
        return None
    return tuple(None if axis == dim else Window(1) for axis in range(2, rank))


INPLACE = Attr("inplace", BOOL, False, "overwrite the input")
_TORCH_FUNCTIONS = ("relu", "sigmoid", "tanh", "softmax", "log_softmax")
SOFTMAX_WINDOW = "pointwise, except that a softmax over a spatial dim reads all of that dim"

# FLOPs per element count each add, multiply, compare, divide and exp/erf/tanh as 1
_activation("relu", "nn.ReLU", "max(0, x)", 1, INPLACE)
_activation("relu6", "nn.ReLU6", "min(max(0, x), 6)", 2, INPLACE)
_activation("leaky_relu", "nn.LeakyReLU", "x if x ≥ 0 else negative_slope·x", 2,
            Attr("negative_slope", FLOAT32, 0.01, "slope for x < 0"), INPLACE)
_activation("elu", "nn.ELU", "exponential linear unit", 4, Attr("alpha", FLOAT32, 1.0, "scale"),
            INPLACE)
_activation("gelu", "nn.GELU", "Gaussian error linear unit",
            "5 per element (erf form: scale, erf, add, 2 mul); 9 with approximate='tanh'",
            Attr("approximate", STR, "none", "'none' or 'tanh'", choices=("none", "tanh")),
            flops=_gelu_flops)
_activation("silu", "nn.SiLU", "x·sigmoid(x)", 4, INPLACE)
_activation("sigmoid", "nn.Sigmoid", "1 / (1 + e^-x)", 3)
_activation("tanh", "nn.Tanh", "hyperbolic tangent", 1)
_activation("hardswish", "nn.Hardswish", "x·relu6(x + 3) / 6", 5, INPLACE)
_activation("hardsigmoid", "nn.Hardsigmoid", "relu6(x + 3) / 6", 4, INPLACE)
_activation("softmax", "nn.Softmax", "exponentials normalised to sum 1 along dim", 5,
            Attr("dim", INT, -1, "the dimension that sums to 1"), infer=_check_dim,
            window=_along_dim, window_rule=SOFTMAX_WINDOW,
            flops_rule="5 per element (max, subtract, exp, sum, divide)")
_activation("log_softmax", "nn.LogSoftmax", "log of softmax along dim", 5,
            Attr("dim", INT, -1, "the dimension that sums to 1"), infer=_check_dim,
            window=_along_dim, window_rule=SOFTMAX_WINDOW,
            flops_rule="5 per element (max, subtract, exp, sum, subtract the log-sum)")


def _prelu_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    count, x = attrs["num_parameters"], inputs[0]
    if count < 1:
        raise OpError("prelu: num_parameters must be 1 or more", attr="num_parameters",
                      found=str(count))
    if count != 1 and (len(x) < 2 or x[1] != count):
        raise OpError(f"prelu: {count} slopes need {count} channels (dim 1)",
                      attr="num_parameters", expected="1, or the channels (dim 1)",
                      found=format_shape(x))
    return attrs


PRELU = register(Op(
    name="prelu",
    role=Role.ACTIVATION,
    doc="x if x ≥ 0 else a·x, with a learned slope a, one for all channels or one per channel "
        "(nn.PReLU).",
    attrs=(Attr("num_parameters", INT, 1, "slopes: 1, or one per channel"),
           # nn.PReLU's `init` (archc's `init` names a weight-initialisation scheme)
           Attr("value", FLOAT32, 0.25, "the slopes' first value")),
    infer=_prelu_infer,
    shape=same_shape,
    params=lambda attrs, inputs: attrs["num_parameters"],
    module=lambda op, attrs, inputs: standard_construct("nn.PReLU", attrs, op, positional=(),
                                                        rename={"value": "init"}),
    shape_rule="unchanged; num_parameters is 1 or the channels",
    flops=per_element(2),
    flops_rule="2 per element",
    torch=("nn.PReLU", "F.prelu"),
))
