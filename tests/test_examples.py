"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archc
from tests.conftest import ROOT, SPECS


def run_example(name: str, *args: str) -> str:
    """`python examples/NAME ARGS...`: its stdout, once it has exited 0."""
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_runs() -> None:
    out = run_example("quickstart.py")
    assert "block5       [None, 1024, 1, 1]" in out
    assert "output (1, 100)" in out


def test_run_torchscript_example(tmp_path: Path) -> None:
    from archc.backends.artefacts import write_torchscript

    target = tmp_path / "vgg.pt"
    spec = SPECS / "vgg.yaml"
    write_torchscript(archc.build(spec), target, archc.network(spec))
    assert "-> output [1, 10]" in run_example("run_torchscript.py", str(target), "3x32x32")


def test_export_pt2_example() -> None:
    out = run_example("export_pt2.py")
    assert "googlenet.pt2: googlenet (archc " in out
    assert "batch 1: output [1, 10], equal to the eager module" in out
    assert "batch 3: output [3, 10], equal to the eager module" in out


def test_export_onnx_example() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = run_example("export_onnx.py")
    assert "resnet.onnx: valid ONNX" in out
    assert "batch 3: onnxruntime output [3, 10], equal to the eager module" in out


def test_finetune_checkpoint_example() -> None:
    out = run_example("finetune_checkpoint.py")
    assert "shape mismatch: fc.weight: checkpoint [1000, 512] vs model [5, 512]" in out
    assert "loaded 120 tensors from resnet18.pth" in out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert "pretrained weights unchanged: True" in out
