"""The Python API (archc.build, network, shapes, source, draw, load, Limits, ArchcError).

It reads a file only when asked: a Path, or a one-line str ending in .yaml, .yml or .arch; any
other str is spec text (errors say `<string>`), a dict is parsed YAML (errors say `<dict>`),
and a missing file is "no such spec file". Every spelling of a spec gives the same results;
parameter overrides, input shapes, blocks, limits, seeds and checkpoints; parameter counts
are worked out by hand or counted by torch."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import archc
from archc.dims import BATCH
from archc.frontend import ast
from tests.conftest import MLP, ROOT, SPECS, count, randomise

ROOT_CONSTRUCTS = ROOT / "examples" / "constructs"

# specs/mlp.yaml by hand: linear(1000 → hidden), relu, linear(hidden → num_classes)


def mlp_params(hidden: int = 100, num_classes: int = 10) -> int:
    return 1000 * hidden + hidden + hidden * num_classes + num_classes
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


# ------------------------------------------------------------------ every spelling, every entry


def spellings() -> dict[str, Any]:
    """specs/mlp.yaml as a Path, a str path, its text, the dict YAML gives and its AST."""
    text = MLP.read_text()
    return {"path": MLP, "str path": str(MLP), "text": text, "dict": yaml.safe_load(text),
            "ast": archc.load(MLP)}


@pytest.mark.parametrize("how", sorted(spellings()))
def test_every_spelling_gives_the_same_network_report_source_and_diagram(how: str) -> None:
    spec = spellings()[how]
    assert archc.load(spec) == archc.load(MLP)
    network = archc.network(spec)
    assert network.name == "mlp" and network.total_params == mlp_params() > 0
    assert network.output_shapes() == [(BATCH, 10)]
    report = archc.shapes(spec)
    assert report == archc.shapes(MLP) and report["params"] == mlp_params()
    assert archc.source(spec) == archc.source(MLP)
    assert "nn.Linear(1000, hidden)" in archc.source(spec)  # a parameter of the class
    assert "hidden: int = 100" in archc.source(spec)
    assert archc.draw(spec).source == archc.draw(MLP).source


@pytest.mark.parametrize("how", sorted(spellings()))
def test_every_spelling_builds_the_same_module(how: str) -> None:
    reference = randomise(archc.build(MLP)).eval()
    model = archc.build(spellings()[how]).eval()
    assert count(model.parameters()) == mlp_params()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(3, 1000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = reference(x)
        torch.testing.assert_close(model(x), want)
    assert want.shape == (3, 10) and want.abs().mean() > 0.05  # of normal scale, not zero


def test_load_returns_an_ast_as_it_is() -> None:
    tree = archc.load(MLP)
    assert isinstance(tree, ast.Spec) and archc.load(tree) is tree
    assert tree.name == "mlp" and tree.span.path == str(MLP)


# ------------------------------------------------------------------ overrides, inputs, blocks


def test_parameter_overrides_reach_every_entry_point() -> None:
    assert archc.network(MLP, hidden=7).total_params == mlp_params(7) == 7087
    assert count(archc.build(MLP, hidden=7).parameters()) == mlp_params(7)
    report = archc.shapes(MLP, hidden=7, num_classes=3)
    assert report["outputs"] == [[None, 3]] and report["params"] == mlp_params(7, 3)
    assert report["layers"][0]["shape"] == [None, 7]
    assert "hidden: int = 7" in archc.source(MLP, hidden=7)  # the class's default
    assert "hidden: int = 100" not in archc.source(MLP, hidden=7)
    assert "7.09K params" in archc.draw(MLP, hidden=7).source  # 7087 in the title
    assert "101.11K params" in archc.draw(MLP).source  # 101,110


def test_an_unknown_or_mistyped_override_is_an_error() -> None:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(MLP, hiden=3)
    text = caught.value.render()
    assert "no parameter 'hiden'" in text and "did you mean 'hidden'?" in text
    assert "expected: hidden, num_classes" in text
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(MLP, hidden="x")
    error = caught.value
    assert "must be an integer" in error.message
    assert error.span.path == str(MLP) and error.span.line == 8  # `linear(hidden)`
    assert error.span.source is not None
    line = error.span.source.line(error.span.line)
    assert line[error.span.column - 1:error.span.end_column - 1] == "hidden"


def test_input_shapes_as_a_list_or_by_name() -> None:
    # mlp's linear layers act on the last dim: a [3, 8] input gives [3, 10] per sample
    network = archc.network(MLP, inputs=[3, 1000])
    assert network.output_shapes() == [(BATCH, 3, 10)]
    assert archc.build(MLP, inputs=[3, 1000])(torch.zeros(2, 3, 1000)).shape == (2, 3, 10)
    multi = ROOT_CONSTRUCTS / "multi_io.yaml"
    resized = archc.network(multi, inputs={"image": [3, 8, 8]})
    assert resized.node(resized.inputs["image"]).shape == (BATCH, 3, 8, 8)
    assert resized.node(resized.inputs["meta"]).shape == (BATCH, 12)  # as declared
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(multi, inputs={"imagee": [3, 8, 8]})
    assert "no input 'imagee'" in caught.value.message
    assert caught.value.suggestions == ["image"]


def test_one_block_of_a_spec_as_the_network() -> None:
    googlenet = SPECS / "googlenet.yaml"
    args = {"c1": 64, "c2": [48, 64], "c3": [64, 96], "c4": 32}
    network = archc.network(googlenet, [3, 96, 96], block="inception", **args)
    assert network.name == "googlenet_inception"
    assert network.output_shapes() == [(BATCH, 64 + 64 + 96 + 32, 96, 96)]  # the four branches
    model = archc.build(googlenet, [3, 96, 96], block="inception", **args)
    assert count(model.parameters()) == network.total_params > 0
    assert archc.shapes(googlenet, [3, 96, 96], block="inception", **args)["outputs"] == [
        [None, 256, 96, 96]]
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(googlenet, block="inceptoin")
    assert "no block 'inceptoin'" in caught.value.message
    assert caught.value.suggestions == ["inception"]


# ------------------------------------------------------------------ limits


def test_limits_bound_parameters_and_tokens() -> None:
    exact = mlp_params()  # 101,110
    assert archc.network(MLP, limits=archc.Limits(max_params=exact)).total_params == exact
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(MLP, limits=archc.Limits(max_params=exact - 1))
    error = caught.value
    assert f"past {exact - 1:,} parameters" in error.message
    assert error.span.line == 10  # the second linear is the one that passes it
    with pytest.raises(archc.ArchcError, match="more than 3 tokens"):
        archc.load(TEXT, archc.Limits(max_tokens=3))
    assert archc.load(TEXT, archc.Limits(max_tokens=1000)).name == "network"
    assert archc.Limits() == archc.Limits()  # the defaults, comparable


def test_the_exported_names_are_the_package_s_own() -> None:
    from archc.errors import ArchcError

    assert archc.ArchcError is ArchcError
    assert sorted(archc.__all__) == ["ArchcError", "Limits", "build", "draw", "load",
                                     "network", "shapes", "source"]


# ------------------------------------------------------------------ seeds and checkpoints
# (reproducible seeds and checkpoint wrappers and mismatches: tests/test_artefacts.py)


def test_a_seed_leaves_the_caller_s_random_state_as_it_was() -> None:
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    archc.build(MLP, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    unseeded = archc.build(MLP)  # draws from the caller's generator, and moves it on
    assert not torch.equal(torch.random.get_rng_state(), before)
    assert next(unseeded.parameters()).abs().max() > 0


def test_weights_are_a_path_or_a_str_and_the_outputs_are_the_trained_module_s(
        tmp_path: Path) -> None:
    trained = randomise(archc.build(MLP), seed=3).eval()
    path = tmp_path / "ckpt.pt"
    torch.save(trained.state_dict(), path)
    x = torch.randn(2, 1000, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = trained(x)
        for weights in (path, str(path)):
            torch.testing.assert_close(archc.build(MLP, weights=weights).eval()(x), want)
    assert want.abs().mean() > 0.05  # of normal scale: a wrong weight would show


# ------------------------------------------------------------------ draw


def test_draw_returns_a_digraph_with_its_options() -> None:
    import graphviz

    graph = archc.draw(MLP)
    assert isinstance(graph, graphviz.Digraph) and graph.name == "mlp"
    assert "rankdir=TB" in graph.source
    assert "rankdir=LR" in archc.draw(MLP, direction="LR").source
    googlenet = SPECS / "googlenet.yaml"
    full, summary = archc.draw(googlenet).source, archc.draw(googlenet, depth=1).source
    assert len(summary) < len(full) / 2  # blocks drawn as one node each


@pytest.mark.parametrize("cached", [False, True])
def test_a_build_runs_the_text_it_keeps_under_that_text_s_own_file_name(
        cached: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a first build runs the code generation compiled; a cached one compiles the stored text:
    # either way tracebacks, inspect and TorchScript read the text the module keeps
    import inspect
    import linecache

    monkeypatch.setenv("ARCHC_CACHE_DIR", str(tmp_path))
    from archc.backends import torch as backend

    backend._CLASSES.clear()
    if cached:
        archc.build(TEXT)
        backend._CLASSES.clear()
    model = archc.build(TEXT)
    filename = type(model).__init__.__code__.co_filename
    assert filename.startswith("<archc:")
    assert "".join(linecache.getlines(filename)) == model.archc_source == archc.source(TEXT)
    assert inspect.getsource(type(model).__init__) in model.archc_source
    # the annotations are the text's own, postponed as they have always been run
    assert type(model).__init__.__annotations__["return"] == "None"


def test_a_build_leaves_the_collector_as_it_found_it() -> None:
    # a build pauses the cyclic collector while it works, through errors too
    import gc

    assert gc.isenabled()
    archc.build(TEXT)
    assert gc.isenabled()
    with pytest.raises(archc.ArchcError):
        archc.build(BAD_TEXT)
    assert gc.isenabled()
    gc.disable()
    try:
        archc.build(TEXT)
        assert not gc.isenabled()
    finally:
        gc.enable()
