"""Every op in `archc.ops.OPS`, built through the public pipeline and checked against PyTorch.

For each configuration the spec is elaborated (`archc.network`, static shapes, no torch) and
built (`archc.build`, the generated source executed); one forward pass then checks that every
op module's static output shape, parameter count and buffer count are what PyTorch has, and
so are the network's totals. Hypothesis compares the shape rules with hand-made PyTorch
modules over random geometry (including the cases where both must refuse), and the error
tests check that every mistake is an `ArchcError` that says what is wrong and where.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch import nn

import archc
from archc import ArchcError
from archc.dims import BATCH, Shape
from archc.ir import Network
from archc.ops import OPS

# `make fuzz` sets ARCHC_PROPERTY_EXAMPLES=10000 for the long profile
PROPERTY = settings(max_examples=int(os.environ.get("ARCHC_PROPERTY_EXAMPLES", "30")),
                    deadline=None)

# ------------------------------------------------------------------ helpers


def spec_text(input_shape: tuple[int, ...], layers: Any) -> str:
    """A spec with one input and the given layers: a layer string ("conv(8, 3); relu"), a
    merge mapping ({"concat": [...], "dim": 2}) or a list of those."""
    body = layers if isinstance(layers, list) else [layers]
    document = {"name": "t", "input": list(input_shape), "layers": body}
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def fmt(value: Any) -> str:
    """A Python value as spec-expression text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return repr(value)


def call(op: str, *args: Any, **kwargs: Any) -> str:
    """`call("conv", 8, 3, stride=2)` → "conv(8, 3, stride=2)"."""
    parts = [fmt(a) for a in args] + [f"{k}={fmt(v)}" for k, v in kwargs.items()]
    return f"{op}({', '.join(parts)})"


def concrete(shape: Shape, batch: int = 1) -> tuple[int, ...]:
    return tuple(batch if d == BATCH else d for d in shape)


def own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def own_buffers(module: nn.Module) -> int:
    return sum(b.numel() for b in module.buffers())


@contextmanager
def quiet() -> Iterator[None]:
    """PyTorch's own UserWarnings (padding='same' with an even kernel, ...) are not tested."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@dataclass
class Built:
    network: Network
    model: nn.Module
    output: torch.Tensor


def build_and_check(input_shape: tuple[int, ...], layers: Any) -> Built:
    """Elaborate and build a spec, run it once, and check static against PyTorch per op
    module (output shape, parameters, buffers) and for the whole network."""
    text = spec_text(input_shape, layers)
    network = archc.network(text)
    with quiet():
        model = archc.build(text).eval()
    seen: dict[int, tuple[int, ...]] = {}
    handles = []
    # a module forward uses otherwise than `child(x)` (an op's `call`: a parameter its
    # module holds, attention returning a tuple) is checked by its counts; the shapes of the
    # values it makes are checked where the next module reads them, and at the output
    modules = [node for node in network.nodes() if node.module is not None
               and OPS[node.op].call is None]
    for node in network.nodes():
        if node.module is not None and OPS[node.op].call is not None:
            name = ".".join(node.module)
            held = (model.get_parameter(name).numel() if OPS[node.op].held
                    else own_params(model.get_submodule(name)))
            assert held == network.counts[node.id].params, node.path
    for node in modules:
        assert node.module is not None
        module = model.get_submodule(".".join(node.module))
        counts = network.counts[node.id]
        assert own_params(module) == counts.params, f"parameters of {node.op} at {node.path}"
        assert own_buffers(module) == counts.buffers, f"buffers of {node.op} at {node.path}"

        def hook(_: nn.Module, __: Any, out: torch.Tensor, node_id: int = node.id) -> None:
            seen[node_id] = tuple(out.shape)

        handles.append(module.register_forward_hook(hook))
    with torch.no_grad(), quiet():
        output = model(torch.randn(1, *input_shape))
    for handle in handles:
        handle.remove()
    assert set(seen) == {node.id for node in modules}, "an op module did not run"
    for node_id, shape in seen.items():
        node = network.node(node_id)
        assert shape == concrete(node.shape), f"{node.op} at {node.path}: static {node.shape}"
    (static,) = network.output_shapes()
    assert tuple(output.shape) == concrete(static)
    assert network.total_params == own_params(model)
    assert network.total_buffers == own_buffers(model)
    return Built(network, model, output)


def ops_in(network: Network) -> set[str]:
    return {node.op for node in network.nodes()}


# ------------------------------------------------------------------ the configuration table
# op name → [(input shape without the batch dim, layers)]. Every op in OPS must appear here.

C1, C2, C3 = (3, 16), (3, 9, 10), (2, 4, 5, 6)  # 1d, 2d and 3d inputs

Case = tuple[tuple[int, ...], Any] | tuple[tuple[int, ...], Any, str]

CASES: dict[str, list[Case]] = {
    "conv": [
        ((3, 17, 19), "conv(8, 3, stride=2, padding=1)"),
        (C1, "conv(4, 5)"),
        ((3, 20), "conv(6, 3, stride=3, groups=3, bias=false)"),
        ((2, 6, 7, 5), "conv(4, 3, padding=1)"),
        ((3, 4, 4, 4), "conv(2, [1, 2, 3], stride=[1, 2, 1])"),
        ((4, 10, 10), "conv(8, 3, groups=2, bias=false)"),
        ((4, 10, 10), "conv(4, 3, groups=4)"),
        ((3, 12, 9), "conv(5, [3, 1], stride=[2, 1], padding=[1, 0])"),
        ((3, 11, 11), "conv(4, 3, dilation=2)"),
        ((3, 11, 11), "conv(4, 3, dilation=[1, 2], stride=2)"),
        (C2, "conv(4, 4, padding='same')"),
        (C2, "conv(4, 3, padding='same', dilation=2)"),
        (C1, "conv(4, 6, padding='same')"),
        (C3, "conv(3, 2, padding='same')"),
        (C2, "conv(4, 3, padding='valid')"),
        ((3, 8, 8), "conv(4, 3, padding=1, padding_mode='reflect')"),
        ((3, 8, 8), "conv(4, 3, padding=7, padding_mode='reflect')"),
        ((3, 8, 8), "conv(4, 3, padding=8, padding_mode='circular')"),
        ((3, 8, 8), "conv(4, 3, padding=9, padding_mode='replicate')"),
        ((3, 8), "conv(4, 4, padding='same', padding_mode='reflect')"),
        (C3, "conv(2, 3, padding=1, padding_mode='circular')"),
        ((3, 10, 10), "conv(6, 1, in_channels=3)"),
        ((1, 5, 5), "conv(2, 1, weight=[[[[1.0]]], [[[2.0]]]])"),
        ((3, 5, 5), "conv(4, 5)"),  # the kernel exactly fills the input
        ((3, 17, 19), "conv(8, 3, 2, 1); relu; conv(4, 3, 2, 1)"),
        ((3, 8, 8), "conv(8, 3, init='kaiming_normal')"),
        ((3, 8, 8), "conv(4, 3, stride=[2], padding=[1], dilation=[1])"),  # one for every dim
        (C1, "conv(4, 3, init='kaiming_uniform', bias=false)"),
        (C3, "conv(2, 1, init=['constant', 0.5])"),
    ],
    "conv_transpose": [
        ((4, 5, 6), "conv_transpose(3, 3, stride=2, padding=1, output_padding=1)"),
        ((4, 7), "conv_transpose(2, 4, stride=2)"),
        ((2, 3, 4, 3), "conv_transpose(4, 2, stride=2)"),
        ((4, 5, 5), "conv_transpose(8, 3, groups=2, bias=false)"),
        ((4, 5, 5), "conv_transpose(4, 3, dilation=2, stride=2, output_padding=1)"),
        ((4, 5, 5), "conv_transpose(4, 3, dilation=3, output_padding=2)"),
        ((3, 5, 6), "conv_transpose(2, [3, 2], stride=[2, 1], padding=[1, 0])"),
        ((4, 5, 5), "conv_transpose(8, 1, in_channels=4)"),
        ((4, 1), "conv_transpose(3, 1)"),
        ((3, 6, 6), "conv(8, 3, stride=2, padding=1); conv_transpose(3, 4, stride=2, padding=1)"),
        ((4, 5, 5), "conv_transpose(4, 3, init='xavier_uniform')"),
        ((4, 5, 5), "conv_transpose(3, 3, stride=[2], padding=[1], output_padding=[1])"),
    ],
    "linear": [
        ((12,), "linear(5)"),
        ((12,), "linear(5, bias=false)"),
        ((4, 6), "linear(3)"),
        ((2, 3, 5), "linear(7)"),
        ((2, 3, 4, 5), "linear(2)"),
        ((6,), "linear(4, in_features=6)"),
        ((1,), "linear(1)"),
        ((3, 4, 4), "flatten; linear(10)"),
        ((12,), "linear(5, init=['normal', 0.01])"),
        ((4, 6), "linear(3, init='xavier_normal', bias=false)"),
        ((12,), "linear(5, init='default')"),
    ],
    "bn": [
        ((6,), "bn"),
        ((4, 9), "bn"),
        ((4, 6, 7), "bn"),
        (C3, "bn"),
        ((4, 6, 7), "bn(affine=false)"),
        ((4, 9), "bn(track_running_stats=false)"),
        ((4, 6, 7), "bn(affine=false, track_running_stats=false)"),
        ((4, 6, 7), "bn(eps=0.001, momentum=none)"),
        ((4, 6, 7), "bn(num_features=4)"),
        ((3, 6, 6), "conv(8, 3, bias=false); bn; relu"),
        ((4, 6, 7), "bn(init='zeros')"),
        ((4, 9), "bn(init=['normal', 0.02])"),
    ],
    "layernorm": [
        ((10,), "layernorm"),
        ((5, 10), "layernorm"),
        ((3, 5, 6), "layernorm([5, 6])"),
        ((3, 5, 6), "layernorm([3, 5, 6])"),
        (C3, "layernorm(6)"),
        ((5, 10), "layernorm(elementwise_affine=false)"),
        ((5, 10), "layernorm(bias=false)"),
        ((3, 4), "layernorm(4, eps=0.001)"),
        ((4, 6), "linear(8); layernorm; gelu"),
        ((5, 10), "layernorm(normalized_shape=none)"),
        ((3, 5, 6), "layernorm([5, 6], init='xavier_uniform', bias=false)"),
        ((5, 10), "layernorm(init='zeros')"),
    ],
    "groupnorm": [
        ((6, 5), "groupnorm(3)"),
        ((8, 4, 4), "groupnorm(2)"),
        ((4, 2, 3, 3), "groupnorm(4, affine=false)"),
        ((6,), "groupnorm(3)"),
        ((8, 4, 4), "groupnorm(1)"),
        ((6, 4, 4), "groupnorm(6, eps=0.01)"),
        ((6, 4, 4), "groupnorm(3, init='ones')"),
    ],
    "relu": [((5,), "relu"), (C1, "relu"), (C2, "relu"),
             (C3, "conv(2, 1); relu(inplace=true)")],
    "relu6": [((4, 7), "relu6"), (C2, "relu6(true)"), (C3, "relu6")],
    "leaky_relu": [
        ((5,), "leaky_relu"),
        (C1, "leaky_relu(0.2)"),
        (C2, "leaky_relu(negative_slope=0.1, inplace=true)"),
        (C3, "leaky_relu(0.3)"),
    ],
    "elu": [((5,), "elu"), (C1, "elu"), (C2, "elu(alpha=0.5)"), (C3, "elu(2, true)")],
    "gelu": [((5,), "gelu"), (C1, "gelu(approximate='tanh')"), (C2, "gelu('none')"),
             (C3, "gelu")],
    "silu": [((5,), "silu"), (C1, "silu"), (C2, "silu(inplace=true)"), (C3, "silu")],
    "sigmoid": [((5,), "sigmoid"), (C1, "sigmoid"), (C2, "sigmoid"), (C3, "sigmoid")],
    "tanh": [((5,), "tanh"), (C1, "tanh"), (C2, "tanh"), (C3, "tanh")],
    "hardswish": [((5,), "hardswish"), (C1, "hardswish(inplace=true)"), (C2, "hardswish"),
                  (C3, "hardswish")],
    "hardsigmoid": [((5,), "hardsigmoid"), (C1, "hardsigmoid(inplace=true)"),
                    (C2, "hardsigmoid"), (C3, "hardsigmoid")],
    "softmax": [
        ((10,), "softmax"),
        (C1, "softmax(dim=2)"),
        (C2, "softmax(dim=1)"),
        (C2, "softmax(-2)"),
        (C3, "softmax(dim=4)"),
    ],
    "log_softmax": [((10,), "log_softmax"), (C1, "log_softmax(dim=1)"),
                    (C2, "log_softmax(dim=-3)"), (C3, "log_softmax(-1)")],
    "maxpool": [
        ((3, 8, 8), "maxpool(2)"),
        ((3, 9, 9), "maxpool(3, stride=2, padding=1)"),
        ((3, 10), "maxpool(3, stride=2)"),
        ((2, 6, 6, 6), "maxpool(2)"),
        ((3, 9, 8), "maxpool(2, ceil_mode=true)"),
        ((3, 11, 11), "maxpool(3, stride=2, dilation=2)"),
        ((3, 11, 11), "maxpool(2, stride=1, padding=1, dilation=3)"),
        ((3, 9, 10), "maxpool([3, 2], stride=[2, 1], padding=[1, 0])"),
        ((3, 5, 5), "maxpool(2, stride=2, padding=1, ceil_mode=true)"),  # last window dropped
        ((2, 7), "maxpool(3, stride=1, padding=1)"),
        ((2, 7, 5, 6), "maxpool(3, 2, 1, ceil_mode=true)"),
        ((3, 4, 4), "maxpool(4)"),
        ((3, 8, 8), "maxpool([2])"),  # PyTorch's pools read one value as every dim's
        ((3, 8, 8), "maxpool(2, stride=[])"),  # [] is the default stride, the kernel
        ((2, 4, 4, 4), "maxpool([2], stride=[1], padding=[1], dilation=[1])"),
    ],
    "avgpool": [
        ((3, 8, 8), "avgpool(2)"),
        ((3, 9, 9), "avgpool(3, stride=2, padding=1)"),
        ((3, 9, 9), "avgpool(3, stride=2, padding=1, count_include_pad=false)"),
        ((3, 10), "avgpool(4, stride=3)"),
        ((3, 10), "avgpool(3, stride=2, padding=1, ceil_mode=true)"),
        ((2, 5, 6, 7), "avgpool(2, ceil_mode=true)"),
        ((3, 8, 8), "avgpool(2, divisor_override=3)"),
        ((2, 4, 4, 4), "avgpool(2, divisor_override=2)"),
        ((3, 5, 5), "avgpool(2, stride=2, padding=1, ceil_mode=true)"),
        ((3, 9, 7), "avgpool([3, 1], stride=[2, 1])"),
        ((3, 8, 8), "avgpool([3], stride=[2], padding=[1])"),
    ],
    "adaptive_avgpool": [
        ((3, 9, 9), "adaptive_avgpool(1)"),
        ((3, 10), "adaptive_avgpool(4)"),
        ((3, 10), "adaptive_avgpool([3])"),
        ((3, 7, 9), "adaptive_avgpool([2, 3])"),
        ((3, 7, 9), "adaptive_avgpool([none, 3])"),
        (C3, "adaptive_avgpool(2)"),
        (C3, "adaptive_avgpool([none, 2, none])"),
        ((3, 5, 5), "adaptive_avgpool(8)"),
        ((3, 6, 6), "conv(4, 3); adaptive_avgpool(1); flatten; linear(2)"),
    ],
    "adaptive_maxpool": [
        ((3, 9, 9), "adaptive_maxpool(1)"),
        ((3, 10), "adaptive_maxpool(4)"),
        ((3, 7, 9), "adaptive_maxpool([2, 3])"),
        ((3, 7, 9), "adaptive_maxpool([3, none])"),
        (C3, "adaptive_maxpool([1, 2, 3])"),
        ((3, 5, 5), "adaptive_maxpool(7)"),
    ],
    "flatten": [
        ((3, 4, 5), "flatten"),
        ((3, 4, 5), "flatten(2)"),
        (C3, "flatten(1, 2)"),
        (C3, "flatten(start_dim=2, end_dim=-2)"),
        ((7,), "flatten"),
        ((3, 4), "flatten(-1)"),
        (C1, "flatten(end_dim=1)"),
    ],
    "reshape": [
        ((3, 4, 4), "reshape(48)"),
        ((3, 4, 4), "reshape(-1)"),
        ((3, 4, 4), "reshape(3, 16)"),
        ((3, 4, 4), "reshape(6, -1, 2)"),
        ((12,), "reshape(3, 2, 2)"),
        ((12,), "reshape([4, 3])"),
        (C3, "reshape(8, 30)"),
        ((12,), "reshape(12, 1, 1)"),
        (C1, "reshape(4, 12)"),
    ],
    "layernorm2d": [
        ((6, 4, 5), "layernorm2d"),
        ((6, 4, 5), "layernorm2d(eps=1e-6)"),
        ((3, 1, 1), "layernorm2d(elementwise_affine=false)"),
        ((4, 3, 3), "conv(8, 3); layernorm2d(8, init='ones')"),
    ],
    "layer_scale": [
        ((6, 4, 5), "layer_scale(1e-6)"),
        ((6,), "layer_scale(0.5)"),
        ((3, 4), "layer_scale(2.0, rank=1)"),
        (C3, "layer_scale(value=1.0)"),
        ((4, 3, 3), "conv(8, 3); layer_scale(0.1)"),
    ],
    "attention": [
        ((5, 8), "attention(2)"),
        ((7, 12), "attention(num_heads=3, dropout=0.1)"),
        ((4, 6), "attention(1, bias=false)"),
        ((3, 8), "linear(16); attention(4); layernorm"),
    ],
    "class_token": [((5, 8), "class_token"), ((1, 3), "class_token"),
                    ((4, 6), "linear(10); class_token")],
    "position_embedding": [((5, 8), "position_embedding"), ((1, 3), "position_embedding"),
                           ((4, 6), "class_token; position_embedding(length=5)")],
    "select": [
        ((5, 8), "select(1, 0)"),
        ((5, 8), "select(2, -1)"),
        (C2, "select(1, 2)"),
        (C3, "select(-1, 3)"),
        (C1, "select(dim=2, index=15)"),
        ((4, 6), "class_token; select(1, 0); linear(3)"),
    ],
    "permute": [
        ((3, 4, 5), "permute(0, 2, 3, 1)"),
        ((3, 4, 5), "conv(6, 1); permute(0, 2, 3, 1); linear(5); permute(0, 3, 1, 2)"),
        ((3, 4), "permute(0, 2, 1)"),
        (C3, "permute(0, 4, 1, 3, 2)"),
        ((3, 4, 5), "permute(0, -1, 1, 2)"),
        ((3, 4), "permute(0, 1, 2)"),
        ((3, 4), "permute([0, 2, 1])"),
    ],
    "slice": [
        (C1, "slice(1, 0, 2)"),
        (C1, "slice(-1, 3, step=4)"),
        (C2, "slice(1, 1)"),
        (C2, "slice(2, -4, -1)"),
        (C3, "slice(3, 1, 5, step=2)"),
        (C3, "slice(-3, end=3)"),
    ],
    "channel_shuffle": [
        ((4, 16), "channel_shuffle(2)"),
        ((4, 3, 3), "channel_shuffle(4)"),
        ((6, 4, 4), "channel_shuffle(3)"),
        ((6, 4, 4), "channel_shuffle(groups=1)"),
        ((8, 2, 3, 4), "channel_shuffle(4)"),
    ],
    "identity": [((5,), "identity"), (C1, "identity"), (C2, "identity"), (C3, "identity")],
    "dropout": [
        ((10,), "dropout"),
        ((3, 4, 5), "dropout(0.2)"),
        ((3, 4), "dropout(p=0.0)"),
        (C3, "dropout(1.0)"),
    ],
    "dropout2d": [((3, 4, 5), "dropout2d"), ((3, 4, 5), "dropout2d(0.3)"),
                  ((3, 4, 5), "dropout2d(p=1.0)")],
    "stochastic_depth": [
        ((10,), "stochastic_depth(0.2)"),
        (C1, "stochastic_depth(0.5, mode='batch')"),
        (C2, "stochastic_depth(p=1.0)"),
        (C3, "stochastic_depth(0.0, mode='row')"),
    ],
    "upsample": [
        ((3, 4, 5), "upsample(scale_factor=2)"),
        ((3, 7), "upsample(scale_factor=3, mode='linear')"),
        ((3, 7), "upsample(size=11, mode='linear', align_corners=false)"),
        ((3, 4, 5), "upsample(size=[8, 7], mode='bilinear')"),
        ((3, 4, 5), "upsample(size=9, mode='bicubic', align_corners=true)"),
        ((2, 3, 4, 5), "upsample(scale_factor=2, mode='trilinear')"),
        ((2, 3, 4, 5), "upsample(size=[4, 5, 6])"),
        ((3, 4, 5), "upsample(scale_factor=1.5, mode='nearest-exact')"),
        ((3, 10, 10), "upsample(scale_factor=0.5)"),
        ((3, 7, 7), "upsample(scale_factor=0.3, mode='bilinear')"),
        ((3, 4, 5), "upsample(none, 2.0, 'bilinear', true)"),
        ((3, 4, 5), "upsample(scale_factor=[2, 3])"),
        ((3, 8, 6), "upsample(scale_factor=0.5, mode='area')"),
        ((3, 7), "upsample(size=3, mode='area')"),
        ((2, 3, 4, 5), "upsample(size=[2, 6, 3], mode='area')"),
        ((3, 4, 5), "upsample(size=[6, 7], scale_factor=0)"),  # nn.Upsample reads 0 as none
    ],
    "concat": [
        ((3, 6, 6), {"concat": ["conv(4, 1)", "identity"]}),
        ((3, 6, 6), {"concat": ["identity", "identity"], "dim": 2}),
        ((3, 6, 6), {"concat": ["identity", "maxpool(3, stride=1, padding=1)",
                                "conv(2, 3, padding=1)"]}),
        ((3, 6, 6), {"concat": [["conv(4, 1)", "relu"], "conv(2, 3, padding='same')"]}),
        ((3, 8), {"concat": ["conv(4, 3, padding=1)", "identity"]}),
        (C3, {"concat": ["identity", "conv(2, 1)"], "dim": -1}),
        ((12,), {"concat": ["linear(4)", "identity"]}),
        ((5, 6), {"concat": ["linear(4)", "identity"], "dim": -1}),
        ((3, 6, 6), {"concat": ["identity", "identity", "identity"], "dim": 3}),
    ],
    "mean": [
        ((3, 4, 5), "mean(2, 3)"),
        ((6, 8), "mean(1)"),
        (C1, "mean(-1, keepdim=true)"),
        (C3, "conv(4, 1); mean(2, 3, 4)"),
        ((5, 8), "mean([1, 2])"),
    ],
    "window_attention": [
        ((14, 14, 12), "window_attention(3)"),
        ((9, 12, 12), "window_attention(3, 7, shift=3)"),
        ((5, 6, 8), "window_attention(2, 4, shift=2, attention_dropout=0.1, dropout=0.1)"),
        ((3, 8, 8), "conv(16, 2, stride=2); permute(0, 2, 3, 1); window_attention(4, 2)"),
    ],
    "patch_merging": [((8, 8, 6), "patch_merging"), ((7, 5, 4), "patch_merging"),
                      ((1, 1, 2), "patch_merging"), ((3, 7, 5, 4), "patch_merging")],
    "window_attention_v2": [
        ((16, 16, 12), "window_attention_v2(3, 8)"),
        ((9, 12, 12), "window_attention_v2(3, 8, shift=4)"),
        ((5, 6, 8), "window_attention_v2(2, 4, shift=2, attention_dropout=0.1, dropout=0.1)"),
    ],
    "prelu": [(C1, "prelu"), (C2, "prelu(3)"), (C3, "prelu(2, value=0.1)")],
    "instancenorm": [(C1, "instancenorm"), (C2, "instancenorm(affine=true)"),
                     (C3, "instancenorm(track_running_stats=true, momentum=0.2)")],
    "local_response_norm": [(C1, "local_response_norm(2)"), (C2, "local_response_norm(3)"),
                            (C3, "local_response_norm(5, alpha=0.001, beta=0.5, k=2.0)")],
    "pad": [(C1, "pad([1, 2])"), (C2, "pad([1, 1, 2, 0], mode='reflect')"),
            (C2, "pad([-1, -1, 1, 1], value=0.5)"), (C2, "pad([2, 2, 2, 2], mode='circular')"),
            (C3, "pad([1, 1, 1, 1, 1, 1], mode='replicate')"), (C1, "pad([0, 0, 1, 1])")],
    "pixel_shuffle": [((8, 4, 4), "pixel_shuffle(2)"), ((9, 3, 5), "pixel_shuffle(3)"),
                      ((4, 1, 1), "pixel_shuffle(1)")],
    "roll": [(C1, "roll(3, 2)"), (C2, "roll([2, -1], [2, 3])"), (C3, "roll(1, -1)")],
    "scale": [(C1, "scale(0.5)"), (C2, "scale(-2.0)"), (C3, "scale(0.125)")],
    "matmul": [
        ((5, 8), {"matmul": ["identity", "permute(0, 2, 1)"]}),
        ((2, 3, 4), {"matmul": ["identity", "permute(0, 1, 3, 2)"]}),
        ((6, 8), {"matmul": ["identity", "permute(0, 2, 1); linear(2)"]}),
        ((2, 3, 4, 5), {"matmul": ["identity", "permute(0, 1, 2, 4, 3)"]}),
    ],
    "window_partition": [
        ((6, 28, 14), "window_partition(7)"),
        ((6, 28, 14), "window_partition(7, grid=true)"),
        ((4, 6, 9), "window_partition(3)"),
    ],
    "window_departition": [
        ((6, 28, 14), {"window_departition": ["window_partition(7)", "identity"], "size": "7"}),
        ((6, 28, 14), {"window_departition": ["window_partition(7, grid=true)", "identity"],
                       "size": "7", "grid": "true"}),
        ((4, 6, 9), {"window_departition": ["window_partition(3); relu", "identity"],
                     "size": "3"}),
    ],
    "relative_attention": [
        ((5, 49, 64), "relative_attention(32, 7)"),
        ((2, 4, 12), "relative_attention(4, 2)"),
        ((4, 8, 8), "window_partition(2); relative_attention(2, 2)"),
    ],
    "window_attention_3d": [
        ((4, 14, 14, 12), "window_attention_3d(3)"),
        ((8, 9, 12, 12), "window_attention_3d(3, [4, 7, 7], shift=[2, 3, 3])"),
        ((3, 5, 6, 8), "window_attention_3d(2, [2, 4, 4], shift=[1, 2, 2], dropout=0.1)"),
    ],
    "patch_merging_v2": [((8, 8, 6), "patch_merging_v2"), ((7, 5, 4), "patch_merging_v2"),
                         ((1, 1, 2), "patch_merging_v2")],
    "resize": [
        ((3, 8, 8), {"resize": ["conv(4, 3, stride=2, padding=1)", "identity"]}),
        ((3, 8, 8), {"resize": ["maxpool(2)", "identity"], "mode": "'nearest'"}),
        ((3, 5, 7), {"resize": ["conv(2, 1)", "upsample(scale_factor=2)"],
                     "mode": "'bicubic'", "align_corners": "true"}),
    ],
    "add": [
        ((3, 6, 6), {"add": ["conv(3, 3, padding=1)", "identity"]}),
        ((4, 6), {"add": ["identity", "conv(4, 1)", "bn"]}),
        ((2, 3, 3, 3), {"add": ["conv(2, 3, padding=1)", "identity"]}),
        ((8,), {"add": ["linear(8)", "identity"]}),
        ((4, 6, 6), ["conv(8, 3, padding=1)",
                     {"add": [["conv(8, 3, padding=1)", "bn", "relu"], "identity"]}, "relu"]),
    ],
    "mul": [
        ((4, 6, 6), {"mul": ["adaptive_avgpool(1); conv(4, 1); sigmoid", "identity"]}),
        ((4, 6, 6), {"mul": ["identity", "identity"]}),
        ((4, 6), {"mul": ["adaptive_maxpool(1)", "identity"]}),
        ((4, 6, 6), {"mul": ["adaptive_avgpool([1, none])", "adaptive_avgpool([none, 1])"]}),
        (C3, {"mul": ["adaptive_avgpool(1)", "identity", "sigmoid"]}),
        ((8,), {"mul": ["linear(8)", "sigmoid"]}),
        ((4, 6, 6), {"mul": ["adaptive_avgpool(1); flatten; linear(4); reshape(4, 1, 1)",
                             "identity"]}),
    ],
}


def _case_id(input_shape: tuple[int, ...], layers: Any) -> str:
    text = layers if isinstance(layers, str) else yaml.safe_dump(
        layers, default_flow_style=True, width=1000).strip()
    return f"{list(input_shape)} {text}"


def _params() -> list[Any]:
    params = []
    for op, cases in CASES.items():
        for input_shape, layers in cases:
            params.append(pytest.param(op, input_shape, layers,
                                       id=f"{op}: {_case_id(input_shape, layers)}"))
    return params


def test_every_op_has_configurations() -> None:
    missing = sorted(set(OPS) - set(CASES))
    unknown = sorted(set(CASES) - set(OPS))
    assert not missing, f"ops without test configurations: {missing}"
    assert not unknown, f"configurations for ops that do not exist: {unknown}"
    for op, cases in CASES.items():
        assert len(cases) >= 3, f"{op}: give at least three configurations"


@pytest.mark.parametrize(("op", "input_shape", "layers"), _params())
def test_op_static_matches_torch(op: str, input_shape: tuple[int, ...], layers: Any) -> None:
    built = build_and_check(input_shape, layers)
    assert op in ops_in(built.network), f"the configuration does not use {op}"


ONLY_CHW = {"dropout2d", "layernorm2d", "resize", "window_attention", "patch_merging",
            "window_attention_v2", "patch_merging_v2", "window_partition", "window_departition",
            "relative_attention", "pixel_shuffle"}
# (the last two: [H, W, C], channels last)
ONLY_TOKENS = {"attention", "class_token", "position_embedding"}  # accepts [L, E] only
ONLY_CLIPS = {"window_attention_3d"}  # [T, H, W, C], channels last


def test_every_input_rank_is_covered() -> None:
    """Every op that accepts [C, L], [C, H, W] and [C, D, H, W] has a case for each; linear
    and layernorm also for [F] and [T, F]."""
    for op, cases in CASES.items():
        ranks = {len(case[0]) for case in cases}
        needed = {3} if op in ONLY_CHW else {2} if op in ONLY_TOKENS else {4} \
            if op in ONLY_CLIPS else {2, 3, 4}
        assert needed <= ranks, f"{op} lacks inputs of rank {sorted(needed - ranks)}"
    for op in ("linear", "layernorm"):
        assert {1, 2} <= {len(case[0]) for case in CASES[op]}, f"{op} lacks [F] or [T, F]"


# ------------------------------------------------------------------ values, not only shapes


def test_conv_fixed_weight_is_used() -> None:
    built = build_and_check((1, 5, 5), "conv(2, 1, bias=false, weight=[[[[1.0]]], [[[2.0]]]])")
    x = torch.randn(1, 1, 5, 5)
    with torch.no_grad():
        y = built.model(x)
    torch.testing.assert_close(y, torch.cat([x, 2 * x], dim=1))


@pytest.mark.parametrize(
    ("layer", "weight", "bias"),
    [
        ("conv(8, 3, init='zeros')", lambda w: w.abs().max() == 0, 0.0),
        ("conv(8, 3, init=['constant', 0.5])", lambda w: (w == 0.5).all(), 0.0),
        ("conv(64, 3, init='kaiming_normal')",  # std sqrt(2 / fan_out), fan_out = 64·3·3
         lambda w: abs(w.std() - (2 / (64 * 9)) ** 0.5) < 0.006, 0.0),
        ("conv(8, 3, init='xavier_uniform')",  # bound sqrt(6 / (fan_in + fan_out))
         lambda w: w.abs().max() <= (6 / (4 * 9 + 8 * 9)) ** 0.5, 0.0),
        ("flatten; linear(300, init=['normal', 0.01])", lambda w: abs(w.std() - 0.01) < 0.001,
         0.0),
        ("bn(init='zeros')", lambda w: (w == 0).all(), 0.0),
        ("groupnorm(2, init='ones')", lambda w: (w == 1).all(), 0.0),
        ("conv(8, 3, init='default')", lambda w: w.abs().max() > 0, None),
    ],
    ids=["zeros", "constant", "kaiming_normal", "xavier_uniform", "normal", "bn zeros",
         "groupnorm ones", "default"],
)
def test_init_schemes_set_the_weights(layer: str, weight: Callable[[torch.Tensor], Any],
                                      bias: float | None) -> None:
    model = archc.build(spec_text((4, 8, 8), layer), seed=0)
    module = next(m for m in model.modules() if getattr(m, "weight", None) is not None)
    assert weight(module.weight.detach()), module.weight
    if bias is None:
        assert module.bias.abs().max() > 0, "the default init keeps PyTorch's random bias"
    else:
        assert (module.bias == bias).all()


@pytest.mark.parametrize(
    ("input_shape", "layer", "reference"),
    [
        ((3, 4, 5), "reshape(6, -1, 2)", lambda x: x.reshape(1, 6, -1, 2)),
        ((3, 4, 5), "permute(0, 3, 1, 2)", lambda x: x.permute(0, 3, 1, 2)),
        ((3, 4, 5), "flatten(1, 2)", lambda x: x.flatten(1, 2)),
        ((3, 4, 5), {"concat": ["identity", "identity"], "dim": -1},
         lambda x: torch.cat([x, x], dim=-1)),
        ((3, 4, 5), {"add": ["identity", "identity", "identity"]}, lambda x: 3 * x),
        ((3, 4, 5), {"mul": ["identity", "identity"]}, lambda x: x * x),
        ((3, 4, 5), "softmax(dim=1)", lambda x: x.softmax(dim=1)),
        ((6, 4, 5), "slice(1, 1, 5, step=2)", lambda x: x[:, 1:5:2]),
        ((6, 4, 5), "slice(-2, -3)", lambda x: x.narrow(2, 1, 3)),
        ((6, 4, 5), {"concat": ["slice(1, 0, 3)", "slice(1, 3)"]}, lambda x: x),
    ],
    ids=["reshape", "permute", "flatten", "concat", "add", "mul", "softmax", "slice",
         "slice from the end", "halves"],
)
def test_function_ops_compute_what_they_say(input_shape: tuple[int, ...], layer: Any,
                                            reference: Callable[[torch.Tensor], torch.Tensor],
                                            ) -> None:
    model = archc.build(spec_text(input_shape, layer)).eval()
    x = torch.randn(1, *input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


# ------------------------------------------------------------------ properties against PyTorch


def agree_with_torch(input_shape: tuple[int, ...], layer: str,
                     reference: Callable[[], nn.Module]) -> None:
    """archc accepts `layer` exactly when PyTorch runs `reference()` on the input and gives
    a non-empty output, and then agrees with it on the output shape and the parameter count.
    (archc refuses size-0 outputs by design, where PyTorch may return an empty tensor.)"""
    try:
        with quiet():
            module = reference().eval()
            with torch.no_grad():
                expected: tuple[int, ...] | None = tuple(
                    module(torch.zeros(1, *input_shape)).shape)
    except (RuntimeError, ValueError):
        expected = None
    if expected is None or 0 in expected:
        event("refused by both")
        with pytest.raises(ArchcError):
            archc.network(spec_text(input_shape, layer))
        return
    event("accepted by both")
    built = build_and_check(input_shape, layer)
    assert tuple(built.output.shape) == expected
    assert built.network.total_params == own_params(module)
    assert built.network.total_buffers == own_buffers(module)


def sizes(rank: int, low: int = 1) -> st.SearchStrategy[list[int]]:
    """Spatial sizes, smaller in 3d."""
    return st.lists(st.integers(low, 12 if rank < 3 else 6), min_size=rank, max_size=rank)


def per_dim(rank: int, low: int, high: int) -> st.SearchStrategy[int | list[int]]:
    """One int for every dim, or one per dim."""
    return st.integers(low, high) | st.lists(st.integers(low, high), min_size=rank,
                                             max_size=rank)


def torch_arg(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


RANKS = st.integers(1, 3)
CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_TRANSPOSES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOLS = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOLS = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE = {
    "adaptive_avgpool": {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d,
                         3: nn.AdaptiveAvgPool3d},
    "adaptive_maxpool": {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d,
                         3: nn.AdaptiveMaxPool3d},
}


@PROPERTY
@given(data=st.data())
def test_conv_property(data: st.DataObject) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    groups = data.draw(st.integers(1, 3), "groups")
    in_channels = groups * data.draw(st.integers(1, 2))
    out_channels = groups * data.draw(st.integers(1, 2))
    kernel = data.draw(per_dim(rank, 1, 5), "kernel")
    stride = data.draw(per_dim(rank, 1, 3), "stride")
    dilation = data.draw(per_dim(rank, 1, 2), "dilation")
    padding = data.draw(per_dim(rank, 0, 3) | st.sampled_from(["same", "valid"]), "padding")
    mode = data.draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]), "mode")
    bias = data.draw(st.booleans(), "bias")
    layer = call("conv", out_channels, kernel, stride=stride, padding=padding,
                 dilation=dilation, groups=groups, bias=bias, padding_mode=mode)
    agree_with_torch((in_channels, *spatial), layer, lambda: CONVS[rank](
        in_channels, out_channels, torch_arg(kernel), stride=torch_arg(stride),
        padding=torch_arg(padding), dilation=torch_arg(dilation), groups=groups, bias=bias,
        padding_mode=mode))


@PROPERTY
@given(data=st.data())
def test_conv_transpose_property(data: st.DataObject) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    groups = data.draw(st.integers(1, 2), "groups")
    in_channels = groups * data.draw(st.integers(1, 2))
    out_channels = groups * data.draw(st.integers(1, 2))
    kernel = data.draw(per_dim(rank, 1, 4), "kernel")
    stride = data.draw(per_dim(rank, 1, 3), "stride")
    padding = data.draw(per_dim(rank, 0, 2), "padding")
    output_padding = data.draw(per_dim(rank, 0, 1), "output_padding")
    dilation = data.draw(per_dim(rank, 1, 2), "dilation")
    bias = data.draw(st.booleans(), "bias")
    layer = call("conv_transpose", out_channels, kernel, stride=stride, padding=padding,
                 output_padding=output_padding, groups=groups, bias=bias, dilation=dilation)
    agree_with_torch((in_channels, *spatial), layer, lambda: CONV_TRANSPOSES[rank](
        in_channels, out_channels, torch_arg(kernel), stride=torch_arg(stride),
        padding=torch_arg(padding), output_padding=torch_arg(output_padding), groups=groups,
        bias=bias, dilation=torch_arg(dilation)))


@PROPERTY
@given(data=st.data())
def test_maxpool_property(data: st.DataObject) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    kernel = data.draw(per_dim(rank, 1, 4), "kernel")
    stride = data.draw(st.none() | per_dim(rank, 1, 3), "stride")
    padding = data.draw(per_dim(rank, 0, 2), "padding")
    dilation = data.draw(per_dim(rank, 1, 3), "dilation")
    ceil_mode = data.draw(st.booleans(), "ceil_mode")
    layer = call("maxpool", kernel, stride=stride, padding=padding, dilation=dilation,
                 ceil_mode=ceil_mode)
    agree_with_torch((2, *spatial), layer, lambda: MAXPOOLS[rank](
        torch_arg(kernel), stride=torch_arg(stride), padding=torch_arg(padding),
        dilation=torch_arg(dilation), ceil_mode=ceil_mode))


@PROPERTY
@given(data=st.data())
def test_avgpool_property(data: st.DataObject) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    kernel = data.draw(per_dim(rank, 1, 4), "kernel")
    stride = data.draw(st.none() | per_dim(rank, 1, 3), "stride")
    padding = data.draw(per_dim(rank, 0, 1), "padding")
    ceil_mode = data.draw(st.booleans(), "ceil_mode")
    count_include_pad = data.draw(st.booleans(), "count_include_pad")
    extra = {}
    if rank > 1 and data.draw(st.booleans(), "override"):
        extra["divisor_override"] = data.draw(st.integers(1, 4), "divisor_override")
    layer = call("avgpool", kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                 count_include_pad=count_include_pad, **extra)
    agree_with_torch((2, *spatial), layer, lambda: AVGPOOLS[rank](
        torch_arg(kernel), stride=torch_arg(stride), padding=torch_arg(padding),
        ceil_mode=ceil_mode, count_include_pad=count_include_pad, **extra))


@PROPERTY
@given(data=st.data(), op=st.sampled_from(sorted(ADAPTIVE)))
def test_adaptive_pool_property(data: st.DataObject, op: str) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    keep = st.none() if rank > 1 else st.nothing()  # AdaptiveXPool1d takes no None
    output_size = data.draw(st.integers(1, 14) | st.lists(
        st.integers(1, 14) | keep, min_size=rank, max_size=rank), "output_size")
    agree_with_torch((3, *spatial), call(op, output_size),
                     lambda: ADAPTIVE[op][rank](torch_arg(output_size)))


@PROPERTY
@given(data=st.data())
def test_flatten_property(data: st.DataObject) -> None:
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4), "shape")
    rank = len(shape) + 1  # with the batch dim
    start = data.draw(st.integers(-rank, rank - 1), "start_dim")
    end = data.draw(st.integers(-rank, rank - 1), "end_dim")
    layer = call("flatten", start, end)
    if start % rank == 0:  # PyTorch would merge the batch dim; archc refuses
        with pytest.raises(ArchcError, match="batch"):
            archc.network(spec_text(tuple(shape), layer))
        return
    agree_with_torch(tuple(shape), layer, lambda: nn.Flatten(start, end))


UPSAMPLE_MODES = {1: ["nearest", "nearest-exact", "linear"],
                  2: ["nearest", "nearest-exact", "bilinear", "bicubic"],
                  3: ["nearest", "nearest-exact", "trilinear"]}


@PROPERTY
@given(data=st.data())
def test_upsample_property(data: st.DataObject) -> None:
    rank = data.draw(RANKS, "rank")
    spatial = data.draw(sizes(rank), "sizes")
    mode = data.draw(st.sampled_from(UPSAMPLE_MODES[rank]), "mode")
    kwargs: dict[str, Any] = {"mode": mode}
    if data.draw(st.booleans(), "by size"):
        kwargs["size"] = data.draw(per_dim(rank, 1, 16), "size")
    else:
        kwargs["scale_factor"] = data.draw(
            st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0]), "scale")
    if mode not in ("nearest", "nearest-exact"):
        kwargs["align_corners"] = data.draw(st.none() | st.booleans(), "align_corners")
    layer = call("upsample", **kwargs)
    agree_with_torch((2, *spatial), layer,
                     lambda: nn.Upsample(**{k: torch_arg(v) for k, v in kwargs.items()}))


# ------------------------------------------------------------------ errors
# (input shape, layers, a fragment of the message): each must be an ArchcError that points at
# the spec, never another exception.

ERRORS: list[tuple[str, tuple[int, ...], Any, str]] = [
    # convolution
    ("conv kernel > padded input", (3, 4, 4), "conv(8, 5)", "kernel larger than the padded"),
    ("conv1d kernel > padded input", (3, 4), "conv(8, 4, padding=0, dilation=2)",
     "kernel larger than the padded"),
    ("conv3d kernel > input", (1, 2, 8, 8), "conv(2, 3)", "kernel larger than the padded"),
    ("conv groups", (4, 8, 8), "conv(8, 3, groups=3)", "groups=3 does not divide"),
    ("conv groups out", (4, 8, 8), "conv(6, 3, groups=4)", "does not divide the out_channels"),
    ("conv groups 0", (4, 8, 8), "conv(8, 3, groups=0)", "groups must be at least 1"),
    ("conv same stride", (3, 8, 8), "conv(8, 3, stride=2, padding='same')",
     "padding='same' needs stride 1"),
    ("conv unknown padding", (3, 8, 8), "conv(8, 3, padding='full')", "unknown padding"),
    ("conv padding count", (3, 8, 8), "conv(8, [3, 3, 3])", "kernel_size has 3 values"),
    ("conv negative padding", (3, 8, 8), "conv(8, 3, padding=-1)", "must not be negative"),
    ("conv stride 0", (3, 8, 8), "conv(8, 3, stride=0)", "stride must be at least 1"),
    ("conv out_channels 0", (3, 8, 8), "conv(0, 3)", "out_channels must be at least 1"),
    ("conv in_channels", (3, 8, 8), "conv(8, 3, in_channels=4)", "in_channels=4 disagrees"),
    ("conv on [N, F]", (12,), "conv(8, 3)", "conv expects"),
    ("conv padding_mode", (3, 8, 8), "conv(8, 3, padding_mode='mirror')",
     "unknown padding_mode"),
    ("conv reflect too wide", (3, 4, 4), "conv(8, 3, padding=4, padding_mode='reflect')",
     "padding_mode='reflect' needs padding less than"),
    ("conv circular too wide", (3, 4, 4), "conv(8, 3, padding=5, padding_mode='circular')",
     "padding_mode='circular' needs padding at most"),
    ("conv weight shape", (3, 8, 8), "conv(2, 1, weight=[[[[1.0]]]])",
     "fixed weight has the wrong shape"),
    ("conv init unknown", (3, 8, 8), "conv(8, 3, init='kaiming')", "unknown init scheme"),
    ("conv init and weight", (1, 4, 4), "conv(1, 1, weight=[[[[1.0]]]], init='zeros')",
     "init and a fixed weight"),
    ("conv init type", (3, 8, 8), "conv(8, 3, init=1)", "'init' must be a scheme name"),
    ("conv_transpose init numbers", (4, 5, 5), "conv_transpose(4, 3, init=['zeros', 1])",
     "init 'zeros' takes no numbers"),
    ("conv_transpose output_padding", (4, 5, 5),
     "conv_transpose(4, 3, stride=2, output_padding=2)", "output_padding must be smaller"),
    ("conv_transpose size 0", (4, 1, 1), "conv_transpose(4, 1, padding=1)",
     "output size would be"),
    ("conv_transpose groups", (4, 5, 5), "conv_transpose(6, 3, groups=4)", "does not divide"),
    ("conv_transpose negative padding", (4, 5, 5), "conv_transpose(4, 3, padding=-1)",
     "padding must not be negative"),
    # linear
    ("linear in_features", (12,), "linear(10, in_features=7)", "in_features=7 disagrees"),
    ("linear out_features", (12,), "linear(0)", "out_features must be at least 1"),
    ("linear init std", (12,), "linear(4, init=['normal'])", "init 'normal' takes 1 number"),
    ("linear init negative std", (12,), "linear(4, init=['normal', -1])", "must not be negative"),
    # normalisation
    ("bn num_features", (8, 4, 4), "bn(num_features=4)", "num_features=4 disagrees"),
    ("bn eps", (8, 4, 4), "bn(eps=-1)", "eps must be positive"),
    ("bn eps 0", (8, 4, 4), "bn(eps=0)", "eps must be positive"),
    ("layernorm empty", (5, 6), "layernorm([])", "at least one dimension"),
    ("bn rank", (2, 3, 4, 5, 6), "bn", "bn expects"),
    ("groupnorm groups", (8, 4, 4), "groupnorm(3)", "num_groups=3 does not divide"),
    ("layernorm shape", (3, 5, 6), "layernorm([5, 5])", "normalized_shape must equal"),
    ("layernorm batch", (6,), "layernorm([1, 6])", "normalized_shape must equal"),
    ("bn init without weight", (8, 4, 4), "bn(affine=false, init='ones')", "needs a weight"),
    ("groupnorm init 1-d", (8, 4, 4), "groupnorm(2, init='kaiming_normal')",
     "at least 2 dims"),
    ("layernorm init without weight", (5, 6), "layernorm(elementwise_affine=false, init='zeros')",
     "needs a weight"),
    # activations
    ("softmax batch dim", (3, 4), "softmax(dim=0)", "batch dimension"),
    ("softmax dim range", (3, 4), "log_softmax(dim=3)", "out of range"),
    ("gelu approximate", (3, 4), "gelu(approximate='fast')", "must be one of"),
    # pooling
    ("maxpool output 0", (3, 2, 2), "maxpool(3)", "maxpool output size would be"),
    ("maxpool1d output 0", (3, 2), "maxpool(3, stride=1)", "maxpool output size would be"),
    ("avgpool output 0", (3, 2, 2), "avgpool(3)", "avgpool output size would be"),
    ("avgpool3d input < kernel", (3, 2, 4, 4), "avgpool(3, padding=1)",
     "input is smaller than the kernel"),
    ("maxpool padding", (3, 8, 8), "maxpool(2, padding=2)", "at most half the kernel"),
    ("maxpool dilated padding", (3, 12, 12), "maxpool(3, stride=1, padding=2, dilation=2)",
     "at most half the kernel"),
    ("avgpool padding", (3, 8, 8), "avgpool(3, padding=2)", "at most half the kernel"),
    ("avgpool divisor 0", (3, 8, 8), "avgpool(2, divisor_override=0)", "at least 1"),
    ("avgpool1d divisor", (3, 8), "avgpool(2, divisor_override=2)", "not available"),
    ("maxpool stride 0", (3, 8, 8), "maxpool(2, stride=0)", "must be at least 1"),
    ("adaptive size count", (3, 8, 8), "adaptive_avgpool([2, 2, 2])", "3 values for 2"),
    ("adaptive size 0", (3, 8, 8), "adaptive_maxpool(0)", "at least 1"),
    ("adaptive 1d none", (3, 8), "adaptive_avgpool([none])", "needs 2 or 3 spatial dims"),
    # shapes
    ("reshape count", (3, 4, 4), "reshape(5, 5)", "element count changes"),
    ("reshape divide", (3, 4, 4), "reshape(5, -1)", "does not divide"),
    ("reshape two -1", (3, 4, 4), "reshape(-1, -1)", "at most one -1"),
    ("permute batch", (3, 4, 4), "permute(1, 0, 2, 3)", "batch dimension must stay first"),
    ("permute not a permutation", (3, 4, 4), "permute(0, 1, 1, 2)", "must be a permutation"),
    ("flatten batch", (3, 4), "flatten(0)", "merge the batch dimension"),
    ("flatten order", (3, 4, 5), "flatten(3, 2)", "end_dim comes before start_dim"),
    ("dropout p", (3, 4), "dropout(1.5)", "between 0 and 1"),
    ("dropout2d rank", (3, 4), "dropout2d", "dropout2d expects"),
    ("slice batch", (3, 4), "slice(0, 1)", "batch dimension cannot be sliced"),
    ("slice empty", (3, 4), "slice(1, 3, 3)", "keeps nothing"),
    ("slice step", (3, 4), "slice(1, step=0)", "step must be 1 or more"),
    ("slice dim", (3, 4), "slice(3)", "out of range"),
    ("attention heads", (5, 8), "attention(3)", "3 heads do not divide the 8 features"),
    ("attention rank", (3, 4, 4), "attention(1)", "expects a sequence of tokens"),
    ("attention dropout", (5, 8), "attention(2, dropout=2.0)", "between 0 and 1"),
    ("attention heads required", (5, 8), "attention", "missing"),
    ("class_token rank", (8,), "class_token", "expects a sequence of tokens"),
    ("position_embedding length", (5, 8), "position_embedding(length=6)", "length=6 does not"),
    ("select batch", (5, 8), "select(0, 0)", "batch dimension cannot be selected"),
    ("select index", (5, 8), "select(1, 5)", "index 5 is out of range"),
    ("select dim", (5, 8), "select(3, 0)", "out of range"),
    ("mean batch", (3, 4), "mean(0)", "batch dimension cannot be averaged"),
    ("mean twice", (3, 4, 4), "mean(3, -1)", "a dim is named twice"),
    ("mean range", (3, 4), "mean(3)", "out of range"),
    ("window_attention heads", (7, 7, 8), "window_attention(3)", "3 heads do not divide"),
    ("window_attention shift", (7, 7, 8), "window_attention(2, 7, shift=7)",
     "the shift must be below the window"),
    ("window_attention rank", (7, 8), "window_attention(2)", "channels-last feature maps"),
    ("patch_merging rank", (7, 8), "patch_merging", "channels-last feature maps"),
    ("window_attention_v2 heads", (8, 8, 8), "window_attention_v2(3, 8)", "3 heads do not divide"),
    ("patch_merging_v2 rank", (7, 8), "patch_merging_v2", "channels-last feature maps"),
    ("window_attention_3d rank", (7, 7, 8), "window_attention_3d(2)", "channels-last clips"),
    ("window_attention_3d window", (4, 7, 7, 8), "window_attention_3d(2, [8, 7])",
     "window_size has one size per dim"),
    ("window_attention_3d shift", (4, 7, 7, 8), "window_attention_3d(2, shift=[4, 7, 3])",
     "the shift must be below the window"),
    ("prelu channels", (4, 5, 5), "prelu(3)", "3 slopes need 3 channels"),
    ("pad reflect", (3, 4, 4), "pad([4, 0], mode='reflect')",
     "reflect padding must be below the size it reflects (4)"),
    ("pad pairs", (3, 4, 4), "pad([1, 1, 1])", "padding is pairs"),
    ("pad value", (3, 4, 4), "pad(1, mode='reflect', value=1)", "takes no value"),
    ("pad crop", (3, 4, 4), "pad([-2, -2])", "crops a dim to nothing"),
    ("pixel_shuffle channels", (6, 4, 4), "pixel_shuffle(2)", "6 channels are no multiple of"),
    ("roll batch", (3, 4), "roll(1, 0)", "batch dimension cannot be rolled"),
    ("roll shifts", (3, 4), "roll([1, 2], 1)", "one shift per dim"),
    ("matmul inner", (5, 8), {"matmul": ["identity", "identity"]},
     "the left's columns (8) are not the right's rows (5)"),
    ("window_partition tiles", (4, 14, 10), "window_partition(7)",
     "7x7 partitions do not tile a 14x10 map"),
    ("relative_attention tokens", (3, 10, 8), "relative_attention(4, 3)",
     "partitions of 10 tokens are not 3x3"),
    ("relative_attention heads", (3, 9, 8), "relative_attention(3, 3)",
     "heads of 3 channels do not divide"),
    ("resize branch", (3, 8, 8), {"resize": ["identity"]}, "resize has one branch"),
    ("resize branches", (3, 8, 8), {"resize": ["identity", "identity", "identity"]},
     "resize takes two branches"),
    ("resize rank", (8,), {"resize": ["identity", "identity"]}, "works on feature maps"),
    ("resize mode", (3, 8, 8), {"resize": ["identity", "identity"], "mode": "'linear'"},
     "must be one of"),
    ("layernorm2d rank", (3, 4), "layernorm2d", "expects [N, C, H, W]"),
    ("layernorm2d channels", (3, 4, 4), "layernorm2d(num_channels=5)", "num_channels"),
    ("layer_scale rank", (3, 4, 4), "layer_scale(1.0, rank=1)", "rank=1 does not fit"),
    ("layer_scale value", (3, 4), "layer_scale(1e400)", "finite"),
    ("layer_scale required", (3, 4), "layer_scale", "missing"),
    ("channel_shuffle divides", (6, 4, 4), "channel_shuffle(4)", "4 groups do not divide 6"),
    ("channel_shuffle rank", (6,), "channel_shuffle(2)", "with a spatial dim"),
    ("channel_shuffle groups", (6, 4, 4), "channel_shuffle(0)", "groups must be 1 or more"),
    ("stochastic_depth p", (3, 4), "stochastic_depth(-0.1)", "between 0 and 1"),
    ("stochastic_depth mode", (3, 4), "stochastic_depth(0.1, mode='rows')", "must be one of"),
    ("stochastic_depth p required", (3, 4), "stochastic_depth", "missing"),
    ("upsample neither", (3, 4, 4), "upsample", "exactly one of size and scale_factor"),
    ("upsample both", (3, 4, 4), "upsample(size=8, scale_factor=2)", "exactly one of"),
    ("upsample mode rank", (3, 4, 4), "upsample(scale_factor=2, mode='linear')",
     "does not fit"),
    ("upsample mode", (3, 4, 4), "upsample(scale_factor=2, mode='box')", "unknown mode"),
    ("upsample align_corners", (3, 4, 4), "upsample(scale_factor=2, align_corners=true)",
     "align_corners only applies"),
    ("upsample to 0", (3, 4, 4), "upsample(scale_factor=0.2)", "output size would be"),
    ("upsample size 0", (3, 4, 4), "upsample(size=[0, 4])", "output size would be"),
    # merges
    ("concat spatial", (3, 8, 8), {"concat": ["conv(4, 3)", "identity"]},
     "concat branches disagree in height"),
    ("concat rank", (3, 8, 8), {"concat": ["flatten", "identity"]}, "disagree in rank"),
    ("concat batch dim", (3, 8, 8), {"concat": ["identity", "identity"], "dim": 0},
     "not a non-batch dim"),
    ("add channels", (3, 8, 8), {"add": ["conv(4, 1)", "identity"]}, "add branches disagree"),
    ("mul broadcast", (3, 8, 8), {"mul": ["conv(4, 1)", "conv(3, 1)"]},
     "do not broadcast"),
    ("mul rank", (3, 5, 4), {"mul": ["adaptive_avgpool(1); flatten; linear(4)", "identity"]},
     "mul branches disagree in rank"),
    ("merge as a call", (3, 8, 8), "add", "is a merge"),
    ("identity argument", (3, 8, 8), "identity(1)", "identity takes 0 positional arguments"),
    # arguments
    ("wrong type", (3, 8, 8), "conv(8, 'a')", "'kernel_size' must be an integer"),
    ("wrong bool", (3, 8, 8), "conv(8, 3, bias=1)", "'bias' must be true or false"),
    ("wrong float", (3, 8), "leaky_relu('steep')", "'negative_slope' must be a number"),
    ("too many positional", (3, 8, 8), "conv(8, 3, 1, 1, 1, 1, true, 'zeros', 5)",
     "conv takes 8 positional arguments"),
    ("positional for none", (3, 8), "sigmoid(1)", "sigmoid takes 0 positional arguments"),
    ("missing argument", (3, 8, 8), "conv(8)", "missing its argument 'kernel_size'"),
    ("given twice", (3, 8, 8), "conv(8, 3, out_channels=4)", "'out_channels' is given twice"),
    ("unknown op", (3, 8, 8), "convv(8, 3)", "unknown op or block 'convv'"),
]


@pytest.mark.parametrize(("input_shape", "layers", "message"),
                         [pytest.param(*e[1:], id=e[0]) for e in ERRORS])
def test_error(input_shape: tuple[int, ...], layers: Any, message: str) -> None:
    text = spec_text(input_shape, layers)
    with pytest.raises(ArchcError) as caught:
        archc.network(text)
    error = caught.value
    assert message in error.message, str(error)
    rendered = str(error)
    assert rendered.startswith("<string>:"), f"the error does not point at the spec:\n{rendered}"
    assert "^" in rendered, f"the offending text is not underlined:\n{rendered}"
    with pytest.raises(ArchcError):  # build goes through the same checks
        archc.build(text)


def test_every_family_has_error_cases() -> None:
    families = {op.family for op in OPS.values()}
    named = {OPS[name].family for _, _, layers, _ in ERRORS
             for name in OPS if _mentions(layers, name)}
    assert families <= named, f"families without error cases: {sorted(families - named)}"


def _mentions(layers: Any, name: str) -> bool:
    if isinstance(layers, dict):
        return name in layers
    return isinstance(layers, str) and layers.split("(")[0].strip() == name


@pytest.mark.parametrize(
    ("layer", "suggestion"),
    [
        ("conv(8, 3, strid=2)", "stride"),
        ("conv(8, 3, paddin=1)", "padding"),
        ("maxpool(2, ceilmode=true)", "ceil_mode"),
        ("linear(4, biass=false)", "bias"),
        ("upsample(scale_facter=2)", "scale_factor"),
        ("convv(8, 3)", "conv"),
        ("relu6(inplce=true)", "inplace"),
    ],
)
def test_unknown_keyword_suggests(layer: str, suggestion: str) -> None:
    with pytest.raises(ArchcError) as caught:
        archc.network(spec_text((3, 8, 8), layer))
    assert f"did you mean '{suggestion}'" in str(caught.value)


def test_error_underlines_the_argument() -> None:
    """An op error caused by one argument points at that argument in the spec."""
    with pytest.raises(ArchcError) as caught:
        archc.network("name: t\ninput: [4, 8, 8]\nlayers:\n  - conv(8, 3, groups=3)\n")
    span = caught.value.span
    assert (span.line, span.column) == (4, 16)
    assert "groups=3" in str(caught.value).splitlines()[1]


# ------------------------------------------------------------------ no other exception


VALUES = (st.integers(-2, 6) | st.sampled_from([0.0, 0.5, 1.5, -1.0]) | st.booleans()
          | st.none() | st.sampled_from(["same", "valid", "reflect", "bilinear", "tanh", "x"])
          | st.lists(st.integers(-1, 4), min_size=1, max_size=4))
BRANCHES = ["identity", "conv(2, 1)", "adaptive_avgpool(1)", "flatten", "maxpool(2)",
            "linear(3)", "relu"]


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(OPS)))
def test_any_arguments_give_archc_error_or_agree(data: st.DataObject, name: str) -> None:
    """Random arguments on random inputs: archc either refuses with an ArchcError or builds a
    module that runs and matches its static shapes and counts."""
    op = OPS[name]
    input_shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=4),
                                  "input"))
    if op.arity is None:
        layers: Any = {name: data.draw(st.lists(st.sampled_from(BRANCHES), min_size=1,
                                                max_size=3), "branches")}
        if op.attrs and data.draw(st.booleans()):
            layers["dim"] = data.draw(st.integers(-3, 4), "dim")
    else:
        chosen = [a for a in op.attrs
                  if data.draw(st.booleans(), a.name) or (a.required and not a.inferred)]
        kwargs = {a.name: data.draw(VALUES, a.name) for a in chosen}
        layers = call(name, **kwargs)
    try:
        archc.network(spec_text(input_shape, layers))
    except ArchcError:
        event("refused")
        return
    event("accepted")
    try:
        build_and_check(input_shape, layers)
    except ValueError as error:  # batch statistics of a single value need a batch > 1
        assert "more than 1 value per channel" in str(error)


# ------------------------------------------------------------------ stochastic depth's draws


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_drops_whole_samples_or_the_whole_batch(mode: str) -> None:
    # a hand-checked oracle: in training each sample (or the batch) is zero or the input
    # scaled by 1 / (1 - p), kept about 1 - p of the time; in eval mode the input itself
    model = archc.build(spec_text((4, 3, 3), f"stochastic_depth(0.25, mode='{mode}')"))
    x = torch.randn(64, 4, 3, 3)
    assert model.eval()(x) is x
    model.train()
    kept = []
    for seed in range(40):
        torch.manual_seed(seed)
        out = model(x)
        for sample in range(64):
            if out[sample].abs().sum() == 0:
                kept.append(False)
            else:
                torch.testing.assert_close(out[sample], x[sample] / 0.75)
                kept.append(True)
        if mode == "batch":
            assert len(set(kept[-64:])) == 1  # all or none
    draws = len(kept) if mode == "row" else len(kept) // 64  # independent draws
    assert abs(sum(kept) / len(kept) - 0.75) < 4 * (0.75 * 0.25 / draws) ** 0.5
    always = archc.build(spec_text((4, 3, 3), "stochastic_depth(1.0)")).train()
    assert (always(x) == 0).all()


# ------------------------------------------------------------------ channel shuffle's order


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_orders_channels_as_torch_does(groups: int) -> None:
    # torch's own nn.ChannelShuffle is the oracle, and a hand-written order for two groups
    model = archc.build(spec_text((6, 5, 3), f"channel_shuffle({groups})")).eval()
    x = torch.randn(2, 6, 5, 3)
    torch.testing.assert_close(model(x), torch.nn.ChannelShuffle(groups)(x), rtol=0, atol=0)
    if groups == 2:
        assert model(x)[:, :, 0, 0].tolist() == x[:, [0, 3, 1, 4, 2, 5], 0, 0].tolist()


# ------------------------------------------------------------------ ConvNeXt's pieces


def test_layernorm2d_is_layer_norm_over_the_channels() -> None:
    # oracle: torch's own layer norm of the channels-last tensor, moved back
    model = archc.build(spec_text((6, 4, 5), "layernorm2d(eps=1e-6)")).eval()
    norm = model[0] if isinstance(model, torch.nn.Sequential) else next(model.children())
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 6, 4, 5) * 3 + 1
    want = F.layer_norm(x.permute(0, 2, 3, 1), (6,), norm.weight, norm.bias, 1e-6)
    got = model(x)
    assert got.abs().mean() > 0.3
    torch.testing.assert_close(got, want.permute(0, 3, 1, 2))
    assert sorted(model.state_dict()) == ["0.bias", "0.weight"]


def test_layer_scale_is_a_parameter_of_its_module() -> None:
    # torchvision's key: the factors are `block.layer_scale`, a [C, 1, 1] tensor, not a child
    text = (
        "input: [4, 3, 3]\n"
        "blocks:\n"
        "  scaled:\n"
        "    body: [{conv: 'conv(4, 1)'}, {layer_scale: 'layer_scale(1e-6)'}]\n"
        "layers:\n"
        "  - block: scaled\n"
    )
    model = archc.build(text).eval()
    state = model.state_dict()
    assert sorted(state) == ["block.conv.bias", "block.conv.weight", "block.layer_scale"]
    assert state["block.layer_scale"].shape == (4, 1, 1)
    assert (state["block.layer_scale"] == 1e-6).all()
    assert archc.network(text).total_params == 4 * 4 + 4 + 4
    with torch.no_grad():
        model.block.layer_scale.copy_(torch.tensor([1.0, -2.0, 0.5, 3.0]).view(4, 1, 1))
    x = torch.randn(2, 4, 3, 3)
    want = model.block.conv(x) * torch.tensor([1.0, -2.0, 0.5, 3.0]).view(1, 4, 1, 1)
    torch.testing.assert_close(model(x), want)
    source = archc.source(text)
    assert "self.layer_scale = parameter(4, 1, 1, value=1e-06)" in source
    assert "self.layer_scale * " in source
    scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x), want)


def test_layer_scale_named_with_a_dash_is_registered_as_a_parameter() -> None:
    model = archc.build("input: [4, 3, 3]\nlayers:\n  - conv(4, 1)\n"
                        "  - scale-1: layer_scale(2.0)\n")
    assert "scale-1" in dict(model.named_parameters())
    x = torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(model(x), model.conv(x) * 2.0)


def test_permute_is_a_module_only_among_modules() -> None:
    # in a sequence of modules it is torchvision's Permute (the sequence stays numbered as
    # torch numbers it); alone, or beside named entries, it is x.permute(...) in forward
    chained = archc.source(spec_text((3, 4, 5), "conv(6, 1); permute(0, 2, 3, 1); linear(5)"))
    assert "Permute([0, 2, 3, 1])," in chained and "nn.Sequential" in chained
    model = archc.build(spec_text((3, 4, 5), "conv(6, 1); permute(0, 2, 3, 1); linear(5)"))
    assert sorted(model.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    alone = archc.source(spec_text((3, 4, 5), "permute(0, 2, 3, 1)"))
    assert ".permute(0, 2, 3, 1)" in alone and "Permute(" not in alone
    named = archc.source(spec_text((3, 4, 5), [{"conv1": "conv(6, 1)"}, "permute(0, 2, 3, 1)"]))
    assert ".permute(0, 2, 3, 1)" in named and "class Permute" not in named


# ------------------------------------------------------------------ ViT's pieces


def test_attention_is_scaled_dot_product_attention_of_its_projections() -> None:
    # oracle: the attention formula written out over the module's own projection weights
    model = archc.build(spec_text((5, 8), "attention(2)")).eval()
    (attention,) = [m for m in model.modules() if isinstance(m, torch.nn.MultiheadAttention)]
    assert attention.batch_first
    with torch.no_grad():
        for parameter in attention.parameters():
            parameter.normal_(0.0, 0.5)
    x = torch.randn(3, 5, 8)
    q, k, v = F.linear(x, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
    heads = [t.reshape(3, 5, 2, 4).transpose(1, 2) for t in (q, k, v)]
    weights = torch.softmax(heads[0] @ heads[1].transpose(-1, -2) / 2.0, dim=-1)
    mixed = (weights @ heads[2]).transpose(1, 2).reshape(3, 5, 8)
    want = F.linear(mixed, attention.out_proj.weight, attention.out_proj.bias)
    got = model(x)
    assert got.abs().mean() > 0.1
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert "need_weights=False)[0]" in archc.source(spec_text((5, 8), "attention(2)"))


def test_class_token_and_position_embedding_are_parameters_of_their_module() -> None:
    text = spec_text((4, 6), [{"class_token": "class_token"},
                              {"pos_embedding": "position_embedding"}, "select(1, 0)"])
    model = archc.build(text).eval()
    state = model.state_dict()
    assert sorted(state) == ["class_token", "pos_embedding"]
    assert state["class_token"].shape == (1, 1, 6) and (state["class_token"] == 0).all()
    assert state["pos_embedding"].shape == (1, 5, 6)
    assert 0.01 < state["pos_embedding"].std() < 0.04  # N(0, 0.02²), as torchvision draws it
    with torch.no_grad():
        model.class_token.normal_()
    x = torch.randn(2, 4, 6)
    # by hand: the token goes first, then every position gets its vector; select keeps token 0
    want = model.class_token[0, 0] + model.pos_embedding[0, 0]
    torch.testing.assert_close(model(x), want.expand(2, 6))
    assert archc.network(text).total_params == 6 + 5 * 6


@pytest.mark.parametrize(("shape", "layer", "index"), [
    ((5, 8), "select(1, 0)", (slice(None), 0)),
    ((5, 8), "select(2, -1)", (slice(None), slice(None), -1)),
    ((3, 9, 10), "select(-1, 3)", (..., 3)),
    ((3, 9, 10), "select(-2, 1)", (..., 1, slice(None))),
])
def test_select_indexes_as_torch_does(shape: tuple[int, ...], layer: str,
                                      index: tuple[Any, ...]) -> None:
    model = archc.build(spec_text(shape, layer))
    x = torch.randn(2, *shape)
    assert torch.equal(model(x), x[index])


# ------------------------------------------------------------------ resize to another's size


@pytest.mark.parametrize(("mode", "corners"), [("bilinear", False), ("bilinear", True),
                                               ("nearest", None), ("bicubic", False)])
def test_resize_is_interpolate_to_the_second_branch_size(mode: str, corners: bool | None) -> None:
    # oracle: torch's F.interpolate at the size of the reference, written by hand
    merge: dict[str, Any] = {"resize": ["maxpool(2)", "identity"], "mode": f"'{mode}'"}
    if corners is not None:
        merge["align_corners"] = "true" if corners else "false"
    model = archc.build(spec_text((3, 9, 7), merge))
    x = torch.randn(2, 3, 9, 7)
    want = F.interpolate(F.max_pool2d(x, 2), size=(9, 7), mode=mode,
                         **({} if corners is None else {"align_corners": corners}))
    torch.testing.assert_close(model(x), want)


def test_a_named_merge_of_earlier_values_is_no_module() -> None:
    # `out: resize: [...]` names a value of the network's forward, as `out = ...` does
    text = spec_text((3, 8, 8), [{"head": "conv(2, 3, stride=2, padding=1)"},
                                 {"out": {"resize": ["@head", "@x"]}}])
    source = archc.source(text)
    assert "class Out" not in source and "self.out" not in source
    assert "return nn.functional.interpolate(" in source
    assert archc.shapes(text)["outputs"] == [[None, 2, 8, 8]]
    assert sorted(archc.build(text).state_dict()) == ["head.bias", "head.weight"]


@pytest.mark.parametrize(("shape", "layer", "dims", "keep"), [
    ((3, 4, 5), "mean(2, 3)", (2, 3), False),
    ((2, 4, 5, 6), "mean(2, 3, 4)", (2, 3, 4), False),
    ((3, 4, 5), "mean(-1, keepdim=true)", (-1,), True),
])
def test_mean_averages_as_torch_does(shape: tuple[int, ...], layer: str, dims: tuple[int, ...],
                                     keep: bool) -> None:
    model = archc.build(spec_text(shape, layer))
    x = torch.randn(2, *shape)
    torch.testing.assert_close(model(x), x.mean(dim=dims, keepdim=keep))


def test_attention_written_by_hand_is_scaled_dot_product_attention() -> None:
    """linear, permute, matmul, scale and softmax are enough to write attention by hand; the
    oracle is torch's scaled_dot_product_attention over the spec's own projections."""
    spec = {
        "name": "by_hand", "input": [5, 8],
        "layers": [{"q": "linear(8, bias=false)"}, "@x", {"k": "linear(8, bias=false)"}, "@x",
                   {"v": "linear(8, bias=false)"}, {"matmul": ["@q", "@k; permute(0, 2, 1)"]},
                   "scale(8 ** -0.5)", "softmax(-1)", {"out": {"matmul": ["identity", "@v"]}}],
    }
    import yaml

    text = yaml.safe_dump(spec, sort_keys=False)
    model = archc.build(text).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
        x = torch.randn(3, 5, 8)
        want = F.scaled_dot_product_attention(model.q(x), model.k(x), model.v(x))
        assert want.abs().mean() > 0.1
        torch.testing.assert_close(model(x), want)
    assert archc.network(text).output_shapes()[0][1:] == (5, 8)
