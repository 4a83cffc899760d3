"""Artefacts: torch.export with a dynamic batch, metadata tracing an artefact to its spec,
checkpoints loaded strictly with a readable report, reproducible initial weights."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import archc
from archc.cli import main
from tests.conftest import ROOT

SPEC = ROOT / "specs" / "lenet.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_export_has_a_dynamic_batch_and_equals_eager(tmp_path: Path) -> None:
    target = tmp_path / "lenet.pt2"
    assert run("compile", str(SPEC), "-o", str(target), "--init", "seed=0")[0] == 0
    program = torch.export.load(str(target))
    eager = archc.build(SPEC, seed=0).eval()
    for batch in (1, 3):
        x = torch.randn(batch, 1, 28, 28)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), eager(x))


def test_artefacts_carry_the_spec_name_version_and_hash(tmp_path: Path) -> None:
    expected = {"spec": "lenet", "archc_version": archc.__version__,
                "spec_sha256": hashlib.sha256(SPEC.read_bytes()).hexdigest()}
    pt, pt2 = tmp_path / "m.pt", tmp_path / "m.pt2"
    assert run("compile", str(SPEC), "-o", str(pt))[0] == 0
    assert run("compile", str(SPEC), "-o", str(pt2))[0] == 0
    files = {"archc.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(str(pt), _extra_files=files)
    assert json.loads(files["archc.json"]).items() >= expected.items()
    files = {"archc.json": ""}
    torch.export.load(str(pt2), extra_files=files)
    assert json.loads(files["archc.json"]).items() >= expected.items()


def test_initial_weights_are_reproducible() -> None:
    a, b, c = (archc.build(SPEC, seed=s).state_dict() for s in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "ddp"])
def test_checkpoints_load_strictly_in_their_usual_wrappers(tmp_path: Path, wrap: str) -> None:
    weights = archc.build(SPEC, seed=3).state_dict()
    saved = {
        "plain": weights,
        "state_dict": {"state_dict": weights, "epoch": 3},
        "model": {"model": weights},
        "ddp": {f"module.{k}": v for k, v in weights.items()},
    }[wrap]
    path = tmp_path / "ckpt.pth"
    torch.save(saved, path)
    loaded = archc.build(SPEC, weights=path).state_dict()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)
    assert run("compile", str(SPEC), "-o", str(tmp_path / "m.pt"), "--weights", str(path))[0] == 0


def test_a_checkpoint_that_does_not_fit_is_reported(tmp_path: Path) -> None:
    weights = archc.build(SPEC).state_dict()
    weights["11.weight"] = torch.zeros(3, 84)  # the classifier of another num_classes
    weights["11.wieght"] = weights.pop("11.bias")
    path = tmp_path / "other.pth"
    torch.save(weights, path)
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(SPEC, weights=path)
    text = caught.value.render()
    assert "does not fit lenet" in text
    assert "missing from the checkpoint: 11.bias" in text
    assert "unexpected in the checkpoint: 11.wieght (did you mean 11.weight?)" in text
    assert "shape mismatch: 11.weight: checkpoint [3, 84] vs model [10, 84]" in text
    assert caught.value.span.line > 0
    code, _, err = run("compile", str(SPEC), "-o", str(tmp_path / "m.pt"), "--weights",
                       str(path))
    assert code == 1 and "Traceback" not in err and "shape mismatch" in err


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(archc.ArchcError, match="cannot read the checkpoint"):
        archc.build(SPEC, weights=path)
