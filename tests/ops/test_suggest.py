"""PyTorch spellings of the ops: every `Op.torch` name exists in PyTorch and the module archc
builds for an op is one of them, and `suggest_op` points a PyTorch spelling at archc's op.

Input: the registry's `torch` names, the configurations of tests/ops/test_ops.py, and names a
user coming from PyTorch writes. Output: assertions against PyTorch itself (the names resolve
in torch, torch.nn, torch.nn.functional and torch.Tensor; the built modules' classes) and
against the suggestions.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch
from test_ops import CASES, spec_text
from torch import nn
from torch.nn import functional

import archc
from archc.errors import suggest
from archc.ops import OPS
from archc.ops.registry import suggest_op

NAMESPACES: dict[str, Any] = {"nn": nn, "F": functional, "torch": torch, "Tensor": torch.Tensor}


def resolve(spelling: str) -> Any:
    """The PyTorch object a spelling names (torchvision's too, an op's reference where torch
    has none: stochastic depth), or None."""
    prefix, _, rest = spelling.partition(".")
    if prefix == "torchvision" and rest:
        from tests.test_torchvision import import_torchvision_models

        import_torchvision_models()
        import torchvision

        return functools.reduce(lambda obj, part: getattr(obj, part, None), rest.split("."),
                                torchvision)
    if prefix not in NAMESPACES or not rest:
        return None
    return functools.reduce(lambda obj, part: getattr(obj, part, None), rest.split("."),
                            NAMESPACES[prefix])


@pytest.mark.parametrize("op", sorted(OPS))
def test_torch_names_exist(op: str) -> None:
    names = OPS[op].torch
    # a parameter its module holds is no PyTorch class or function: nothing to map from
    assert names or OPS[op].held or OPS[OPS[op].spelled_by or op].torch, (
        f"{op} names no PyTorch spelling")
    for spelling in names:
        assert resolve(spelling) is not None, f"{op}: {spelling} is not in PyTorch"
        if spelling.startswith("nn."):
            assert isinstance(resolve(spelling), type) and issubclass(resolve(spelling),
                                                                      nn.Module), spelling


def test_a_torch_name_belongs_to_one_op() -> None:
    owners: dict[str, str] = {}
    for op in OPS.values():
        for spelling in op.torch:
            assert spelling not in owners, f"{spelling}: {owners[spelling]} and {op.name}"
            owners[spelling] = op.name


def _one_op_cases() -> list[Any]:
    """One configuration per op and input rank, where the layer is that op alone."""
    chosen: dict[tuple[str, int], Any] = {}
    for op, cases in CASES.items():
        for case in cases:
            shape, layers = case[0], case[1]
            if isinstance(layers, str) and layers.split("(")[0].strip() == op and ";" not in layers:
                chosen.setdefault((op, len(shape)), pytest.param(shape, layers,
                                                                 id=f"{op} {list(shape)}"))
    return list(chosen.values())


@pytest.mark.parametrize(("shape", "layer"), _one_op_cases())
def test_the_built_module_is_a_named_spelling(shape: tuple[int, ...], layer: str) -> None:
    """The nn.Module archc makes for an op is among the op's PyTorch names (what an importer
    maps back)."""
    text = spec_text(shape, layer)
    network = archc.network(text)
    model = archc.build(text)
    for node in network.nodes():
        if node.module is None or OPS[node.op].held:  # a held parameter: test_ops.py
            continue
        op = OPS[node.op]
        module = model.get_submodule(".".join(node.module))
        if op.helper is not None:  # a class of the generated file, named as torchvision's
            assert type(module).__name__ == op.helper.name
            assert any(s.endswith(f".{op.helper.name}") for s in op.torch), op.torch
            continue
        assert f"nn.{type(module).__name__}" in op.torch, (node.op, type(module))


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("BatchNorm2d", "bn"), ("batchnorm", "bn"), ("nn.BatchNorm1d", "bn"),
        ("BatchNorm3d", "bn"), ("batch_norm", "bn"), ("torch.nn.BatchNorm2d", "bn"),
        ("ReLU", "relu"), ("nn.ReLU", "relu"), ("F.relu", "relu"), ("ReLU6", "relu6"),
        ("Conv2d", "conv"), ("conv2d", "conv"), ("Conv1d", "conv"), ("nn.Conv3d", "conv"),
        ("ConvTranspose2d", "conv_transpose"), ("MaxPool2d", "maxpool"),
        ("max_pool2d", "maxpool"), ("AvgPool1d", "avgpool"), ("Linear", "linear"),
        ("Dropout", "dropout"), ("Dropout2d", "dropout2d"),
        ("AdaptiveAvgPool2d", "adaptive_avgpool"), ("AdaptiveMaxPool1d", "adaptive_maxpool"),
        ("Flatten", "flatten"), ("LayerNorm", "layernorm"), ("GroupNorm", "groupnorm"),
        ("Softmax", "softmax"), ("LogSoftmax", "log_softmax"), ("LeakyReLU", "leaky_relu"),
        ("GELU", "gelu"), ("SiLU", "silu"), ("Hardswish", "hardswish"), ("Sigmoid", "sigmoid"),
        ("Tanh", "tanh"), ("ELU", "elu"), ("Identity", "identity"), ("Upsample", "upsample"),
        ("interpolate", "upsample"), ("cat", "concat"), ("torch.cat", "concat"),
        ("view", "reshape"), ("BatchNorm2", "bn"), ("Conv2D", "conv"),
    ],
)
def test_torch_spellings_suggest_the_op(written: str, op: str) -> None:
    suggestions = suggest_op(written, OPS)
    assert suggestions and suggestions[0] == op, suggestions
    if written not in INFORMAL:  # the table itself holds real PyTorch names
        assert resolve(_spelled(written)) is not None, f"{written} is no PyTorch name"


INFORMAL = ("batchnorm", "BatchNorm2", "Conv2D")  # what people write, not PyTorch's names


def _spelled(written: str) -> str:
    """A written name as a PyTorch spelling to resolve: bare names are looked up in nn, then F,
    then Tensor."""
    if "." in written:
        return written.replace("torch.nn.", "nn.") if written.startswith("torch.nn.") else written
    for prefix in ("nn", "F", "Tensor", "torch"):
        if getattr(NAMESPACES[prefix], written, None) is not None:
            return f"{prefix}.{written}"
    return written


def test_suggest_op_keeps_plain_close_matches() -> None:
    """Misspellings of archc's own names, and of a block's, are suggested as before."""
    candidates = [*OPS, "stem", "bottleneck"]
    assert suggest_op("convv", candidates)[0] == "conv"
    assert suggest_op("stme", candidates) == suggest("stme", candidates)
    assert suggest_op("bottlenek", candidates)[0] == "bottleneck"
    assert suggest_op("rеlu", candidates)[0] == "relu"  # a Cyrillic е
    assert suggest_op("Sequential", candidates) == []
    assert len(suggest_op("Dropout", candidates, limit=1)) == 1


def test_suggest_op_only_suggests_candidates() -> None:
    assert suggest_op("BatchNorm2d", ["stem", "conv"]) == []
    assert suggest_op("BatchNorm2d", ["bn", "stem"]) == ["bn"]
    assert "bn" not in suggest_op("bn", OPS), "a name is not its own suggestion"
