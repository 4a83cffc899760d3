"""Pooling: maxpool, avgpool (kernel, stride defaulting to kernel, padding, ceil_mode) and the
adaptive pools, 1d/2d/3d by the input's rank."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from archc.ops.registry import (
    BATCH,
    BOOL,
    INTS,
    OPTIONAL_INT,
    OPTIONAL_INTS,
    SIZE,
    Attr,
    Attrs,
    Count,
    Dim,
    Op,
    OpError,
    Reach,
    Role,
    Shape,
    Window,
    by_rank,
    channels,
    check_positive_output,
    expand,
    format_shape,
    is_static,
    known,
    known_spatial,
    numel,
    register,
    spatial_rank,
    standard_construct,
    static_dims,
)


def pooled_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                ceil_mode: bool) -> int:
    """PyTorch's pooling output size, including its ceil_mode rule that the last window must
    start inside the input or the left padding."""
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * padding - span
    out = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1  # exact integers
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_shape(name: str, dilated: bool,  # type: ignore[no-untyped-def]
                unpadded_fit: tuple[int, ...] = ()):
    """`unpadded_fit`: the spatial ranks at which PyTorch wants the kernel to fit the input
    before padding (avg_pool3d checks `input ≥ kernel` in every dim)."""

    def shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
        x = inputs[0]
        rank = spatial_rank(name, x)
        windows = _geometry(name, attrs, rank, dilated)
        kernel = tuple(w.kernel for w in windows)
        stride = tuple(int(w.stride) for w in windows)
        padding = tuple(int(w.padding) for w in windows)
        dilation = tuple(w.dilation for w in windows)
        stride_value = _stride(attrs)
        if rank > 1 or name == "avgpool":  # these kernels take C ints (max_pool1d takes int64)
            _check_int32(name, rank, {"kernel_size": kernel, "stride": stride,
                                      "padding": padding, "dilation": dilation})
        for attr, values in (("kernel_size", kernel), ("stride", stride),
                             ("dilation", dilation)):
            if any(v < 1 for v in values):
                raise OpError(f"{name}: {attr} must be at least 1", attr=attr,
                              expected=f"{attr} ≥ 1", found=_list(attrs.get(attr)))
        for k, p in zip(kernel, padding, strict=True):
            if p < 0 or 2 * p > k:  # PyTorch: half the kernel itself, whatever the dilation
                raise OpError(f"{name}: padding should be at most half the kernel size",
                              attr="padding", expected=f"0 ≤ padding ≤ {k // 2}",
                              found=_list(attrs["padding"]))
        sizes = known_spatial(name, x)
        if rank in unpadded_fit and any(size < k for size, k in zip(sizes, kernel, strict=True)):
            raise OpError(f"{name}: the input is smaller than the kernel",
                          attr="kernel_size", expected=f"each spatial size ≥ the kernel "
                          f"{list(kernel)}, padding aside", found=f"input {format_shape(x)}",
                          notes=[f"PyTorch's {rank}d {name} checks the unpadded input"])
        out = tuple(
            pooled_size(size, k, s, p, d, attrs["ceil_mode"])
            for size, k, s, p, d in zip(sizes, kernel, stride, padding, dilation, strict=True)
        )
        return check_positive_output(
            name, (x[0], x[1], *out), x,
            f"kernel {_list(attrs['kernel_size'])} with stride {_list(stride_value)} and padding "
            f"{_list(attrs['padding'])} does not fit the input",
        )

    return shape


def _stride(attrs: Attrs) -> int | tuple[int, ...]:
    """The stride as written, the kernel when it is none or [] (PyTorch's default for both)."""
    stride = attrs["stride"]
    return attrs["kernel_size"] if stride is None or stride == () else stride  # type: ignore[no-any-return]


def _geometry(name: str, attrs: Attrs, rank: int, dilated: bool) -> list[Window]:
    """Each spatial dim's window. A one-value list means that value in every dim, as
    PyTorch's pooling functions read it."""
    kernel = expand(name, "kernel_size", attrs["kernel_size"], rank, one_for_all=True)
    stride = expand(name, "stride", _stride(attrs), rank, one_for_all=True)
    padding = expand(name, "padding", attrs["padding"], rank, one_for_all=True)
    dilation = (expand(name, "dilation", attrs["dilation"], rank, one_for_all=True)
                if dilated else (1,) * rank)
    return [Window(k, s, p, d)
            for k, s, p, d in zip(kernel, stride, padding, dilation, strict=True)]


INT32_MAX = 2**31 - 1


def _check_int32(name: str, rank: int, values: dict[str, tuple[int, ...]]) -> None:
    """PyTorch's 2d and 3d pools, and every avg pool, convert their geometry to 32-bit ints
    ("value cannot be converted to type int without overflow")."""
    for attr, numbers in values.items():
        if any(abs(v) > INT32_MAX for v in numbers):
            raise OpError(f"{name}: {attr} is too large for PyTorch's {rank}d {name}",
                          attr=attr, expected=f"at most {INT32_MAX:,} (a 32-bit integer)",
                          found=str(max(numbers, key=abs)))


def _pool_window(name: str, dilated: bool):  # type: ignore[no-untyped-def]
    def window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
        return tuple(_geometry(name, attrs, len(inputs[0]) - 2, dilated))

    return window


def _pool_flops(name: str, dilated: bool, extra: int) -> Count:
    """(∏kernel − 1) comparisons or additions per output element, plus `extra` (a divide)."""
    def flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        windows = _geometry(name, attrs, len(inputs[0]) - 2, dilated)
        return (math.prod(w.kernel for w in windows) - 1 + extra) * numel(output)

    return flops


def _list(value: object) -> str:
    """A value as the spec writes it: [3, 3], not (3, 3)."""
    return str(list(value)) if isinstance(value, tuple) else str(value)


def _key(attrs: Attrs) -> str:
    kernel, stride = attrs["kernel_size"], attrs["stride"]
    text = "x".join(map(str, kernel)) if isinstance(kernel, tuple) else f"{kernel}x{kernel}"
    if stride is not None and stride != kernel:
        text += f" /{stride}"
    return text


_WINDOW = (
    Attr("kernel_size", INTS, doc="window size; here and below a one-value list means that "
         "value in every dim, as in PyTorch"),
    Attr("stride", OPTIONAL_INTS, None, "step between windows (default, also for []: "
         "kernel_size)"),
    Attr("padding", INTS, 0, "implicit padding on each side, at most half the kernel"),
)
CEIL = Attr("ceil_mode", BOOL, False, "round the output size up instead of down")
RULE = ("[N, C, *S] → [N, C, *S'], S' = ⌊(S + 2·padding − dilation·(kernel−1) − 1) / stride⌋ + 1"
        " (⌈⌉ with ceil_mode, the last window starting inside the input)")

MAXPOOL = register(Op(
    name="maxpool",
    role=Role.POOL,
    doc="Max pooling (MaxPool1d/2d/3d by input rank).",
    attrs=(*_WINDOW, Attr("dilation", INTS, 1, "spacing between window elements"), CEIL),
    shape=_pool_shape("maxpool", dilated=True),
    flops=_pool_flops("maxpool", dilated=True, extra=0),
    window=_pool_window("maxpool", dilated=True),
    flops_rule="∏kernel − 1 comparisons per output element (padding included)",
    window_rule="a window of kernel, stride (default: kernel), padding and dilation per "
                "spatial dim",
    module=lambda op, attrs, inputs: standard_construct(
        f"nn.MaxPool{len(inputs[0]) - 2}d", attrs, op, positional=("kernel_size",)),
    shape_rule=RULE,
    key=_key,
    torch=by_rank("nn.MaxPool{}d", "F.max_pool{}d"),
))

def _avgpool_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    divisor = attrs["divisor_override"]
    if divisor is None:
        return attrs
    if len(inputs[0]) == 3:
        raise OpError("avgpool: divisor_override is not available for a [N, C, L] input",
                      attr="divisor_override", expected="no divisor_override (AvgPool1d has "
                      "none)", found=f"input {format_shape(inputs[0])}")
    if divisor < 1:  # PyTorch refuses 0 only; a negative divisor flips every average's sign
        raise OpError("avgpool: divisor_override must be at least 1", attr="divisor_override",
                      expected="divisor_override ≥ 1", found=str(divisor),
                      notes=["PyTorch would take a negative divisor and flip the sign of "
                             "every average; archc takes that for a mistake"]
                      if divisor < 0 else [])
    return attrs


AVGPOOL = register(Op(
    name="avgpool",
    role=Role.POOL,
    doc="Average pooling (AvgPool1d/2d/3d by input rank).",
    attrs=(
        *_WINDOW, CEIL,
        Attr("count_include_pad", BOOL, True, "count padding zeros in the average"),
        Attr("divisor_override", OPTIONAL_INT, None, "divide by this instead of the window size"),
    ),
    infer=_avgpool_infer,
    shape=_pool_shape("avgpool", dilated=False, unpadded_fit=(3,)),
    flops=_pool_flops("avgpool", dilated=False, extra=1),
    window=_pool_window("avgpool", dilated=False),
    flops_rule="∏kernel per output element (∏kernel − 1 additions and a divide)",
    window_rule="a window of kernel, stride (default: kernel) and padding per spatial dim",
    module=lambda op, attrs, inputs: standard_construct(
        f"nn.AvgPool{len(inputs[0]) - 2}d", attrs, op, positional=("kernel_size",),
        omit=("divisor_override",) if len(inputs[0]) == 3 else ()),
    shape_rule=RULE.replace("dilation·(kernel−1) − 1", "kernel"),
    key=_key,
    torch=by_rank("nn.AvgPool{}d", "F.avg_pool{}d"),
))


def _adaptive_shape(name: str):  # type: ignore[no-untyped-def]
    def shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
        x = inputs[0]
        rank = spatial_rank(name, x)
        size = attrs["output_size"]
        sizes = (size,) * rank if isinstance(size, int) else tuple(size)
        if len(sizes) != rank:
            raise OpError(f"{name}: output_size has {len(sizes)} values for {rank} spatial dims",
                          attr="output_size", found=str(size))
        if rank == 1 and None in sizes:  # AdaptiveAvgPool1d/MaxPool1d reject None
            raise OpError(f"{name}: none (keep the size) needs 2 or 3 spatial dims",
                          attr="output_size", expected=f"an integer for {format_shape(x)}",
                          found=str(size))
        # none keeps the input's size there, a symbol too (pooling a sequence to a fixed size)
        out = tuple(s if v is None else v for s, v in zip(x[2:], sizes, strict=True))
        if any(v < 1 for v in static_dims(out)):
            raise OpError(f"{name}: output_size must be at least 1", attr="output_size",
                          found=format_shape((BATCH, *out)))
        return (x[0], x[1], *out)

    return shape


def _bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one dim: [⌊o·size/out⌋, ⌈(o+1)·size/out⌉)."""
    return [(o * size // out, -(-(o + 1) * size // out)) for o in range(out)]


def _adaptive_sizes(attrs: Attrs, x: Shape) -> list[tuple[Dim, Dim]]:
    """(input size, output size) per spatial dim; either may be a symbol (an input dim the
    pool keeps, or pools to a fixed size)."""
    size = attrs["output_size"]
    rank = len(x) - 2
    sizes = (size,) * rank if isinstance(size, int) else tuple(size)
    return [(n, n if m is None else m) for n, m in zip(x[2:], sizes, strict=True)]


def widest_bin(size: int, out: int) -> int:
    """The widest of PyTorch's adaptive windows along one dim, without listing them (`out` may
    be huge): a window starting at fraction f of an input step is ⌈f + size/out⌉ wide, and the
    starts o·size/out have fractions that are multiples of gcd/out, the largest (out − gcd)/out."""
    return -(-(size + out - math.gcd(size, out)) // out)


def _adaptive_window(name: str):  # type: ignore[no-untyped-def]
    def window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
        windows: list[Window | None] = []
        for axis, (n, m) in enumerate(_adaptive_sizes(attrs, inputs[0])):
            if m == 1:
                windows.append(None)  # one value over the whole dim, whatever its size
                continue
            if n == m:  # a kept dim (none in output_size): each position reads its own
                windows.append(Window(1))
                continue
            n = known(name, inputs[0], axis + 2, "a spatial size")
            assert is_static(m)  # a symbol in the output is only ever a kept input dim
            if n % m == 0:
                windows.append(Window(n // m, n // m))
            else:  # uneven windows: the widest, n/m apart, centred like the first [0, ⌈n/m⌉)
                widest = widest_bin(n, m)
                windows.append(Window(widest, Fraction(n, m), Fraction(widest - -(-n // m), 2)))
        return tuple(windows)

    return window


def _adaptive_flops(name: str, extra: int) -> Count:
    """Each input element of each window once (windows may overlap), minus one per output
    element, plus `extra` per output element (avg: the divide). Counted per value of the
    symbols, as `numel`: a dim with a symbol on either side is left out of the product."""
    def flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        # the windows of one dim together read n + m − gcd(n, m) elements: Σ⌈(o+1)·n/m⌉ −
        # Σ⌊o·n/m⌋ over o < m, where ⌈⌉ exceeds ⌊⌋ for all but the gcd(n, m) exact multiples
        read = math.prod(n + m - math.gcd(n, m) for n, m in _adaptive_sizes(attrs, inputs[0])
                         if is_static(n) and is_static(m))
        return channels(name, inputs[0]) * read + (extra - 1) * numel(output)

    return flops


def _adaptive(name: str, kind: str) -> Op:
    op = Op(
        name=name,
        role=Role.POOL,
        doc=f"Adaptive {kind} pooling to a fixed output size (Adaptive{kind.capitalize()}Pool1d/"
            "2d/3d by input rank).",
        attrs=(Attr("output_size", SIZE, doc="output size; none keeps that dimension"),),
        shape=_adaptive_shape(name),
        module=lambda op, attrs, inputs: standard_construct(
            f"nn.Adaptive{kind.capitalize()}Pool{len(inputs[0]) - 2}d", attrs, op,
            positional=("output_size",)),
        shape_rule="[N, C, *S] → [N, C, *output_size]",
        flops=_adaptive_flops(name, 1 if kind == "avg" else 0),
        flops_rule="the elements of every window (additions, comparisons) minus 1 per output "
                   "element" + (", plus a divide per output element" if kind == "avg" else ""),
        window=_adaptive_window(name),
        window_rule="output size 1: the whole dim; else windows ⌊o·S/out⌋ .. ⌈(o+1)·S/out⌉, S/out "
                    "apart (the widest one when they are uneven)",
        key=lambda attrs: f"→ {attrs['output_size']}",
        torch=by_rank(f"nn.Adaptive{kind.capitalize()}Pool{{}}d", f"F.adaptive_{kind}_pool{{}}d"),
    )
    return register(op)


_adaptive("adaptive_avgpool", "avg")
_adaptive("adaptive_maxpool", "max")
