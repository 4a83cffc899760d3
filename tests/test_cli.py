"""The command line: shapes (table, JSON, depth), compile (each format), check, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import archc
from archc.cli import main
from tests.conftest import count, run_cli

GOOGLENET = "specs/googlenet.yaml"
VGG = "specs/vgg.yaml"


def vgg_params() -> int:
    """The parameters of the built VGG, counted by torch (9,272,790)."""
    with torch.device("meta"):
        return count(archc.build(Path(VGG)).parameters())


@pytest.fixture(autouse=True)
def _in_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)


def test_seed_googlenet_block_shapes_from_shapes_depth_1() -> None:
    code, out, _ = run_cli("shapes", GOOGLENET, "--depth", "1", "--format", "json")
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
    code, out, _ = run_cli("shapes", VGG, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert {"name", "inputs", "outputs", "params", "layers"} <= set(report)
    assert report["name"] == "vgg"
    assert report["inputs"] == {"x": [None, 3, 32, 32]}
    assert report["params"] == vgg_params() > 9_000_000
    row = next(r for r in report["layers"] if r["path"] == "feature.2.2")
    # the third stage's second 3x3 conv, 256 channels in and out, on 32 / 2 / 2 = 8x8
    assert row == {**row, "op": "conv", "shape": [None, 256, 8, 8],
                   "params": 256 * 256 * 3 * 3 + 256}


def test_shapes_table_for_people() -> None:
    code, out, _ = run_cli("shapes", VGG)
    assert code == 0
    assert "feature" in out and "vgg_block(2, 256)" in out and "conv 3x3, 256" in out
    assert "[N, 512, 1, 1]" in out and f"{vgg_params():,}" in out


def test_shapes_with_input_and_params() -> None:
    code, out, _ = run_cli("shapes", VGG, "--input", "3x64x64", "-p", "num_classes=7",
                       "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["outputs"] == [[None, 7]]
    assert report["inputs"] == {"x": [None, 3, 64, 64]}


@pytest.mark.parametrize("suffix", [".pt", ".py", ".pt2"])
def test_compile_each_format(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"model{suffix}"
    code, out, err = run_cli("compile", VGG, "-o", str(target))
    assert code == 0, err
    assert f"wrote {target}" in out and f"{vgg_params():,} parameters" in out
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
    code, out, err = run_cli("compile", str(root / VGG))
    assert code == 0, err
    assert (tmp_path / "vgg.pt").exists()
    assert "deprecated" not in out + err


def test_compile_rejects_unknown_extension(tmp_path: Path) -> None:
    code, _, err = run_cli("compile", VGG, "-o", str(tmp_path / "model.tflite"))
    assert code == 2
    assert "unknown extension" in err


def test_check_reports_each_spec() -> None:
    code, out, _ = run_cli("check", VGG, GOOGLENET)
    assert code == 0
    assert out.count("ok  ") == 2


def test_usage_errors_exit_2() -> None:
    assert run_cli("shapes")[0] == 2
    assert run_cli("shapes", VGG, "--bogus")[0] == 2
    assert run_cli("shapes", VGG, "--input", "3xx2")[0] == 2
    assert run_cli("nonsense")[0] == 2


def test_help_teaches() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    assert "Examples:" in out and "archc shapes" in out
    code, out, _ = run_cli("shapes", "--help")
    assert "--depth" in out and "--format" in out


def test_python_dash_m_runs(root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "archc", "check", VGG], cwd=root,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "ok  specs/vgg.yaml" in result.stdout


# ------------------------------------------------------------------ no data lost


@pytest.mark.parametrize("name", ["nosuchfile.yaml", "nosuchfile", "no/such/dir.arch"])
def test_a_missing_spec_is_no_such_spec_file(name: str) -> None:
    for command in (["check"], ["shapes"], ["compile"], ["draw"], ["convert", "--to", "arch"]):
        code, _, err = run_cli(*command, name)
        assert code == 1, (command, err)
        assert f"no such spec file: {name}" in err and "Traceback" not in err


def _checkpoint(folder: Path, suffix: str) -> Path:
    path = folder / f"ckpt{suffix}"  # checkpoints are often named .pt, like TorchScript files
    torch.save(archc.build(Path(VGG), seed=0).state_dict(), path)
    return path


def _spellings(folder: Path, path: Path) -> dict[str, Path]:
    """The same file named in other ways: relative, with `..`, a symlink, a hard link."""
    (folder / "sub").mkdir(exist_ok=True)
    link = folder / f"link{path.suffix}"
    link.symlink_to(path)
    hard = folder / f"hard{path.suffix}"
    hard.hardlink_to(path)
    return {"same": path, "dotdot": folder / "sub" / ".." / path.name, "symlink": link,
            "hardlink": hard, "relative": Path(os.path.relpath(path))}


@pytest.mark.parametrize("suffix", [".pt", ".pt2", ".onnx", ".py"])
def test_compile_never_writes_over_its_weights(tmp_path: Path, suffix: str) -> None:
    weights = _checkpoint(tmp_path, suffix)
    before = weights.read_bytes()
    spellings = _spellings(tmp_path, weights)
    for how, output in spellings.items():
        code, _, err = run_cli("compile", VGG, "-o", str(output), "--weights", str(weights))
        assert code == 1, (how, err)
        assert "refusing to overwrite the input" in err, (how, err)
        assert weights.read_bytes() == before, how
    # and the other way round: the checkpoint named through a link, -o the file itself
    code, _, err = run_cli("compile", VGG, "-o", str(weights), "--weights",
                       str(spellings["symlink"]))
    assert code == 1 and "refusing to overwrite" in err
    assert weights.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".archc-tmp-" in p.name]
    target = tmp_path / "model.pt"  # a distinct output still works with the same checkpoint
    assert run_cli("compile", VGG, "-o", str(target), "--weights", str(weights))[0] == 0


def test_compile_draw_and_convert_never_write_over_their_spec(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text(Path(VGG).read_text())
    before = spec.read_bytes()
    link = tmp_path / "link.pt"
    link.symlink_to(spec)
    hard = tmp_path / "hard.dot"
    hard.hardlink_to(spec)
    for args in (["compile", str(spec), "-o", str(link)],
                 ["compile", str(link), "-o", str(spec)],
                 ["draw", str(spec), "-o", str(hard)],
                 ["convert", str(spec), "-o", str(tmp_path / "sub" / ".." / "net.yaml")]):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = run_cli(*args)
        assert code in (1, 2) and "overwrite" in err, (args, err)
        assert spec.read_bytes() == before, args
    hard_arch = tmp_path / "hard.arch"
    hard_arch.hardlink_to(spec)
    code, _, err = run_cli("convert", str(spec), "-o", str(hard_arch))
    assert code in (1, 2) and "overwrite" in err and spec.read_bytes() == before


UNFORMATTED = "input:   [4]\nlayers:\n  -   linear(3)   # hidden\n  - relu\n"


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "messy.yaml"
    path.write_text(UNFORMATTED)
    return path


@pytest.mark.parametrize("flags", [["--diff"], ["--check"], ["--check", "--diff"]])
def test_fmt_check_and_diff_never_write(messy: Path, flags: list[str]) -> None:
    info = messy.stat()
    code, out, err = run_cli("fmt", *flags, str(messy))
    assert code == 1, err
    assert messy.read_text() == UNFORMATTED and messy.stat().st_mtime_ns == info.st_mtime_ns
    assert ("--- " in out and "+++ " in out) == ("--diff" in flags)
    assert ("would reformat" in out) == ("--check" in flags)
    assert "reformatted" not in out
    assert [p.name for p in messy.parent.iterdir()] == ["messy.yaml"]
    assert run_cli("fmt", str(messy))[0] == 0  # formatted, the same flags find nothing to change
    assert run_cli("fmt", *flags, str(messy)) == (0, "", "")


def test_fmt_keeps_the_mode_and_writes_through_a_symlink(messy: Path) -> None:
    messy.chmod(0o600)
    link = messy.parent / "link.yaml"
    link.symlink_to(messy)
    code, out, err = run_cli("fmt", str(link))
    assert code == 0, err and "reformatted" in out
    assert link.is_symlink() and os.readlink(link) == str(messy)
    assert stat.S_IMODE(messy.stat().st_mode) == 0o600
    assert messy.read_text() != UNFORMATTED and "# hidden" in messy.read_text()
    assert sorted(p.name for p in messy.parent.iterdir()) == ["link.yaml", "messy.yaml"]


def test_fmt_refuses_a_formatting_that_does_not_read_back(messy: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import archc.cli

    printed = archc.api.print_spec

    def wrong(spec: object, spelling: str) -> str:  # a printer bug that changes the model
        return printed(spec, spelling).replace("linear(3)", "linear(5)")

    monkeypatch.setattr(archc.api, "print_spec", wrong)
    code, out, err = run_cli("fmt", str(messy))
    assert code == 1 and "would not read back as the same spec" in err
    assert "Traceback" not in err and "reformatted" not in out
    assert messy.read_text() == UNFORMATTED

    def broken(spec: object, spelling: str) -> str:  # one that writes what does not parse
        return printed(spec, spelling) + "layers: [\n"

    monkeypatch.setattr(archc.api, "print_spec", broken)
    code, _, err = run_cli("fmt", str(messy))
    assert code == 1 and "would not read back" in err and messy.read_text() == UNFORMATTED


def test_fmt_of_a_fifo_does_not_block(tmp_path: Path, root: Path) -> None:
    fifo = tmp_path / "pipe.arch"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "archc", "fmt", "--check", str(fifo)],
                            cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1 and "not a regular file" in result.stderr


@pytest.mark.parametrize("option, word", [("--max-params", "parameters"),
                                          ("--max-elements", "elements"),
                                          ("--max-steps", "steps")])
def test_every_limit_can_be_set_on_the_command_line(option: str, word: str) -> None:
    assert run_cli(option, "1000000000", "check", VGG)[0] == 0
    code, _, err = run_cli(option, "10", "check", VGG)
    assert code == 1 and word in err and "Traceback" not in err
    assert run_cli(option, "0", "check", VGG)[0] == 2


def test_a_table_of_thousands_of_layers_is_printed_whole(tmp_path: Path) -> None:
    # archc lays the table out itself: rich's Table measured every cell (15,000 rows: 20 s)
    spec = tmp_path / "long.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - repeat: 2500\n"
                    "    body: conv(4, 3, padding=1)\n")
    result = CliRunner().invoke(main, ["shapes", str(spec)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split("┃")[0].strip() == "layer" and "output shape" in lines[1]
    assert lines[-4].split("│")[0].strip() == "2499"
    assert "[N, 4, 8, 8]" in lines[-4] and lines[-3].startswith("output [N, 4, 8, 8]")
    assert sum(1 for line in lines if "conv 3x3, 4" in line) == 2500


def test_a_raised_token_limit_reads_a_longer_spec_file(tmp_path: Path) -> None:
    # 1.2 MB: past the 1 MiB a spec may be by default, but only blank lines (no tokens)
    spec = tmp_path / "long.yaml"
    spec.write_text("name: long\ninput: [4]\n" + "\n" * 1_200_000 + "layers:\n  - linear(2)\n")
    code, _, err = run_cli("check", str(spec))
    assert code == 1 and "spec file too large (more than 1,048,576 bytes)" in err
    assert "--max-tokens N allows 50 bytes a token" in err
    code, out, _ = run_cli("--max-tokens", "30000", "check", str(spec))
    assert code == 0 and "ok" in out
