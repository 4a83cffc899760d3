"""The command line: shapes (table, JSON, depth), compile (each format), check, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from archc.cli import main

GOOGLENET = "specs/googlenet.yaml"
VGG = "specs/vgg.yaml"


@pytest.fixture(autouse=True)
def _in_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_seed_googlenet_block_shapes_from_shapes_depth_1() -> None:
    code, out, _ = run("shapes", GOOGLENET, "--depth", "1", "--format", "json")
    assert code == 0
    report = json.loads(out)
    shapes = {row["path"]: row["shape"] for row in report["layers"]}
    # the shapes the tutorial printed (seed 000)
    assert shapes["block1"] == [None, 64, 23, 23]
    assert shapes["block2"] == [None, 192, 11, 11]
    assert shapes["block3"] == [None, 480, 5, 5]
    assert shapes["block4"] == [None, 832, 2, 2]
    assert shapes["block5"] == [None, 1024, 1, 1]
    assert report["outputs"] == [[None, 10]]
    assert all(row["depth"] == 1 for row in report["layers"])


def test_shapes_json_has_the_documented_fields() -> None:
    code, out, _ = run("shapes", VGG, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert {"name", "inputs", "outputs", "params", "layers"} <= set(report)
    assert report["name"] == "vgg"
    assert report["inputs"] == {"x": [None, 3, 32, 32]}
    assert report["params"] == sum(r["params"] for r in report["layers"] if r["depth"] == 1)
    row = next(r for r in report["layers"] if r["path"] == "feature.2.2")
    assert row == {**row, "op": "conv", "shape": [None, 256, 8, 8], "params": 590080}


def test_shapes_table_for_people() -> None:
    code, out, _ = run("shapes", VGG)
    assert code == 0
    assert "feature" in out and "vgg_block(2, 256)" in out and "conv 3x3, 256" in out
    assert "[N, 512, 1, 1]" in out and "9,272,790" in out


def test_shapes_with_input_and_params() -> None:
    code, out, _ = run("shapes", VGG, "--input", "3x64x64", "-p", "num_classes=7",
                       "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["outputs"] == [[None, 7]]
    assert report["inputs"] == {"x": [None, 3, 64, 64]}


@pytest.mark.parametrize("suffix", [".pt", ".py", ".pt2"])
def test_compile_each_format(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"model{suffix}"
    code, out, err = run("compile", VGG, "-o", str(target))
    assert code == 0, err
    assert f"wrote {target}" in out and "9,272,790 parameters" in out
    assert target.exists()
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"
    x = torch.randn(1, 3, 32, 32)
    if suffix == ".pt":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.jit.load(str(target))
        assert model(x).shape == (1, 10)
    elif suffix == ".pt2":
        program = torch.export.load(str(target))
        assert program.module()(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    else:
        text = target.read_text()
        assert "import torch" in text and "archc" not in text.split('"""', 2)[2]


def test_compile_defaults_to_torchscript_named_after_the_spec(tmp_path: Path, root: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("compile", str(root / VGG))
    assert code == 0, err
    assert (tmp_path / "vgg.pt").exists()
    assert "deprecated" not in out + err


def test_compile_rejects_unknown_extension(tmp_path: Path) -> None:
    code, _, err = run("compile", VGG, "-o", str(tmp_path / "model.tflite"))
    assert code == 2
    assert "unknown extension" in err


def test_check_reports_each_spec() -> None:
    code, out, _ = run("check", VGG, GOOGLENET)
    assert code == 0
    assert out.count("ok  ") == 2


def test_usage_errors_exit_2() -> None:
    assert run("shapes")[0] == 2
    assert run("shapes", VGG, "--bogus")[0] == 2
    assert run("shapes", VGG, "--input", "3xx2")[0] == 2
    assert run("nonsense")[0] == 2


def test_help_teaches() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "Examples:" in out and "archc shapes" in out
    code, out, _ = run("shapes", "--help")
    assert "--depth" in out and "--format" in out


def test_python_dash_m_runs(root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "archc", "check", VGG], cwd=root,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "ok  specs/vgg.yaml" in result.stdout
