"""archc.build's source cache (archc/cache.py): a spec built again reuses the source generated
before, and only ever when that source is exactly what building it now would generate."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import archc
from archc import api, cache
from tests.conftest import ROOT, TORCHVISION_SPECS, randomise, run_cli

MLP = """\
name: mlp
input: [8]
params: {hidden: 16}
layers:
  - linear(hidden)
  - relu
  - linear(4)
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "cache"
    monkeypatch.setenv("ARCHC_CACHE_DIR", str(target))
    monkeypatch.delenv("ARCHC_CACHE", raising=False)
    return target


class Elaborations:
    """Counts how often a build elaborates (what a cache hit skips)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = api.network

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(api, "network", counted)


@pytest.fixture
def elaborations(monkeypatch: pytest.MonkeyPatch) -> Elaborations:
    return Elaborations(monkeypatch)


def spec_file(tmp_path: Path, text: str = MLP, name: str = "mlp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def outputs(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.randn(2, *shape, generator=torch.Generator().manual_seed(1)))


def test_a_second_build_reuses_the_source_and_builds_the_same_module(
        folder: Path, elaborations: Elaborations) -> None:
    spec = TORCHVISION_SPECS / "densenet121.yaml"
    first = archc.build(spec, seed=0)
    assert elaborations.count == 1 and len(cache.entries(folder)) == 1
    second = archc.build(spec, seed=0)
    assert elaborations.count == 1  # parsed, elaborated and generated once
    assert second.archc_source == first.archc_source == archc.source(spec)
    assert type(second) is type(first)
    randomise(first)
    second.load_state_dict(first.state_dict(), strict=True)
    expected = outputs(first, (3, 64, 64))
    assert expected.abs().mean() > 1e-2
    torch.testing.assert_close(outputs(second, (3, 64, 64)), expected, rtol=0, atol=0)


def test_every_part_of_the_key_is_honoured(tmp_path: Path, folder: Path,
                                           elaborations: Elaborations) -> None:
    path = spec_file(tmp_path)
    assert archc.build(path)[0].out_features == 16
    assert archc.build(path, hidden=32)[0].out_features == 32  # other parameters
    assert elaborations.count == 2
    archc.build(path, hidden=32)
    assert elaborations.count == 2
    path.write_text(MLP.replace("hidden: 16", "hidden: 24"))  # the spec edited
    assert archc.build(path)[0].out_features == 24
    assert archc.build(path, inputs=[10])[0].in_features == 10  # other input shapes
    assert archc.build(MLP)[0].out_features == 16  # the same text as a string
    assert elaborations.count == 5
    # 1, 1.0 and True are different parameters (and an int where a width is expected)
    names = {cache.key("x", MLP, None, {"hidden": value}, None) for value in (1, 1.0, True)}
    assert len(names) == 3
    assert cache.key("x", MLP, None, {"hidden": object()}, None) is None


def test_an_error_is_never_stored_and_raised_every_time(tmp_path: Path, folder: Path) -> None:
    path = spec_file(tmp_path, MLP.replace("linear(4)", "linear(4, wrong=1)"))
    for _ in range(2):
        with pytest.raises(archc.ArchcError, match="wrong"):
            archc.build(path)
    assert cache.entries(folder) == []


def test_another_archc_never_reuses_an_entry(tmp_path: Path, folder: Path,
                                             elaborations: Elaborations,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec_file(tmp_path)
    archc.build(path)
    monkeypatch.setattr(cache, "identity", lambda: "another archc")
    archc.build(path)
    assert elaborations.count == 2


def test_the_identity_follows_archcs_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "archc"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(cache, "PACKAGE", package)
    cache.identity.cache_clear()
    try:
        before = cache.identity()
        (package / "a.py").write_text("x = 22\n")  # another size
        cache.identity.cache_clear()
        assert cache.identity() != before
    finally:
        cache.identity.cache_clear()


def entry(folder: Path) -> Path:
    (found,) = cache.entries(folder)
    return found


def built(tmp_path: Path, folder: Path) -> tuple[Path, Path, dict[str, Any]]:
    """A spec built once: its path, its cache entry and the entry's data."""
    path = spec_file(tmp_path)
    archc.build(path)
    stored = entry(folder)
    return path, stored, json.loads(stored.read_text())


@pytest.mark.parametrize("damage", ["truncated", "edited", "not json", "other class"])
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, folder: Path, damage: str,
                                                  elaborations: Elaborations) -> None:
    path, stored, data = built(tmp_path, folder)
    if damage == "truncated":
        stored.write_text(stored.read_text()[:100])
    elif damage == "edited":  # the text changed, its digest not
        data["text"] = data["text"].replace("nn.ReLU()", "nn.Tanh()")
        stored.write_text(json.dumps(data))
    elif damage == "not json":
        stored.write_bytes(b"\xff\xfe")
    else:
        data["class_name"] = "import os"
        stored.write_text(json.dumps(data))
    model = archc.build(path)
    assert elaborations.count == 2
    assert isinstance(model[1], torch.nn.ReLU)
    assert cache.get(stored.stem) is not None
    archc.build(path)
    assert elaborations.count == 2  # rewritten whole


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
@pytest.mark.parametrize("what", ["entry", "folder"])
def test_an_entry_others_could_write_is_never_run(tmp_path: Path, folder: Path, what: str,
                                                  elaborations: Elaborations) -> None:
    path, stored, data = built(tmp_path, folder)
    # what another user could have written there: source that runs code
    marker = tmp_path / "ran"
    data["text"] = f"open({str(marker)!r}, 'w').close()\n" + data["text"]
    data["sha256"] = hashlib.sha256(data["text"].encode()).hexdigest()
    stored.write_text(json.dumps(data))
    (stored if what == "entry" else folder).chmod(0o666 if what == "entry" else 0o777)
    archc.build(path)
    assert not marker.exists()
    assert elaborations.count == 2


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="symlinks")
def test_a_symlinked_entry_is_not_followed(tmp_path: Path, folder: Path,
                                           elaborations: Elaborations) -> None:
    path = spec_file(tmp_path)
    archc.build(path)
    stored = entry(folder)
    elsewhere = tmp_path / "elsewhere.json"
    stored.rename(elsewhere)
    stored.symlink_to(elsewhere)
    archc.build(path)
    assert elaborations.count == 2


def test_off_and_unwritable_caches_only_cost_time(tmp_path: Path, folder: Path,
                                                  elaborations: Elaborations,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec_file(tmp_path)
    monkeypatch.setenv("ARCHC_CACHE", "0")
    archc.build(path)
    archc.build(path)
    assert elaborations.count == 2 and not folder.exists()
    monkeypatch.delenv("ARCHC_CACHE")
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("ARCHC_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert archc.build(path)[0].out_features == 16


def test_the_least_recently_used_entries_go_first(tmp_path: Path, folder: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  elaborations: Elaborations) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    path = spec_file(tmp_path)
    archc.build(path, hidden=1)
    archc.build(path, hidden=2)
    os.utime(entry_of(path, 1), ns=(1, 1))  # hidden=1 used long ago
    archc.build(path, hidden=3)
    assert len(cache.entries(folder)) == 2
    archc.build(path, hidden=2)
    archc.build(path, hidden=3)
    assert elaborations.count == 3
    archc.build(path, hidden=1)
    assert elaborations.count == 4


def entry_of(path: Path, hidden: int) -> Path:
    name = cache.key(str(path), path.read_text(), None, {"hidden": hidden}, None)
    assert name is not None and cache.directory() is not None
    return cache.directory() / f"{name}.json"


def test_a_cached_build_places_a_checkpoint_mismatch_at_its_spec_line(
        tmp_path: Path, folder: Path) -> None:
    path = spec_file(tmp_path)
    archc.build(path)
    checkpoint = tmp_path / "wrong.pt"
    torch.save(archc.build(path, hidden=8).state_dict(), checkpoint)
    with pytest.raises(archc.ArchcError) as raised:
        archc.build(path, weights=checkpoint)
    assert "shape mismatch" in raised.value.render() and f"{path}:5" in raised.value.render()


def test_a_cached_model_pickles_in_a_fresh_process(tmp_path: Path, folder: Path) -> None:
    path = spec_file(tmp_path)
    archc.build(path)
    model = randomise(archc.build(path)).eval()  # from the cache
    saved = tmp_path / "model.pt"
    torch.save(model, saved)
    expected = outputs(model, (8,))
    script = ("import sys, torch; m = torch.load(sys.argv[1], weights_only=False).eval(); "
              "x = torch.randn(2, 8, generator=torch.Generator().manual_seed(1)); "
              "print(repr(m(x).detach().flatten().tolist()))")
    result = subprocess.run([sys.executable, "-c", script, str(saved)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert torch.tensor(eval(result.stdout)).reshape(2, 4).allclose(expected)
    assert pickle.loads(pickle.dumps(model)).archc_source == model.archc_source


def test_a_later_process_reuses_the_entry(tmp_path: Path, folder: Path) -> None:
    path = spec_file(tmp_path)
    script = ("import sys, archc, archc.api as api; calls = []; real = api.network; "
              "api.network = lambda *a, **k: calls.append(1) or real(*a, **k); "
              "archc.build(sys.argv[1]); print(len(calls))")
    counts = [subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, env={
        **os.environ, "ARCHC_CACHE_DIR": str(folder)}, capture_output=True, text=True,
        check=True).stdout.strip() for _ in range(2)]
    assert counts == ["1", "0"]


def test_the_cache_command(tmp_path: Path, folder: Path) -> None:
    code, out, _ = run_cli("cache")
    assert code == 0 and f"{folder}: 0 entries" in out
    archc.build(spec_file(tmp_path))
    code, out, _ = run_cli("cache")
    assert code == 0 and "1 entry" in out and "KiB" in out
    code, out, _ = run_cli("cache", "--clear")
    assert code == 0 and "removed 1 entry" in out and cache.entries(folder) == []
    code, out, _ = run_cli("cache", "--help")
    assert "ARCHC_CACHE=0" in out
