"""The source backend: golden files (stable diffs), determinism, and what a person would write.

Regenerate the golden files after an intended change with ARCHC_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import archc
from archc.backends.python import generate_source, pure_expression
from archc.frontend.expressions import parse_expression
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
CASES = {
    "googlenet": ROOT / "specs" / "googlenet.yaml",
    "residual": ROOT / "examples" / "constructs" / "residual.yaml",
    "skips": ROOT / "examples" / "constructs" / "skips.yaml",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_matches_golden(name: str) -> None:
    text = archc.source(CASES[name])
    golden = GOLDEN / f"{name}.py.txt"
    if os.environ.get("ARCHC_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("path", sorted(CASES.values()), ids=lambda p: p.stem)
def test_generation_is_deterministic(path: Path) -> None:
    assert archc.source(path) == archc.source(path)


def test_one_class_per_block_definition_with_named_parameters() -> None:
    text = archc.source(CASES["googlenet"])
    assert text.count("class Inception(") == 1
    assert "def __init__(self, in_channels, c1, c2, c3, c4)" in text
    assert text.count("class ConvRelu(") == 1
    assert "def __init__(self, in_channels, out, k, stride=1, padding=0)" in text
    assert "ConvRelu(c2[0], c2[1], 3, padding=1)" in text
    assert "ConvRelu(in_channels, c2[0], 1)" in text
    assert "Inception(192, 64, [96, 128], [16, 32], 32)" in text
    assert "torch.cat([branch1x1, branch3x3, branch5x5, x], dim=1)" in text
    assert "Linear(1024, 10)" in text  # the hand-computed 1024 of the tutorial, inferred


def test_in_channels_expression_becomes_code() -> None:
    text = archc.source(ROOT / "examples" / "constructs" / "dense_block.yaml")
    assert "nn.Conv2d(in_channels, in_channels // 2, 1)" in text


def test_generated_source_imports_only_torch() -> None:
    for path in CASES.values():
        imports = [line for line in archc.source(path).splitlines()
                   if line.startswith(("import ", "from "))]
        assert all("torch" in line or "collections" in line for line in imports), imports


def test_pure_expression_prints_parameters_only() -> None:
    params = {"c2", "out"}
    assert pure_expression(parse_expression("c2[1] * 2 + out"), params) == (
        "(c2[1] * 2) + out", frozenset({"c2", "out"}))
    assert pure_expression(parse_expression("in.h"), params) is None
    assert pure_expression(parse_expression("width"), params) is None
    assert pure_expression(parse_expression("in.c // 2"), params,
                           ("in_channels", frozenset({"in_channels"}))) == (
        "in_channels // 2", frozenset({"in_channels"}))


def test_source_class_name_follows_the_spec_name() -> None:
    network = archc.network(CASES["googlenet"])
    assert generate_source(network).class_name == "Googlenet"
