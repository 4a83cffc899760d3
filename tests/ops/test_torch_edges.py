"""Every op in `archc.ops.OPS` at the edges of its arguments, with PyTorch as the oracle.

Input: for each op, edge configurations made here (empty, one-element and wrong-length lists,
0, negative, 1, bools and floats where integers are expected, values that do not fit int64,
inf and nan, kernels equal to or one larger than the input, groups that do not divide,
padding past half the kernel, ceil_mode near the boundary, ...). Output: for each one, archc's
verdict from the op's own rules, as elaboration applies them (the attribute type checks,
`infer`, `shape`, then the counts), and PyTorch's from constructing the module or calling the
function and running it forward, in training and in evaluation mode, inside try/except. The two
must agree: both refuse, or both accept with the same output shape (and, for modules, the same
parameter and buffer counts). archc's refusal must be an OpError (or the type check's
TypeError), never another exception. A sample also goes through `archc.network` on spec text,
which must give the same verdict as a located ArchcError.

archc refuses some things PyTorch runs, on purpose, and says why (`deliberate` below):
values of the wrong type (`true` for a size), integers beyond int64 (archc's expressions refuse
them too), inferred arguments (in_channels, ...) that disagree with the input, outputs with a
size of 0, rules that would touch the batch dimension, `add` of unequal shapes, `mul` of
unequal ranks, dropout2d on anything but [N, C, H, W], a negative divisor_override,
conv_transpose's dilation 0, and size arithmetic beyond int64 (where PyTorch wraps around).
There archc must refuse whatever PyTorch does. PyTorch sizes that only archc's resource limits
refuse are counted apart.

By default one argument at a time is varied, plus small grids of the geometry of conv,
conv_transpose and the pools (a few thousand configurations). ARCHC_EDGE_SWEEP=full varies
every pair of arguments as well and prints the counts.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import yaml
from torch import nn

import archc
from archc import ArchcError
from archc.dims import BATCH as N
from archc.ops import OPS, OpError
from archc.ops.registry import Attr

FULL = os.environ.get("ARCHC_EDGE_SWEEP", "") == "full"
BATCH = 2  # batch statistics need more than one value per channel
INT64_MAX = 2**63 - 1
INF, NAN = float("inf"), float("nan")
HUGE = 10**8  # elements: beyond this PyTorch is asked on the meta device only
NETWORK_SAMPLE = 1 if FULL else 7  # every n-th unary configuration also goes through the API

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Config:
    """One op call: the inputs' shapes without the batch dim, and the arguments by name."""

    op: str
    inputs: tuple[Shape, ...]
    kwargs: tuple[tuple[str, Any], ...]

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def __str__(self) -> str:
        inputs = ", ".join(str(list(s)) for s in self.inputs)
        return f"{self.op}({', '.join(f'{k}={v!r}' for k, v in self.kwargs)}) on {inputs}"


@dataclass(frozen=True)
class Verdict:
    """Accepted with an output shape (batch dim included) and counts, or refused (`why`)."""

    shape: Shape | None
    params: int | None = None
    buffers: int | None = None
    why: str = ""
    error: OpError | None = None

    @property
    def accepted(self) -> bool:
        return self.shape is not None


# ------------------------------------------------------------------ archc's verdict


def _mistyped(attr: Attr, value: Any) -> bool:
    """A value of a type the attribute does not take (archc's types are strict: `true` is no
    size, `1` no boolean, `2.0` no integer), judged from the type's name."""
    name = attr.type.name
    if value is None:
        return "none" not in name
    if isinstance(value, bool):
        return not name.startswith("true")
    if name.startswith("true"):
        return True
    if isinstance(value, (list, tuple)):
        return "list" not in name or any(
            _mistyped(attr, v) for v in value if not isinstance(v, (list, tuple)))
    if isinstance(value, float):
        return "number" not in name
    if isinstance(value, str):
        return "string" not in name and "'same'" not in name
    return False


def archc_verdict(config: Config) -> Verdict:
    """The op's rules as elaboration applies them: type checks and choices, defaults,
    `infer`, `shape`, and the counts. Exceptions other than OpError propagate (a bug)."""
    op = OPS[config.op]
    attrs: dict[str, Any] = {}
    given = config.args
    for attr in op.attrs:
        if attr.name not in given:
            assert not attr.required, f"{config}: {attr.name} is required"
            attrs[attr.name] = attr.default
            continue
        value = given[attr.name]
        value = tuple(value) if isinstance(value, list) else value
        try:
            attrs[attr.name] = attr.type.check(value)
        except (TypeError, ValueError):
            return Verdict(None, why=f"'{attr.name}' must be {attr.type.name}")
        except OpError as error:
            return Verdict(None, why=error.message, error=error)
        if attr.choices and attrs[attr.name] not in attr.choices:
            return Verdict(None, why=f"'{attr.name}' must be one of {attr.choices}")
    inputs = [(N, *shape) for shape in config.inputs]
    try:
        attrs = dict(op.infer(attrs, inputs))
        shape = op.shape(attrs, inputs)
    except OpError as error:
        return Verdict(None, why=error.message, error=error)
    # the counts elaboration and analysis compute for every accepted node must not fail
    params, buffers = op.params(attrs, inputs), op.buffers(attrs, inputs)
    op.macs(attrs, inputs, shape)
    op.flops(attrs, inputs, shape)
    op.window(attrs, inputs)
    op.alias(attrs)
    op.key(attrs)
    if op.module is not None:
        op.construct(attrs, inputs)
    elif op.function is not None:
        op.function(attrs, [f"x{i}" for i in range(len(inputs))])
    return Verdict(tuple(BATCH if d == N else d for d in shape), int(params), int(buffers))


def _text(value: Any) -> str:
    """A value as spec-expression text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float) and not math.isfinite(value):
        return {INF: "1e999", -INF: "-1e999"}.get(value, "nan")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return repr(value)


def network_text(config: Config) -> str | None:
    """The configuration as a one-layer spec, or None where spec text cannot say it (merges,
    nan)."""
    if OPS[config.op].arity != 1:
        return None
    parts = []
    for name, value in config.kwargs:
        if isinstance(value, float) and math.isnan(value):
            return None
        if OPS[config.op].attr(name) is not None and OPS[config.op].attr(name).variadic:  # type: ignore[union-attr]
            parts.append(_text(value))  # reshape([2, 3]) and permute([0, 2, 1])
        else:
            parts.append(f"{name}={_text(value)}")
    layer = f"{config.op}({', '.join(parts)})" if parts else config.op
    document = {"name": "t", "input": list(config.inputs[0]), "layers": [layer]}
    return yaml.safe_dump(document, sort_keys=False, width=1000)


# ------------------------------------------------------------------ PyTorch's verdict


def _torch_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _given(kwargs: dict[str, Any], *inferred: str) -> dict[str, Any]:
    """The keyword arguments for PyTorch: lists as tuples; an inferred argument given as
    none (archc's default) left out."""
    return {k: _torch_value(v) for k, v in kwargs.items()
            if not (k in inferred and v is None)}


Factory = Callable[[Sequence[Shape], dict[str, Any], str], Callable[..., torch.Tensor]]


def _by_rank(classes: dict[int, Any], shape: Shape) -> Any:
    """The class for an input [N, C, *spatial] (archc's dim 0 is always the batch)."""
    rank = len(shape) - 1
    if rank not in classes:
        raise ValueError(f"no PyTorch class for {rank} spatial dims")
    return classes[rank]


CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_TRANSPOSES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOLS = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOLS = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE = {"adaptive_avgpool": {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d,
                                 3: nn.AdaptiveAvgPool3d},
            "adaptive_maxpool": {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d,
                                 3: nn.AdaptiveMaxPool3d}}
BATCHNORMS = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
ACTIVATIONS: dict[str, Any] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
    "gelu": nn.GELU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "softmax": nn.Softmax,
    "log_softmax": nn.LogSoftmax,
    "identity": nn.Identity, "dropout": nn.Dropout, "dropout2d": nn.Dropout2d,
    "flatten": nn.Flatten, "upsample": nn.Upsample, "channel_shuffle": nn.ChannelShuffle,
}


def _conv(classes: dict[int, Any]) -> Factory:
    def make(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
        x = inputs[0]
        args = _given(kwargs, "in_channels")
        args.setdefault("in_channels", x[0])
        return _by_rank(classes, x)(**args, device=device)

    return make


def _module(classes: dict[int, Any], inferred: str = "") -> Factory:
    def make(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
        args = _given(kwargs, inferred) if inferred else _given(kwargs)
        if classes is AVGPOOLS and len(inputs[0]) == 2 and args.get("divisor_override", 0) \
                is None:
            del args["divisor_override"]  # archc's none is "not given"; AvgPool1d has none
        if inferred:
            args.setdefault(inferred, inputs[0][0])
            return _by_rank(classes, inputs[0])(**args, device=device)
        return _by_rank(classes, inputs[0])(**args)

    return make


def _linear(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
    args = _given(kwargs, "in_features")
    args.setdefault("in_features", inputs[0][-1])
    return nn.Linear(**args, device=device)


def _layernorm(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
    args = _given(kwargs, "normalized_shape")
    args.setdefault("normalized_shape", inputs[0][-1])
    return nn.LayerNorm(**args, device=device)


def _groupnorm(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
    args = _given(kwargs, "num_channels")
    args.setdefault("num_channels", inputs[0][0])
    return nn.GroupNorm(**args, device=device)


def _plain(name: str) -> Factory:
    def make(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
        return ACTIVATIONS[name](**_given(kwargs))

    return make


def _reshape(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
    shape = kwargs["shape"]
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    return lambda x: x.reshape(x.shape[0], *dims)


def _permute(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
    dims = kwargs["dims"]
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return lambda x: x.permute(*dims)


def _merge(kind: str) -> Factory:
    def make(inputs: Sequence[Shape], kwargs: dict[str, Any], device: str) -> Any:
        if kind == "concat":
            dim = kwargs.get("dim", 1)
            return lambda *xs: torch.cat(list(xs), dim=dim)
        if kind == "add":
            return lambda *xs: sum(xs[1:], xs[0])
        return lambda *xs: math.prod(xs[1:], start=xs[0])

    return make


TORCH: dict[str, Factory] = {
    "conv": _conv(CONVS),
    "conv_transpose": _conv(CONV_TRANSPOSES),
    "linear": _linear,
    "bn": _module(BATCHNORMS, "num_features"),
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "maxpool": _module(MAXPOOLS),
    "avgpool": _module(AVGPOOLS),
    "adaptive_avgpool": _module(ADAPTIVE["adaptive_avgpool"]),
    "adaptive_maxpool": _module(ADAPTIVE["adaptive_maxpool"]),
    "reshape": _reshape,
    "permute": _permute,
    "concat": _merge("concat"),
    "add": _merge("add"),
    "mul": _merge("mul"),
    **{name: _plain(name) for name in ACTIVATIONS
       if name not in ("maxpool", "avgpool")},
}


def _run(config: Config, device: str) -> Verdict:
    """Construct, then run forward in training and in evaluation mode. A refusal after the
    construction keeps the parameter count (how large the module was)."""
    params: int | None = None
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            made = TORCH[config.op](config.inputs, config.args, device)
            if isinstance(made, nn.Module):
                params = sum(p.numel() for p in made.parameters())
            shapes = set()
            for training in (True, False):
                if isinstance(made, nn.Module):
                    made.train(training)
                xs = [torch.randn(BATCH, *s, device=device) for s in config.inputs]
                shapes.add(tuple(made(*xs).shape))
    except Exception as error:  # the oracle's refusal, whatever PyTorch raises
        return Verdict(None, params, why=f"{type(error).__name__}: {str(error)[:200]}")
    assert len(shapes) == 1, f"{config}: training and evaluation disagree: {shapes}"
    (shape,) = shapes
    if isinstance(made, nn.Module):
        return Verdict(shape, params, sum(b.numel() for b in made.buffers()))
    return Verdict(shape)


def _within(value: Any, bound: int) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_within(v, bound) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        return True  # inf and nan allocate nothing (and the meta device cannot run bn on them)
    return not isinstance(value, (int, float)) or abs(value) <= bound


def _crashes_on_cpu(config: Config) -> bool:
    """PyTorch's CPU kernels die on some arguments instead of refusing them:
    ConvTranspose1d with stride 2**31 − 1 on a length-1 input is a SIGFPE in oneDNN, and
    max_pool1d with kernel_size 2**63 − 1 a segmentation fault (and 2**31 takes seconds)."""
    values = [v for _, v in config.kwargs]
    if config.op == "conv_transpose":
        return not _within(values, 2**16)
    return config.op == "maxpool" and len(config.inputs[0]) == 2 and not _within(values, 2**16)


def torch_verdict(config: Config) -> Verdict | None:
    """PyTorch on the CPU, where that is cheap. Otherwise first on the meta device (shapes
    without storage), to learn the sizes, and then on the CPU whenever the module and its
    output are small: the meta device's shape rules are laxer than the CPU kernels' (it takes
    a conv kernel of 0, and 32-bit pool strides beyond 2**31). When the CPU cannot be asked
    (too large, or it would crash), a refusal on meta is PyTorch's verdict, and an
    acceptance on meta is none (None: no oracle)."""
    values = [v for _, v in config.kwargs]
    if _within(values, 16) and all(math.prod(s) <= 4096 for s in config.inputs):
        return _run(config, "cpu")
    meta = _run(config, "meta")
    constructed = meta.params is not None or OPS[config.op].module is None or meta.accepted
    small = (meta.params or 0) <= 10**6 and math.prod(meta.shape or ()) <= 10**6
    # after a refusal on meta the output size is unknown: the CPU only with bounded arguments
    # (F.pad with padding 2**63 − 1 in 'replicate' mode crashes the process)
    bounded = meta.accepted or _within(values, 2**16)
    if constructed and small and bounded and not _crashes_on_cpu(config):
        return _run(config, "cpu")
    if meta.accepted and not resource_bound(meta):
        return None
    return meta


# ------------------------------------------------------------------ deliberate refusals


def _beyond_int64(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_beyond_int64(v) for v in value)
    return isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX


def _overflows(config: Config) -> bool:
    """Whether the window arithmetic of a conv or pool, d·(k − 1), 2·p or (a transposed
    conv's) (size − 1)·s, leaves int64 for these arguments."""
    args = config.args

    def biggest(name: str, default: int) -> int:
        value = args.get(name, default)
        values = value if isinstance(value, (list, tuple)) else [value]
        return max((abs(v) for v in values if isinstance(v, int)), default=default)

    size = max(config.inputs[0][1:], default=1)
    upsampled = (size - 1) * biggest("stride", 1) if config.op == "conv_transpose" else 0
    return max(biggest("dilation", 1) * (biggest("kernel_size", 1) - 1), upsampled,
               2 * biggest("padding", 0)) > INT64_MAX


def _rank(config: Config) -> int:
    return len(config.inputs[0]) + 1


INFERRED_FROM = {"in_channels": 0, "num_features": 0, "num_channels": 0, "in_features": -1}


def deliberate(config: Config, torch_says: Verdict) -> str | None:
    """Why archc refuses this whatever PyTorch does, or None."""
    op = OPS[config.op]
    args = config.args
    for name, value in config.kwargs:
        attr = op.attr(name)
        if attr is not None and _mistyped(attr, value):
            return f"'{name}' of the wrong type"
        if _beyond_int64(value):
            return f"'{name}' holds an integer beyond int64 (so do archc's expressions)"
    for name, axis in INFERRED_FROM.items():
        given = args.get(name)
        if isinstance(given, int) and given != config.inputs[0][axis]:
            # GroupNorm(affine=False) never looks at num_channels; archc's inferred
            # arguments must agree with the input whenever they are given (docs/ops.md)
            return f"'{name}' that disagrees with the input"
    if torch_says.accepted and 0 in (torch_says.shape or ()):
        return "an output with a size of 0"
    rank = _rank(config)
    if config.op in ("softmax", "log_softmax") and args.get("dim", -1) % rank == 0:
        return "softmax over the batch dimension"
    if config.op == "flatten" and args.get("start_dim", 1) % rank == 0:
        return "flatten merging the batch dimension"
    if config.op == "permute":
        dims = args["dims"]
        first = dims if isinstance(dims, int) else (dims[0] if dims else 0)
        if first % rank != 0:
            return "permute moving the batch dimension"
    if config.op == "concat" and args.get("dim", 1) % rank == 0:
        return "concat along the batch dimension"
    if config.op == "layernorm":
        shape = args.get("normalized_shape")
        if isinstance(shape, (list, tuple)) and len(shape) > rank - 1:
            return "layernorm over the batch dimension"
    if config.op == "add" and len(set(config.inputs)) > 1:
        return "add of unequal shapes (archc's add is a residual sum)"
    if config.op == "mul" and len({len(s) for s in config.inputs}) > 1:
        return "mul of unequal ranks (PyTorch would align the batch dim with another)"
    if config.op in ("conv", "conv_transpose", "maxpool", "avgpool") and _overflows(config):
        return "size arithmetic beyond int64 (PyTorch's wraps around to a wrong size)"
    dilation = args.get("dilation", 1)
    if config.op == "conv_transpose" and 0 in (dilation if isinstance(dilation, (list, tuple))
                                               else [dilation]):
        return "dilation 0 (ConvTranspose runs it only where it changes nothing, kernel 1)"
    divisor = args.get("divisor_override")
    if config.op == "avgpool" and isinstance(divisor, int) and divisor < 0:
        return "a negative divisor_override (it flips the sign of every average)"
    if config.op == "dropout2d" and rank != 4:
        return "dropout2d on anything but [N, C, H, W] (deprecated in PyTorch)"
    return None


def resource_bound(torch_says: Verdict) -> bool:
    """PyTorch accepts sizes that archc's resource limits (parameters, activation elements)
    may refuse; those limits are not this sweep's subject."""
    if not torch_says.accepted:
        return False
    return max(torch_says.params or 0, math.prod(torch_says.shape or ())) > HUGE


# ------------------------------------------------------------------ edge values


def _dedupe(values: Sequence[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for value in values:
        key = f"{type(value).__name__}:{value!r}"
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def ints(rank: int, typical: int, size: int) -> list[Any]:
    """Edge values of an int-or-per-dim-list attribute for `rank` spatial dims."""
    r = max(rank, 1)
    return _dedupe([
        0, -1, 1, typical, size, size + 1, True, False, 2.0, None, [], [typical],
        [typical] * r, [typical] * (r + 1), [0] * r, [-1] * r, [True] * r,
        [typical] * (r - 1) + [size + 1], 2**63, -(2**63) - 1, INT64_MAX, 2**40, 2**31,
        2**31 - 1, [2**31] * r,
    ])


def counts(typical: int) -> list[Any]:
    """Edge values of a count (channels, features, groups)."""
    return _dedupe([0, -1, 1, typical, True, 2.0, None, [typical], 2**63, INT64_MAX, 2**40,
                    2**31, 2**61])


FLOATS = [0, 0.0, -1, -1e-5, 1e-30, 1, 1.5, INF, -INF, NAN, True, None, 2**63, "x"]
BOOLS = [True, False, 0, 1, None, "true"]
PROBABILITIES = [0, 1, 0.0, 0.5, 1.0, -0.1, 1.1, -1e-300, NAN, INF, -INF, True, None, 2**63]


@dataclass
class Edges:
    """An op's configurations: input shapes, base arguments and per-argument edge values
    (functions of the input shape), and extra configurations (geometry grids)."""

    inputs: list[tuple[Shape, ...]]
    bases: list[dict[str, Any]]
    values: Callable[[tuple[Shape, ...]], dict[str, list[Any]]]
    extra: Callable[[], Iterator[Config]] = field(default=lambda: iter(()))


def _spatial(inputs: tuple[Shape, ...]) -> tuple[int, int]:
    """(spatial rank, smallest spatial size) of the first input [C, *spatial]."""
    x = inputs[0]
    return len(x) - 1, min(x[1:], default=1)


SPATIAL: list[tuple[Shape, ...]] = [((4,),), ((4, 7),), ((4, 1),), ((4, 3),), ((4, 6, 5),),
                                    ((4, 3, 3),), ((4, 1, 2),), ((4, 4, 3, 5),),
                                    ((4, 2, 2, 2, 2),)]
FEATURES: list[tuple[Shape, ...]] = [((6,),), ((3, 6),), ((2, 3, 6),), ((1,),), ((4, 1, 1),)]


def _conv_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    rank, size = _spatial(inputs)
    return {
        "out_channels": counts(6),
        "kernel_size": ints(rank, 3, size),
        "stride": ints(rank, 2, size),
        "padding": [*ints(rank, 1, size), "same", "valid", "full", "SAME", 2, 2**62],
        "dilation": ints(rank, 2, size),
        "groups": [*counts(2), 3, 4, 8],
        "bias": BOOLS,
        "padding_mode": ["zeros", "reflect", "replicate", "circular", "mirror", 0],
        "in_channels": [4, 3, 0, None, True],
    }


def _conv_transpose_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    rank, size = _spatial(inputs)
    values = _conv_values(inputs)
    del values["padding_mode"]
    values["padding"] = [*ints(rank, 1, size), "same", 2, 2**62]
    values["output_padding"] = [*ints(rank, 1, size), 2, 3]
    return values


def _geometry_grid(op: str, names: Sequence[str], ranges: Sequence[Sequence[Any]],
                   fixed: dict[str, Any], sizes: Sequence[int]) -> Iterator[Config]:
    """Every combination of small values of the geometry, on [4, L] inputs (and some on
    [4, L, L'])."""
    for combo in itertools.product(*ranges):
        for size in sizes:
            kwargs = {**fixed, **dict(zip(names, combo, strict=True))}
            yield Config(op, ((4, size),), tuple(kwargs.items()))
    for combo in itertools.islice(itertools.product(*ranges), 0, None, 7):
        kwargs = {**fixed, **{n: [v, 1 if n != "kernel_size" else 2]
                              for n, v in zip(names, combo, strict=True)
                              if not isinstance(v, bool)},
                  **{n: v for n, v in zip(names, combo, strict=True) if isinstance(v, bool)}}
        yield Config(op, ((4, sizes[-1], 3),), tuple(kwargs.items()))


def _conv_grid() -> Iterator[Config]:
    yield from _geometry_grid("conv", ("kernel_size", "stride", "padding", "dilation"),
                              (range(1, 5), range(1, 4), range(0, 3), range(1, 3)),
                              {"out_channels": 2}, (1, 2, 3, 5, 6))
    for mode, pad, size in itertools.product(("reflect", "circular", "replicate"),
                                             range(0, 6), (1, 2, 3, 4)):
        yield Config("conv", ((2, size),), (("out_channels", 2), ("kernel_size", 1),
                                            ("padding", pad), ("padding_mode", mode)))
        yield Config("conv", ((2, size),), (("out_channels", 2), ("kernel_size", 2),
                                            ("padding", "same"), ("dilation", pad + 1),
                                            ("padding_mode", mode)))


def _conv_transpose_grid() -> Iterator[Config]:
    yield from _geometry_grid(
        "conv_transpose", ("kernel_size", "stride", "padding", "output_padding", "dilation"),
        (range(1, 4), range(1, 4), range(0, 3), range(0, 3), range(1, 3)),
        {"out_channels": 2}, (1, 2, 4))


def _pool_values(dilated: bool) -> Callable[[tuple[Shape, ...]], dict[str, list[Any]]]:
    def values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
        rank, size = _spatial(inputs)
        out = {
            "kernel_size": ints(rank, 2, size),
            "stride": ints(rank, 2, size),
            "padding": [*ints(rank, 1, size), 2, "same"],
            "ceil_mode": BOOLS,
        }
        if dilated:
            out["dilation"] = ints(rank, 2, size)
        else:
            out["count_include_pad"] = BOOLS
            out["divisor_override"] = [None, *counts(3)]
        return out

    return values


def _pool_grid(op: str, dilated: bool) -> Callable[[], Iterator[Config]]:
    def grid() -> Iterator[Config]:
        names = ["kernel_size", "stride", "padding", "ceil_mode"]
        ranges: list[Sequence[Any]] = [range(1, 5), range(1, 4), range(0, 3), (False, True)]
        if dilated:
            names.append("dilation")
            ranges.append(range(1, 3))
        yield from _geometry_grid(op, names, ranges, {}, (1, 2, 3, 4, 5, 7))
        if not dilated:  # AvgPool3d checks the unpadded input against the kernel
            for k, p, size in itertools.product(range(1, 4), range(0, 2), range(1, 4)):
                yield Config(op, ((2, size, 3, 3),), (("kernel_size", k), ("padding", p),
                                                      ("stride", 1)))

    return grid


def _adaptive_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    rank, size = _spatial(inputs)
    r = max(rank, 1)
    return {"output_size": _dedupe([
        0, -1, 1, 3, size, size + 1, 2**63, INT64_MAX, 2**40, True, 2.0, None, [], [1],
        [1] * r, [1] * (r + 1), [None] * r, [None] + [2] * (r - 1), [0] * r, [True] * r,
        [2.0] * r, [None, None, None, None],
    ])}


def _dims(inputs: tuple[Shape, ...]) -> list[Any]:
    rank = len(inputs[0]) + 1
    return [*range(-rank - 1, rank + 1), True, 1.0, None, 2**63]


def _flatten_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    return {"start_dim": _dims(inputs), "end_dim": _dims(inputs)}


def _reshape_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    total = math.prod(inputs[0])
    return {"shape": _dedupe([
        total, -1, 0, -2, total + 1, [total], [-1], [total, 1], [1, total], [-1, -1],
        [0, -1], [-1, 0], [2, -1], [-1, 2], [3, -1], [total, -1], [], [True], True,
        [2**63], [-1, INT64_MAX], [INT64_MAX, 0], [2.0, -1], [None],
        list(inputs[0]), [*inputs[0], 1, 1],
    ])}


def _permute_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    rank = len(inputs[0]) + 1
    perms: list[Any] = [list(p) for p in itertools.permutations(range(rank))][:30]
    negative = [[d - rank for d in p] for p in perms[:6]]
    return {"dims": _dedupe([
        *perms, *negative, [0] * rank, list(range(rank - 1)), list(range(rank + 1)),
        [0, *range(2, rank + 1)], [0, *range(1, rank - 1), -rank - 1], [True] * rank,
        [0, 1.0, *range(2, rank)][:rank], 0, [], [0, 2**63][:rank] + list(range(2, rank)),
    ])}


def _upsample_values(inputs: tuple[Shape, ...]) -> dict[str, list[Any]]:
    rank, _ = _spatial(inputs)
    r = max(rank, 1)
    return {
        "size": [None, 0, -1, 1, 7, [], [7], [7] * r, [7] * (r + 1), [0] * r, [None] * r,
                 True, 2.0, 2**63, INT64_MAX, 2**20],
        "scale_factor": [None, 0, 0.0, -1, 0.5, 2, 2.0, [2] * r, [2.0] * (r + 1), [], INF,
                         -INF, NAN, 1e-10, 1e10, True, [0.5] * r, [1e-10] * r, 1e300],
        "mode": ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear",
                 "area", "bogus", None],
        "align_corners": [None, True, False, 0],
    }


def _upsample_grid() -> Iterator[Config]:
    modes = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")
    for inputs, mode, corners, by in itertools.product(
            SPATIAL, modes, (None, True, False), ("size", "scale_factor")):
        value = 5 if by == "size" else 1.5
        yield Config("upsample", inputs, ((by, value), ("mode", mode),
                                          ("align_corners", corners)))


MERGE_INPUTS: list[tuple[Shape, ...]] = [
    ((3, 4, 5), (3, 4, 5)), ((3, 4, 5),), ((3, 4, 5), (2, 4, 5)), ((3, 4, 5), (3, 4, 6)),
    ((3, 4, 5), (3, 1, 1)), ((3, 4, 5), (1, 4, 5)), ((3, 4, 5), (60,)), ((3,), (4,)),
    ((3, 4), (3, 4), (3, 4)), ((3, 4), (5, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (4, 1)),
]

EDGES: dict[str, Edges] = {
    "conv": Edges(SPATIAL, [{"out_channels": 6, "kernel_size": 3}], _conv_values, _conv_grid),
    "conv_transpose": Edges(SPATIAL, [{"out_channels": 6, "kernel_size": 3, "stride": 2}],
                            _conv_transpose_values, _conv_transpose_grid),
    "linear": Edges(FEATURES, [{"out_features": 5}], lambda inputs: {
        "out_features": counts(5), "bias": BOOLS, "in_features": [6, 5, 1, 0, None, True]}),
    "bn": Edges([*FEATURES, *SPATIAL], [{}], lambda inputs: {
        "eps": FLOATS, "momentum": FLOATS, "affine": BOOLS, "track_running_stats": BOOLS,
        "num_features": [4, 6, 3, 0, None, True]}),
    "layernorm": Edges(FEATURES, [{}], lambda inputs: {
        "normalized_shape": _dedupe([
            None, [], 6, [6], list(inputs[0][-2:]), list(inputs[0]), [BATCH, *inputs[0]],
            [1, *inputs[0]], inputs[0][-1] + 1, 0, -1, [0], [6, 6], True, [True], 2**63,
            [None], 2.0]),
        "eps": FLOATS, "elementwise_affine": BOOLS, "bias": BOOLS}),
    "groupnorm": Edges([*FEATURES, ((6, 2, 2, 2),), ((4, 3, 3),)], [{"num_groups": 2}],
                       lambda inputs: {"num_groups": [*counts(2), 3, 4, 6, 8], "eps": FLOATS,
                                       "affine": BOOLS, "num_channels": [4, 6, 3, 0, None]}),
    "maxpool": Edges(SPATIAL, [{"kernel_size": 2}], _pool_values(True),
                     _pool_grid("maxpool", True)),
    "avgpool": Edges(SPATIAL, [{"kernel_size": 2}], _pool_values(False),
                     _pool_grid("avgpool", False)),
    "adaptive_avgpool": Edges(SPATIAL, [{"output_size": 2}], _adaptive_values),
    "adaptive_maxpool": Edges(SPATIAL, [{"output_size": 2}], _adaptive_values),
    "flatten": Edges(FEATURES + SPATIAL[:4], [{}], _flatten_values),
    "reshape": Edges(FEATURES + SPATIAL[:4], [{"shape": -1}], _reshape_values),
    "permute": Edges(FEATURES[:3] + SPATIAL[:2], [{"dims": [0, 1]}], _permute_values),
    "identity": Edges(FEATURES + SPATIAL, [{}], lambda inputs: {}),
    "channel_shuffle": Edges(SPATIAL, [{"groups": 2}], lambda inputs: {"groups": counts(2)}),
    "dropout": Edges(FEATURES + SPATIAL[:3], [{}], lambda inputs: {"p": PROBABILITIES}),
    "dropout2d": Edges(FEATURES + SPATIAL, [{}], lambda inputs: {"p": PROBABILITIES}),
    "upsample": Edges(SPATIAL, [{"scale_factor": 2}, {"size": 5}], _upsample_values,
                      _upsample_grid),
    "concat": Edges(MERGE_INPUTS, [{}], lambda inputs: {"dim": _dims(inputs)}),
    "add": Edges(MERGE_INPUTS, [{}], lambda inputs: {}),
    "mul": Edges(MERGE_INPUTS, [{}], lambda inputs: {}),
}
for _name in ("relu", "relu6", "silu", "hardswish", "hardsigmoid"):
    EDGES[_name] = Edges(FEATURES + SPATIAL[:3], [{}], lambda inputs: {"inplace": BOOLS})
for _name in ("sigmoid", "tanh"):
    EDGES[_name] = Edges(FEATURES + SPATIAL, [{}], lambda inputs: {})
EDGES["leaky_relu"] = Edges(FEATURES[:3], [{}], lambda inputs: {
    "negative_slope": FLOATS, "inplace": BOOLS})
EDGES["elu"] = Edges(FEATURES[:3], [{}], lambda inputs: {"alpha": FLOATS, "inplace": BOOLS})
EDGES["gelu"] = Edges(FEATURES[:3], [{}], lambda inputs: {
    "approximate": ["none", "tanh", "x", "", "None", None, 0]})
for _name in ("softmax", "log_softmax"):
    EDGES[_name] = Edges(FEATURES + SPATIAL[:3], [{}], lambda inputs: {"dim": _dims(inputs)})


def configurations(op: str, full: bool = FULL) -> Iterator[Config]:
    """The op's edge configurations: each argument varied alone over every input (and with
    `full`, every pair of arguments varied together), then the op's grids."""
    edges = EDGES[op]
    seen: set[str] = set()

    def once(config: Config) -> Iterator[Config]:
        key = repr(config)
        if key not in seen:
            seen.add(key)
            yield config

    for inputs in edges.inputs:
        values = edges.values(inputs)
        for base in edges.bases:
            yield from once(Config(op, inputs, tuple(base.items())))
            for name, options in values.items():
                for value in options:
                    yield from once(Config(op, inputs, tuple({**base, name: value}.items())))
            if not full:
                continue
            for (a, first), (b, second) in itertools.combinations(values.items(), 2):
                for x, y in itertools.product(first, second):
                    yield from once(Config(op, inputs, tuple({**base, a: x, b: y}.items())))
    yield from (c for config in edges.extra() for c in once(config))


# ------------------------------------------------------------------ the sweep


@dataclass
class Tally:
    configurations: int = 0
    both_accept: int = 0
    both_refuse: int = 0
    deliberate: int = 0  # archc refuses on purpose where PyTorch runs it
    resource: int = 0
    unjudged: int = 0  # PyTorch could not be asked: only the meta device, and it accepts
    network: int = 0
    disagreements: list[str] = field(default_factory=list)


def judge(config: Config, tally: Tally) -> None:
    tally.configurations += 1
    try:
        ours = archc_verdict(config)
    except Exception as error:  # anything but an OpError is a bug in the op's rules
        tally.disagreements.append(f"{config}: archc raised {type(error).__name__}: {error}")
        return
    judged = torch_verdict(config)
    if judged is None:
        tally.unjudged += 1
        return
    theirs = judged
    reason = deliberate(config, theirs)
    if reason is not None:
        if ours.accepted:
            tally.disagreements.append(f"{config}: archc accepts {reason}")
        elif theirs.accepted:
            tally.deliberate += 1
        else:
            tally.both_refuse += 1
    elif ours.accepted != theirs.accepted:
        if resource_bound(theirs) and not ours.accepted:
            tally.resource += 1
        else:
            side = "archc accepts, torch refuses" if ours.accepted else \
                "torch accepts, archc refuses"
            tally.disagreements.append(
                f"{config}: {side}: archc {ours.shape or ours.why!r}, "
                f"torch {theirs.shape or theirs.why!r}")
            return
    elif ours.accepted:
        tally.both_accept += 1
        wrong = [(what, a, b) for what, a, b in (
            ("shape", ours.shape, theirs.shape), ("parameters", ours.params, theirs.params),
            ("buffers", ours.buffers, theirs.buffers)) if b is not None and a != b]
        if wrong:
            tally.disagreements.append(f"{config}: " + "; ".join(
                f"{what}: archc {a}, torch {b}" for what, a, b in wrong))
            return
    else:
        tally.both_refuse += 1
    if not ours.accepted and ours.error is not None:
        error = ours.error
        if not (error.expected or error.found):  # the user's terms: expected and found
            tally.disagreements.append(
                f"{config}: the refusal says neither what was expected nor what was found: "
                f"{error.message!r}")
    if tally.configurations % NETWORK_SAMPLE == 0:
        through_api(config, ours, tally)


def through_api(config: Config, ours: Verdict, tally: Tally) -> None:
    """The same configuration through `archc.network`: the same verdict, located."""
    text = network_text(config)
    if text is None:
        return
    tally.network += 1
    try:
        network = archc.network(text)
    except ArchcError as error:
        if ours.accepted and not over_limits(ours):
            tally.disagreements.append(f"{config}: the API refuses what the rules accept: "
                                       f"{error.message}")
        elif error.span.line == 0:
            tally.disagreements.append(f"{config}: the API's error is not located: {error}")
        return
    except Exception as error:
        tally.disagreements.append(f"{config}: the API raised {type(error).__name__}: {error}")
        return
    (shape,) = network.output_shapes()
    if not ours.accepted:
        tally.disagreements.append(f"{config}: the API accepts what the rules refuse: "
                                   f"{ours.why}")
    elif tuple(BATCH if d == N else d for d in shape) != ours.shape:
        tally.disagreements.append(f"{config}: the API gives {shape}, the rules {ours.shape}")


def over_limits(verdict: Verdict) -> bool:
    """Sizes that archc's resource limits (elaboration's, not the op rules') may refuse."""
    return max(verdict.params or 0, math.prod(verdict.shape or ())) > HUGE


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Thousands of tiny forwards: threads would only add overhead on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TOTALS: dict[str, Tally] = {}


# ops added with the torchvision zoo whose edge configurations (and torch factories) are not
# written yet: each has its configurations against torch in tests/ops/test_ops.py, and
# stochastic_depth its draws against torchvision's in tests/test_torchvision.py; layernorm2d
# and layer_scale against torch's layer norm and a hand-computed scale in test_ops.py, and both
# in ConvNeXt against torchvision; ViT's pieces (attention, class_token, position_embedding,
# select) against the attention formula and hand-computed cases in test_ops.py, and in ViT;
# resize against F.interpolate and mean against torch.mean there; Swin's window_attention
# and patch_merging (both versions), MaxViT's partitions and relative attention against
# torchvision's modules in tests/test_torchvision.py; prelu, instancenorm, local_response_norm,
# pad, pixel_shuffle, roll, scale and matmul against torch in their cases in test_ops.py
NO_EDGES_YET = {"slice", "stochastic_depth", "layernorm2d", "layer_scale", "attention",
                "class_token", "position_embedding", "select", "resize", "mean",
                "window_attention", "patch_merging", "window_attention_v2", "patch_merging_v2",
                "window_partition", "window_departition", "relative_attention", "prelu",
                "instancenorm", "local_response_norm", "pad", "pixel_shuffle", "roll", "scale",
                "matmul", "window_attention_3d"}


@pytest.mark.parametrize("op", sorted(set(OPS) - NO_EDGES_YET))
def test_agrees_with_torch_at_the_edges(op: str) -> None:
    tally = Tally()
    for config in configurations(op):
        judge(config, tally)
    TOTALS[op] = tally
    if FULL:
        print(f"\n{op}: {tally.configurations} configurations, {tally.both_accept} accepted "
              f"and {tally.both_refuse} refused by both, {tally.deliberate} refused by archc "
              f"on purpose, {tally.resource} over archc's resource limits, {tally.unjudged} "
              f"without an oracle (meta device only), {tally.network} "
              f"through archc.network, {len(tally.disagreements)} disagreements")
    assert tally.both_accept, f"{op}: no configuration is accepted: the edges miss that side"
    refused = tally.both_refuse + tally.deliberate
    assert refused or not OPS[op].attrs, f"{op}: no configuration is refused"
    assert not tally.disagreements, (
        f"{len(tally.disagreements)} of {tally.configurations} configurations disagree:\n"
        + "\n".join(tally.disagreements[:40]))


@pytest.mark.parametrize("number", [0.0, -0.0, 1.0, -1.0, 1e300, INF, -INF, NAN])
@pytest.mark.parametrize("scheme", ["normal", "constant"])
def test_init_numbers_agree_with_torch(scheme: str, number: float) -> None:
    """archc's init schemes with a number, at its edges: accepted exactly when nn.init takes
    the number."""
    try:
        weight = torch.empty(4, 3)
        if scheme == "normal":
            nn.init.normal_(weight, 0.0, number)
        else:
            nn.init.constant_(weight, number)
        expected = True
    except Exception:
        expected = False
    config = Config("linear", ((3,),), (("out_features", 4), ("init", (scheme, number))))
    assert archc_verdict(config).accepted == expected


def test_every_op_has_edges() -> None:
    assert set(EDGES) == set(OPS) - NO_EDGES_YET
    assert set(TORCH) >= set(OPS) - NO_EDGES_YET
