"""Merges: concat, add and mul over branches, and resize (the first branch to the size of the
second). They hold no state: each is a forward expression, never a module."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    BOOL,
    GLOBAL,
    INT,
    STR,
    Attr,
    Attrs,
    Count,
    Dim,
    Op,
    OpError,
    Role,
    Shape,
    format_shape,
    known,
    numel,
    register,
)

_DIM_NAMES = {1: "channels", 2: "height", 3: "width"}
MERGE_WINDOW = "pointwise; the field is the hull of the branches' fields (see docs/analysis.md)"


def _describe(shapes: Sequence[Shape]) -> str:
    return ", ".join(f"branch {i + 1} gives {format_shape(s)}" for i, s in enumerate(shapes))


def _need_inputs(op: str, inputs: Sequence[Shape]) -> None:
    if len(inputs) < 1:
        raise OpError(f"{op} needs at least one branch")


def concat_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    _need_inputs("concat", inputs)
    first = inputs[0]
    rank = len(first)
    if any(len(s) != rank for s in inputs):
        raise OpError("concat branches disagree in rank", found=_describe(inputs))
    dim = attrs["dim"]
    if not -rank < dim < rank or dim % rank == 0:
        raise OpError(f"concat: dim={dim} is not a non-batch dim of {format_shape(first)}",
                      attr="dim", expected=f"1 ≤ dim < {rank}")
    dim %= rank
    for axis in range(1, rank):
        if axis == dim:
            continue
        sizes = {s[axis] for s in inputs}
        if len(sizes) > 1:
            what = _DIM_NAMES.get(axis, f"dim {axis}") if rank == 4 else f"dim {axis}"
            raise OpError(f"concat branches disagree in {what}", found=_describe(inputs),
                          notes=[f"concat joins on dim {dim}; every other dim must match"])
    total = sum(known("concat", s, dim, "the dim it joins on") for s in inputs)
    return (*first[:dim], total, *first[dim + 1:])


CONCAT = register(Op(
    name="concat",
    role=Role.MERGE,
    doc="Concatenate the branches along dim (channels by default; torch.cat).",
    attrs=(Attr("dim", INT, 1, "the dim to join on"),),
    shape=concat_shape,
    function=lambda attrs, args: f"torch.cat([{', '.join(args)}], dim={attrs['dim']})",
    gather=lambda attrs, items: f"torch.cat({items}, dim={attrs['dim']})",
    arity=None,
    shape_rule="sizes add up along dim; every other dim must agree",
    flops_rule="0 (a copy)",
    window_rule=MERGE_WINDOW,
    torch=("torch.cat", "torch.concat", "torch.concatenate"),
))


def _between_branches(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    """add and mul: one operation per output element between each pair of branches."""
    return (len(inputs) - 1) * numel(output)


PAIRWISE: Count = _between_branches


def broadcast(op: str, inputs: Sequence[Shape], exact: bool) -> Shape:
    _need_inputs(op, inputs)
    rank = max(len(s) for s in inputs)
    if not exact and any(len(s) != rank for s in inputs):
        # every branch starts with the batch dim: PyTorch aligns shapes from the right, so a
        # shorter branch's batch dim would meet a feature dim of a longer one
        raise OpError(f"{op} branches disagree in rank", found=_describe(inputs),
                      expected="branches of equal rank (sizes equal or 1 in every dim)",
                      notes=["reshape the smaller branch, e.g. reshape(c, 1, 1) for a "
                             "[N, C] gate on [N, C, H, W]"])
    out: list[Dim] = []
    for axis in range(rank):
        sizes = {s[axis - rank + len(s)] for s in inputs if axis - rank + len(s) >= 0}
        # a symbol (the batch) broadcasts only with itself or 1: equal symbols are one size,
        # while a symbol and a number, or two symbols, may differ when the network runs
        concrete = {s for s in sizes if s != 1} if not exact else sizes
        if len(concrete) > 1 or (exact and any(len(s) != rank for s in inputs)):
            what = "shapes" if exact else "shapes that do not broadcast"
            raise OpError(f"{op} branches disagree: {what}", found=_describe(inputs),
                          expected="equal shapes" if exact else
                          "sizes equal or 1 in every dim (PyTorch broadcasting)")
        out.append(next(iter(concrete)) if concrete else 1)
    return tuple(out)


ADD = register(Op(
    name="add",
    role=Role.MERGE,
    doc="Element-wise sum of the branches (residual connections); shapes must be equal.",
    attrs=(),
    shape=lambda attrs, inputs: broadcast("add", inputs, exact=True),
    function=lambda attrs, args: " + ".join(args),
    # two branches only: `a += b + c` would add b and c first, which rounds differently
    accumulate=lambda attrs, args: f"{args[0]} += {args[1]}" if len(args) == 2 else None,
    arity=None,
    shape_rule="all branches equal; unchanged",
    flops=PAIRWISE,
    flops_rule="(branches − 1) per output element",
    window_rule=MERGE_WINDOW,
    torch=("torch.add", "Tensor.add"),
))

MUL = register(Op(
    name="mul",
    role=Role.MERGE,
    doc="Element-wise product with PyTorch broadcasting (squeeze-and-excitation gates).",
    attrs=(),
    shape=lambda attrs, inputs: broadcast("mul", inputs, exact=False),
    function=lambda attrs, args: " * ".join(args),
    arity=None,
    shape_rule="PyTorch broadcasting",
    flops=PAIRWISE,
    flops_rule="(branches − 1) per output element (of the broadcast shape)",
    window_rule=MERGE_WINDOW,
    torch=("torch.mul", "torch.multiply", "Tensor.mul"),
))


_RESIZE_MODES = ("nearest", "bilinear", "bicubic", "area", "nearest-exact")


def resize_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    if len(inputs) != 2:
        raise OpError(f"resize takes two branches, the tensor and the one whose size it takes; "
                      f"found {len(inputs)}", expected="resize: [tensor, '@reference']")
    x, like = inputs
    if len(x) != 4 or len(like) != 4:
        raise OpError("resize works on feature maps: both branches must be [N, C, H, W]",
                      found=_describe(inputs))
    return (x[0], x[1], like[2], like[3])


def _resize_code(attrs: Attrs, args: Sequence[str]) -> str:
    # align_corners only for the modes that take it, as F.interpolate requires
    corners = f", align_corners={attrs['align_corners']}" if attrs["mode"] in (
        "bilinear", "bicubic") else ""
    # the mode is one of _RESIZE_MODES (checked by its attribute): a literal as ruff writes it
    return (f"nn.functional.interpolate({args[0]}, size={args[1]}.shape[-2:], "
            f'mode="{attrs["mode"]}"{corners})')


RESIZE = register(Op(
    name="resize",
    role=Role.MERGE,
    doc="Resize the first branch to the height and width of the second (F.interpolate with "
        "size=ref.shape[-2:]; bilinear without aligned corners, as torchvision's segmentation "
        "heads upsample to their input).",
    attrs=(Attr("mode", STR, "bilinear", "how values are interpolated",
                choices=_RESIZE_MODES),
           Attr("align_corners", BOOL, False, "for bilinear and bicubic: align corner pixels")),
    shape=resize_shape,
    function=_resize_code,
    arity=None,
    shape_rule="[N, C, h, w] and [N, C', H, W] → [N, C, H, W]",
    flops=lambda attrs, inputs, output: 4 * numel(output),
    flops_rule="4 per output element (an interpolation of neighbours)",
    window=lambda attrs, inputs: GLOBAL,
    window_rule="global: an output position reads the input scaled",
    # PyTorch spells it F.interpolate, as upsample (a size or a scale of its own): the
    # importer maps that function to upsample, whose name "did you mean" suggests
    spelled_by="upsample",
))


def matmul_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    if len(inputs) != 2:
        raise OpError(f"matmul takes two branches, found {len(inputs)}",
                      expected="matmul: [left, right]")
    a, b = inputs
    if len(a) < 3 or len(b) < 3:
        raise OpError("matmul multiplies matrices of batches: both branches [N, ..., rows, "
                      "columns]", found=_describe(inputs))
    inner_a = a[-1]
    inner_b = b[-2]
    if inner_a != inner_b:
        raise OpError(f"matmul: the left's columns ({inner_a}) are not the right's rows "
                      f"({inner_b})", found=_describe(inputs),
                      expected="[..., n, k] and [..., k, m]",
                      notes=["for q kᵀ, permute the key's last two dims first"])
    leading = broadcast("matmul", [a[:-2], b[:-2]], exact=False)
    return (*leading, a[-2], b[-1])


def _matmul_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    return numel(output) * int(inputs[0][-1])  # type: ignore[arg-type]


MATMUL = register(Op(
    name="matmul",
    role=Role.MERGE,
    doc="Matrix product of the two branches over their last two dims, the dims before them "
        "broadcast (torch.matmul): attention's scores and their sum over the values, by hand.",
    attrs=(),
    shape=matmul_shape,
    function=lambda attrs, args: f"torch.matmul({args[0]}, {args[1]})",
    arity=None,
    macs=_matmul_macs,
    flops=lambda attrs, inputs, output: 2 * _matmul_macs(attrs, inputs, output),
    shape_rule="[..., n, k] and [..., k, m] → [..., n, m], the leading dims broadcast",
    macs_rule="output elements × k",
    flops_rule="2 per MAC",
    window=lambda attrs, inputs: GLOBAL,
    window_rule="global: a product mixes whole rows and columns",
    torch=("torch.matmul", "Tensor.matmul", "torch.bmm", "torch.mm"),
))
