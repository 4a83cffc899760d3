"""The Python API reads a file only when asked: a Path, or a one-line str ending in .yaml,
.yml or .arch; any other str is spec text (errors say `<string>`), a dict is parsed YAML
(errors say `<dict>`), and a missing file is "no such spec file"."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import archc
from tests.conftest import ROOT

MLP = ROOT / "specs" / "mlp.yaml"
TEXT = "input: [4]\nlayers:\n  - linear(3)\n  - relu\n  - linear(2)\n"
BAD_TEXT = "input: [4]\nlayers:\n  - linear(3)\n  - bogus\n"
BAD_ARCH = "network n {\n  input [4]\n  linear(3)\n  bogus\n}\n"
ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "shapes": archc.shapes, "network": archc.network, "build": archc.build,
    "source": archc.source, "load_and_network": lambda s: archc.network(archc.load(s)),
}


def test_a_str_naming_an_existing_file_is_spec_text_and_its_contents_are_never_shown(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("password: hunter2\n")
    for name in ("/etc/passwd", str(secret)):
        with pytest.raises(archc.ArchcError) as caught:
            archc.shapes(name)
        text = caught.value.render()
        assert text.startswith("<string>:1:1:"), text
        assert "root:" not in text and "hunter2" not in text
        assert "pass pathlib.Path" in text  # how to read the file, if that was meant
    with pytest.raises(archc.ArchcError) as caught:
        archc.shapes(Path(secret))  # asked for: read, and refused as no spec
    assert caught.value.span.path == str(secret)


def test_a_str_without_a_spec_suffix_is_text_even_when_a_spec_file_has_that_name(
        tmp_path: Path) -> None:
    bare = tmp_path / "mlp"
    shutil.copy(MLP, bare)
    with pytest.raises(archc.ArchcError, match="a spec is a mapping"):
        archc.network(str(bare))
    assert archc.network(bare).name == "mlp"  # a Path is always a path
    assert archc.network(str(MLP)).name == archc.network(MLP).name  # so is `*.yaml`


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".arch"])
def test_a_missing_file_is_no_such_spec_file(suffix: str, tmp_path: Path) -> None:
    missing = str(tmp_path / f"nosuch{suffix}")
    for spec in (missing, Path(missing)):
        with pytest.raises(archc.ArchcError, match=f"no such spec file: {missing}"):
            archc.shapes(spec)
    with pytest.raises(archc.ArchcError, match="no such spec file"):
        archc.network(tmp_path / "nosuch")


def test_multi_line_text_ending_like_a_file_name_is_text() -> None:
    assert archc.network(TEXT + "# see also net.yaml").name == "network"


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("text", [BAD_TEXT, BAD_ARCH], ids=["yaml", "arch"])
def test_errors_in_spec_text_name_string_as_the_path(entry: str, text: str) -> None:
    with pytest.raises(archc.ArchcError) as caught:
        ENTRY_POINTS[entry](text)
    error = caught.value
    assert error.span.path == "<string>" and error.span.line == 4
    assert error.render().startswith("<string>:4:")


def test_spec_text_works_in_every_entry_point() -> None:
    assert archc.shapes(TEXT)["outputs"] == [[None, 2]]
    assert archc.build(TEXT, seed=0)(__import__("torch").zeros(1, 4)).shape == (1, 2)
    assert "nn.Linear(4, 3)" in archc.source(TEXT)


def test_a_dict_is_an_already_parsed_yaml_spec() -> None:
    import yaml

    parsed = yaml.safe_load(MLP.read_text())
    assert archc.network(parsed).total_params == archc.network(MLP).total_params
    assert archc.load(parsed) == archc.load(MLP)
    spec = {"name": "tiny", "input": (4,), "layers": ["linear(3)", "relu", {"out": "linear(2)"}]}
    report = archc.shapes(spec)
    assert report["name"] == "tiny" and report["outputs"] == [[None, 2]]
    assert [r["path"] for r in report["layers"]][-1] == "out"
    assert archc.network({"input": [4], "layers": ["linear(2)"]}).name == "network"


def test_errors_in_a_dict_point_into_its_yaml_text() -> None:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network({"input": [4], "layers": ["linear(3)", "bogus"]})
    error = caught.value
    assert error.span.path == "<dict>" and "bogus" in error.span.source.line(error.span.line)
    assert "unknown op or block 'bogus'" in error.render()


def test_a_dict_with_values_yaml_cannot_hold_is_a_clear_error() -> None:
    with pytest.raises(archc.ArchcError, match="not YAML data"):
        archc.network({"input": [4], "layers": [object()]})
    looped: dict[str, Any] = {"input": [4]}
    looped["layers"] = [looped]
    with pytest.raises(archc.ArchcError):
        archc.network(looped)


def test_other_types_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="not bytes"):
        archc.network(b"input: [4]\nlayers: [relu]\n")  # type: ignore[arg-type]


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    with pytest.raises(archc.ArchcError, match="not a regular file"):
        archc.network(Path("/dev/zero"))
    with pytest.raises(archc.ArchcError, match="is a folder"):
        archc.network(tmp_path)
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(archc.api.MAX_SPEC_BYTES + 1)  # sparse: cheap to make
    with pytest.raises(archc.ArchcError, match="too large"):
        archc.network(big)
