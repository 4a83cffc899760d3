"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import archc
from tests.conftest import ROOT


def test_quickstart_runs() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "block5       [None, 1024, 1, 1]" in result.stdout
    assert "output (1, 100)" in result.stdout


def test_run_torchscript_example(tmp_path: Path) -> None:
    from archc.backends.artefacts import write_torchscript

    target = tmp_path / "vgg.pt"
    spec = ROOT / "specs" / "vgg.yaml"
    write_torchscript(archc.build(spec), target, archc.network(spec))
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "run_torchscript.py"),
                             str(target), "3x32x32"], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "-> output [1, 10]" in result.stdout
