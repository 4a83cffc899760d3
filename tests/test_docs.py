"""The docs stay true: every whole-spec example in docs/language.md compiles and runs, and
docs/ops.md equals what the registry generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import archc
from archc.dims import BATCH
from archc.docsgen import readme_with_zoo
from archc.ops.reference import markdown
from tests.conftest import ROOT

LANGUAGE = (ROOT / "docs" / "language.md").read_text()
# the examples of the Imports section are files that import each other: tests/frontend/
# test_spec_imports.py writes them into a project and checks them there
IMPORTS = next(s for s in LANGUAGE.split("\n## ") if s.startswith("Imports\n"))
EXAMPLES = [m for m in re.findall(r"```(?:yaml|arch)\n(.*?)```", LANGUAGE.replace(IMPORTS, ""),
                                  re.S)
            if "layers:" in m or m.startswith("network")]
SECTIONS = [s for s in LANGUAGE.split("\n## ") if s != IMPORTS]


def test_language_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 16


@pytest.mark.parametrize("section", [s for s in SECTIONS if "```arch" in s],
                         ids=lambda s: s.split("\n", 1)[0])
def test_both_spellings_in_a_section_mean_the_same(section: str) -> None:
    yaml_text = re.findall(r"```yaml\n(.*?)```", section, re.S)
    arch_text = re.findall(r"```arch\n(.*?)```", section, re.S)
    assert len(yaml_text) == len(arch_text) == 1
    assert archc.load(yaml_text[0]) == archc.load(arch_text[0])


@pytest.mark.parametrize("text", EXAMPLES, ids=lambda t: t.split("\n", 1)[0][:40])
def test_language_example_compiles_and_runs(text: str) -> None:
    network = archc.network(text)
    model = archc.build(text).eval()
    inputs = [torch.randn(1, *network.node(i).shape[1:]) for i in network.inputs.values()]
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    static = [tuple(1 if d == BATCH else d for d in s) for s in network.output_shapes()]
    assert [tuple(o.shape) for o in outs] == static


def test_ops_reference_is_current() -> None:
    assert (ROOT / "docs" / "ops.md").read_text() == markdown(), (
        "docs/ops.md is stale: run `archc ops --format markdown > docs/ops.md`")


def test_readme_zoo_table_is_current(root: Path) -> None:
    readme = (root / "README.md").read_text()
    assert readme == readme_with_zoo(readme, root), (
        "the README's zoo table is stale: run `python -m archc.docsgen`")


def test_readme_commands_exist(root: Path) -> None:
    readme = (root / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
