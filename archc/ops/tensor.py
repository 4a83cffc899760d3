"""Shape plumbing and regularisation: flatten, reshape, permute, identity, dropout, upsample."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from fractions import Fraction

from archc.ops.pool import widest_bin
from archc.ops.registry import (
    BOOL,
    CHANNELS,
    FLOAT,
    GLOBAL,
    INT,
    INTS,
    OPTIONAL_BOOL,
    OPTIONAL_INT,
    OPTIONAL_SIZE,
    PARAMETER,
    REQUIRED,
    SCALE,
    STR,
    Attr,
    Attrs,
    Construct,
    Helper,
    Op,
    OpError,
    Reach,
    Role,
    Shape,
    Window,
    channels,
    check_positive_output,
    format_shape,
    is_static,
    known,
    known_spatial,
    numel,
    per_element,
    pointwise,
    register,
    same_shape,
    standard_construct,
)

VIEW = "0 (a view)"


def _view(attrs: Attrs) -> bool:
    return True


def _ints(attrs: Attrs, name: str) -> tuple[int, ...]:
    """A variadic ints attribute (`permute(0, 2, 1)`, `permute([0, 2, 1])`) as a tuple."""
    value = attrs[name]
    return (value,) if isinstance(value, int) else tuple(value)


def _dim(attrs: Attrs, name: str, rank: int) -> int:
    dim = attrs[name]
    if not -rank <= dim < rank:
        raise OpError(f"{name}={dim} is out of range for a rank-{rank} input", attr=name,
                      expected=f"{-rank} ≤ {name} < {rank}")
    return int(dim % rank)


def _taken_dim(attrs: Attrs, x: Shape, refused: str, example: str) -> int:
    """The dim attribute `dim` names (counted from 0, the batch, which must stay whole)."""
    dim = _dim(attrs, "dim", len(x))
    if dim == 0:
        raise OpError(refused, attr="dim", expected=f"dim 1 or later ({example})",
                      found=f"dim={attrs['dim']}")
    return dim


LAYOUT_WINDOW = "global (the output has no spatial layout) unless it leaves the shape as it is"


def _layout_window(shape: Callable[[Attrs, Sequence[Shape]], Shape]
                   ) -> Callable[[Attrs, Sequence[Shape]], Reach]:
    """The reach of a view that changes the layout: every position reads all of the input,
    unless the view leaves the shape as it was."""
    def window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
        return None if shape(attrs, inputs) == inputs[0] else GLOBAL
    return window


def flatten_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    start, end = _dim(attrs, "start_dim", len(x)), _dim(attrs, "end_dim", len(x))
    if start == 0:
        raise OpError("flatten: start_dim 0 would merge the batch dimension", attr="start_dim",
                      expected="start_dim ≥ 1")
    if end < start:
        raise OpError("flatten: end_dim comes before start_dim", attr="end_dim",
                      found=f"start_dim={attrs['start_dim']}, end_dim={attrs['end_dim']}")
    if start == end:  # nothing merges: the dim stays as it is, a symbol too
        return x
    merged = math.prod(known("flatten", x, i, "one of the dims it merges")
                       for i in range(start, end + 1))
    return (*x[:start], merged, *x[end + 1:])


FLATTEN = register(Op(
    name="flatten",
    role=Role.RESHAPE,
    doc="Merge dims start_dim..end_dim into one (nn.Flatten).",
    attrs=(Attr("start_dim", INT, 1, "first dim to merge (≥ 1)"),
           Attr("end_dim", INT, -1, "last dim to merge")),
    shape=flatten_shape,
    module=lambda op, attrs, inputs: standard_construct("nn.Flatten", attrs, op, positional=()),
    shape_rule="[N, d1, ..., dk] → [N, d1·...·dk] (between start_dim and end_dim)",
    flops_rule=VIEW,
    alias=_view,
    window=_layout_window(flatten_shape),
    window_rule=LAYOUT_WINDOW,
    torch=("nn.Flatten", "torch.flatten", "Tensor.flatten"),
))


def _mean_dims(attrs: Attrs, inputs: Sequence[Shape]) -> tuple[int, ...]:
    """The dims a mean reduces, counted from 0 (the batch, which stays), each once."""
    x = inputs[0]
    dims = _ints(attrs, "dims")
    if not dims:
        raise OpError("mean: name the dims to average over", attr="dims",
                      expected="mean(2, 3) for the spatial dims of [N, C, H, W]")
    normal = []
    for d in dims:
        if not -len(x) <= d < len(x):
            raise OpError(f"mean: dim {d} is out of range for {format_shape(x)}", attr="dims",
                          expected=f"{-len(x)} ≤ dim < {len(x)}", found=str(list(dims)))
        normal.append(d % len(x))
    if 0 in normal:
        raise OpError("mean: the batch dimension cannot be averaged over", attr="dims",
                      expected="dims 1 or later", found=str(list(dims)))
    if len(set(normal)) != len(normal):
        raise OpError("mean: a dim is named twice", attr="dims", found=str(list(dims)))
    return tuple(normal)


def mean_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x, dims = inputs[0], _mean_dims(attrs, inputs)
    if attrs["keepdim"]:
        return tuple(1 if i in dims else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in dims)


def _mean_code(attrs: Attrs, args: Sequence[str]) -> str:
    dims = _ints(attrs, "dims")
    where = str(dims[0]) if len(dims) == 1 else f"({', '.join(str(d) for d in dims)})"
    return f"torch.mean({args[0]}, dim={where}{', keepdim=True' if attrs['keepdim'] else ''})"


MEAN = register(Op(
    name="mean",
    role=Role.POOL,
    doc="Average over dims, dropping them unless keepdim (torch.mean; S3D's head averages "
        "time and space: mean(2, 3, 4)).",
    attrs=(Attr("dims", INTS, doc="the dims averaged over (batch = 0 stays)", variadic=True),
           Attr("keepdim", BOOL, False, "keep each averaged dim, as size 1")),
    shape=mean_shape,
    function=_mean_code,
    shape_rule="[N, ...] → the averaged dims removed (size 1 with keepdim)",
    flops=lambda attrs, inputs, output: numel(inputs[0]),
    flops_rule="1 per input element",
    window=lambda attrs, inputs: GLOBAL,
    window_rule="global over the averaged dims",
    torch=("torch.mean", "Tensor.mean"),
))


def reshape_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    dims = _ints(attrs, "shape")
    # the new shape is counted against every element of a sample: each dim must be a number
    total = math.prod(known("reshape", x, i, "a dim of each sample") for i in range(1, len(x)))
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1 or any(d < -1 or d == 0 for d in dims):
        raise OpError("reshape: sizes must be ≥ 1, with at most one -1", attr="shape",
                      found=str(list(dims)))
    fixed = math.prod(d for d in dims if d != -1)
    if unknown:
        if total % fixed:
            raise OpError("reshape: the element count does not divide", attr="shape",
                          expected=f"a shape whose known sizes divide {total}",
                          found=f"{list(dims)} for input {format_shape(x)}")
        dims = tuple(total // fixed if d == -1 else d for d in dims)
    elif fixed != total:
        raise OpError("reshape: the element count changes", attr="shape",
                      expected=f"{total} elements per sample (input {format_shape(x)})",
                      found=f"{list(dims)} = {fixed} elements")
    return (x[0], *dims)


RESHAPE = register(Op(
    name="reshape",
    role=Role.RESHAPE,
    doc="View each sample with a new shape (the batch dim stays; Tensor.reshape); one size may "
        "be -1.",
    attrs=(Attr("shape", INTS, doc="the new shape without the batch dim", variadic=True),),
    shape=reshape_shape,
    function=lambda attrs, args: f"{args[0]}.reshape({args[0]}.shape[0], "
    + ", ".join(str(d) for d in attrs["resolved"]) + ")",
    infer=lambda attrs, inputs: {**attrs, "resolved": reshape_shape(attrs, inputs)[1:]},
    shape_rule="[N, *S] → [N, *shape], same element count",
    flops_rule=VIEW,
    alias=_view,
    window=_layout_window(reshape_shape),
    window_rule=LAYOUT_WINDOW,
    torch=("torch.reshape", "Tensor.reshape", "Tensor.view"),
))


def permute_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    dims = _ints(attrs, "dims")
    if (any(not -len(x) <= d < len(x) for d in dims)
            or sorted(d % len(x) for d in dims) != list(range(len(x))) or len(dims) != len(x)):
        raise OpError("permute: dims must be a permutation of the input's dims", attr="dims",
                      expected=f"a permutation of 0..{len(x) - 1} for {format_shape(x)}",
                      found=str(list(dims)))
    if dims[0] % len(x) != 0:
        raise OpError("permute: the batch dimension must stay first", attr="dims",
                      expected="dims starting with 0", found=str(list(dims)))
    return tuple(x[d % len(x)] for d in dims)


def _permute_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    order = [d % len(inputs[0]) for d in _ints(attrs, "dims")]
    return None if order == list(range(len(inputs[0]))) else GLOBAL


# torchvision.ops.Permute: permute as a module, where it stands in an nn.Sequential
PERMUTE_CLASS = Helper("Permute", (
    "class Permute(nn.Module):",
    '    """Reorder the dims of the input (torchvision.ops.Permute), as a module of an',
    '    nn.Sequential."""',
    "",
    "    def __init__(self, dims: list[int]) -> None:",
    "        super().__init__()",
    "        self.dims = dims",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        return torch.permute(x, self.dims)",
))



PERMUTE = register(Op(
    name="permute",
    role=Role.RESHAPE,
    doc="Reorder dims (Tensor.permute's numbering, batch = 0 stays first).",
    attrs=(Attr("dims", INTS, doc="the new order of all dims", variadic=True),),
    shape=permute_shape,
    function=lambda attrs, args: f"{args[0]}.permute("
    + ", ".join(str(d) for d in _ints(attrs, "dims")) + ")",
    module=lambda op, attrs, inputs: Construct("Permute", (list(_ints(attrs, "dims")),),
                                               arg_names=("dims",)),
    chained=True,
    helper=PERMUTE_CLASS,
    shape_rule="dims reordered",
    flops_rule=VIEW,
    alias=_view,
    window=_permute_window,
    window_rule="global (the spatial layout changes) unless the order stays the same",
    torch=("torch.permute", "Tensor.permute", "torchvision.ops.Permute"),
))

def _slice_range(attrs: Attrs, inputs: Sequence[Shape]) -> tuple[int, range]:
    """The dim a slice takes (counted from 0, the batch) and the positions it keeps."""
    x = inputs[0]
    dim = _taken_dim(attrs, x, "slice: the batch dimension cannot be sliced",
                     "1 is the channels of [N, C, ...]")
    if attrs["step"] < 1:
        raise OpError("slice: the step must be 1 or more (PyTorch slices forward only)",
                      attr="step", found=f"step={attrs['step']}")
    size = known("slice", x, dim, f"the size of dim {dim}")
    return dim, range(size)[attrs["start"]:attrs["end"]:attrs["step"]]


def slice_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    dim, kept = _slice_range(attrs, inputs)
    if not kept:
        raise OpError(f"slice keeps nothing of dim {dim} (size {x[dim]})", attr="start",
                      expected=f"start < end within 0..{x[dim]}",
                      found=f"[{attrs['start']}:{attrs['end']}]")
    return (*x[:dim], len(kept), *x[dim + 1:])


def _slice_code(attrs: Attrs, args: Sequence[str]) -> str:
    """`x[:, 0:32]`: Python's slice syntax, a `:` for each dim before the sliced one."""
    start, end, step = attrs["start"], attrs["end"], attrs["step"]
    bounds = [f"{start or ''}", "" if end is None else f"{end}"] + ([f"{step}"] if step != 1
                                                                   else [])
    # PEP 8 (and formatters): spaces around the colons once a bound is more than a name or
    # a number (`x[:, : self.half]`), none on a side left empty
    if all(re.fullmatch(r"-?\w*", b) for b in bounds):
        where = ":".join(bounds)
    else:
        where = " : ".join(bounds).replace(":  ", ":").strip()
        where = where[1:] if where.startswith(" :") else where
    dim = attrs["dim"]
    leading = "..., " if dim < 0 and dim != -attrs["rank"] else ":, " * (dim % attrs["rank"])
    trailing = ", " + ", ".join([":"] * (-dim - 1)) if dim < -1 else ""
    return f"{args[0]}[{leading}{where}{trailing}]".replace(", , ", ", ")


def _slice_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    dim, _ = _slice_range(attrs, inputs)
    return pointwise(attrs, inputs) if dim == 1 else GLOBAL


SLICE = register(Op(
    name="slice",
    role=Role.RESHAPE,
    doc="Keep positions start:end:step of one dim (Python's slice, Tensor.narrow; dims counted "
        "as Tensor's, the batch = 0, which stays whole).",
    attrs=(Attr("dim", INT, REQUIRED, "the dim to slice (1: the channels of [N, C, ...])"),
           Attr("start", INT, 0, "the first position kept (negative: from the end)"),
           Attr("end", OPTIONAL_INT, None, "the position after the last kept (none: the end)"),
           Attr("step", INT, 1, "keep every step-th position")),
    infer=lambda attrs, inputs: {**attrs, "rank": len(inputs[0])},
    shape=slice_shape,
    function=_slice_code,
    shape_rule="[..., S, ...] → [..., len(range(S)[start:end:step]), ...] along dim",
    flops_rule=VIEW,
    alias=_view,
    window=_slice_window,
    window_rule="pointwise along the channels; global when a spatial dim is sliced",
    torch=("torch.narrow", "Tensor.narrow"),
))

def channel_shuffle_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    groups = attrs["groups"]
    if len(x) < 3:  # as nn.ChannelShuffle: the channels of a feature map
        raise OpError(f"channel_shuffle expects [N, C, ...] with a spatial dim, got "
                      f"{format_shape(x)}", expected="an input of rank 3 or more",
                      found=format_shape(x))
    if groups < 1:
        raise OpError("channel_shuffle: groups must be 1 or more", attr="groups",
                      found=f"groups={groups}")
    c = channels("channel_shuffle", x)
    if c % groups:
        raise OpError(f"channel_shuffle: {groups} groups do not divide {c} channels",
                      attr="groups", expected=f"a divisor of {c}",
                      found=f"groups={groups} for input {format_shape(x)}")
    return x


CHANNEL_SHUFFLE = register(Op(
    name="channel_shuffle",
    role=Role.RESHAPE,
    doc="Interleave the channels of `groups` groups (ShuffleNet's channel shuffle, "
        "nn.ChannelShuffle): channel g·(C/groups)+i moves to i·groups+g.",
    attrs=(Attr("groups", INT, REQUIRED, "how many groups the channels form (divides C)"),),
    shape=channel_shuffle_shape,
    # tensor methods only, with no size written in: any input size, scripted and exported
    function=lambda attrs, args: f"{args[0]}.unflatten(1, ({attrs['groups']}, -1))"
    ".transpose(1, 2).flatten(1, 2)",
    shape_rule="unchanged; groups divides C",
    flops_rule="0 (a copy of the input, reordered)",
    window=pointwise,
    window_rule="pointwise (each position keeps its own channels)",
    torch=("nn.ChannelShuffle", "F.channel_shuffle", "torch.channel_shuffle"),
))


IDENTITY = register(Op(
    name="identity",
    role=Role.IDENTITY,
    doc="Passes its input through (the skip branch of a merge); a name, not a module.",
    attrs=(),
    shape=same_shape,
    function=lambda attrs, args: args[0],
    passthrough=True,
    shape_rule="unchanged",
    flops_rule="0 (the input itself)",
    alias=_view,
    torch=("nn.Identity",),
))


INFERENCE_IDENTITY = "0 (at inference it returns its input)"


def _probability(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    if not 0 <= attrs["p"] <= 1:
        raise OpError("dropout probability must be between 0 and 1", attr="p",
                      found=str(attrs["p"]))
    return attrs


DROPOUT = register(Op(
    name="dropout",
    role=Role.DROPOUT,
    doc="Zero elements with probability p during training (nn.Dropout).",
    attrs=(Attr("p", FLOAT, 0.5, "drop probability"),),
    infer=_probability,
    shape=same_shape,
    module=lambda op, attrs, inputs: standard_construct("nn.Dropout", attrs, op, positional=()),
    shape_rule="unchanged",
    flops_rule=INFERENCE_IDENTITY,
    alias=_view,
    torch=("nn.Dropout", "F.dropout"),
))


# torchvision.ops.StochasticDepth's semantics, in a class the generated file defines (it imports
# only torch): the same draws from torch's generator as torchvision's, so a seeded training
# step drops the same rows
STOCHASTIC_DEPTH = Helper("StochasticDepth", (
    "class StochasticDepth(nn.Module):",
    '    """Drop the input with probability p while training, per sample ("row") or for the',
    '    whole batch ("batch"), scaling what is kept by 1 / (1 - p); the identity in eval mode',
    '    (torchvision.ops.StochasticDepth)."""',
    "",
    '    def __init__(self, p: float, mode: str = "row") -> None:',
    "        super().__init__()",
    "        self.p = p",
    "        self.mode = mode",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        if not self.training or self.p == 0.0:",
    "            return x",
    "        survival = 1.0 - self.p",
    '        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()',
    "        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)",
    "        if survival > 0.0:",
    "            noise.div_(survival)",
    "        return x * noise",
    "",
    "    def extra_repr(self) -> str:",
    '        return f"p={self.p}, mode={self.mode}"',
))


def _stochastic_depth_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    _probability(attrs, inputs)
    if len(inputs[0]) < 2:
        raise OpError("stochastic_depth drops whole samples: it needs a batch and more",
                      expected="an input of [N, ...] with at least one dim past the batch",
                      found=format_shape(inputs[0]))
    return attrs


STOCHASTIC_DEPTH_OP = register(Op(
    name="stochastic_depth",
    role=Role.DROPOUT,
    doc="Drop the whole input of a residual branch with probability p during training, per "
        "sample (mode 'row') or for the batch ('batch'), scaling the kept by 1 / (1 - p) "
        "(torchvision.ops.StochasticDepth; Huang et al. 2016, \"Deep Networks with "
        "Stochastic Depth\").",
    attrs=(Attr("p", FLOAT, REQUIRED, "drop probability"),
           Attr("mode", STR, "row", "'row': each sample on its own; 'batch': all at once",
                choices=("row", "batch"))),
    infer=_stochastic_depth_infer,
    shape=same_shape,
    module=lambda op, attrs, inputs: standard_construct("StochasticDepth", attrs, op,
                                                    positional=("p",)),
    shape_rule="unchanged",
    flops_rule=INFERENCE_IDENTITY,
    alias=_view,
    torch=("torchvision.ops.StochasticDepth", "torchvision.ops.stochastic_depth"),
    helper=STOCHASTIC_DEPTH,
))


def _select_position(attrs: Attrs, inputs: Sequence[Shape]) -> tuple[int, int]:
    """The dim a select takes (counted from 0, the batch) and the position it keeps."""
    x = inputs[0]
    dim = _taken_dim(attrs, x, "select: the batch dimension cannot be selected from",
                     "1 is the tokens of [N, L, E]")
    size = known("select", x, dim, f"the size of dim {dim}")
    index = attrs["index"]
    if not -size <= index < size:
        raise OpError(f"select: index {index} is out of range for dim {dim} of size {size}",
                      attr="index", expected=f"{-size} ≤ index < {size}", found=str(index))
    return dim, index


def _select_code(attrs: Attrs, args: Sequence[str]) -> str:
    """`x[:, 0]`: Python's indexing, a `:` for each dim before the selected one."""
    dim = attrs["dim"]
    where = [":"] * dim + [str(attrs["index"])] if dim >= 0 else ["...", str(attrs["index"])] + \
        [":"] * (-dim - 1)
    return f"{args[0]}[{', '.join(where)}]"


SELECT = register(Op(
    name="select",
    role=Role.RESHAPE,
    doc="Keep one position of a dim and drop the dim (`x[:, 0]`, Tensor.select): ViT's class "
        "token; dims counted as Tensor's, the batch = 0, which stays whole.",
    attrs=(Attr("dim", INT, REQUIRED, "the dim to select from (1: the tokens of [N, L, E])"),
           Attr("index", INT, REQUIRED, "the position kept (negative: from the end)")),
    shape=lambda attrs, inputs: (lambda d: (*inputs[0][:d], *inputs[0][d + 1:]))(
        _select_position(attrs, inputs)[0]),
    function=_select_code,
    shape_rule="[..., S, ...] → [..., ...]: dim removed",
    flops_rule=VIEW,
    alias=_view,
    window=lambda attrs, inputs: GLOBAL,
    window_rule="global: one position stands for the dim",
    torch=("torch.select", "Tensor.select"),
))


def _layer_scale_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) < 2:
        raise OpError("layer_scale scales each channel: it needs [N, C, ...]",
                      expected="an input of [N, C, ...]", found=format_shape(x))
    value = attrs["value"]
    if value != value or value in (float("inf"), float("-inf")):
        raise OpError("layer_scale: the initial value must be a finite number", attr="value",
                      expected="a finite number such as 1e-6", found=str(value))
    if attrs.get("rank") is not None and attrs["rank"] != len(x) - 2:
        raise OpError(f"layer_scale: rank={attrs['rank']} does not fit {format_shape(x)}",
                      attr="rank", expected=f"rank={len(x) - 2} (or leave it out: it is inferred)",
                      found=f"rank={attrs['rank']}")
    return {**attrs, "num_channels": channels("layer_scale", x), "rank": len(x) - 2}


def _layer_scale_construct(op: Op, attrs: Attrs, inputs: Sequence[Shape]) -> Construct:
    # [C, 1, ...]: a factor per channel, broadcast over the dims after the channels
    ones = tuple(f"dim{i + 2}" for i in range(attrs["rank"]))
    return Construct("parameter", (attrs["num_channels"], *(1 for _ in ones)),
                     (("value", attrs["value"]),), arg_names=("num_channels", *ones))


LAYER_SCALE = register(Op(
    name="layer_scale",
    role=Role.SCALE,
    doc="Multiply each channel of [N, C, ...] by a learnable factor, each `value` at first "
        "(ConvNeXt's and CaiT's layer scale). The factors are a [C, 1, ...] parameter of the "
        "enclosing module under the entry's name (torchvision's key `block.layer_scale`), not a "
        "child module.",
    attrs=(Attr("value", FLOAT, REQUIRED, "each factor's initial value (1e-6 in ConvNeXt)"),
           Attr("num_channels", INT, None, "channels (inferred)", inferred=True,
                from_input=CHANNELS),
           Attr("rank", INT, None, "dims after the channels (inferred)", inferred=True,
                keyword_only=True)),
    infer=_layer_scale_infer,
    shape=same_shape,
    params=lambda attrs, inputs: channels("layer_scale", inputs[0]),
    module=_layer_scale_construct,
    call=lambda attrs, args: f"{args[-1]} * {args[0]}",
    held=True,
    shape_rule="unchanged",
    flops=per_element(1),
    flops_rule="1 per element",
    helper=PARAMETER,
))


def _dropout2d_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    if len(inputs[0]) != 4:
        raise OpError("dropout2d expects [N, C, H, W]", found=format_shape(inputs[0]))
    return _probability(attrs, inputs)


DROPOUT2D = register(Op(
    name="dropout2d",
    role=Role.DROPOUT,
    doc="Zero whole channels with probability p during training (nn.Dropout2d).",
    attrs=(Attr("p", FLOAT, 0.5, "drop probability"),),
    infer=_dropout2d_infer,
    shape=same_shape,
    module=lambda op, attrs, inputs: standard_construct("nn.Dropout2d", attrs, op,
                                                    positional=()),
    shape_rule="unchanged",
    flops_rule=INFERENCE_IDENTITY,
    alias=_view,
    torch=("nn.Dropout2d", "F.dropout2d"),
))

_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
          "bicubic": (2,), "trilinear": (3,), "area": (1, 2, 3)}
_LAYOUTS = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}
_UNALIGNED = ("nearest", "nearest-exact", "area")  # modes that take no align_corners


def _scale(value: object) -> object:
    """nn.Upsample keeps a list of scale factors, and reads a single one that is 0 as none
    (`float(scale_factor) if scale_factor else None`)."""
    if isinstance(value, tuple) or value is None:
        return value
    return value or None


def upsample_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    rank = len(x) - 2
    mode = attrs["mode"]
    if mode not in _MODES:
        raise OpError(f"upsample: unknown mode '{mode}'", attr="mode",
                      expected=", ".join(f"'{m}'" for m in _MODES), found=repr(mode))
    if rank not in _MODES[mode]:
        layouts = " or ".join(_LAYOUTS[r] for r in _MODES[mode])
        raise OpError(f"upsample: mode '{mode}' does not fit a {format_shape(x)} input",
                      attr="mode", expected=f"a {layouts} input for '{mode}'",
                      found=format_shape(x))
    size, scale = attrs["size"], _scale(attrs["scale_factor"])
    if (size is None) == (scale is None):
        raise OpError("upsample needs exactly one of size and scale_factor",
                      expected="upsample(scale_factor=2) or upsample(size=[56, 56])",
                      found="both" if size is not None else "neither")
    if attrs["align_corners"] is not None and mode in _UNALIGNED:
        raise OpError("upsample: align_corners only applies to the linear modes",
                      attr="align_corners", expected="no align_corners for mode "
                      f"'{mode}'", found=f"align_corners={attrs['align_corners']}")
    if size is not None:
        sizes = (size,) * rank if isinstance(size, int) else tuple(size)
        if len(sizes) != rank:
            raise OpError("upsample: size has the wrong number of dims", attr="size",
                          expected=f"an integer or {rank} integers for {format_shape(x)}",
                          found=str(list(sizes)))
        return check_positive_output("upsample", (x[0], x[1], *sizes), x,
                                     f"size={attrs['size']} must be positive")
    assert isinstance(scale, (float, tuple))
    scales = (scale,) * rank if isinstance(scale, float) else tuple(scale)
    if len(scales) != rank:
        raise OpError("upsample: scale_factor has the wrong number of dims",
                      attr="scale_factor", expected=f"a number or {rank} numbers for "
                      f"{format_shape(x)}", found=str(list(scales)))
    products = [float(d) * s for d, s in zip(known_spatial("upsample", x), scales, strict=True)]
    if not all(math.isfinite(p) for p in products):  # PyTorch cannot floor inf or nan
        raise OpError("upsample: scale_factor gives a size that is not a finite number",
                      attr="scale_factor", expected="a finite scale_factor",
                      found=f"{attrs['scale_factor']} for input {format_shape(x)}")
    out = tuple(math.floor(p) for p in products)
    return check_positive_output("upsample", (x[0], x[1], *out), x,
                                 f"scale_factor={attrs['scale_factor']} shrinks a size to 0")


# interpolation taps per spatial dim, and FLOPs per output element (a linear interpolation
# a + t·(b − a) is 3; bilinear is 3 of them, trilinear 7; bicubic 4 + 1 cubic ones of 7)
_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "bicubic": 4,
         "trilinear": 2}
_INTERPOLATION_FLOPS = {"nearest": 0, "nearest-exact": 0, "linear": 3, "bilinear": 9,
                        "bicubic": 35, "trilinear": 21}
# 'area' is PyTorch's adaptive average pooling to the output size: its windows, and its
# FLOPs (the elements of every window, as adaptive_avgpool counts them) are those of the pool


def _upsample_flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    if attrs["mode"] == "area":
        # per value of the symbols, as numel: a dim with a symbol on either side is left out
        sizes = [(n, m) for n, m in zip(inputs[0][2:], output[2:], strict=True)
                 if is_static(n) and is_static(m)]
        reads = math.prod(n + m - math.gcd(n, m) for n, m in sizes)
        return int(channels("upsample", inputs[0]) * reads)
    return _INTERPOLATION_FLOPS[attrs["mode"]] * numel(output)


def _upsample_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    x = inputs[0]
    output = upsample_shape(attrs, inputs)
    scale = _scale(attrs["scale_factor"])
    windows = []
    spatial = zip(known_spatial("upsample", x), known_spatial("upsample", output), strict=True)
    for axis, (n, m) in enumerate(spatial):
        if attrs["mode"] == "area":  # adaptive average pooling from n to m
            widest = widest_bin(n, m)
            windows.append(Window(widest, Fraction(n, m), Fraction(widest - -(-n // m), 2)))
            continue
        taps = _TAPS[attrs["mode"]]
        if scale is None:
            step = Fraction(n, m)
        else:  # PyTorch maps output o to input o / scale_factor
            factor = scale if isinstance(scale, float) else scale[axis]  # type: ignore[index]
            approximate = Fraction(factor).limit_denominator(10**6)
            step = 1 / (approximate or Fraction(factor))  # a tiny factor has no short fraction
        windows.append(Window(taps, step, (taps - 1) // 2))
    return tuple(windows)


UPSAMPLE = register(Op(
    name="upsample",
    role=Role.RESIZE,
    doc="Resize the spatial dims by a scale factor or to a size (nn.Upsample); size=@x "
        "takes the height and width of the tensor @x (F.interpolate, as resize).",
    attrs=(
        Attr("size", OPTIONAL_SIZE, None, "output spatial size"),
        Attr("scale_factor", SCALE, None, "multiplier for the spatial size (0 counts as none, "
             "as in nn.Upsample)"),
        Attr("mode", STR, "nearest", "nearest, nearest-exact, linear, bilinear, bicubic, "
             "trilinear or area"),
        Attr("align_corners", OPTIONAL_BOOL, None, "for the linear modes"),
    ),
    shape=upsample_shape,
    module=lambda op, attrs, inputs: standard_construct("nn.Upsample", attrs, op,
                                                    positional=()),
    shape_rule="[N, C, *S] → [N, C, *size] or [N, C, ⌊S·scale_factor⌋]",
    sized_by=("size", "resize"),  # upsample(size=@x): to the height and width of @x
    flops=_upsample_flops,
    flops_rule="per output element: nearest 0, linear 3, bilinear 9, trilinear 21, bicubic 35; "
               "area: the elements of every window (as adaptive_avgpool)",
    window=_upsample_window,
    window_rule="taps per dim (nearest 1, linear modes 2, bicubic 4), input/output size apart; "
                "area: the windows of adaptive_avgpool",
    torch=("nn.Upsample", "nn.UpsamplingNearest2d", "nn.UpsamplingBilinear2d", "F.interpolate",
           "F.upsample"),
))


# ------------------------------------------------------------------ pad, pixel shuffle, roll, scale

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_amounts(attrs: Attrs, x: Shape) -> list[tuple[int, int]]:
    """(before, after) per dim of x, from F.pad's flat list (the last dim first)."""
    padding = attrs["padding"]
    padding = [padding] * 2 if isinstance(padding, int) else list(padding)
    if not padding or len(padding) % 2:
        raise OpError("pad: padding is pairs (left, right) from the last dim backwards",
                      attr="padding", expected="[left, right] or [left, right, top, bottom]",
                      found=str(attrs["padding"]))
    if len(padding) // 2 > len(x) - 1:
        raise OpError(f"pad: {len(padding) // 2} dims padded, but {format_shape(x)} has "
                      f"{len(x) - 1} beside the batch", attr="padding",
                      found=str(attrs["padding"]))
    amounts = [(0, 0)] * len(x)
    for index in range(len(padding) // 2):
        amounts[len(x) - 1 - index] = (padding[2 * index], padding[2 * index + 1])
    return amounts


def pad_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x = inputs[0]
    amounts = _pad_amounts(attrs, x)
    mode = attrs["mode"]
    if mode != "constant" and attrs["value"]:
        raise OpError(f"pad: mode '{mode}' takes no value (only constant padding fills)",
                      attr="value", expected="value=0 or mode='constant'",
                      found=f"value={attrs['value']}")
    if mode != "constant":
        if len(x) < 3 or any(amounts[d] != (0, 0) for d in range(2)):
            raise OpError(f"pad: mode '{mode}' pads a feature map's spatial dims only",
                          attr="padding", expected="padding of the dims after the channels",
                          found=format_shape(x))
        if any(a < 0 for pair in amounts for a in pair):
            raise OpError(f"pad: mode '{mode}' cannot crop (negative padding)",
                          attr="padding", found=str(attrs["padding"]))
    out = list(x)
    for dim, (before, after) in enumerate(amounts):
        if (before, after) == (0, 0):
            continue
        size = known("pad", x, dim, "a padded dim")
        if mode == "reflect" and (before >= size or after >= size):
            raise OpError(f"pad: reflect padding must be below the size it reflects ({size})",
                          attr="padding", found=str(attrs["padding"]))
        if mode == "circular" and max(before, after) > size:
            raise OpError(f"pad: circular padding must be at most the size it wraps ({size})",
                          attr="padding", found=str(attrs["padding"]))
        grown = size + before + after
        if grown < 1:
            raise OpError("pad: the padding crops a dim to nothing", attr="padding",
                          found=f"{format_shape(x)} → size {grown} in dim {dim}")
        out[dim] = grown
    return tuple(out)


def _pad_window(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    amounts = _pad_amounts(attrs, inputs[0])
    if attrs["mode"] == "circular" and any(amounts[2:]):
        return GLOBAL  # wraps around: a position reads the far edge
    return tuple(Window(1, 1, before) for before, _ in amounts[2:])


def _pad_code(attrs: Attrs, args: Sequence[str]) -> str:
    padding = attrs["padding"]
    flat = (padding, padding) if isinstance(padding, int) else tuple(padding)
    extra = f', mode="{attrs["mode"]}"' if attrs["mode"] != "constant" else ""
    extra += f", value={attrs['value']}" if attrs["value"] else ""
    return f"nn.functional.pad({args[0]}, {flat}{extra})"


PAD = register(Op(
    name="pad",
    role=Role.RESHAPE,
    doc="Pad (or, with negative amounts, crop) the last dims: F.pad's (left, right, top, "
        "bottom, ...) list, the last dim first; constant, reflect, replicate or circular.",
    attrs=(Attr("padding", INTS, REQUIRED, "(left, right) pairs from the last dim backwards"),
           Attr("mode", STR, "constant", "how the border is filled", choices=_PAD_MODES),
           Attr("value", FLOAT, 0.0, "the fill of constant padding")),
    shape=pad_shape,
    function=_pad_code,
    shape_rule="each padded dim grows by its left and right amounts",
    flops_rule="0 (a copy)",
    window=_pad_window,
    window_rule="pointwise, shifted by the padding before it; global for circular",
    torch=("F.pad", "nn.ZeroPad2d", "nn.ConstantPad2d", "nn.ReflectionPad2d",
           "nn.ReplicationPad2d", "nn.CircularPad2d"),
))


def pixel_shuffle_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    x, factor = inputs[0], attrs["upscale_factor"]
    if len(x) != 4:
        raise OpError("pixel_shuffle rearranges a feature map [N, C·r², H, W]",
                      expected="[N, C, H, W]", found=format_shape(x))
    if factor < 1:
        raise OpError("pixel_shuffle: upscale_factor must be 1 or more",
                      attr="upscale_factor", found=str(factor))
    c = channels("pixel_shuffle", x)
    if c % (factor * factor):
        raise OpError(f"pixel_shuffle: {c} channels are no multiple of {factor}² = "
                      f"{factor * factor}", attr="upscale_factor",
                      expected=f"channels divisible by {factor * factor}", found=format_shape(x))
    h, w = known_spatial("pixel_shuffle", x)
    return (x[0], c // (factor * factor), h * factor, w * factor)


PIXEL_SHUFFLE = register(Op(
    name="pixel_shuffle",
    role=Role.RESIZE,
    doc="Move channels into space: [N, C·r², H, W] → [N, C, H·r, W·r] (sub-pixel "
        "convolution's upsampling; nn.PixelShuffle).",
    attrs=(Attr("upscale_factor", INT, REQUIRED, "r: each dim grows r times"),),
    shape=pixel_shuffle_shape,
    module=lambda op, attrs, inputs: standard_construct(
        "nn.PixelShuffle", attrs, op, positional=("upscale_factor",)),
    shape_rule="[N, C·r², H, W] → [N, C, H·r, W·r]",
    flops_rule="0 (a copy of the input, reordered)",
    window=lambda attrs, inputs: (Window(1, Fraction(1, attrs["upscale_factor"])),) * 2,
    window_rule="output position o reads input o / r",
    torch=("nn.PixelShuffle", "F.pixel_shuffle", "torch.pixel_shuffle"),
))


def _roll_dims(attrs: Attrs, x: Shape) -> tuple[list[int], list[int]]:
    shifts, dims = attrs["shifts"], attrs["dims"]
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims) or not dims:
        raise OpError("roll: one shift per dim", attr="shifts",
                      expected=f"{len(dims)} shifts", found=str(attrs["shifts"]))
    rank = len(x)
    for dim in dims:
        if not -rank <= dim < rank:
            raise OpError(f"roll: dim {dim} is out of range for {format_shape(x)}", attr="dims",
                          expected=f"{-rank} ≤ dim < {rank}", found=str(dim))
        if dim % rank == 0:
            raise OpError("roll: the batch dimension cannot be rolled", attr="dims",
                          expected="dims ≥ 1", found=str(dim))
    normalised = [d % rank for d in dims]
    if len(set(normalised)) != len(normalised):
        raise OpError("roll: a dim is named twice", attr="dims", found=str(attrs["dims"]))
    return shifts, normalised


def roll_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    _roll_dims(attrs, inputs[0])
    return inputs[0]


ROLL = register(Op(
    name="roll",
    role=Role.RESHAPE,
    doc="Shift elements along dims, wrapping around (torch.roll; Swin's cyclic shift).",
    attrs=(Attr("shifts", INTS, REQUIRED, "how far, per dim"),
           Attr("dims", INTS, REQUIRED, "which dims (the batch counts as dim 0)")),
    shape=roll_shape,
    function=lambda attrs, args: f"torch.roll({args[0]}, {attrs['shifts']}, {attrs['dims']})",
    shape_rule="unchanged",
    flops_rule="0 (a copy of the input, reordered)",
    window=lambda attrs, inputs: GLOBAL if any(
        d >= 2 for d in _roll_dims(attrs, inputs[0])[1]) else None,
    window_rule="pointwise, unless a spatial dim is rolled: then a position reads the far edge",
    torch=("torch.roll", "Tensor.roll"),
))


SCALE_OP = register(Op(
    name="scale",
    role=Role.SCALE,
    doc="Multiply by a constant factor (attention's 1/√d written by hand, a residual's "
        "scale); no weights.",
    attrs=(Attr("factor", FLOAT, REQUIRED, "the factor"),),
    shape=same_shape,
    function=lambda attrs, args: f"{args[0]} * {attrs['factor']}",
    shape_rule="unchanged",
    flops=per_element(1),
    flops_rule="1 per element",
    # PyTorch spells it x * factor, torch.mul by a number: `mul` (of tensors) owns that name
    spelled_by="mul",
))
