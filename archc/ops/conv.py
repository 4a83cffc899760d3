"""Convolutions: conv and conv_transpose, 1d/2d/3d chosen by the input's rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from math import prod
from typing import Any

from archc.ops.init import check_init, init_attr
from archc.ops.registry import (
    BOOL,
    CHANNELS,
    DEFAULT_INIT,
    INT,
    INT64_MAX,
    INTS,
    PADDING,
    STR,
    TENSOR,
    WITH_BIAS,
    Attr,
    Attrs,
    Construct,
    Op,
    OpError,
    Reach,
    Role,
    Shape,
    Window,
    by_rank,
    channels,
    check_tensor_size,
    expand,
    format_shape,
    known_spatial,
    numel,
    register,
    spatial_rank,
    standard_construct,
    static_dims,
    with_bias,
)


def _check_groups(op: str, in_channels: int, out_channels: int, groups: int) -> None:
    if out_channels < 1:
        raise OpError(f"{op}: out_channels must be at least 1", attr="out_channels",
                      found=str(out_channels))
    if groups < 1:
        raise OpError(f"{op}: groups must be at least 1", attr="groups", found=str(groups))
    for what, value in (("input channels", in_channels), ("out_channels", out_channels)):
        if value % groups:
            raise OpError(f"{op}: groups={groups} does not divide the {what} ({value})",
                          attr="groups", expected=f"a divisor of {value}", found=str(groups))


def _geometry(op: str, attrs: Attrs, rank: int) -> tuple[tuple[int, ...], ...]:
    kernel = expand(op, "kernel_size", attrs["kernel_size"], rank)  # [k] is no kernel for 2d
    stride = expand(op, "stride", attrs["stride"], rank, one_for_all=True)
    dilation = expand(op, "dilation", attrs["dilation"], rank, one_for_all=True)
    for name, values in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v < 1 for v in values):
            raise OpError(f"{op}: {name} must be at least 1", attr=name, found=str(attrs[name]))
    return kernel, stride, dilation


def _padding(op: str, attrs: Attrs, rank: int, kernel: tuple[int, ...],
             dilation: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...] | str:
    padding = attrs["padding"]
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * rank
        if padding != "same":
            raise OpError(f"{op}: unknown padding '{padding}'", attr="padding",
                          expected="an integer, 'same' or 'valid'", found=repr(padding))
        if any(s != 1 for s in stride):
            raise OpError(f"{op}: padding='same' needs stride 1", attr="padding",
                          found=f"stride={attrs['stride']}")
        return "same"
    # nn.Conv reads [p] as p in every dim, but its padding_mode path (F.pad) does not
    values = expand(op, "padding", padding, rank,
                    one_for_all=attrs.get("padding_mode", "zeros") == "zeros")
    if any(p < 0 for p in values):
        raise OpError(f"{op}: padding must not be negative", attr="padding", found=str(padding))
    return values


def conv_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    rank = spatial_rank("conv", inputs[0])
    in_channels = channels("conv", inputs[0])  # a given in_channels was checked (register)
    _check_groups("conv", in_channels, attrs["out_channels"], attrs["groups"])
    kernel, _, _ = _geometry("conv", attrs, rank)
    weight = attrs.get("weight")
    expected = (attrs["out_channels"], in_channels // attrs["groups"], *kernel)
    if weight is not None:
        found = _nested_shape(weight)
        if found != expected:
            raise OpError("conv: the fixed weight has the wrong shape", attr="weight",
                          expected=str(list(expected)), found=str(list(found)))
        if attrs.get("init", DEFAULT_INIT) != DEFAULT_INIT:
            raise OpError("conv: init and a fixed weight both set the weight", attr="init",
                          expected="one of them")
    check_tensor_size("conv", "weight", expected, attr="out_channels")
    check_init("conv", attrs, expected)
    if attrs["padding_mode"] not in ("zeros", "reflect", "replicate", "circular"):
        raise OpError("conv: unknown padding_mode", attr="padding_mode",
                      expected="'zeros', 'reflect', 'replicate' or 'circular'",
                      found=repr(attrs["padding_mode"]))
    return {**attrs, "in_channels": in_channels}


def _nested_shape(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


# the largest padding each padding_mode can take, given the input size: reflect mirrors
# inside the input (padding < size), circular wraps around at most once (padding ≤ size)
_MODE_LIMITS = {"reflect": (0, "less than"), "circular": (1, "at most")}


def _check_padding_mode(attrs: Attrs, x: Shape, padding: tuple[int, ...] | str,
                        kernel: tuple[int, ...], dilation: tuple[int, ...]) -> None:
    mode = attrs["padding_mode"]
    if mode not in _MODE_LIMITS:
        return
    slack, words = _MODE_LIMITS[mode]
    pads = padding
    if isinstance(pads, str):  # 'same': PyTorch puts the odd element of d·(k−1) on the right
        totals = (d * (k - 1) for k, d in zip(kernel, dilation, strict=True))
        pads = tuple(total - total // 2 for total in totals)
    for size, pad in zip(known_spatial("conv", x), pads, strict=True):
        if pad >= size + slack:
            raise OpError(
                f"conv: padding_mode='{mode}' needs padding {words} the input size",
                attr="padding", expected=f"padding {words} {size} per side",
                found=f"padding {pad} for input {format_shape(x)}",
            )


def conv_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    rank = spatial_rank("conv", x)
    kernel, stride, dilation = _geometry("conv", attrs, rank)
    padding = _padding("conv", attrs, rank, kernel, dilation, stride)
    _check_padding_mode(attrs, x, padding, kernel, dilation)
    if isinstance(padding, str):  # 'same' keeps every size, a symbol too (a sequence length)
        return (x[0], attrs["out_channels"], *x[2:])
    out = []
    for size, k, s, d, p in zip(known_spatial("conv", x), kernel, stride, dilation, padding,
                                strict=True):
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise OpError(
                "conv: kernel larger than the padded input",
                expected=f"padded size ≥ {span} (kernel {k}, dilation {d})",
                found=f"input {format_shape(x)} with padding {p} gives {size + 2 * p}",
                notes=["dilation·(kernel − 1) overflows 64 bits: PyTorch would wrap around "
                       "and compute a wrong size"] if span > INT64_MAX else [],
            )
        out.append((size + 2 * p - span) // s + 1)
    return (x[0], attrs["out_channels"], *out)


def conv_params(attrs: Attrs, inputs: Sequence[Shape]) -> int:
    rank = len(inputs[0]) - 2
    kernel = expand("conv", "kernel_size", attrs["kernel_size"], rank)
    per_group = channels("conv", inputs[0]) // attrs["groups"]
    weight = attrs["out_channels"] * per_group * prod(kernel)
    return int(weight + (attrs["out_channels"] if attrs["bias"] else 0))


def conv_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    rank = len(inputs[0]) - 2
    kernel = expand("conv", "kernel_size", attrs["kernel_size"], rank)
    per_group = channels("conv", inputs[0]) // attrs["groups"]
    return int(numel(output) * per_group * prod(kernel))


def conv_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    rank = len(inputs[0]) - 2
    kernel, stride, dilation = _geometry("conv", attrs, rank)
    padding = _padding("conv", attrs, rank, kernel, dilation, stride)
    if isinstance(padding, str):  # 'same': PyTorch pads d·(k−1) // 2 on the left
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    return tuple(Window(k, s, p, d)
                 for k, s, p, d in zip(kernel, stride, padding, dilation, strict=True))


def _key(attrs: Attrs) -> str:
    kernel = attrs["kernel_size"]
    text = "x".join(map(str, kernel)) if isinstance(kernel, tuple) else f"{kernel}x{kernel}"
    stride = attrs["stride"]
    if stride != 1:
        text += f" /{stride if isinstance(stride, int) else 'x'.join(map(str, stride))}"
    return f"{text}, {attrs['out_channels']}"


_COMMON = (
    Attr("stride", INTS, 1, "step between kernel applications ([s] means s in every dim)"),
    Attr("padding", PADDING, 0, "zeros added on each side; 'same' keeps the size (stride 1)"),
    Attr("dilation", INTS, 1, "spacing between kernel elements"),
    Attr("groups", INT, 1, "blocked connections; divides in and out channels"),
    Attr("bias", BOOL, True, "add a learnable bias"),
    Attr("padding_mode", STR, "zeros", "'zeros', 'reflect', 'replicate' or 'circular'"),
)

CONV = register(Op(
    name="conv",
    writable_output=True,
    role=Role.CONVOLUTION,
    bias="bias",
    doc="Convolution over 1, 2 or 3 spatial dims (Conv1d/2d/3d by input rank).",
    attrs=(
        Attr("out_channels", INT, doc="output channels"),
        Attr("kernel_size", INTS, doc="kernel size, one int or one per spatial dim (PyTorch "
             "takes no one-value list here)"),
        *_COMMON,
        Attr("in_channels", INT, None, "input channels (inferred)", inferred=True,
             from_input=CHANNELS),
        Attr("weight", TENSOR, None, "fixed initial weights [out, in/groups, *kernel]",
             keyword_only=True),
        init_attr(),
    ),
    infer=conv_infer,
    shape=conv_shape,
    params=conv_params,
    macs=conv_macs,
    flops=with_bias(conv_macs),
    window=conv_window,
    module=lambda op, attrs, inputs: _with_weight(standard_construct(
        f"nn.Conv{len(inputs[0]) - 2}d", attrs, op,
        positional=("in_channels", "out_channels", "kernel_size"), omit=("weight",),
    ), attrs),
    shape_rule="[N, C, *S] → [N, out_channels, *S'], S' = ⌊(S + 2·padding − dilation·(kernel−1)"
               " − 1) / stride⌋ + 1 per spatial dim (S' = S for padding='same')",
    macs_rule="out_channels·∏S' (the output elements) × in_channels/groups × ∏kernel",
    flops_rule=WITH_BIAS,
    window_rule="a window of kernel, stride, padding and dilation per spatial dim ('same' pads "
                "dilation·(kernel−1)//2 on the left)",
    key=_key,
    torch=by_rank("nn.Conv{}d", "nn.LazyConv{}d", "F.conv{}d"),
))


def _with_weight(construct: Construct, attrs: Attrs) -> Construct:
    if attrs.get("weight") is None:
        return construct
    return replace(construct, tensors=(("weight", attrs["weight"]),))


def conv_transpose_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    rank = spatial_rank("conv_transpose", inputs[0])
    in_channels = channels("conv_transpose", inputs[0])
    _check_groups("conv_transpose", in_channels, attrs["out_channels"], attrs["groups"])
    kernel, _, _ = _geometry("conv_transpose", attrs, rank)
    weight = (in_channels, attrs["out_channels"] // attrs["groups"], *kernel)
    check_tensor_size("conv_transpose", "weight", weight, attr="out_channels")
    check_init("conv_transpose", attrs, weight)
    return {**attrs, "in_channels": in_channels}


def conv_transpose_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    rank = spatial_rank("conv_transpose", x)
    kernel, stride, dilation = _geometry("conv_transpose", attrs, rank)
    padding = expand("conv_transpose", "padding", attrs["padding"], rank, one_for_all=True)
    extra = expand("conv_transpose", "output_padding", attrs["output_padding"], rank,
                   one_for_all=True)
    for name, values in (("padding", padding), ("output_padding", extra)):
        if any(v < 0 for v in values):
            raise OpError(f"conv_transpose: {name} must not be negative", attr=name,
                          found=str(attrs[name]))
    for e, s, d in zip(extra, stride, dilation, strict=True):
        if e >= max(s, d):
            raise OpError("conv_transpose: output_padding must be smaller than stride or "
                          "dilation", attr="output_padding", found=str(attrs["output_padding"]))
    out = []
    for size, k, s, d, p, e in zip(known_spatial("conv_transpose", x), kernel, stride, dilation,
                                   padding, extra, strict=True):
        out.append((size - 1) * s - 2 * p + d * (k - 1) + e + 1)
    output = (x[0], attrs["out_channels"], *out)
    if any(d <= 0 for d in static_dims(output)):
        raise OpError(f"conv_transpose output size would be {format_shape(output)}",
                      attr="padding", expected="sizes ≥ 1", found=format_shape(output))
    return output


def conv_transpose_params(attrs: Attrs, inputs: Sequence[Shape]) -> int:
    rank = len(inputs[0]) - 2
    kernel = expand("conv_transpose", "kernel_size", attrs["kernel_size"], rank)
    per_group = attrs["out_channels"] // attrs["groups"]
    weight = channels("conv_transpose", inputs[0]) * per_group * prod(kernel)
    return int(weight + (attrs["out_channels"] if attrs["bias"] else 0))


def conv_transpose_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    rank = len(inputs[0]) - 2
    kernel = expand("conv_transpose", "kernel_size", attrs["kernel_size"], rank)
    per_input = (attrs["out_channels"] // attrs["groups"]) * prod(kernel)
    return int(numel(inputs[0]) * per_input)


def conv_transpose_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    """Output o reads inputs i with i·stride = o + padding − j·dilation (j < kernel): at most
    ⌊dilation·(kernel−1)/stride⌋ + 1 neighbouring inputs, one output step being 1/stride of
    an input step, centred on (o + padding − dilation·(kernel−1)/2) / stride."""
    rank = len(inputs[0]) - 2
    kernel, stride, dilation = _geometry("conv_transpose", attrs, rank)
    padding = expand("conv_transpose", "padding", attrs["padding"], rank, one_for_all=True)
    windows = []
    for k, s, d, p in zip(kernel, stride, dilation, padding, strict=True):
        reach = d * (k - 1) // s
        shift = Fraction(2 * p - d * (k - 1), 2 * s)  # centre of output 0, in input steps
        windows.append(Window(reach + 1, Fraction(1, s), Fraction(reach, 2) - shift, 1))
    return tuple(windows)


CONV_TRANSPOSE = register(Op(
    name="conv_transpose",
    writable_output=True,
    role=Role.CONVOLUTION,
    bias="bias",
    doc="Transposed convolution (ConvTranspose1d/2d/3d by input rank).",
    attrs=(
        Attr("out_channels", INT, doc="output channels"),
        Attr("kernel_size", INTS, doc="kernel size"),
        Attr("stride", INTS, 1, "upsampling factor"),
        Attr("padding", INTS, 0, "implicit zero padding removed from the output"),
        Attr("output_padding", INTS, 0, "extra size added to one side of the output"),
        Attr("groups", INT, 1, "blocked connections"),
        Attr("bias", BOOL, True, "add a learnable bias"),
        Attr("dilation", INTS, 1, "spacing between kernel elements"),
        Attr("in_channels", INT, None, "input channels (inferred)", inferred=True,
             from_input=CHANNELS),
        init_attr(),
    ),
    infer=conv_transpose_infer,
    shape=conv_transpose_shape,
    params=conv_transpose_params,
    macs=conv_transpose_macs,
    flops=with_bias(conv_transpose_macs),
    window=conv_transpose_window,
    module=lambda op, attrs, inputs: standard_construct(
        f"nn.ConvTranspose{len(inputs[0]) - 2}d", attrs, op,
        positional=("in_channels", "out_channels", "kernel_size"),
    ),
    shape_rule="[N, C, *S] → [N, out_channels, *S'], S' = (S − 1)·stride − 2·padding + "
               "dilation·(kernel − 1) + output_padding + 1",
    macs_rule="C·∏S (the input elements) × out_channels/groups × ∏kernel: each input element "
              "is scattered over a kernel-sized patch of every output channel in its group",
    flops_rule=WITH_BIAS,
    window_rule="an output position reads ⌊dilation·(kernel−1)/stride⌋ + 1 neighbouring inputs; "
                "the effective stride divides by stride",
    key=_key,
    torch=by_rank("nn.ConvTranspose{}d", "nn.LazyConvTranspose{}d", "F.conv_transpose{}d"),
))
