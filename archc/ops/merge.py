"""Merges: concat, add and mul over branches. They hold no state: each is a forward
expression, never a module."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    INT,
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
