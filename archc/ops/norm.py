"""Normalisation: bn (BatchNorm1d/2d/3d by rank), layernorm, layernorm2d (over the channels of a
feature map), groupnorm."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.init import check_init, init_attr
from archc.ops.registry import (
    BOOL,
    CHANNELS,
    FLOAT,
    INT,
    OPTIONAL_FLOAT,
    OPTIONAL_SIZE,
    REQUIRED,
    Attr,
    Attrs,
    Count,
    Helper,
    Op,
    OpError,
    Role,
    Shape,
    by_rank,
    channels,
    format_shape,
    known,
    numel,
    register,
    same_shape,
    standard_construct,
)


def bn_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) not in (2, 3, 4, 5):
        raise OpError("bn expects [N, C], [N, C, L], [N, C, H, W] or [N, C, D, H, W]",
                      found=format_shape(x))
    found = channels("bn", x)
    if attrs["eps"] <= 0:  # F.batch_norm rejects it in training (layernorm, groupnorm do not)
        raise OpError("bn: eps must be positive", attr="eps", expected="eps > 0",
                      found=str(attrs["eps"]),
                      notes=["PyTorch's batch_norm refuses eps ≤ 0 in training"])
    check_init("bn", attrs, (found,) if attrs["affine"] else None)
    return {**attrs, "num_features": found}


def statistics_attrs(per_batch: bool) -> tuple[Attr, ...]:
    """The attributes of batch and instance norm (torch's _NormBase): each keeps running
    statistics and an affine by default only when it normalises over the batch."""
    return (
        Attr("eps", FLOAT, 1e-5, "added to the variance"),
        Attr("momentum", OPTIONAL_FLOAT, 0.1, "running-statistics momentum"),
        Attr("affine", BOOL, per_batch, "learnable scale and shift"),
        Attr("track_running_stats", BOOL, per_batch, "keep running mean and variance"),
        Attr("num_features", INT, None, "channels (inferred)", inferred=True,
             from_input=CHANNELS),
    )


STATISTICS = 5  # per element: mean (add), centre (sub), variance (mul, add), scale (mul)


def _normalise_flops(affine: int) -> Count:
    """Statistics and normalisation, plus `affine` operations per element (scale, shift)."""
    def flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        extra = affine if attrs.get("affine", attrs.get("elementwise_affine")) else 0
        if extra and attrs.get("bias") is False:  # layernorm without its shift
            extra -= 1
        return (STATISTICS + extra) * numel(output)

    return flops


def _bn_flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    if attrs["track_running_stats"]:  # inference: running statistics folded
        return 2 * numel(output)
    return _normalise_flops(2)(attrs, inputs, output)


NORM_FLOPS = ("5 per element for the statistics and normalisation (mean 1, centre 1, variance 2, "
              "scale 1)")
NORM_WINDOW = "pointwise (normalisation statistics are not counted in receptive fields)"


def _bn_callee(inputs: Sequence[Shape]) -> str:
    return f"nn.BatchNorm{max(1, len(inputs[0]) - 2)}d"


BN = register(Op(
    name="bn",
    writable_output=True,
    role=Role.NORMALISER,
    cancels_bias=lambda attrs: bool(attrs.get("affine", True)),
    doc="Batch normalisation over channels (BatchNorm1d/2d/3d by rank); num_features inferred.",
    attrs=(*statistics_attrs(per_batch=True), init_attr()),
    infer=bn_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 2 * channels("bn", inputs[0]) if attrs["affine"] else 0,
    buffers=lambda attrs, inputs: 2 * channels("bn", inputs[0]) + 1
    if attrs["track_running_stats"] else 0,
    module=lambda op, attrs, inputs: standard_construct(
        _bn_callee(inputs), attrs, op, positional=("num_features",)),
    shape_rule="unchanged; C = dim 1",
    flops=_bn_flops,
    flops_rule="2 per element (inference: running statistics folded into one scale and one "
               "shift); with track_running_stats=false the batch statistics are computed: "
               f"{NORM_FLOPS[:-1]}), plus 2 with affine",
    torch=(*by_rank("nn.BatchNorm{}d", "nn.LazyBatchNorm{}d"), "F.batch_norm"),
))


def layernorm_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    shape = attrs.get("normalized_shape")
    if shape is None:  # the last dim sizes the weight: it must be a number
        shape = known("layernorm", x, -1, "its last dim, the default normalized_shape",
                      attr="normalized_shape")
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not dims:
        raise OpError("layernorm: normalized_shape must name at least one dimension",
                      attr="normalized_shape", expected=f"the end of {format_shape(x)}, e.g. "
                      f"{x[-1]} (or leave it out: the last dimension)", found="[]")
    trailing = tuple(x[len(x) - len(dims):]) if len(dims) < len(x) else None
    if trailing != dims:
        raise OpError("layernorm: normalized_shape must equal the input's trailing dimensions",
                      attr="normalized_shape", expected=f"the end of {format_shape(x)}",
                      found=str(list(dims)))
    check_init("layernorm", attrs, dims if attrs["elementwise_affine"] else None)
    return {**attrs, "normalized_shape": shape}


def _layernorm_params(attrs: Attrs, inputs: Sequence[Shape]) -> int:
    shape = attrs["normalized_shape"]
    size = shape if isinstance(shape, int) else numel(shape)
    if not attrs["elementwise_affine"]:
        return 0
    return size * (2 if attrs["bias"] else 1)


LAYERNORM = register(Op(
    name="layernorm",
    role=Role.NORMALISER,
    doc="Layer normalisation over the trailing dims (default: the last one; nn.LayerNorm).",
    attrs=(
        Attr("normalized_shape", OPTIONAL_SIZE, None, "trailing dims to normalise (default last)"),
        Attr("eps", FLOAT, 1e-5, "added to the variance"),
        Attr("elementwise_affine", BOOL, True, "learnable scale"),
        Attr("bias", BOOL, True, "learnable shift (with elementwise_affine)"),
        init_attr(),
    ),
    infer=layernorm_infer,
    shape=same_shape,
    params=_layernorm_params,
    module=lambda op, attrs, inputs: standard_construct(
        "nn.LayerNorm", attrs, op, positional=("normalized_shape",)),
    shape_rule="unchanged",
    flops=_normalise_flops(2),
    flops_rule=f"{NORM_FLOPS}, plus 2 with elementwise_affine (1 without bias)",
    window_rule=NORM_WINDOW,
    torch=("nn.LayerNorm", "F.layer_norm"),
))


# torchvision's LayerNorm2d (ConvNeXt): nn.LayerNorm's parameters, applied at each position of a
# feature map over its channels; the generated file defines it (it imports only torch)
LAYERNORM2D_CLASS = Helper("LayerNorm2d", (
    "class LayerNorm2d(nn.LayerNorm):",
    '    """Layer normalisation over the channels of [N, C, H, W] at each position: the channels',
    '    moved last, normalised as nn.LayerNorm does, moved back (ConvNeXt\'s LayerNorm2d)."""',
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        x = x.permute(0, 2, 3, 1)",
    "        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, "
    "self.eps)",
    "        return x.permute(0, 3, 1, 2)",
))


def layernorm2d_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) != 4:
        raise OpError("layernorm2d normalises the channels of a feature map: it expects "
                      "[N, C, H, W]", expected="[N, C, H, W] (layernorm for the last dim of "
                      "any shape)", found=format_shape(x))
    found = channels("layernorm2d", x)
    check_init("layernorm2d", attrs, (found,) if attrs["elementwise_affine"] else None)
    return {**attrs, "num_channels": found}


LAYERNORM2D = register(Op(
    name="layernorm2d",
    role=Role.NORMALISER,
    doc="Layer normalisation over the channels of [N, C, H, W] at each position (torchvision's "
        "LayerNorm2d, ConvNeXt's; nn.LayerNorm's weight and bias, C each).",
    attrs=(
        Attr("num_channels", INT, None, "channels (inferred)", inferred=True,
             from_input=CHANNELS),
        Attr("eps", FLOAT, 1e-5, "added to the variance"),
        Attr("elementwise_affine", BOOL, True, "learnable scale and shift"),
        init_attr(),
    ),
    infer=layernorm2d_infer,
    shape=same_shape,
    params=lambda attrs, inputs: (2 * channels("layernorm2d", inputs[0])
                                  if attrs["elementwise_affine"] else 0),
    module=lambda op, attrs, inputs: standard_construct(
        "LayerNorm2d", attrs, op, positional=("num_channels",)),
    shape_rule="unchanged",
    flops=_normalise_flops(2),
    flops_rule=f"{NORM_FLOPS}, plus 2 with elementwise_affine",
    window_rule=NORM_WINDOW,
    torch=("torchvision.models.convnext.LayerNorm2d",),
    helper=LAYERNORM2D_CLASS,
))


def groupnorm_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) < 2:
        raise OpError("groupnorm expects [N, C, ...]", found=format_shape(x))
    found = channels("groupnorm", x)
    groups = attrs["num_groups"]
    if groups < 1 or found % groups:
        raise OpError(f"groupnorm: num_groups={groups} does not divide the {found} channels",
                      attr="num_groups", expected=f"a divisor of {found}", found=str(groups))
    check_init("groupnorm", attrs, (found,) if attrs["affine"] else None)
    return {**attrs, "num_channels": found}


GROUPNORM = register(Op(
    name="groupnorm",
    role=Role.NORMALISER,
    doc="Group normalisation (nn.GroupNorm); num_channels inferred.",
    attrs=(
        Attr("num_groups", INT, doc="groups; divides the channels"),
        Attr("eps", FLOAT, 1e-5, "added to the variance"),
        Attr("affine", BOOL, True, "learnable scale and shift"),
        Attr("num_channels", INT, None, "channels (inferred)", inferred=True,
             from_input=CHANNELS),
        init_attr(),
    ),
    infer=groupnorm_infer,
    shape=same_shape,
    params=lambda attrs, inputs: (2 * channels("groupnorm", inputs[0]) if attrs["affine"]
                                  else 0),
    module=lambda op, attrs, inputs: standard_construct(
        "nn.GroupNorm", attrs, op, positional=("num_groups", "num_channels")),
    shape_rule="unchanged",
    flops=_normalise_flops(2),
    flops_rule=f"{NORM_FLOPS}, plus 2 with affine",
    window_rule=NORM_WINDOW,
    torch=("nn.GroupNorm", "F.group_norm"),
))


def instancenorm_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) not in (3, 4, 5):
        raise OpError("instancenorm expects [N, C, L], [N, C, H, W] or [N, C, D, H, W]",
                      expected="a feature map (statistics per sample and channel)",
                      found=format_shape(x))
    if attrs["eps"] <= 0:
        raise OpError("instancenorm: eps must be positive", attr="eps", expected="eps > 0",
                      found=str(attrs["eps"]))
    return {**attrs, "num_features": channels("instancenorm", x)}


INSTANCENORM = register(Op(
    name="instancenorm",
    role=Role.NORMALISER,
    doc="Instance normalisation: each sample's channels normalised over their own positions "
        "(InstanceNorm1d/2d/3d by rank, as style transfer uses); num_features inferred.",
    attrs=statistics_attrs(per_batch=False),
    infer=instancenorm_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 2 * channels("instancenorm", inputs[0])
    if attrs["affine"] else 0,
    buffers=lambda attrs, inputs: 2 * channels("instancenorm", inputs[0]) + 1
    if attrs["track_running_stats"] else 0,
    module=lambda op, attrs, inputs: standard_construct(
        f"nn.InstanceNorm{len(inputs[0]) - 2}d", attrs, op, positional=("num_features",)),
    shape_rule="unchanged; C = dim 1",
    flops=_normalise_flops(2),
    flops_rule=f"{NORM_FLOPS}, plus 2 with affine",
    window_rule=NORM_WINDOW,
    torch=(*by_rank("nn.InstanceNorm{}d", "nn.LazyInstanceNorm{}d"), "F.instance_norm"),
))


def _lrn_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    if len(inputs[0]) < 3:
        raise OpError("local_response_norm expects [N, C, ...] with a spatial dim",
                      expected="a feature map", found=format_shape(inputs[0]))
    if attrs["size"] < 1:
        raise OpError("local_response_norm: size must be 1 or more", attr="size",
                      found=str(attrs["size"]))
    return attrs


LOCAL_RESPONSE_NORM = register(Op(
    name="local_response_norm",
    role=Role.NORMALISER,
    doc="Local response normalisation across `size` neighbouring channels: x / (k + α/n · Σ "
        "x²)^β (AlexNet's; nn.LocalResponseNorm).",
    attrs=(
        Attr("size", INT, REQUIRED, "the neighbouring channels summed over"),
        Attr("alpha", FLOAT, 1e-4, "the scale α"),
        Attr("beta", FLOAT, 0.75, "the exponent β"),
        Attr("k", FLOAT, 1.0, "the additive k"),
    ),
    infer=_lrn_infer,
    shape=same_shape,
    module=lambda op, attrs, inputs: standard_construct(
        "nn.LocalResponseNorm", attrs, op, positional=("size",)),
    shape_rule="unchanged",
    flops=lambda attrs, inputs, output: (attrs["size"] + 4) * numel(output),
    flops_rule="size + 4 per element (the window's squares and sum, scale, power, divide)",
    window_rule="pointwise over positions (the window is across channels)",
    torch=("nn.LocalResponseNorm", "F.local_response_norm"),
))
