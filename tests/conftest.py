"""Shared helpers: the spec files the suite runs over, running the CLI, and counting a built
module's tensors and MACs, and randomising its weights (torch is imported only when those are
called)."""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch
    from torch import nn

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TORCHVISION_SPECS = SPECS / "torchvision"
MLP = SPECS / "mlp.yaml"
SPEC_FILES = sorted([*SPECS.rglob("*.yaml"), *SPECS.rglob("*.arch")])
CONSTRUCT_FILES = sorted((ROOT / "examples" / "constructs").glob("*.yaml"))
ALL_SPECS = SPEC_FILES + CONSTRUCT_FILES
# the torchvision specs compared with torchvision output for output in `make test`, and run at
# their declared input by the spec tests: a representative of each family and construct. The
# other variants of a family (the same spec file with other parameters) are run at a small
# input there, and compared in full by `make zoo`
REPRESENTATIVES = ("alexnet", "vgg11_bn", "vgg16", "googlenet", "resnet18", "resnet50",
                   "resnext50_32x4d", "densenet121", "squeezenet1_0", "mobilenet_v2",
                   "mobilenet_v3_large", "mnasnet1_0", "efficientnet_b0", "efficientnet_v2_s",
                   "shufflenet_v2_x1_0", "regnet_y_400mf", "regnet_x_400mf", "convnext_tiny",
                   "vit_b_32")
SMALL_INPUT = [3, 64, 64]


def input_for(path: Path) -> list[int] | None:
    """The input a spec test runs a spec at: its own, or a small one for a variant. A family
    spec is a variant too: at its defaults it is one of its builders (densenet.yaml is
    densenet121), which a representative imports and computes with."""
    if (path.parent == TORCHVISION_SPECS and path.stem not in REPRESENTATIVES) \
            or path.parent == TORCHVISION_SPECS / "families":
        import archc

        # an image at a small size; a clip [3, T, H, W] (a video classifier) at its own, which
        # the meta device makes cheap (S3D's last pool needs 13 frames of 209x209)
        (declared,) = archc.load(path).inputs
        if len(declared.dims) == 4:
            return [int(d) for d in archc.network(path).node(0).shape[1:]]
        try:
            archc.network(path, inputs=SMALL_INPUT)
        except archc.ArchcError:  # Inception-v3's auxiliary head needs its 299x299
            return [int(d) for d in archc.network(path).node(0).shape[1:]]
        return SMALL_INPUT
    if is_twin(path):  # at its own input (a seed's pools may need it), on the meta device
        import archc

        network = archc.network(path)
        first = next(iter(network.inputs.values()))
        return [int(d) for d in network.node(first).shape[1:]]
    return None


def is_twin(path: Path) -> bool:
    """A text-form spec with a YAML twin beside it: the same network and the same generated
    source (tests/frontend/test_text.py), computed with as its twin."""
    return path.suffix == ".arch" and path.with_suffix(".yaml").exists()


# the specs the tests that compute with real weights run over (tracing, standalone source with
# real outputs): every one but the variants of a torchvision family, which are their family's
# code with other numbers, and the text-form twins of YAML specs; test_specs runs those on the
# meta device
COMPUTED_SPECS = [path for path in ALL_SPECS if input_for(path) is None]


@pytest.fixture(autouse=True, scope="session")
def source_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """archc.build's source cache, on as it is for users, in a folder of this run's own (never
    the user's ~/.cache; subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("archc-cache")
    saved = {name: os.environ.get(name) for name in ("ARCHC_CACHE_DIR", "ARCHC_CACHE")}
    os.environ["ARCHC_CACHE_DIR"] = str(folder)
    os.environ.pop("ARCHC_CACHE", None)
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def spec_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture
def root() -> Path:
    return ROOT


def run_cli(*args: str) -> tuple[int, str, str]:
    """`archc ARGS...` in this process: exit code, stdout, stderr."""
    from click.testing import CliRunner

    from archc.cli import main

    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def count(tensors: Iterable[torch.Tensor]) -> int:
    """How many numbers: `count(model.parameters())`, `count(model.buffers())`."""
    return sum(t.numel() for t in tensors)


def as_tuple(value: Any) -> tuple[Any, ...]:
    """A module's output as a tuple: one tensor, the tuple of a multi-output network, or the
    values of a dict output in its order (the spec's)."""
    if isinstance(value, dict):
        return tuple(value.values())
    return value if isinstance(value, tuple) else (value,)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter drawn from N(0, 1/fan-in) and every float buffer (batch-norm statistics)
    from a positive range, so outputs are of normal scale and a misplaced weight shows; a
    freshly built batch norm is the identity and a zero bias hides nothing."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # drawn in place: the zoo's largest models have 600M weights
        for parameter in model.parameters():
            fan_in = parameter[0].numel() if parameter.dim() > 1 else 1
            parameter.normal_(0.0, 1 / fan_in ** 0.5, generator=generator)
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                low = 0.5 if name.endswith("running_var") else -0.1
                buffer.uniform_(low, low + 0.5, generator=generator)
    return model


def textbook_macs(module: nn.Module, args: tuple[Any, ...], output: Any) -> int:
    """Multiply-accumulates of one call of a conv, linear or attention module, as the papers
    count them
    (0 for any other module): every output element of a convolution is a dot product of
    in_channels/groups × ∏kernel; every input element of a transposed convolution is spread
    over out_channels/groups × ∏kernel outputs; every output of a linear layer is a dot
    product of in_features. Batch 1."""
    from torch import nn

    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return (args[0].numel() * module.out_channels // module.groups
                * math.prod(module.kernel_size))
    if isinstance(module, nn.modules.conv._ConvNd):
        return output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return int(output.numel() * module.in_features)
    if isinstance(module, nn.MultiheadAttention):  # self-attention over [N, L, E] (batch first)
        embed, length = module.embed_dim, args[0].shape[1]
        tokens = args[0].numel() // embed
        # query, key, value and output projections; the scores Q Kᵀ and their sum over V
        return 4 * tokens * embed * embed + 2 * tokens * length * embed
    if type(module).__name__ in ("ShiftedWindowAttention", "ShiftedWindowAttentionV2"):
        # Swin's, over [N, H, W, C]. Its modules (the projections, V2's bias MLP) are counted
        # by their own hooks: here the scores Q Kᵀ and their sum over V, in each window of the
        # map padded to whole windows, and V2's query, key and value projection, which it
        # computes with the weights (its key has no bias), not by calling its nn.Linear
        batch, height, width, channels = args[0].shape
        side_h, side_w = module.window_size
        windows = -(-height // side_h) * -(-width // side_w)
        tokens = windows * side_h * side_w
        scores = 2 * windows * (side_h * side_w) ** 2 * channels
        if type(module).__name__ == "ShiftedWindowAttentionV2":
            scores += tokens * channels * 3 * channels
        return batch * scores
    if type(module).__name__ == "ShiftedWindowAttention3d":  # Video Swin's, [N, T, H, W, C]
        # as Swin's: the scores and their sum in each window, the window cut to the clip
        batch, *size, channels = args[0].shape
        windows, tokens = 1, 1
        for side, window in zip(size, module.window_size, strict=True):
            cut = min(side, window)
            windows, tokens = windows * -(-side // cut), tokens * cut
        return batch * 2 * windows * tokens * tokens * channels
    if type(module).__name__ == "RelativePositionalMultiHeadAttention":  # MaxViT's
        # over partitions [N, G, P, C]: its projections are nn.Linear modules, counted by their
        # own hooks; here the scores Q Kᵀ and their sum over V within each partition
        batch, groups, tokens, channels = args[0].shape
        return batch * groups * 2 * tokens * tokens * channels
    return 0


def measured_macs(model: nn.Module, inputs: Sequence[torch.Tensor],
                  training: bool = False) -> dict[str, int]:
    """Each module's MACs (its own and its submodules'), by name ('' is the whole model),
    from forward hooks on one call of `model` in eval mode (meta tensors will do). With
    `training`, of a copy in training mode, on the inputs twice over (a batch norm trains on
    two values or more), per sample: what runs only while training is counted too."""
    import torch

    if training:
        model, inputs = copy.deepcopy(model).train(), [torch.cat([x, x]) for x in inputs]

    calls: list[tuple[str, int]] = []
    handles = [module.register_forward_hook(
        lambda m, a, o, name=name: calls.append((name, textbook_macs(m, a, o))))
        for name, module in model.named_modules()]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        (model if training else model.eval())(*inputs)
    for handle in handles:
        handle.remove()
    totals = dict.fromkeys((name for name, _ in model.named_modules()), 0)
    for name, macs in calls:
        parts = name.split(".") if name else []
        for owner in {".".join(parts[:depth]) for depth in range(len(parts) + 1)}:
            totals[owner] += macs // 2 if training else macs
    return totals
