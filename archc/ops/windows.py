"""Swin Transformer's pieces over channels-last feature maps [N, H, W, C]: self-attention within
(shifted) windows and patch merging (Liu et al. 2021, "Swin Transformer: Hierarchical Vision
Transformer using Shifted Windows").

Each is a module torch lacks, defined in the generated file (which imports only torch) with
torchvision's attribute names, so that its state_dict keys are torchvision's: `attn.qkv`,
`attn.proj`, `attn.relative_position_bias_table`, the buffer `attn.relative_position_index`;
`reduction`, `norm`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archc.ops.registry import (
    FLOAT,
    INT,
    INTS,
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

CHANNELS_LAST = "[N, H, W, C] (channels last: permute(0, 2, 3, 1) makes one of [N, C, H, W])"


def _channels_last(op: str, x: Shape) -> tuple[int, int, int]:
    """A channels-last map's height, width and channels, each a number."""
    if len(x) != 4:
        raise OpError(f"{op} works on channels-last feature maps {CHANNELS_LAST}",
                      expected="[N, H, W, C]", found=format_shape(x))
    return (known(op, x, 1, "its height"), known(op, x, 2, "its width"),
            known(op, x, 3, "its channels (last)"))


# ------------------------------------------------------------------ shifted window attention

# the attention both versions share: windows, their shift and its mask, the heads; the scores
# and the bias per relative position are each version's own
WINDOW_ATTENTION_BASE = Helper("WindowAttention", (
    "class WindowAttention(nn.Module):",
    '    """Multi-head self-attention within windows of [N, H, W, C], padded to whole windows and',
    "    shifted by shift_size (where the shifted windows wrap around, tokens that were apart do",
    "    not attend to each other), with a bias per relative position of two tokens (Swin",
    '    Transformer; torchvision\'s attribute names)."""',
    "",
    "    def __init__(",
    "        self,",
    "        dim: int,",
    "        window_size: int,",
    "        shift_size: int,",
    "        num_heads: int,",
    "        attention_dropout: float = 0.0,",
    "        dropout: float = 0.0,",
    "    ) -> None:",
    "        super().__init__()",
    "        self.window_size = [window_size, window_size]",
    "        self.shift_size = [shift_size, shift_size]",
    "        self.num_heads = num_heads",
    "        self.attention_dropout = attention_dropout",
    "        self.dropout = dropout",
    "        self.qkv = nn.Linear(dim, dim * 3)",
    "        self.proj = nn.Linear(dim, dim)",
    "        # for each pair of a window's tokens, the index of their offset",
    "        height, width = window_size, window_size",
    "        rows = torch.arange(height).repeat_interleave(width)",
    "        cols = torch.arange(width).repeat(height)",
    "        offset_rows = rows[:, None] - rows[None, :] + height - 1",
    "        offset_cols = cols[:, None] - cols[None, :] + width - 1",
    "        index = offset_rows * (2 * width - 1) + offset_cols",
    '        self.register_buffer("relative_position_index", index.flatten())',
    "",
    "    def project(self, x: torch.Tensor) -> torch.Tensor:",
    "        return self.qkv(x)",
    "",
    "    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:",
    "        return (q * q.shape[-1] ** -0.5).matmul(k.transpose(-2, -1))",
    "",
    "    def position_bias(self) -> torch.Tensor:",
    '        """[1, heads, tokens, tokens]: the bias of each pair of a window\'s tokens."""',
    "        raise NotImplementedError",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        batch, height, width, channels = x.shape",
    "        win_h, win_w = self.window_size[0], self.window_size[1]",
    "        pad_h, pad_w = (win_h - height % win_h) % win_h, (win_w - width % win_w) % win_w",
    "        x = nn.functional.pad(x, (0, 0, 0, pad_w, 0, pad_h))",
    "        full_h, full_w = height + pad_h, width + pad_w",
    "        # a window as large as the map has nothing to shift",
    "        shift_h = self.shift_size[0] if win_h < full_h else 0",
    "        shift_w = self.shift_size[1] if win_w < full_w else 0",
    "        shifted = shift_h + shift_w > 0",
    "        if shifted:",
    "            x = torch.roll(x, shifts=(-shift_h, -shift_w), dims=(1, 2))",
    "        rows, cols = full_h // win_h, full_w // win_w",
    "        windows, tokens, head = rows * cols, win_h * win_w, channels // self.num_heads",
    "        x = x.view(batch, rows, win_h, cols, win_w, channels).permute(0, 1, 3, 2, 4, 5)",
    "        x = x.reshape(batch * windows, tokens, channels)",
    "        qkv = self.project(x).reshape(batch * windows, tokens, 3, self.num_heads, head)",
    "        qkv = qkv.permute(2, 0, 3, 1, 4)",
    "        attn = self.scores(qkv[0], qkv[1]) + self.position_bias()",
    "        if shifted:",
    "            mask = self.mask(x, full_h, full_w, shift_h, shift_w)",
    "            attn = attn.view(batch, windows, self.num_heads, tokens, tokens)",
    "            attn = (attn + mask.unsqueeze(1).unsqueeze(0)).view("
    "-1, self.num_heads, tokens, tokens)",
    "        attn = nn.functional.softmax(attn, dim=-1)",
    "        attn = nn.functional.dropout(attn, p=self.attention_dropout, training=self.training)",
    "        x = attn.matmul(qkv[2]).transpose(1, 2).reshape(batch * windows, tokens, channels)",
    "        x = nn.functional.dropout(self.proj(x), p=self.dropout, training=self.training)",
    "        x = x.view(batch, rows, cols, win_h, win_w, channels).permute(0, 1, 3, 2, 4, 5)",
    "        x = x.reshape(batch, full_h, full_w, channels)",
    "        if shifted:",
    "            x = torch.roll(x, shifts=(shift_h, shift_w), dims=(1, 2))",
    "        return x[:, :height, :width, :].contiguous()",
    "",
    "    def mask(",
    "        self, like: torch.Tensor, full_h: int, full_w: int, shift_h: int, shift_w: int",
    "    ) -> torch.Tensor:",
    '        """Per window, -100 between two tokens of regions the shift brought together."""',
    "        win_h, win_w = self.window_size[0], self.window_size[1]",
    "        region = like.new_zeros((full_h, full_w))",
    "        label = 0",
    "        for top, bottom in [",
    "            (0, full_h - win_h),",
    "            (full_h - win_h, full_h - shift_h),",
    "            (full_h - shift_h, full_h),",
    "        ]:",
    "            for left, right in [",
    "                (0, full_w - win_w),",
    "                (full_w - win_w, full_w - shift_w),",
    "                (full_w - shift_w, full_w),",
    "            ]:",
    "                region[top:bottom, left:right] = label",
    "                label += 1",
    "        region = region.view(full_h // win_h, win_h, full_w // win_w, win_w)",
    "        region = region.permute(0, 2, 1, 3).reshape(-1, win_h * win_w)",
    "        apart = (region.unsqueeze(1) - region.unsqueeze(2)) != 0",
    "        return torch.zeros_like(apart, dtype=like.dtype).masked_fill(apart, -100.0)",
))

WINDOW_ATTENTION = Helper("ShiftedWindowAttention", (
    "class ShiftedWindowAttention(WindowAttention):",
    '    """Window attention with scaled dot products and a learned table of biases, one row',
    '    per relative position (Swin Transformer)."""',
    "",
    "    def __init__(",
    "        self,",
    "        dim: int,",
    "        window_size: int,",
    "        shift_size: int,",
    "        num_heads: int,",
    "        attention_dropout: float = 0.0,",
    "        dropout: float = 0.0,",
    "    ) -> None:",
    "        super().__init__(dim, window_size, shift_size, num_heads, attention_dropout, dropout)",
    "        self.relative_position_bias_table = nn.Parameter(",
    "            torch.zeros((2 * window_size - 1) ** 2, num_heads)",
    "        )",
    "        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)",
    "",
    "    def position_bias(self) -> torch.Tensor:",
    "        tokens = self.window_size[0] * self.window_size[1]",
    "        bias = self.relative_position_bias_table[self.relative_position_index]",
    "        return bias.view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)",
), needs=(WINDOW_ATTENTION_BASE,))

WINDOW_ATTENTION_V2 = Helper("ShiftedWindowAttentionV2", (
    "class ShiftedWindowAttentionV2(WindowAttention):",
    '    """Window attention with scaled cosine scores (a learned temperature per head, at most',
    "    100) and biases that a small MLP computes from log-spaced relative coordinates (Swin",
    '    Transformer V2); the keys have no bias."""',
    "",
    "    def __init__(",
    "        self,",
    "        dim: int,",
    "        window_size: int,",
    "        shift_size: int,",
    "        num_heads: int,",
    "        attention_dropout: float = 0.0,",
    "        dropout: float = 0.0,",
    "    ) -> None:",
    "        super().__init__(dim, window_size, shift_size, num_heads, attention_dropout, dropout)",
    "        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), 10.0).log())",
    "        self.cpb_mlp = nn.Sequential(",
    "            nn.Linear(2, 512),",
    "            nn.ReLU(inplace=True),",
    "            nn.Linear(512, num_heads, bias=False),",
    "        )",
    "        with torch.no_grad():",
    "            self.qkv.bias[dim : 2 * dim].zero_()",
    "        # each relative offset of two tokens, scaled to [-8, 8] and log-spaced:",
    "        # sign(d) * log2(1 + |d|) / 3",
    "        steps = torch.arange(-(window_size - 1), window_size, dtype=torch.float32)",
    "        offsets = steps / max(window_size - 1, 1) * 8",
    '        grid = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1)',
    "        table = grid.sign() * torch.log2(grid.abs() + 1) / 3",
    '        self.register_buffer("relative_coords_table", table.unsqueeze(0))',
    "",
    "    def project(self, x: torch.Tensor) -> torch.Tensor:",
    "        bias = self.qkv.bias",
    "        assert bias is not None",
    "        dim = bias.shape[0] // 3",
    "        key = torch.zeros_like(bias[dim : 2 * dim])",
    "        bias = torch.cat([bias[:dim], key, bias[2 * dim :]])",
    "        return nn.functional.linear(x, self.qkv.weight, bias)",
    "",
    "    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:",
    "        cosine = nn.functional.normalize(q, dim=-1).matmul(",
    "            nn.functional.normalize(k, dim=-1).transpose(-2, -1)",
    "        )",
    "        return cosine * self.logit_scale.clamp(max=4.605170185988092).exp()  # log(100)",
    "",
    "    def position_bias(self) -> torch.Tensor:",
    "        tokens = self.window_size[0] * self.window_size[1]",
    "        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)",
    "        bias = table[self.relative_position_index].view(tokens, tokens, -1)",
    "        return 16 * torch.sigmoid(bias.permute(2, 0, 1).unsqueeze(0))",
), needs=(WINDOW_ATTENTION_BASE,))


def _window_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    _, _, channels = _channels_last("window_attention", inputs[0])
    heads, window, shift = attrs["num_heads"], attrs["window_size"], attrs["shift"]
    if heads < 1 or channels % heads:
        raise OpError(f"window_attention: {heads} heads do not divide the {channels} channels",
                      attr="num_heads", expected=f"a divisor of {channels}", found=str(heads))
    if window < 1:
        raise OpError("window_attention: the window must be 1 or more", attr="window_size",
                      found=str(window))
    if not 0 <= shift < window:
        raise OpError(f"window_attention: the shift must be below the window ({window})",
                      attr="shift", expected=f"0 ≤ shift < {window} (Swin: window // 2)",
                      found=str(shift))
    for name in ("attention_dropout", "dropout"):
        if not 0.0 <= attrs[name] <= 1.0:
            raise OpError(f"window_attention: {name} must be between 0 and 1", attr=name,
                          found=str(attrs[name]))
    return {**attrs, "dim": channels}


def _window_counts(attrs: Attrs, inputs: Sequence[Shape]) -> tuple[int, int, int]:
    """Windows per sample (of the padded map), tokens per window, channels."""
    height, width, channels = _channels_last("window_attention", inputs[0])
    window = attrs["window_size"]
    return math.ceil(height / window) * math.ceil(width / window), window * window, channels


def _window_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    windows, tokens, channels = _window_counts(attrs, inputs)
    # per window: the query, key, value and output projections, then Q Kᵀ and its sum of V
    return windows * (4 * tokens * channels * channels + 2 * tokens * tokens * channels)


def _window_construct(op: Op, attrs: Attrs, inputs: Sequence[Shape]) -> Construct:
    kwargs = tuple((name, attrs[name]) for name in ("attention_dropout", "dropout")
                   if attrs[name])
    assert op.helper is not None
    return Construct(op.helper.name,
                     (attrs["dim"], attrs["window_size"], attrs["shift"], attrs["num_heads"]),
                     kwargs, arg_names=("dim", "window_size", "shift", "num_heads"))


WINDOW_ATTRS = (
    Attr("num_heads", INT, REQUIRED, "attention heads; divides the channels"),
    Attr("window_size", INT, 7, "the side of a window, in tokens"),
    Attr("shift", INT, 0, "how far the windows are shifted (0, or window_size // 2)"),
    Attr("attention_dropout", FLOAT, 0.0, "dropout on the attention weights"),
    Attr("dropout", FLOAT, 0.0, "dropout after the output projection"),
    Attr("dim", INT, None, "channels (inferred)", inferred=True),
)


WINDOW_ATTENTION_OP = register(Op(
    name="window_attention",
    role=Role.ATTENTION,
    doc="Multi-head self-attention within square windows of a channels-last map [N, H, W, C], "
        "the windows shifted by `shift` (Swin Transformer; torchvision's "
        "ShiftedWindowAttention, whose keys it has); the map is padded to whole windows.",
    attrs=WINDOW_ATTRS,
    infer=_window_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 4 * attrs["dim"] ** 2 + 4 * attrs["dim"]
    + (2 * attrs["window_size"] - 1) ** 2 * attrs["num_heads"],
    buffers=lambda attrs, inputs: attrs["window_size"] ** 4,
    macs=_window_macs,
    flops=lambda attrs, inputs, output: 2 * _window_macs(attrs, inputs, output)
    + 5 * numel(output),
    window=everything,
    module=_window_construct,
    shape_rule="unchanged",
    macs_rule="per window of T tokens: 4 T C² for the projections and 2 T² C for the scores and "
              "their sum, over the windows of the padded map",
    flops_rule="2 per MAC, and the biases, softmax and shift: about 5 per output element",
    window_rule="global: the shifted windows of successive blocks reach the whole map",
    key=lambda attrs: f"{attrs['num_heads']} heads, {attrs['window_size']}x"
                      f"{attrs['window_size']}" + (f" /{attrs['shift']}" if attrs["shift"] else ""),
    torch=("torchvision.models.swin_transformer.ShiftedWindowAttention",),
    helper=WINDOW_ATTENTION,
))


# the continuous position bias: an MLP of 512 hidden units from each of the (2W - 1)² relative
# offsets of a window to a bias per head
CPB_HIDDEN = 512


def _cpb_macs(attrs: Attrs) -> int:
    window, heads = int(attrs["window_size"]), int(attrs["num_heads"])
    return (2 * window - 1) ** 2 * CPB_HIDDEN * (2 + heads)


WINDOW_ATTENTION_V2_OP = register(Op(
    name="window_attention_v2",
    role=Role.ATTENTION,
    doc="Swin Transformer V2's window attention over a channels-last map [N, H, W, C]: as "
        "window_attention, but scaled cosine scores with a learned temperature per head, and "
        "biases computed by a small MLP from log-spaced relative coordinates (torchvision's "
        "ShiftedWindowAttentionV2, whose keys it has).",
    attrs=WINDOW_ATTRS,
    infer=_window_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 4 * attrs["dim"] ** 2 + 4 * attrs["dim"] + attrs["num_heads"]
    + CPB_HIDDEN * 3 + CPB_HIDDEN * attrs["num_heads"],
    buffers=lambda attrs, inputs: attrs["window_size"] ** 4
    + 2 * (2 * attrs["window_size"] - 1) ** 2,
    macs=lambda attrs, inputs, output: _window_macs(attrs, inputs, output) + _cpb_macs(attrs),
    flops=lambda attrs, inputs, output: 2 * (_window_macs(attrs, inputs, output)
                                             + _cpb_macs(attrs)) + 7 * numel(output),
    window=everything,
    module=_window_construct,
    shape_rule="unchanged",
    macs_rule="as window_attention, and the bias MLP once per call: (2W - 1)² · 512 · (2 + "
              "heads)",
    flops_rule="2 per MAC, and the normalisation, biases, softmax and shift: about 7 per "
               "output element",
    window_rule="global: the shifted windows of successive blocks reach the whole map",
    key=lambda attrs: f"{attrs['num_heads']} heads, {attrs['window_size']}x"
                      f"{attrs['window_size']}" + (f" /{attrs['shift']}" if attrs["shift"] else ""),
    torch=("torchvision.models.swin_transformer.ShiftedWindowAttentionV2",),
    helper=WINDOW_ATTENTION_V2,
))


# ------------------------------------------------------------------ 3-D (video) window attention

WINDOW_ATTENTION_3D = Helper("ShiftedWindowAttention3d", (
    "class ShiftedWindowAttention3d(nn.Module):",
    '    """Multi-head self-attention within windows of frames x rows x columns of',
    "    [N, T, H, W, C], padded to whole windows and shifted by shift_size (Video Swin",
    "    Transformer); where the clip is no longer than the window along a dim, the window is",
    "    cut to it and not shifted there. A learned bias per relative position (torchvision's",
    '    attribute names)."""',
    "",
    "    def __init__(",
    "        self,",
    "        dim: int,",
    "        window_size: list[int],",
    "        shift_size: list[int],",
    "        num_heads: int,",
    "        attention_dropout: float = 0.0,",
    "        dropout: float = 0.0,",
    "    ) -> None:",
    "        super().__init__()",
    "        self.window_size = window_size",
    "        self.shift_size = shift_size",
    "        self.num_heads = num_heads",
    "        self.attention_dropout = attention_dropout",
    "        self.dropout = dropout",
    "        self.qkv = nn.Linear(dim, dim * 3)",
    "        self.proj = nn.Linear(dim, dim)",
    "        depth, height, width = window_size",
    "        self.relative_position_bias_table = nn.Parameter(",
    "            torch.zeros((2 * depth - 1) * (2 * height - 1) * (2 * width - 1), num_heads)",
    "        )",
    "        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)",
    "        # for each pair of a window's tokens, the row of the table for their offset",
    "        frames = torch.arange(depth).repeat_interleave(height * width)",
    "        rows = torch.arange(height).repeat_interleave(width).repeat(depth)",
    "        cols = torch.arange(width).repeat(depth * height)",
    "        offset_frames = frames[:, None] - frames[None, :] + depth - 1",
    "        offset_rows = rows[:, None] - rows[None, :] + height - 1",
    "        offset_cols = cols[:, None] - cols[None, :] + width - 1",
    "        index = offset_frames * (2 * height - 1) + offset_rows",
    "        index = index * (2 * width - 1) + offset_cols",
    '        self.register_buffer("relative_position_index", index)',
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        batch, frames, height, width, channels = x.shape",
    "        size = [frames, height, width]",
    "        # a window no shorter than the clip along a dim is the clip there, unshifted",
    "        win = [min(self.window_size[i], size[i]) for i in range(3)]",
    "        shift = [self.shift_size[i] if size[i] > self.window_size[i] else 0 "
    "for i in range(3)]",
    "        pad = [(win[i] - size[i] % win[i]) % win[i] for i in range(3)]",
    "        x = nn.functional.pad(x, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0]))",
    "        full = [size[i] + pad[i] for i in range(3)]",
    "        shifted = shift[0] + shift[1] + shift[2] > 0",
    "        if shifted:",
    "            x = torch.roll(x, shifts=(-shift[0], -shift[1], -shift[2]), dims=(1, 2, 3))",
    "        grid = [full[i] // win[i] for i in range(3)]",
    "        windows, tokens = grid[0] * grid[1] * grid[2], win[0] * win[1] * win[2]",
    "        head = channels // self.num_heads",
    "        x = x.view(batch, grid[0], win[0], grid[1], win[1], grid[2], win[2], channels)",
    "        x = x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch * windows, tokens, channels)",
    "        qkv = self.qkv(x).reshape(batch * windows, tokens, 3, self.num_heads, head)",
    "        qkv = qkv.permute(2, 0, 3, 1, 4)",
    "        attn = (qkv[0] * head**-0.5).matmul(qkv[1].transpose(-2, -1))",
    "        # the table's rows for the window as cut, as torchvision takes them",
    "        index = self.relative_position_index[:tokens, :tokens].flatten()",
    "        bias = self.relative_position_bias_table[index].view(tokens, tokens, -1)",
    "        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)",
    "        if shifted:",
    "            mask = self.mask(x, full, win, shift)",
    "            attn = attn.view(batch, windows, self.num_heads, tokens, tokens)",
    "            attn = (attn + mask.unsqueeze(1).unsqueeze(0)).view("
    "-1, self.num_heads, tokens, tokens)",
    "        attn = nn.functional.softmax(attn, dim=-1)",
    "        attn = nn.functional.dropout(attn, p=self.attention_dropout, training=self.training)",
    "        x = attn.matmul(qkv[2]).transpose(1, 2).reshape(batch * windows, tokens, channels)",
    "        x = nn.functional.dropout(self.proj(x), p=self.dropout, training=self.training)",
    "        x = x.view(batch, grid[0], grid[1], grid[2], win[0], win[1], win[2], channels)",
    "        x = x.permute(0, 1, 4, 2, 5, 3, 6, 7)",
    "        x = x.reshape(batch, full[0], full[1], full[2], channels)",
    "        if shifted:",
    "            x = torch.roll(x, shifts=(shift[0], shift[1], shift[2]), dims=(1, 2, 3))",
    "        return x[:, :frames, :height, :width, :].contiguous()",
    "",
    "    def mask(",
    "        self, like: torch.Tensor, full: list[int], win: list[int], shift: list[int]",
    "    ) -> torch.Tensor:",
    '        """Per window, -100 between two tokens of regions the shift brought together."""',
    "        region = like.new_zeros((full[0], full[1], full[2]))",
    "        cuts: list[list[tuple[int, int]]] = []",
    "        for i in range(3):",
    "            edge, inner = full[i] - win[i], full[i] - shift[i]",
    "            cuts.append([(0, edge), (edge, inner), (inner, full[i])])",
    "        label = 0",
    "        for front, back in cuts[0]:",
    "            for top, bottom in cuts[1]:",
    "                for left, right in cuts[2]:",
    "                    region[front:back, top:bottom, left:right] = label",
    "                    label += 1",
    "        region = region.view(",
    "            full[0] // win[0], win[0], full[1] // win[1], win[1], full[2] // win[2], win[2]",
    "        )",
    "        region = region.permute(0, 2, 4, 1, 3, 5).reshape(-1, win[0] * win[1] * win[2])",
    "        apart = (region.unsqueeze(1) - region.unsqueeze(2)) != 0",
    "        return torch.zeros_like(apart, dtype=like.dtype).masked_fill(apart, -100.0)",
))


def _clip(op: str, x: Shape) -> tuple[int, int, int, int]:
    """A channels-last clip's frames, height, width and channels, each a number."""
    if len(x) != 5:
        raise OpError(f"{op} works on channels-last clips [N, T, H, W, C] (permute(0, 2, 3, 4, "
                      "1) makes one of [N, C, T, H, W])", expected="[N, T, H, W, C]",
                      found=format_shape(x))
    return (known(op, x, 1, "its frames"), known(op, x, 2, "its height"),
            known(op, x, 3, "its width"), known(op, x, 4, "its channels (last)"))


def _three(value: object, what: str) -> list[int]:
    items = [value] * 3 if isinstance(value, int) else list(value)  # type: ignore[call-overload]
    if len(items) != 3:
        raise OpError(f"window_attention_3d: {what} has one size per dim (frames, rows, "
                      "columns)", attr=what, expected="[T, H, W]", found=str(value))
    return [int(v) for v in items]


def _window3d_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    *_, channels = _clip("window_attention_3d", inputs[0])
    heads = attrs["num_heads"]
    window = _three(attrs["window_size"], "window_size")
    shift = _three(attrs["shift"], "shift")
    if heads < 1 or channels % heads:
        raise OpError(f"window_attention_3d: {heads} heads do not divide the {channels} "
                      "channels", attr="num_heads", expected=f"a divisor of {channels}",
                      found=str(heads))
    if min(window) < 1:
        raise OpError("window_attention_3d: the window must be 1 or more along each dim",
                      attr="window_size", found=str(window))
    if any(not 0 <= s < w for s, w in zip(shift, window, strict=True)):
        raise OpError(f"window_attention_3d: the shift must be below the window ({window})",
                      attr="shift", expected="0 ≤ shift < window along each dim (a half)",
                      found=str(shift))
    for name in ("attention_dropout", "dropout"):
        if not 0.0 <= attrs[name] <= 1.0:
            raise OpError(f"window_attention_3d: {name} must be between 0 and 1", attr=name,
                          found=str(attrs[name]))
    return {**attrs, "window_size": window, "shift": shift, "dim": channels}


def _window3d_counts(attrs: Attrs, inputs: Sequence[Shape]) -> tuple[int, int, int]:
    """Windows per sample (of the padded clip, the window cut to it), tokens, channels."""
    *size, channels = _clip("window_attention_3d", inputs[0])
    windows, tokens = 1, 1
    for side, window in zip(size, attrs["window_size"], strict=True):
        cut = min(side, window)
        windows *= math.ceil(side / cut)
        tokens *= cut
    return windows, tokens, channels


def _window3d_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    windows, tokens, channels = _window3d_counts(attrs, inputs)
    return windows * (4 * tokens * channels * channels + 2 * tokens * tokens * channels)


WINDOW_ATTENTION_3D_OP = register(Op(
    name="window_attention_3d",
    role=Role.ATTENTION,
    doc="Multi-head self-attention within windows of frames x rows x columns of a channels-last "
        "clip [N, T, H, W, C], shifted by `shift` (Video Swin Transformer; torchvision's "
        "ShiftedWindowAttention3d, whose keys it has); the clip is padded to whole windows, and "
        "a window longer than the clip along a dim is cut to it.",
    attrs=(
        Attr("num_heads", INT, REQUIRED, "attention heads; divides the channels"),
        Attr("window_size", INTS, [8, 7, 7], "the window's frames, rows and columns"),
        Attr("shift", INTS, 0, "how far the windows are shifted along each dim"),
        Attr("attention_dropout", FLOAT, 0.0, "dropout on the attention weights"),
        Attr("dropout", FLOAT, 0.0, "dropout after the output projection"),
        Attr("dim", INT, None, "channels (inferred)", inferred=True),
    ),
    infer=_window3d_infer,
    shape=same_shape,
    params=lambda attrs, inputs: 4 * attrs["dim"] ** 2 + 4 * attrs["dim"] + math.prod(
        2 * w - 1 for w in attrs["window_size"]) * attrs["num_heads"],
    buffers=lambda attrs, inputs: math.prod(attrs["window_size"]) ** 2,
    macs=_window3d_macs,
    flops=lambda attrs, inputs, output: 2 * _window3d_macs(attrs, inputs, output)
    + 5 * numel(output),
    window=everything,
    module=lambda op, attrs, inputs: Construct(
        "ShiftedWindowAttention3d",
        (attrs["dim"], attrs["window_size"], attrs["shift"], attrs["num_heads"]),
        tuple((name, attrs[name]) for name in ("attention_dropout", "dropout") if attrs[name]),
        arg_names=("dim", "window_size", "shift", "num_heads")),
    shape_rule="unchanged",
    macs_rule="per window of T tokens (the window cut to the clip): 4 T C² for the "
              "projections and 2 T² C for the scores and their sum, over the padded clip's "
              "windows",
    flops_rule="2 per MAC, and the biases, softmax and shift: about 5 per output element",
    window_rule="global: the shifted windows of successive blocks reach the whole clip",
    key=lambda attrs: f"{attrs['num_heads']} heads, "
                      + "x".join(str(w) for w in attrs["window_size"])
                      + (" /" + "x".join(str(s) for s in attrs["shift"])
                         if any(attrs["shift"]) else ""),
    torch=("torchvision.models.video.swin_transformer.ShiftedWindowAttention3d",),
    helper=WINDOW_ATTENTION_3D,
))


# ------------------------------------------------------------------ patch merging

# the step both versions of patch merging share
JOIN_PATCHES = Helper("join_patches", (
    "def join_patches(x: torch.Tensor) -> torch.Tensor:",
    '    """[..., H, W, C] → [..., ⌈H/2⌉, ⌈W/2⌉, 4C]: the four vectors of each 2x2 patch joined',
    '    (the map padded to even)."""',
    "    height, width = x.shape[-3], x.shape[-2]",
    "    x = nn.functional.pad(x, (0, 0, 0, width % 2, 0, height % 2))",
    "    return torch.cat(",
    "        [",
    "            x[..., 0::2, 0::2, :],",
    "            x[..., 1::2, 0::2, :],",
    "            x[..., 0::2, 1::2, :],",
    "            x[..., 1::2, 1::2, :],",
    "        ],",
    "        -1,",
    "    )",
))

PATCH_MERGING = Helper("PatchMerging", (
    "class PatchMerging(nn.Module):",
    '    """Halve the height and width of [N, H, W, C] (padded to even): the four vectors of each',
    '    2x2 patch joined, normalised and projected to 2C (Swin Transformer)."""',
    "",
    "    def __init__(self, dim: int) -> None:",
    "        super().__init__()",
    "        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)",
    "        self.norm = nn.LayerNorm(4 * dim)",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        return self.reduction(self.norm(join_patches(x)))",
), needs=(JOIN_PATCHES,))


def _map_or_clip(op: str, x: Shape) -> tuple[int, int, int]:
    """The height, width and channels of a channels-last map or clip ([N, T, H, W, C]: Video
    Swin merges each frame's patches)."""
    if len(x) == 5:
        return _clip(op, x)[1:]
    return _channels_last(op, x)


def _merging_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    return {**attrs, "dim": _map_or_clip("patch_merging", inputs[0])[2]}


def _merging_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    height, width, channels = _map_or_clip("patch_merging", inputs[0])
    x = inputs[0]
    return (*x[:-3], math.ceil(height / 2), math.ceil(width / 2), 2 * channels)


def _patch_merging(name: str, helper: Helper, doc: str, norm_first: bool) -> Op:
    """Swin's patch merging, the layer norm over the 4C joined vectors before the projection
    (V1) or over its 2C outputs after it (V2): the norm's width is all that differs."""
    norm = 4 if norm_first else 2  # the normalised width, in multiples of C
    return register(Op(
        name=name,
        role=Role.RESHAPE,
        doc=doc,
        attrs=(Attr("dim", INT, None, "channels (inferred)", inferred=True),),
        infer=_merging_infer,
        shape=_merging_shape,
        params=lambda attrs, inputs: 8 * attrs["dim"] * attrs["dim"] + 2 * norm * attrs["dim"],
        macs=lambda attrs, inputs, output: numel(output) * 4 * attrs["dim"],
        flops=lambda attrs, inputs, output: 2 * numel(output) * 4 * attrs["dim"]
        + 7 * numel(output) * norm // 2,
        window=everything,
        module=lambda op, attrs, inputs: Construct(helper.name, (attrs["dim"],),
                                                   arg_names=("dim",)),
        shape_rule="[N, H, W, C] → [N, ⌈H/2⌉, ⌈W/2⌉, 2C]; [N, T, H, W, C] frame by frame",
        macs_rule="4C per output element (the projection of each joined patch)",
        flops_rule="2 per MAC, and the layer norm of the joined patch" if norm_first
        else "2 per MAC, and the layer norm of the projection",
        window_rule="global: its output has the map's layout halved, channels last",
        torch=(f"torchvision.models.swin_transformer.{helper.name}",),
        helper=helper,
    ))


PATCH_MERGING_OP = _patch_merging(
    "patch_merging", PATCH_MERGING,
    "Halve the height and width of a channels-last map [N, H, W, C] (padded to even): each "
    "2x2 patch's four vectors joined, layer-normalised and projected to 2C without bias "
    "(Swin Transformer; torchvision's PatchMerging, whose keys it has).", norm_first=True)


PATCH_MERGING_V2 = Helper("PatchMergingV2", (
    "class PatchMergingV2(nn.Module):",
    '    """Halve the height and width of [N, H, W, C] (padded to even): the four vectors of each',
    '    2x2 patch joined, projected to 2C, then normalised (Swin Transformer V2)."""',
    "",
    "    def __init__(self, dim: int) -> None:",
    "        super().__init__()",
    "        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)",
    "        self.norm = nn.LayerNorm(2 * dim)",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        return self.norm(self.reduction(join_patches(x)))",
), needs=(JOIN_PATCHES,))


PATCH_MERGING_V2_OP = _patch_merging(
    "patch_merging_v2", PATCH_MERGING_V2,
    "Swin Transformer V2's patch merging over a channels-last map [N, H, W, C]: as "
    "patch_merging, but the projection to 2C comes first and the layer norm after it "
    "(torchvision's PatchMergingV2, whose keys it has).", norm_first=False)
