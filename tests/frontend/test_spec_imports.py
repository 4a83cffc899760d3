"""Spec imports: a spec file takes the parameters, blocks and network of the files it imports,
sets their parameters, replaces their blocks, and is refused with a located error when an
import is ambiguous, cyclic, too deep or leaves the project. Each case runs the whole path a
user takes: check, shapes, build, compile -o x.py, fmt and convert."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archc
from archc.frontend.imports import MAX_IMPORT_DEPTH, MAX_IMPORTED_FILES
from tests.conftest import count, randomise, run_cli

FAMILY = """\
archc: 1
name: family
params: {width: 8, depth: 2, num_classes: 10}
input: [3, 16, 16]
blocks:
  unit:
    params: [c]
    body: conv(c, 3, padding=1, bias=false); bn; relu
layers:
  - repeat: depth
    as: i
    body:
      stage{i}: unit(width * 2 ** i)
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(num_classes)
"""


def family_params(width: int, depth: int, num_classes: int) -> int:
    """The family network's parameters by hand: each unit a bias-free 3x3 conv and a batch
    norm's weight and bias, then the classifier."""
    total, channels = 0, 3
    for i in range(depth):
        out = width * 2 ** i
        total += channels * out * 9 + 2 * out
        channels = out
    return total + channels * num_classes + num_classes


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")  # the project the imports stay inside
    (tmp_path / "families").mkdir()
    (tmp_path / "families" / "family.yaml").write_text(FAMILY)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(spec: Path) -> archc.ArchcError:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(spec)
    return caught.value


def test_a_variant_sets_the_family_s_parameters_in_either_spelling(project: Path) -> None:
    wide = write(project / "wide.yaml", "archc: 1\nname: wide\nimport: families/family.yaml\n"
                                        "params: {width: 16, depth: 3}\n")
    deep = write(project / "deep.arch", 'network deep(depth = 4) {\n'
                                        '  import "families/family.yaml"\n}\n')
    for spec, (width, depth) in ((wide, (16, 3)), (deep, (8, 4))):
        model = archc.build(spec)
        assert count(model.parameters()) == family_params(width, depth, 10)
        assert archc.network(spec).name == spec.stem
        # what the variant builds is the family with those parameters, key for key
        reference = archc.build(project / "families" / "family.yaml", width=width, depth=depth)
        assert model.state_dict().keys() == reference.state_dict().keys()
        randomise(reference)
        model.load_state_dict(reference.state_dict())
        x = torch.randn(2, 3, 16, 16)
        model.eval(), reference.eval()
        expected = reference(x)
        assert expected.abs().mean() > 0.1  # a comparison that can fail
        torch.testing.assert_close(model(x), expected)
    # a parameter the variant leaves alone can still be set, as any spec parameter
    assert count(archc.build(wide, num_classes=3).parameters()) == family_params(16, 3, 3)


def test_a_spec_takes_the_imported_blocks_and_writes_its_own_layers(project: Path) -> None:
    spec = write(project / "mine.arch", 'network mine {\n  import "families/family.yaml"\n'
                                        "  input [1, 8, 8]\n  unit(4)\n  unit(6)\n}\n")
    network = archc.network(spec)
    assert [network.node(n).shape[1:] for _, n in network.outputs] == [(6, 8, 8)]
    model = archc.build(spec)
    assert count(model.parameters()) == (1 * 4 * 9 + 2 * 4) + (4 * 6 * 9 + 2 * 6)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 6, 8, 8)


def test_an_own_block_replaces_the_imported_one(project: Path) -> None:
    spec = write(project / "plain.yaml", "archc: 1\nimport: families/family.yaml\nblocks:\n"
                                         "  unit:\n    params: [c]\n    body: conv(c, 1)\n")
    # each unit a 1x1 conv with a bias: the family's layers with this spec's block
    width, channels, total = 8, 3, 0
    for i in range(2):
        out = width * 2 ** i
        total += channels * out + out
        channels = out
    assert count(archc.build(plain := spec).parameters()) == total + channels * 10 + 10
    assert "BatchNorm" not in archc.source(plain)


def test_a_file_imported_twice_through_two_others_is_one(project: Path) -> None:
    write(project / "a.yaml", "archc: 1\nimport: families/family.yaml\n")
    write(project / "b.yaml", "archc: 1\nimport: families/family.yaml\n")
    both = write(project / "both.yaml", "archc: 1\nimport: [a.yaml, b.yaml]\n")
    assert count(archc.build(both).parameters()) == family_params(8, 2, 10)
    assert sorted(Path(s.path).name for s in archc.load(both).read) == \
        ["a.yaml", "b.yaml", "family.yaml"]


@pytest.mark.parametrize(("second", "message"), [
    ("archc: 1\nparams: {width: 4}\ninput: [3, 8, 8]\nlayers: [relu]\n",
     "parameter 'width' comes from two imports"),
    ("archc: 1\ninput: [3, 8, 8]\nblocks:\n  unit:\n    body: relu\nlayers: [relu]\n",
     "block 'unit' comes from two imports"),
    ("archc: 1\ninput: [3, 8, 8]\nlayers: [relu]\n", "two imports have an input"),
])
def test_two_imports_that_disagree_are_located_at_the_second(project: Path, second: str,
                                                             message: str) -> None:
    write(project / "second.yaml", second)
    spec = write(project / "two.yaml", "archc: 1\nimport: [families/family.yaml, second.yaml]\n")
    error = error_of(spec)
    assert message in error.message
    assert (error.span.line, error.span.column) == (2, 32)  # `second.yaml`
    assert "families/family.yaml and second.yaml" in str(error.found)


def test_declaring_what_two_imports_disagree_on_settles_it(project: Path) -> None:
    write(project / "second.yaml", "archc: 1\nparams: {width: 4}\ninput: [1, 4, 4]\n"
                                   "layers: [relu]\n")
    spec = write(project / "two.yaml", "archc: 1\nimport: [families/family.yaml, second.yaml]\n"
                                       "params: {width: 2}\ninput: [3, 16, 16]\n"
                                       "layers: [unit(width)]\n")
    assert count(archc.build(spec).parameters()) == 3 * 2 * 9 + 4


@pytest.mark.parametrize(("path", "message"), [
    ("/etc/passwd.yaml", "relative to the importing spec"),
    ("~/x.yaml", "relative to the importing spec"),
    ("C:/x.yaml", "relative to the importing spec"),
    ("families\\\\family.yaml", "relative to the importing spec"),
    ("families/family.txt", "names a spec file"),
    ("../outside.yaml", "may not leave the project"),
    ("families/../../outside.yaml", "may not leave the project"),
    ("link.yaml", "may not leave the project"),
    ("missing.yaml", "no such spec file"),
    ("families.yaml", "a folder, not a spec file"),
])
def test_an_import_stays_inside_the_project(project: Path, path: str, message: str) -> None:
    outside = write(project.parent / "outside.yaml", FAMILY)
    (project / "link.yaml").symlink_to(outside)
    (project / "families.yaml").mkdir()
    spec = write(project / "spec.yaml", f'archc: 1\nimport: "{path}"\n')
    error = error_of(spec)
    assert message in error.message
    assert error.span.path.endswith("spec.yaml") and error.span.line == 2
    # nothing of a file outside the project is read, so nothing of it is shown
    assert "stage" not in str(error)
    code, _, err = run_cli("check", str(spec))
    assert code == 1 and message in err and "Traceback" not in err


def test_the_project_is_the_folder_that_marks_one(project: Path) -> None:
    # a spec in a subfolder may import from its project's other folders
    spec = write(project / "models" / "mine.yaml", "archc: 1\nimport: ../families/family.yaml\n")
    assert count(archc.build(spec).parameters()) == family_params(8, 2, 10)


@pytest.mark.parametrize("files", [1, 2, 3])
def test_a_cycle_is_refused_with_its_files(project: Path, files: int) -> None:
    for k in range(files):
        write(project / f"c{k}.yaml", f"archc: 1\nimport: c{(k + 1) % files}.yaml\n")
    error = error_of(project / "c0.yaml")
    assert error.message == "the imports form a cycle"
    assert error.found == " → ".join([f"c{k}.yaml" for k in range(files)] + ["c0.yaml"])
    assert len(error.frames) == files - 1  # the chain of imports that led there


def test_imports_nest_and_count_within_their_limits(project: Path) -> None:
    previous = "families/family.yaml"
    for k in range(MAX_IMPORT_DEPTH - 1):
        previous = str(write(project / f"n{k}.yaml", f"archc: 1\nimport: {previous}\n").name)
    assert count(archc.build(project / previous).parameters()) == family_params(8, 2, 10)
    write(project / "deeper.yaml", f"archc: 1\nimport: {previous}\n")
    assert "too deeply" in error_of(project / "deeper.yaml").message
    names = [write(project / f"w{k}.yaml", "archc: 1\nparams: {}\n"
                   "input: [3]\nlayers: [relu]\n").name for k in range(MAX_IMPORTED_FILES + 1)]
    wide = write(project / "wide.yaml", "archc: 1\nimport: [" + ", ".join(names) + "]\n"
                                        "input: [3]\nlayers: [relu]\n")
    assert "too many files" in error_of(wide).message


def test_an_error_in_an_imported_file_is_located_there_with_the_chain(project: Path) -> None:
    write(project / "families" / "broken.yaml", "archc: 1\ninput: [3]\nlayers:\n  - linear(\n")
    write(project / "middle.arch", 'network middle {\n  import "families/broken.yaml"\n}\n')
    top = write(project / "top.yaml", "archc: 1\nimport: middle.arch\n")
    error = error_of(top)
    assert error.span.path.endswith("broken.yaml") and error.span.line == 4
    assert [(Path(f.span.path).name, f.span.line) for f in error.frames] == \
        [("middle.arch", 2), ("top.yaml", 2)]
    rendered = str(error)
    assert "in the import of families/broken.yaml at" in rendered
    assert "in the import of middle.arch at" in rendered


def test_a_shape_error_in_an_imported_block_points_into_its_file(project: Path) -> None:
    spec = write(project / "bad.yaml", "archc: 1\nimport: families/family.yaml\n"
                                       "input: [7]\n")
    error = error_of(spec)
    assert error.span.path.endswith("family.yaml")
    code, _, err = run_cli("check", str(spec))
    assert code == 1 and "family.yaml:" in err and "Traceback" not in err


def test_a_spec_that_is_not_a_file_cannot_import() -> None:
    for spec in ("archc: 1\nimport: family.yaml\n", {"archc": 1, "import": "family.yaml"},
                 'network n {\n  import "family.yaml"\n}\n'):
        with pytest.raises(archc.ArchcError, match="only a spec file can import"):
            archc.network(spec)


def test_a_build_follows_a_change_to_an_imported_file(project: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHC_CACHE_DIR", str(project / "cache"))
    spec = write(project / "v.yaml", "archc: 1\nimport: families/family.yaml\n")
    assert count(archc.build(spec).parameters()) == family_params(8, 2, 10)
    assert count(archc.build(spec).parameters()) == family_params(8, 2, 10)  # from the cache
    family = project / "families" / "family.yaml"
    family.write_text(FAMILY.replace("num_classes: 10", "num_classes: 7"))
    assert count(archc.build(spec).parameters()) == family_params(8, 2, 7)


def test_the_whole_command_line_path_of_a_variant(project: Path) -> None:
    spec = write(project / "wide.yaml", "archc: 1\nname: wide\nimport: families/family.yaml\n"
                                        "params: {width: 16}\n")
    code, out, err = run_cli("check", str(spec))
    assert code == 0, err
    code, out, _ = run_cli("shapes", str(spec), "--format", "json")
    assert code == 0 and f'"params": {family_params(16, 2, 10)}' in out.replace(",\n", "\n")
    target = project / "wide.py"
    code, _, err = run_cli("compile", str(spec), "-o", str(target))
    assert code == 0, err
    # the written file stands alone: it runs where archc cannot be imported
    script = (f"import sys; sys.modules['archc'] = None\n"
              f"exec(open({str(target)!r}).read())\n"
              "m = Wide(); print(sum(p.numel() for p in m.parameters()))\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=project, check=True)
    assert ran.stdout.strip() == str(family_params(16, 2, 10))
    code, _, err = run_cli("fmt", "--check", str(spec))
    assert code == 0, err


def test_fmt_and_convert_keep_the_import_and_move_it_with_the_file(project: Path) -> None:
    spec = write(project / "wide.yaml", "archc: 1\nname: wide\nimport: families/family.yaml\n"
                                        "params: {width: 16}\n")
    code, out, _ = run_cli("convert", str(spec), "--to", "arch")
    assert code == 0
    assert out == 'network wide(width = 16) {\n  import "families/family.yaml"\n}\n'
    target = project / "out" / "wide.arch"
    target.parent.mkdir()
    code, _, err = run_cli("convert", str(spec), "-o", str(target))
    assert code == 0, err
    assert 'import "../families/family.yaml"' in target.read_text()
    assert count(archc.build(target).parameters()) == family_params(16, 2, 10)
    code, out, _ = run_cli("convert", str(target), "--to", "yaml")
    assert code == 0 and "import: ../families/family.yaml\n" in out
    os.remove(target)


def test_the_language_reference_s_import_examples(tmp_path: Path) -> None:
    # docs/language.md's family and its variant in both spellings, as the files they are
    from tests.test_docs import IMPORTS

    family, variant_yaml = re.findall(r"```yaml\n(.*?)```", IMPORTS, re.S)
    (variant_arch,) = re.findall(r"```arch\n(.*?)```", IMPORTS, re.S)
    name = family.splitlines()[0].removeprefix("# ")
    write(tmp_path / name, family)
    spellings = [write(tmp_path / "cnn_wide.yaml", variant_yaml),
                 write(tmp_path / "cnn_wide.arch", variant_arch)]
    assert archc.load(spellings[0]) == archc.load(spellings[1])
    networks = [archc.network(path) for path in spellings]
    assert networks[0].name == networks[1].name == "cnn_wide"
    for path in spellings:
        model = archc.build(path).eval()
        reference = archc.build(tmp_path / name, width=32, depth=3).eval()
        randomise(reference)
        model.load_state_dict(reference.state_dict())
        x = torch.randn(2, 3, 32, 32)
        assert reference(x).abs().mean() > 0.1
        torch.testing.assert_close(model(x), reference(x))
        code, _, err = run_cli("fmt", "--check", str(path))
        assert code == 0, err
