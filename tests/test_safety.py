"""Hardening: hostile or broken specs get located errors fast; files are written safely;
outputs are deterministic across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import archc
from tests.conftest import ROOT, run_cli

NASTY = {
    "python tag": "input: [3]\nlayers:\n  - !!python/object/apply:os.system ['echo hi']\n",
    "custom tag": "input: [3]\nlayers:\n  - !thing relu\n",
    "alias bomb": "layers: &a [" + ", ".join(["relu"] * 10) + "]\ninput: [3]\nblocks:\n"
    + "".join(f"  b{i}: &b{i} [{', '.join([f'*{chr(97)}' if i == 0 else f'*b{i - 1}'] * 10)}]\n"
              for i in range(6)),
    "deep yaml": "input: [3]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep expression": "input: [3]\nlayers:\n  - linear(" + "[" * 3000 + "1" + "]" * 3000 + ")\n",
    "deep text": "network n {\n input [3]\n" + "{" * 3000 + "}" * 3000 + "\n}\n",
    "huge repeat": "input: [3]\nlayers:\n  - repeat: 1000000000\n    body: relu\n",
    "mutual recursion": "input: [3]\nblocks:\n  a: b\n  b: a\nlayers:\n  - a\n",
    "dunder attribute": "input: [3]\nlayers:\n  - linear(in.__class__)\n",
    "import name": "input: [3]\nlayers:\n  - linear(__import__('os'))\n",
    "binary junk": "\x00\x01\x02\xff\xfe",
    "huge power": "input: [3]\nlayers:\n  - linear(10 ** 10 ** 10)\n",
    "huge list": "input: [3]\nlayers:\n  - linear(len([0] * 10 ** 9))\n",
    "huge string": "input: [3]\nlayers:\n  - linear(len('a' * 10 ** 9))\n",
    "forward reference": "input: [3]\nlayers:\n  - '@later'\n  - later: relu\n",
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_hostile_specs_get_a_located_error_fast(name: str, tmp_path: Path) -> None:
    path = tmp_path / ("spec.arch" if name == "deep text" else "spec.yaml")
    path.write_text(NASTY[name], encoding="utf-8", errors="surrogateescape")
    start = time.perf_counter()
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(path)
    assert time.perf_counter() - start < 5  # a bound against hangs (the issue asks < 1 s)
    span = caught.value.span
    lines = len(path.read_text(encoding="utf-8", errors="replace").splitlines()) or 1
    assert span.source is not None and 1 <= span.line <= lines + 1, caught.value.render()


def test_the_cli_reports_them_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(NASTY["deep yaml"])
    code, out, err = run_cli("check", str(path))
    assert code == 1
    assert "Traceback" not in out + err
    assert "nests too deeply" in err


def test_compile_and_draw_refuse_to_overwrite_their_input(tmp_path: Path) -> None:
    spec = tmp_path / "net.py"
    spec.write_text("archc: 1\nname: net\ninput: [4]\nlayers:\n  - linear(2)\n")
    before = spec.read_text()
    code, _, err = run_cli("compile", str(spec), "-o", str(spec))
    assert code == 1 and "refusing to overwrite the input" in err
    dot = tmp_path / "net.dot"
    dot.write_text(before)
    code, _, err = run_cli("draw", str(dot), "-o", str(dot))
    assert code == 1 and "refusing to overwrite" in err
    assert spec.read_text() == before and dot.read_text() == before


def test_missing_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "model.py"
    code, _, err = run_cli("compile", str(ROOT / "specs" / "mlp.yaml"), "-o", str(target))
    assert code == 1 and "does not exist" in err and "mkdir -p" in err
    assert not target.parent.exists()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    from archc.files import atomic_write

    target = tmp_path / "model.py"

    def fail(path: Path) -> None:
        path.write_text("half a file")
        raise OSError("disk full")

    with pytest.raises(archc.ArchcError, match=r"cannot write .*model\.py: disk full"):
        atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_compile_leaves_no_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [4]\nlayers:\n  - linear(2, in_features=3)\n")
    code, _, _ = run_cli("compile", str(bad), "-o", str(tmp_path / "out.pt"))
    assert code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize("suffix", [".py", ".dot"])
def test_outputs_are_identical_across_processes_and_hash_seeds(tmp_path: Path,
                                                                suffix: str) -> None:
    spec = str(ROOT / "specs" / "torchvision" / "googlenet.yaml")
    command = "compile" if suffix == ".py" else "draw"
    outputs = []
    for seed in ("0", "1", "12345"):
        target = tmp_path / f"out{seed}{suffix}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "archc", command, spec, "-o", str(target)],
                       cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_limits_are_configurable_from_python_and_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "long.yaml"
    spec.write_text("input: [3]\nlayers:\n  - repeat: 50\n    body: linear(3)\n")
    assert len(archc.network(spec).node_list) == 51
    with pytest.raises(archc.ArchcError, match="grows past 20 nodes") as caught:
        archc.network(spec, limits=archc.Limits(max_nodes=20))
    assert caught.value.span.line == 4
    code, _, err = run_cli("--max-nodes", "20", "check", str(spec))
    assert code == 1 and "grows past 20 nodes" in err
    deep = tmp_path / "deep.yaml"
    deep.write_text("input: [3]\nblocks:\n  a: b\n  b: c\n  c: relu\nlayers:\n  - a\n")
    with pytest.raises(archc.ArchcError, match="nest too deeply"):
        archc.network(deep, limits=archc.Limits(max_depth=2))


def test_the_whole_zoo_fits_the_default_limits() -> None:
    from tests.conftest import ALL_SPECS

    for path in ALL_SPECS:
        archc.network(path)  # raises if a default limit is too tight
