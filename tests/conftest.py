"""Shared helpers: the spec files the suite runs over, running the CLI, and counting and
randomising a built module's tensors (torch is imported only when those are called)."""

from __future__ import annotations

from collections.abc import Iterable
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
    """A module's output as a tuple: one tensor, or the tuple of a multi-output network."""
    return value if isinstance(value, tuple) else (value,)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter drawn from N(0, 1/fan-in) and every float buffer (batch-norm statistics)
    from a positive range, so outputs are of normal scale and a misplaced weight shows; a
    freshly built batch norm is the identity and a zero bias hides nothing."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = parameter[0].numel() if parameter.dim() > 1 else 1
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in ** 0.5)
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                low = 0.5 if name.endswith("running_var") else -0.1
                buffer.copy_(torch.rand(buffer.shape, generator=generator) * 0.5 + low)
    return model
