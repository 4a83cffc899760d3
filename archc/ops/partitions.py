"""MaxViT's pieces (Tu et al. 2022, "MaxViT: Multi-Axis Vision Transformer"): a feature map
[N, C, H, W] cut into partitions of tokens [N, G, P, C] and put back, and multi-head
self-attention within each partition with a learned bias per relative position.

Block attention partitions the map into windows of size x size (`window_partition(size)`);
grid attention into size x size windows spaced over the whole map: partitions of H / size,
whose groups and tokens are then swapped (`permute(0, 2, 1, 3)`). The attention module is
defined in the generated file (which imports only torch) with torchvision's attribute names,
so its state_dict keys are torchvision's: `to_qkv`, `merge`, `relative_position_bias_table`,
the buffer `relative_position_index`.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    BOOL,
    INT,
    REQUIRED,
    Attr,
    Attrs,
    Construct,
    Helper,
    Op,
    OpError,
    Role,
    Shape,
    everything,
    format_shape,
    known,
    numel,
    register,
    same_shape,
)


def _map(op: str, x: Shape) -> tuple[int, int, int]:
    """A feature map's channels, height and width, each a number."""
    if len(x) != 4:
        raise OpError(f"{op} cuts feature maps [N, C, H, W]", expected="[N, C, H, W]",
                      found=format_shape(x))
    return (known(op, x, 1, "its channels"), known(op, x, 2, "its height"),
            known(op, x, 3, "its width"))


# tensor methods only, with no size written in but the partition's: any batch and map size,
# scripted and exported
PARTITION = Helper("window_partition", (
    "def window_partition(x: torch.Tensor, size: int, grid: bool) -> torch.Tensor:",
    '    """[N, C, H, W] → [N, (H/size)(W/size), size², C]: partitions of size x size tokens,',
    "    each a window of the map (block attention) or, with grid, spread over the whole map,",
    '    H/size apart (grid attention; MaxViT)."""',
    "    if grid:",
    "        x = x.unflatten(2, (size, -1)).unflatten(4, (size, -1))",
    "        return x.permute(0, 3, 5, 2, 4, 1).flatten(3, 4).flatten(1, 2)",
    "    x = x.unflatten(2, (-1, size)).unflatten(4, (-1, size))",
    "    return x.permute(0, 2, 4, 3, 5, 1).flatten(3, 4).flatten(1, 2)",
))

DEPARTITION = Helper("window_departition", (
    "def window_departition("
    "x: torch.Tensor, like: torch.Tensor, size: int, grid: bool) -> torch.Tensor:",
    '    """[N, (H/size)(W/size), size², C] → [N, C, H, W], H and W being like\'s: the',
    '    partitions of window_partition put back (MaxViT)."""',
    "    x = x.unflatten(1, (like.shape[-2] // size, -1)).unflatten(3, (size, size))",
    "    if grid:",
    "        return x.permute(0, 5, 3, 1, 4, 2).flatten(4, 5).flatten(2, 3)",
    "    return x.permute(0, 5, 1, 3, 2, 4).flatten(4, 5).flatten(2, 3)",
))


def _partition_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    channels, height, width = _map("window_partition", inputs[0])
    size = attrs["size"]
    if size < 1:
        raise OpError("window_partition: the size must be 1 or more", attr="size",
                      found=str(size))
    if height % size or width % size:
        raise OpError(f"window_partition: {size}x{size} partitions do not tile a "
                      f"{height}x{width} map", attr="size",
                      expected=f"a size that divides {height} and {width}",
                      found=f"size={size} for input {format_shape(inputs[0])}")
    return (inputs[0][0], (height // size) * (width // size), size * size, channels)


WINDOW_PARTITION = register(Op(
    name="window_partition",
    role=Role.RESHAPE,
    doc="Cut a feature map [N, C, H, W] into (H/size)·(W/size) partitions of size x size "
        "tokens, [N, partitions, size², C]: windows of the map, or with `grid` tokens spread "
        "over the whole map H/size apart (MaxViT's block and grid attention: torchvision's "
        "WindowPartition, and SwapAxes for the grid); `window_departition` puts it back.",
    attrs=(Attr("size", INT, REQUIRED, "the side of a partition, in tokens (divides H and W)"),
           Attr("grid", BOOL, False, "tokens spread over the map, not a window of it")),
    shape=_partition_shape,
    function=lambda attrs, args: f"window_partition({args[0]}, {attrs['size']}, "
    f"{attrs['grid']})",
    helper=PARTITION,
    shape_rule="[N, C, H, W] → [N, (H/size)(W/size), size², C]; size divides H and W",
    flops_rule="0 (a copy of the input, reordered)",
    window=everything,
    window_rule="global: its output is no map",
    torch=("torchvision.models.maxvit.WindowPartition",),
))


def _departition_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    if len(inputs) != 2:
        raise OpError(f"window_departition takes two branches, the partitions and the map "
                      f"they were cut from; found {len(inputs)}",
                      expected="window_departition: [partitions, identity]")
    x, like = inputs
    if len(x) != 4:
        raise OpError("window_departition puts partitions [N, G, P, C] back into a map",
                      expected="[N, partitions, tokens, C]", found=format_shape(x))
    groups = known("window_departition", x, 1, "its partitions")
    tokens = known("window_departition", x, 2, "its tokens per partition")
    channels = known("window_departition", x, 3, "its channels")
    _, height, width = _map("window_departition", like)
    size = attrs["size"]
    if size < 1 or size * size != tokens:
        raise OpError(f"window_departition: partitions of {tokens} tokens are not "
                      f"{size}x{size}", attr="size", expected=f"size² = {tokens}",
                      found=f"size={size}")
    if height % size or width % size or (height // size) * (width // size) != groups:
        raise OpError(f"window_departition: {groups} partitions of {size}x{size} do not make "
                      f"a {height}x{width} map", expected=f"{(height // size) * (width // size)}"
                      " partitions", found=f"{groups}")
    return (x[0], channels, height, width)


WINDOW_DEPARTITION = register(Op(
    name="window_departition",
    role=Role.MERGE,
    doc="Put partitions [N, G, size², C] (the first branch) back into a feature map the size "
        "of the second, the map they were cut from (MaxViT's WindowDepartition): the inverse "
        "of `window_partition` with the same size and grid.",
    attrs=(Attr("size", INT, REQUIRED, "the side of a partition (size² is its tokens)"),
           Attr("grid", BOOL, False, "the partitions are window_partition's with grid")),
    shape=_departition_shape,
    function=lambda attrs, args: f"window_departition({args[0]}, {args[1]}, {attrs['size']}, "
    f"{attrs['grid']})",
    arity=None,
    helper=DEPARTITION,
    shape_rule="[N, G, size², C] and [N, C', H, W] → [N, C, H, W]; G = (H/size)(W/size)",
    flops_rule="0 (a copy of the input, reordered)",
    window=everything,
    window_rule="global: its input is no map",
    torch=("torchvision.models.maxvit.WindowDepartition",),
))


RELATIVE_ATTENTION = Helper("RelativePositionalMultiHeadAttention", (
    "class RelativePositionalMultiHeadAttention(nn.Module):",
    '    """Multi-head self-attention within each partition of [N, G, P, C] (P = size² tokens,',
    "    heads of head_dim channels), with a learned bias per relative position of two tokens;",
    "    the keys are scaled by C^-1/2, the whole width, as MaxViT's are (torchvision's",
    '    attribute names)."""',
    "",
    "    def __init__(self, dim: int, head_dim: int, size: int) -> None:",
    "        super().__init__()",
    "        self.n_heads = dim // head_dim",
    "        self.head_dim = head_dim",
    "        self.size = size",
    "        self.scale_factor = dim**-0.5",
    "        self.to_qkv = nn.Linear(dim, dim * 3)",
    "        self.merge = nn.Linear(dim, dim)",
    "        self.relative_position_bias_table = nn.Parameter(",
    "            torch.empty((2 * size - 1) ** 2, self.n_heads)",
    "        )",
    "        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)",
    "        # for each pair of a partition's tokens, the row of the table for their offset",
    "        rows = torch.arange(size).repeat_interleave(size)",
    "        cols = torch.arange(size).repeat(size)",
    "        offset_rows = rows[:, None] - rows[None, :] + size - 1",
    "        offset_cols = cols[:, None] - cols[None, :] + size - 1",
    '        self.register_buffer("relative_position_index", offset_rows * (2 * size - 1) + '
    "offset_cols)",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        batch, groups, tokens, channels = x.shape",
    "        # [3, N, G, heads, P, head_dim]: the queries, keys and values of each head",
    "        qkv = self.to_qkv(x).unflatten(-1, (3, self.n_heads, self.head_dim))",
    "        qkv = qkv.permute(3, 0, 1, 4, 2, 5)",
    "        q, k, v = qkv[0], qkv[1], qkv[2]",
    "        scores = q.matmul((k * self.scale_factor).transpose(-2, -1))",
    "        bias = self.relative_position_bias_table[self.relative_position_index]",
    "        scores = scores + bias.permute(2, 0, 1).unsqueeze(0)",
    "        out = nn.functional.softmax(scores, dim=-1).matmul(v)",
    "        return self.merge(out.transpose(2, 3).reshape(batch, groups, tokens, channels))",
))


def _relative_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    if len(x) != 4:
        raise OpError("relative_attention works within partitions [N, G, P, C] "
                      "(window_partition makes them)", expected="[N, G, P, C]",
                      found=format_shape(x))
    tokens = known("relative_attention", x, 2, "its tokens per partition")
    channels = known("relative_attention", x, 3, "its channels")
    head, size = attrs["head_dim"], attrs["size"]
    if head < 1 or channels % head:
        raise OpError(f"relative_attention: heads of {head} channels do not divide the "
                      f"{channels} channels", attr="head_dim",
                      expected=f"a divisor of {channels}", found=str(head))
    if size < 1 or size * size != tokens:
        raise OpError(f"relative_attention: partitions of {tokens} tokens are not "
                      f"{size}x{size}", attr="size", expected=f"size² = {tokens}",
                      found=f"size={size}")
    return {**attrs, "dim": channels}


def _relative_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    groups, tokens, channels = inputs[0][1], inputs[0][2], inputs[0][3]
    assert isinstance(groups, int) and isinstance(tokens, int) and isinstance(channels, int)
    # per partition: the query, key, value and output projections, then Q Kᵀ and its sum of V
    return groups * (4 * tokens * channels * channels + 2 * tokens * tokens * channels)


RELATIVE_ATTENTION_OP = register(Op(
    name="relative_attention",
    role=Role.ATTENTION,
    doc="Multi-head self-attention within each partition of [N, G, size², C], heads of "
        "`head_dim` channels, with a learned bias per relative position (MaxViT's "
        "RelativePositionalMultiHeadAttention, whose keys it has).",
    attrs=(
        Attr("head_dim", INT, REQUIRED, "channels per head; divides the channels"),
        Attr("size", INT, REQUIRED, "the side of a partition (size² is its tokens)"),
        Attr("dim", INT, None, "channels (inferred)", inferred=True),
    ),
    infer=_relative_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 4 * attrs["dim"] ** 2 + 4 * attrs["dim"]
    + (2 * attrs["size"] - 1) ** 2 * (attrs["dim"] // attrs["head_dim"]),
    buffers=lambda attrs, inputs: attrs["size"] ** 4,
    macs=_relative_macs,
    flops=lambda attrs, inputs, output: 2 * _relative_macs(attrs, inputs, output)
    + 4 * numel(output),
    window=everything,
    module=lambda op, attrs, inputs: Construct(
        "RelativePositionalMultiHeadAttention", (attrs["dim"], attrs["head_dim"], attrs["size"]),
        arg_names=("dim", "head_dim", "size")),
    shape_rule="unchanged",
    macs_rule="per partition of T tokens: 4 T C² for the projections and 2 T² C for the scores "
              "and their sum",
    flops_rule="2 per MAC, and the bias and softmax: about 4 per output element",
    window_rule="global: the partitions of block and grid attention reach the whole map",
    key=lambda attrs: f"{attrs['dim'] // attrs['head_dim']} heads, {attrs['size']}x"
                      f"{attrs['size']}",
    torch=("torchvision.models.maxvit.RelativePositionalMultiHeadAttention",),
    helper=RELATIVE_ATTENTION,
))
