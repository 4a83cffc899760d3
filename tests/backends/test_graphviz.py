"""Diagrams: golden DOT (stable diffs), every spec renders to SVG, depth and ×N collapsing,
labels a person reads (ops with key attributes, shapes on wires once, block paths), no torch,
and a clear message when Graphviz's `dot` is missing.

Regenerate the golden files after an intended change with ARCHC_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from click.testing import CliRunner

import archc
from archc.backends.graphviz import diagram, format_dims, render, write
from archc.cli import main
from archc.dims import BATCH
from archc.errors import ArchcError
from tests.conftest import ROOT, SPEC_FILES, spec_id

GOLDEN = ROOT / "tests" / "golden"
CONSTRUCTS = ROOT / "examples" / "constructs"
RESNET18 = ROOT / "specs" / "torchvision" / "resnet18.yaml"
RESNET50 = ROOT / "specs" / "torchvision" / "resnet50.yaml"
DENSENET121 = ROOT / "specs" / "torchvision" / "densenet121.yaml"
GOOGLENET = ROOT / "specs" / "googlenet.yaml"
CASES = {  # golden name → (spec, depth)
    "residual": (CONSTRUCTS / "residual.yaml", None),
    "skips": (CONSTRUCTS / "skips.yaml", None),
    "googlenet.depth2": (GOOGLENET, 2),
    "resnet18.depth2": (RESNET18, 2),
}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def nodes(spec: Path, depth: int | None = None, collapse: bool = True) -> dict[str, str]:
    """Drawn node id → its HTML label, read back from the DOT text (split points left out)."""
    return labels(archc.draw(spec, depth=depth, collapse=collapse).source)


def labels(source: str) -> dict[str, str]:
    found = {}
    for line in source.splitlines():
        match = re.fullmatch(r'\t+("[^"]*"|\S+) \[label=<(.*)>((?: \w+=("[^"]*"|[^ \]]*))*)\]',
                             line)
        if match:
            found[match.group(1).strip('"')] = match.group(2)
    return found


def edges(source: str) -> list[tuple[str, str, str | None]]:
    found = []
    for line in source.splitlines():
        match = re.fullmatch(r'\t("[^"]*"|\S+) -> ("[^"]*"|\S+)(?: \[(.*)\])?', line)
        if match:
            label = re.search(r'label="([^"]*)"', match.group(3) or "")
            found.append((match.group(1).strip('"'), match.group(2).strip('"'),
                          label.group(1) if label else None))
    return found


# ------------------------------------------------------------------ golden DOT, determinism


@pytest.mark.parametrize("name", sorted(CASES))
def test_dot_matches_golden(name: str) -> None:
    spec, depth = CASES[name]
    text = archc.draw(spec, depth=depth).source
    golden = GOLDEN / f"{name}.dot"
    if os.environ.get("ARCHC_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_dot_is_deterministic_across_hash_seeds_and_imports_no_torch() -> None:
    code = ("import sys, archc\n"
            "print(archc.draw('specs/googlenet.yaml', depth=3).source)\n"
            "assert 'torch' not in sys.modules, 'draw imported torch'\n")
    texts = []
    for seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, check=False,
                                env={**os.environ, "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        texts.append(result.stdout)
    assert texts[0] == texts[1]
    assert texts[0] == archc.draw(GOOGLENET, depth=3).source + "\n"


# ------------------------------------------------------------------ every spec renders


@needs_dot
@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_id)
def test_every_spec_renders_to_svg(path: Path) -> None:
    svg = render(archc.draw(path), "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert archc.network(path).name in svg.decode()


# ------------------------------------------------------------------ depth and collapse


def test_depth_1_draws_the_top_level_blocks() -> None:
    drawn = nodes(GOOGLENET, depth=1)
    assert list(drawn) == ["input/x", "block1", "block2", "block3", "block4", "block5", "flatten",
                           "classifier", "output/output"]
    assert "inception ×5 · maxpool 3x3 /2" in drawn["block4"]
    assert "2.82M params" in drawn["block4"]


def test_depth_and_collapse_change_node_counts() -> None:
    counts = {(depth, collapse): len(nodes(RESNET50, depth, collapse))
              for depth in (1, 2, None) for collapse in (True, False)}
    # input, conv+bn+relu, maxpool, 4 stages, avgpool, flatten, fc, output
    assert counts[1, True] == counts[1, False] == 11
    # each stage: its first bottleneck and the rest ×N; without collapsing all 16
    assert counts[2, True] == 7 + 4 * 2
    assert counts[2, False] == 7 + 16
    # full depth: 9 at the top level; 10 ops per bottleneck drawn, 2 more with a projection
    assert counts[None, False] == 9 + 16 * 10 + 4 * 2
    assert counts[None, True] == 9 + 8 * 10 + 4 * 2


def test_collapsing_needs_the_same_input_shape() -> None:
    # dense layers share their definition and arguments, but each reads 32 more channels
    assert len(nodes(DENSENET121, 3)) == len(nodes(DENSENET121, 3, collapse=False))
    assert not any("×" in label.split("<BR/>")[0] for label in nodes(DENSENET121, 3).values()
                   if "dense_layer" in label)


def test_collapsed_run_is_marked_and_keeps_its_shapes() -> None:
    drawn = nodes(RESNET50, depth=2)
    assert "<B>layer3.1–5</B> ×5" in drawn["layer3.1"]
    assert "bottleneck(256, 1, 1, 256)" in drawn["layer3.1"]  # planes, stride, dilation, width
    assert "5 × 1.12M params" in drawn["layer3.1"]
    source = archc.draw(RESNET50, depth=2).source
    wires = {(a, b): label for a, b, label in edges(source)}
    assert wires["layer3.0", "layer3.1"] == "N×1024×14×14"
    assert wires["layer3.1", "layer4.0"] == "N×1024×14×14"  # the output of the last one
    assert wires["conv1", "maxpool"] == "N×64×112×112"
    full = edges(archc.draw(RESNET50).source)
    assert ("conv1", "bn1", "N×64×112×112") in full
    assert ("bn1", "relu", None) in full  # an op that keeps the shape: not written again


def test_full_depth_run_is_one_cluster_drawn_once() -> None:
    source = archc.draw(CONSTRUCTS / "residual.yaml").source
    assert 'label="layer1.0–1: basic ×2  ·  2 × 18.56K params"' in source
    assert source.count("subgraph cluster_layer1.0") + source.count(
        'subgraph "cluster_layer1.0"') == 1
    assert "layer1.1" not in source


# ------------------------------------------------------------------ what the labels say


def test_nodes_show_op_key_attributes_names_and_params() -> None:
    drawn = nodes(CONSTRUCTS / "residual.yaml")
    assert drawn["layer2.0.conv1"].startswith("<TABLE")
    assert "<B>conv</B> 3x3 /2, 64" in drawn["layer2.0.conv1"]
    assert "conv1 · 18.43K params" in drawn["layer2.0.conv1"]
    assert drawn["flatten"] == "<B>flatten</B>"  # no parameters, no name: one line


def test_merges_are_small_nodes_and_identity_is_not_drawn() -> None:
    source = archc.draw(CONSTRUCTS / "residual.yaml").source
    assert re.search(r'\[label=<<B>add</B>> [^\]]*shape=ellipse', source)
    assert "identity" not in source
    gates = archc.draw(CONSTRUCTS / "gates.yaml").source
    assert "<B>mul</B>" in gates
    dense = archc.draw(CONSTRUCTS / "dense_block.yaml").source
    assert "<B>concat</B>" in dense and "identity" not in dense


def test_inputs_and_outputs_are_their_own_nodes() -> None:
    drawn = nodes(CONSTRUCTS / "multi_io.yaml")
    assert {"input/image", "input/meta", "output/logits", "output/aux"} <= set(drawn)
    assert drawn["input/meta"] == "<B>meta</B>"


def test_each_shape_is_written_once() -> None:
    for spec in (GOOGLENET, RESNET50, CONSTRUCTS / "skips.yaml", CONSTRUCTS / "multi_io.yaml"):
        for depth in (None, 2):
            labelled = [a for a, _, label in edges(archc.draw(spec, depth=depth).source)
                        if label is not None]
            assert len(labelled) == len(set(labelled)), spec  # one labelled wire per tensor


def test_a_tensor_read_twice_goes_through_one_split_point() -> None:
    source = archc.draw(CONSTRUCTS / "skips.yaml").source
    wires = edges(source)
    split = "split/down1.1"
    assert (("down1.1", split, None)) in wires  # relu keeps the conv's shape: not repeated
    assert {b for a, b, _ in wires if a == split} == {"down2.0", "up1.concat"}
    assert f'"{split}" [label="" ' in source


def test_wires_into_a_cluster_with_one_entry_end_at_its_border() -> None:
    # so no wire runs through a cluster's title (top left, where wires enter top to bottom)
    residual = archc.draw(CONSTRUCTS / "residual.yaml").source
    assert '"input/x" -> "split/input/x" [label="N×32×24×24" lhead=cluster_layer1]' in residual
    # up2 is entered twice (the skip from down2 and the path from bottom): no clipping there
    skips = archc.draw(CONSTRUCTS / "skips.yaml").source
    assert not any("cluster_up2" in line for line in skips.splitlines() if "->" in line)
    assert "compound=true" in skips


def test_shapes_read_as_n_by_c_by_h_by_w() -> None:
    assert format_dims((BATCH, 64, 56, 56)) == "N×64×56×56"
    assert format_dims((BATCH, 10)) == "N×10"


def test_folds_only_at_a_chosen_depth_and_say_so() -> None:
    shallow = nodes(RESNET18, depth=1)
    assert "<B>conv</B> 7x7 /2, 64 + <B>bn</B> + <B>relu</B>" in shallow["conv1"]
    assert "conv1, bn1 · 9.54K params" in shallow["conv1"]
    full = nodes(RESNET18)
    assert "+" not in full["conv1"] and "bn1" in full
    # pre-activation (DenseNet): bn + relu + conv
    dense = nodes(DENSENET121, depth=3)
    assert any("<B>bn</B> + <B>relu</B> + <B>conv</B> 1x1, 128" in label
               for label in dense.values())


def test_clusters_are_labelled_with_path_and_block() -> None:
    source = archc.draw(CONSTRUCTS / "residual.yaml").source
    assert 'label="layer2.0: basic  ·  57.73K params"' in source
    assert 'label="layer2.0.downsample"' in source  # a named container: its path
    assert "Sequential" not in source


def test_block_option_draws_one_block() -> None:
    graph = archc.draw(GOOGLENET, block="inception", inputs=[192, 28, 28], c1=64,
                       c2=[96, 128], c3=[16, 32], c4=32)
    assert isinstance(graph, graphviz.Digraph)  # renders inline in Jupyter
    assert 'label="inception: inception  ·  164.43K params"' in graph.source


def test_bad_direction_and_depth_are_errors() -> None:
    network = archc.network(GOOGLENET)
    with pytest.raises(ArchcError, match="direction"):
        diagram(network, direction="BT")
    with pytest.raises(ArchcError, match="depth"):
        diagram(network, depth=0)


# ------------------------------------------------------------------ files and the command


@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ".dot"])
def test_write_each_format_atomically(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"net{suffix}"
    write(archc.draw(CONSTRUCTS / "skips.yaml", depth=1), target)
    data = target.read_bytes()
    magic = {".svg": b"<?xml", ".png": b"\x89PNG", ".pdf": b"%PDF", ".dot": b"digraph"}
    assert data.startswith(magic[suffix])
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_missing_dot_names_the_package_and_dot_text_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    graph = archc.draw(CONSTRUCTS / "skips.yaml")
    with pytest.raises(ArchcError) as error:
        write(graph, tmp_path / "skips.svg")
    assert "dot" in error.value.message
    assert "apt-get install graphviz" in error.value.render()
    assert not (tmp_path / "skips.svg").exists()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["draw", str(CONSTRUCTS / "skips.yaml"), "-o", "x.png"])
    assert result.exit_code == 1
    assert "brew install graphviz" in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["draw", str(CONSTRUCTS / "skips.yaml"), "-o", "x.dot"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.dot").read_text(encoding="utf-8").startswith("digraph skips {")


@needs_dot
def test_cli_draws_svg_named_after_the_network(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["draw", str(GOOGLENET), "--depth", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote googlenet.svg (SVG)" in result.stdout
    ET.fromstring((tmp_path / "googlenet.svg").read_bytes())


def test_cli_options_reach_the_drawing(tmp_path: Path) -> None:
    target = tmp_path / "g.dot"
    result = CliRunner().invoke(main, [
        "draw", str(RESNET18), "-o", str(target), "--depth", "1", "--direction", "lr",
        "-p", "num_classes=7", "--input", "3x64x64"])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert "rankdir=LR" in text and 'label="N×7"' in text and 'label="N×3×64×64"' in text
    collapsed = tmp_path / "c.dot"
    assert CliRunner().invoke(main, ["draw", str(RESNET50), "-o", str(collapsed), "--depth",
                                     "2", "--no-collapse"]).exit_code == 0
    assert "×" not in "".join(re.findall(r"<B>layer[^<]*</B>[^<]*", collapsed.read_text()))


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["draw", str(GOOGLENET), "-o", str(tmp_path / "g.jpg")]
                         ).exit_code == 2
    assert runner.invoke(main, ["draw", str(GOOGLENET), "--depth", "0"]).exit_code == 2
    assert runner.invoke(main, ["draw", str(GOOGLENET), "--direction", "BT"]).exit_code == 2
    result = runner.invoke(main, ["draw", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "no such spec file" in result.stderr


def test_a_diagram_too_large_to_lay_out_is_refused_up_front_with_what_fits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archc.backends import graphviz as backend

    # ResNet-50 uncollapsed has 177 drawn nodes (counted above): a bound of 100 refuses it
    monkeypatch.setattr(backend, "MAX_LAID_OUT", 100)
    calls: list[str] = []
    monkeypatch.setattr(backend, "render", lambda *a: calls.append("dot") or b"")
    result = CliRunner().invoke(main, ["draw", str(RESNET50), "--no-collapse",
                                       "-o", str(tmp_path / "r.svg")])
    assert result.exit_code == 1 and calls == [] and not (tmp_path / "r.svg").exists()
    err = result.stderr
    assert f"{RESNET50}:1:1" in err and "has 177 nodes" in err and "(100)" in err
    assert "--depth 1 draws 11 nodes" in err and "--depth 2 draws 23 nodes" in err
    assert "--collapse (the default) draws repeated blocks once: 97 nodes" in err
    assert "Traceback" not in err
    # DOT text needs no layout: it is written whatever its size
    result = CliRunner().invoke(main, ["draw", str(RESNET50), "--no-collapse",
                                       "-o", str(tmp_path / "r.dot")])
    assert result.exit_code == 0 and (tmp_path / "r.dot").read_text().count("label=<") > 177
    with pytest.raises(ArchcError, match="has 177 nodes"):
        archc.draw(RESNET50, collapse=False)
    assert len(diagram(archc.network(RESNET50), collapse=False, laid_out=False).body) > 177
