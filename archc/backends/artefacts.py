"""nn.Module → files: TorchScript (.pt) and torch.export (.pt2), written atomically.

Input: a module built from the IR and example input shapes. Output: a file on disk. TorchScript
is deprecated in torch ≥ 2.10 and warns; users still ask for it, so the warning is kept out of
their output here and torch.export is offered beside it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from archc.files import atomic_write as atomic_write  # re-exported: cli.py writes .py with it
from archc.ir import Network


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """torch.jit.script without the deprecation warning reaching the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated.*")
        warnings.filterwarnings("ignore", message=r".*TorchScript.*deprecated.*")
        return torch.jit.script(module)


def example_inputs(network: Network, batch: int = 2) -> tuple[torch.Tensor, ...]:
    shapes = [[d for d in network.node(i).shape[1:] if d is not None]
              for i in network.inputs.values()]
    return tuple(torch.randn(batch, *shape) for shape in shapes)


def write_torchscript(module: torch.nn.Module, path: Path) -> None:
    scripted = script(module.eval())

    def write(target: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(scripted, str(target))

    atomic_write(path, write)


def export(module: torch.nn.Module, network: Network) -> torch.export.ExportedProgram:
    """torch.export with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    inputs = example_inputs(network)
    shapes = tuple({0: batch} for _ in inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module.eval(), inputs, dynamic_shapes=shapes)


def write_export(module: torch.nn.Module, network: Network, path: Path) -> None:
    program = export(module, network)
    atomic_write(path, lambda target: torch.export.save(program, str(target)))
