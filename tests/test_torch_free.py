"""The static paths never import torch (importing it alone takes seconds): shapes, check, draw,
fmt, convert and ops run in a fresh interpreter and torch must not be in sys.modules after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SPEC = str(ROOT / "specs" / "torchvision" / "resnet50.yaml")


@pytest.mark.parametrize("args", [
    ["shapes", SPEC],
    ["shapes", SPEC, "--format", "json", "--columns", "all"],
    ["check", SPEC, str(ROOT / "specs" / "googlenet.arch")],
    ["draw", SPEC, "-o", "{tmp}/r.dot"],
    ["fmt", "--check", SPEC],
    ["convert", SPEC, "--to", "arch"],
    ["ops", "conv"],
    ["compile", SPEC, "-o", "{tmp}/r.py"],
    ["shapes", SPEC, "--min-input"],
], ids=lambda a: a[0] + (" " + a[-1] if a[-1].startswith("--") or a[-1] == "all" else ""))
def test_static_commands_never_import_torch(args: list[str], tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    script = (
        "import sys\n"
        "from archc.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "heavy = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_importing_archc_imports_neither_torch_nor_networkx() -> None:
    script = ("import sys, archc, archc.cli\n"
              "assert 'torch' not in sys.modules\n"
              "assert 'networkx' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
