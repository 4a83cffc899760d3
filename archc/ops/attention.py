"""Transformer pieces over [N, L, E] token sequences: multi-head self-attention, a class token
and a learned position embedding (torchvision's ViT, BERT's embeddings).

The class token and the position embedding are parameters their module holds under the entry's
name (`class_token`, `encoder.pos_embedding`: torchvision's keys), not child modules; attention
is nn.MultiheadAttention, called on its input three times (self-attention) as torchvision's
EncoderBlock calls it.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.registry import (
    BOOL,
    FEATURES,
    FLOAT,
    INT,
    PARAMETER,
    REQUIRED,
    Attr,
    Attrs,
    Construct,
    Op,
    OpError,
    Role,
    Shape,
    everything,
    format_shape,
    is_static,
    known,
    numel,
    register,
    same_shape,
    standard_construct,
)

SEQUENCE = "[N, L, E] (a batch of L tokens of E features)"


def _tokens(op: str, x: Shape) -> None:
    if len(x) != 3:
        raise OpError(f"{op} expects a sequence of tokens {SEQUENCE}",
                      expected="[N, L, E]: flatten(2) then permute(0, 2, 1) makes one of a "
                      "feature map", found=format_shape(x))


# ------------------------------------------------------------------ attention


def _attention_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    _tokens("attention", x)
    embed = known("attention", x, 2, "its features (the embedding width)")
    heads = attrs["num_heads"]
    if heads < 1 or embed % heads:
        raise OpError(f"attention: {heads} heads do not divide the {embed} features",
                      attr="num_heads", expected=f"a divisor of {embed}", found=str(heads))
    if not 0.0 <= attrs["dropout"] <= 1.0:
        raise OpError("attention: dropout must be between 0 and 1", attr="dropout",
                      found=str(attrs["dropout"]))
    return {**attrs, "embed_dim": embed}


def _attention_params(attrs: Attrs, inputs: Sequence[Shape]) -> int:
    embed = int(attrs["embed_dim"])
    # in_proj (query, key and value: 3E x E) and out_proj (E x E), each with its bias
    return 4 * embed * embed + (4 * embed if attrs["bias"] else 0)


def _length(x: Shape) -> int:
    """The sequence length as counts read it: its size, or 1 per value of its symbol."""
    return int(x[1]) if is_static(x[1]) else 1


def _attention_macs(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    x = inputs[0]
    embed = int(attrs["embed_dim"])
    tokens = numel(x) // embed
    # the four projections, then scores (Q Kᵀ) and their weighted sum of values (A V)
    return 4 * tokens * embed * embed + 2 * tokens * _length(x) * embed


def _attention_flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
    x = inputs[0]
    tokens = numel(x) // int(attrs["embed_dim"])
    scores = tokens * _length(x) * int(attrs["num_heads"])
    biases = 4 * numel(x) if attrs["bias"] else 0
    # 2 per MAC, the scaling and softmax of every score (exp, sum, divide: 4)
    return 2 * _attention_macs(attrs, inputs, output) + biases + 4 * scores


def _attention_construct(op: Op, attrs: Attrs, inputs: Sequence[Shape]) -> Construct:
    # batch_first: archc's tokens are [N, L, E], the batch first as everywhere
    construct = standard_construct("nn.MultiheadAttention", attrs, op,
                                   positional=("embed_dim", "num_heads"))
    return Construct(construct.callee, construct.args, (*construct.kwargs, ("batch_first", True)),
                     arg_names=construct.arg_names)


ATTENTION = register(Op(
    name="attention",
    role=Role.ATTENTION,
    doc="Multi-head self-attention over a sequence of tokens [N, L, E] (nn.MultiheadAttention "
        "with batch_first, its query, key and value all the input, as torchvision's ViT "
        "calls it); embed_dim is inferred.",
    attrs=(
        Attr("num_heads", INT, REQUIRED, "attention heads; divides the features"),
        Attr("dropout", FLOAT, 0.0, "dropout on the attention weights"),
        Attr("bias", BOOL, True, "biases in the projections"),
        Attr("embed_dim", INT, None, "features (inferred)", inferred=True,
             from_input=FEATURES),
    ),
    infer=_attention_infer,
    shape=same_shape,
    params=_attention_params,
    macs=_attention_macs,
    flops=_attention_flops,
    window=everything,
    module=_attention_construct,
    call=lambda attrs, args: f"{args[-1]}({args[0]}, {args[0]}, {args[0]}, "
    "need_weights=False)[0]",
    shape_rule="unchanged",
    macs_rule="4 L E² for the projections and 2 L² E for the scores and their sum, per sample",
    flops_rule="2 per MAC, the biases, and 4 per score (scale, exp, sum, divide)",
    window_rule="global: every token reads every token",
    key=lambda attrs: f"{attrs['num_heads']} heads",
    torch=("nn.MultiheadAttention", "F.multi_head_attention_forward"),
))


# ------------------------------------------------------------------ class token


def _class_token_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    _tokens("class_token", x)
    known("class_token", x, 1, "its length (one more token follows)")
    return {**attrs, "features": known("class_token", x, 2, "its features")}


CLASS_TOKEN_OP = register(Op(
    name="class_token",
    role=Role.EMBEDDING,
    doc="Put a learnable token before each sequence [N, L, E] → [N, L + 1, E] (ViT's class "
        "token). It is a [1, 1, E] parameter of the enclosing module under the entry's name "
        "(torchvision's key `class_token`), zero at first.",
    attrs=(Attr("features", INT, None, "features (inferred)", inferred=True,
                from_input=FEATURES),),
    infer=_class_token_infer,
    shape=lambda attrs, inputs: (inputs[0][0], known("class_token", inputs[0], 1, "its length")
                                 + 1, inputs[0][2]),
    params=lambda attrs, inputs: attrs["features"],
    module=lambda op, attrs, inputs: Construct("parameter", (1, 1, attrs["features"]),
                                               arg_names=("batch", "length", "features")),
    call=lambda attrs, args: f"torch.cat([{args[-1]}.expand({args[0]}.shape[0], -1, -1), "
    f"{args[0]}], dim=1)",
    held=True,
    shape_rule="[N, L, E] → [N, L + 1, E]",
    flops_rule="0 (a copy)",
    window_rule="pointwise (the token reads nothing)",
    helper=PARAMETER,
))


# ------------------------------------------------------------------ position embedding


def _position_infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
    x = inputs[0]
    _tokens("position_embedding", x)
    length = known("position_embedding", x, 1, "its length (a vector per position)")
    if attrs.get("length") is not None and attrs["length"] != length:
        raise OpError(f"position_embedding: length={attrs['length']} does not fit "
                      f"{format_shape(x)}", attr="length",
                      expected=f"length={length} (or leave it out: it is inferred)",
                      found=f"length={attrs['length']}")
    return {**attrs, "length": known("position_embedding", x, 1, "its length (a vector per "
                                     "position)"),
            "features": known("position_embedding", x, 2, "its features")}


POSITION_EMBEDDING_OP = register(Op(
    name="position_embedding",
    role=Role.EMBEDDING,
    doc="Add a learnable vector to each position of [N, L, E] (ViT's position embedding). It "
        "is a [1, L, E] parameter of the enclosing module under the entry's name "
        "(torchvision's key `encoder.pos_embedding`), drawn from N(0, 0.02²) at first.",
    attrs=(Attr("length", INT, None, "positions (inferred)", inferred=True),
           Attr("features", INT, None, "features (inferred)", inferred=True,
                from_input=FEATURES)),
    infer=_position_infer,
    shape=same_shape,
    params=lambda attrs, inputs: attrs["length"] * attrs["features"],
    flops=lambda attrs, inputs, output: numel(output),
    # drawn from N(0, 0.02²), as torchvision (and BERT) draw it
    module=lambda op, attrs, inputs: Construct("parameter",
                                               (1, attrs["length"], attrs["features"]),
                                               (("std", 0.02),),
                                               arg_names=("batch", "length", "features")),
    call=lambda attrs, args: f"{args[0]} + {args[-1]}",
    held=True,
    shape_rule="unchanged",
    flops_rule="1 per element",
    helper=PARAMETER,
))
