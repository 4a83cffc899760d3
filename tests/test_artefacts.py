"""Artefacts: torch.export and ONNX with a dynamic batch, equal to the eager module; metadata
tracing an artefact to its spec; checkpoints loaded strictly with a readable report;
reproducible initial weights."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import archc
from tests.conftest import ROOT, run_cli

SPEC = ROOT / "specs" / "lenet.yaml"
MULTI_IO = ROOT / "examples" / "constructs" / "multi_io.yaml"  # two inputs, two outputs


def test_export_has_a_dynamic_batch_and_equals_eager(tmp_path: Path) -> None:
    target = tmp_path / "lenet.pt2"
    assert run_cli("compile", str(SPEC), "-o", str(target), "--init", "seed=0")[0] == 0
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
    assert run_cli("compile", str(SPEC), "-o", str(pt))[0] == 0
    assert run_cli("compile", str(SPEC), "-o", str(pt2))[0] == 0
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
    assert run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.pt"), "--weights",
                   str(path))[0] == 0


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
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.pt"), "--weights",
                           str(path))
    assert code == 1 and "Traceback" not in err and "shape mismatch" in err


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(archc.ArchcError, match="cannot read the checkpoint"):
        archc.build(SPEC, weights=path)


def test_export_of_two_inputs_and_two_outputs(tmp_path: Path) -> None:
    target = tmp_path / "multi.pt2"
    assert run_cli("compile", str(MULTI_IO), "-o", str(target), "--init", "seed=0")[0] == 0
    program = torch.export.load(str(target)).module()
    eager = archc.build(MULTI_IO, seed=0).eval()
    for batch in (1, 3):
        x = (torch.randn(batch, 3, 16, 16), torch.randn(batch, 12))
        with torch.no_grad():
            torch.testing.assert_close(program(*x), eager(*x))


@pytest.mark.parametrize("spec", [SPEC, MULTI_IO], ids=["lenet", "multi_io"])
def test_onnx_is_valid_has_a_dynamic_batch_and_equals_eager(tmp_path: Path, spec: Path) -> None:
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    target = tmp_path / "model.onnx"
    code, out, err = run_cli("compile", str(spec), "-o", str(target), "--init", "seed=0")
    assert code == 0, err
    assert "(ONNX)" in out
    onnx.checker.check_model(str(target), full_check=True)
    proto = onnx.load(str(target))
    network = archc.network(spec)
    assert [i.name for i in proto.graph.input] == list(network.inputs)
    assert [o.name for o in proto.graph.output] == [name for name, _ in network.outputs]
    info = json.loads({p.key: p.value for p in proto.metadata_props}["archc.json"])
    assert info["spec"] == network.name and info["archc_version"] == archc.__version__
    eager = archc.build(spec, seed=0).eval()
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = [torch.randn(batch, *(d for d in network.node(i).shape[1:] if d is not None))
             for i in network.inputs.values()]
        outputs = session.run(None, {i.name: t.numpy() for i, t in zip(
            session.get_inputs(), x, strict=True)})
        with torch.no_grad():
            expected = eager(*x)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for got, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-5)


def test_onnx_without_the_extra_says_how_to_install_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript → ImportError
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.onnx"))
    assert code == 1
    assert "writing ONNX needs the onnx extra: pip install 'archc[onnx]'" in err
    assert "Traceback" not in err and not (tmp_path / "m.onnx").exists()


def test_metadata_records_the_parameters_and_inputs(tmp_path: Path) -> None:
    target = tmp_path / "m.pt2"
    assert run_cli("compile", str(SPEC), "-o", str(target), "-p", "num_classes=3",
                   "--input", "1x32x32")[0] == 0
    files = {"archc.json": ""}
    torch.export.load(str(target), extra_files=files)
    info = json.loads(files["archc.json"])
    assert info["params"] == {"num_classes": 3}
    assert info["inputs"] == {"x": [1, 32, 32]}
    assert info["spec_path"] == str(SPEC)


def test_init_schemes_in_a_spec_are_reproducible_and_reach_the_artefact(tmp_path: Path) -> None:
    spec = """
name: inits
input: [3, 8, 8]
blocks:
  conv_bn:
    params: [out, {scheme: "'kaiming_normal'"}]
    body: conv(out, 3, padding=1, init=scheme); bn(init='zeros'); relu
layers:
  - conv_bn(8)
  - conv_bn(8, scheme='xavier_uniform')
  - flatten
  - fc: linear(10, init=['normal', 0.01])
"""
    a, b = (archc.build(spec, seed=7).state_dict() for _ in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (a["0.1.weight"] == 0).all() and (a["fc.bias"] == 0).all()
    source = archc.source(spec)
    assert "def initialized(" in source and 'initialized(nn.Linear(512, 10), ("normal", 0.01))' \
        in source
    assert "def initialized(" not in archc.source(SPEC)  # only where a spec asks for it
    target = tmp_path / "inits.pt"
    (tmp_path / "inits.yaml").write_text(spec)
    assert run_cli("compile", str(tmp_path / "inits.yaml"), "-o", str(target), "--init",
                   "seed=7")[0] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(target)).state_dict()
    assert all(torch.equal(loaded[k], a[k]) for k in a)


def test_weights_and_init_need_a_module_artefact(tmp_path: Path) -> None:
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.py"), "--init", "seed=0")
    assert code == 2 and "a .py file holds no weights" in err
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.pt"), "--init", "0")
    assert code == 2 and "expected seed=N" in err


def test_a_ddp_checkpoint_says_it_removed_the_prefix(tmp_path: Path) -> None:
    path = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in archc.build(SPEC).state_dict().items()}, path)
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.pt2"), "--weights",
                           str(path))
    assert code == 0 and "note: removed the 'module.' prefix" in err


def test_a_pickled_model_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Linear(2, 2), path)  # a whole module: loading it runs pickle code
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(SPEC, weights=path)
    assert "cannot read the checkpoint" in caught.value.message
    assert any("weights_only=True" in note for note in caught.value.notes)


@pytest.mark.parametrize("suffix", [".pt", ".pt2", ".onnx"])
def test_artefacts_are_byte_reproducible_across_processes(tmp_path: Path, suffix: str) -> None:
    """Same spec, params and seed → the same bytes, from two processes with different string
    hashes, written under different names (torch once named the zip's folder after the
    temporary file, and scripted the constants in hash order)."""
    if suffix == ".onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")
    # TorchScript: many modules, so many constants to order; the exporters, which take
    # ten times as long a module, a small network of convolutions, pools and linear layers
    spec = ROOT / "specs" / ("googlenet.yaml" if suffix == ".pt" else "lenet.yaml")
    digests = []
    for run_number, hash_seed in enumerate(("1", "2")):
        folder = tmp_path / f"run{run_number}"
        folder.mkdir()
        target = folder / f"model{run_number}{suffix}"
        result = subprocess.run(
            [sys.executable, "-m", "archc", "compile", str(spec), "-o", str(target), "-p",
             "num_classes=7", "--init", "seed=5"],
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": hash_seed}, capture_output=True,
            text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        digests.append(hashlib.sha256(target.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_example_inputs_are_fixed_and_leave_the_random_state_alone() -> None:
    from archc.backends.artefacts import example_inputs

    network = archc.network(MULTI_IO)
    state = torch.random.get_rng_state()
    first, second = example_inputs(network), example_inputs(network)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert torch.equal(torch.random.get_rng_state(), state)


MODULE_ENTRY = "input: [4]\nlayers:\n  - module: [linear(3), relu, linear(2)]\n"


def test_a_network_whose_entry_is_named_module_loads_its_own_checkpoint(tmp_path: Path) -> None:
    weights = archc.build(MODULE_ENTRY, seed=1).state_dict()
    assert all(k.startswith("module.") for k in weights)  # what once looked like DDP's prefix
    path = tmp_path / "own.pth"
    torch.save(weights, path)
    loaded = archc.build(MODULE_ENTRY, weights=path).state_dict()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)
    spec = tmp_path / "net.yaml"
    spec.write_text(MODULE_ENTRY)
    code, _, err = run_cli("compile", str(spec), "-o", str(tmp_path / "m.pt2"), "--weights",
                           str(path))
    assert code == 0, err
    assert "removed the 'module.' prefix" not in err
    # the same network trained under DDP: module.module.… loses one prefix
    ddp = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in weights.items()}, ddp)
    loaded = archc.build(MODULE_ENTRY, weights=ddp).state_dict()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)
    code, _, err = run_cli("compile", str(spec), "-o", str(tmp_path / "m.pt"), "--weights",
                           str(ddp))
    assert code == 0 and "removed the 'module.' prefix" in err


def test_a_checkpoint_that_fits_neither_way_reports_the_models_names(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"module.other.weight": torch.zeros(1)}, path)
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(SPEC, weights=path)
    assert "unexpected in the checkpoint: other.weight" in caught.value.render()


def test_onnx_past_two_gigabytes_is_refused_before_writing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from archc.backends import artefacts

    monkeypatch.setattr(artefacts, "ONNX_LIMIT", 1000)  # lenet's weights are 240 kB
    code, _, err = run_cli("compile", str(SPEC), "-o", str(tmp_path / "m.onnx"))
    assert code == 1 and "a single ONNX file holds less than 2 GiB" in err and "pt2" in err
    assert list(tmp_path.iterdir()) == []


def test_the_artefacts_report_compares_outputs_and_says_why_one_fails() -> None:
    """`make artefacts` (tests/artefacts_zoo.py): a spec whose programs equal eager is `ok`
    for both; a mismatch, an output too small to test and a failed export are reported."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from tests.artefacts_zoo import _equal, check

    assert check(MULTI_IO) == ("ok", "ok")
    with pytest.raises(AssertionError):
        _equal([torch.ones(3)], [torch.full((3,), 1.01)])
    with pytest.raises(AssertionError, match="magnitude"):
        _equal(torch.full((3,), 1e-5), torch.full((3,), 1e-5))
    with pytest.raises(AssertionError, match="2 outputs"):
        _equal((torch.ones(1), torch.ones(1)), torch.ones(1))
    code, out = _report(["no_such_spec"])
    assert code == 0 and "0 specs" in out


def _report(names: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    from tests.artefacts_zoo import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(names)
    return code, buffer.getvalue()
