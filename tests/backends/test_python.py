"""The source backend: golden files (stable diffs), determinism, and what a person would write.

Regenerate the golden files after an intended change with ARCHC_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import archc
from archc.backends.python import generate_source, parameter_code
from archc.expr.printer import SUM, Python
from archc.frontend.expressions import parse_expression
from tests.conftest import ALL_SPECS, ROOT, spec_id

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


def test_one_class_per_block_definition_with_named_parameters() -> None:
    text = archc.source(CASES["googlenet"])
    assert text.count("class Inception(") == 1
    assert ("def __init__(self, in_channels: int, c1: int, c2: list[int], c3: list[int], "
            "c4: int)") in text
    assert text.count("class ConvRelu(") == 1
    assert "        in_channels: int,\n        out: int,\n        k: int,\n" in text
    assert "        stride: int = 1,\n        padding: int = 0,\n    ) -> None:" in text
    assert "ConvRelu(c2[0], c2[1], 3, padding=1)" in text
    assert "ConvRelu(in_channels, c2[0], 1)" in text
    assert "Inception(192, 64, [96, 128], [16, 32], 32)" in text
    assert "torch.cat([branch1x1, branch3x3, branch5x5, x], dim=1)" in text
    assert "Linear(1024, num_classes)" in text  # the tutorial's hand-computed 1024, inferred


def test_in_channels_expression_becomes_code() -> None:
    text = archc.source(ROOT / "examples" / "constructs" / "dense_block.yaml")
    assert "nn.Conv2d(in_channels, in_channels // 2, 1)" in text


def test_generated_source_imports_only_torch() -> None:
    for path in CASES.values():
        imports = [line for line in archc.source(path).splitlines()
                   if line.startswith(("import ", "from "))]
        assert all("torch" in line or "collections" in line for line in imports), imports


def test_parameter_code_prints_parameters_only() -> None:
    params = {"c2", "out"}
    code = parameter_code(parse_expression("c2[1] * 2 + out"), params)
    assert code is not None and (code.text, code.uses) == ("c2[1] * 2 + out",
                                                           frozenset({"c2", "out"}))
    assert parameter_code(parse_expression("in.h"), params) is None
    assert parameter_code(parse_expression("width"), params) is None
    code = parameter_code(parse_expression("in.c // 2"), params,
                          Python("in_channels", frozenset({"in_channels"})))
    assert code is not None and (code.text, code.uses) == ("in_channels // 2",
                                                           frozenset({"in_channels"}))


def test_parameter_code_keeps_the_meaning_of_what_it_puts_inside() -> None:
    # the incoming channel count is code that binds loosely; a constant may be negative
    channels = Python("a * 2 + b", frozenset({"a", "b"}), SUM)
    code = parameter_code(parse_expression("in.c * 2 - k ** 2"), {"a", "b"}, channels, {"k": -1})
    assert code is not None and code.text == "(a * 2 + b) * 2 - (-1) ** 2"
    assert code.uses == frozenset({"a", "b"})


def test_source_class_name_follows_the_spec_name() -> None:
    network = archc.network(CASES["googlenet"])
    assert generate_source(network).class_name == "GoogLeNet"  # as torchvision spells it


# ------------------------------------------------------------------ spec text as data


def module_docstrings(text: str) -> dict[str, str | None]:
    import ast

    tree = ast.parse(text)
    # nothing runs at import but imports, definitions and the module docstring
    for statement in tree.body[1:]:
        assert isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                      ast.ClassDef)), ast.dump(statement)[:80]
    docs: dict[str, str | None] = {"": ast.get_docstring(tree, clean=False)}
    docs.update({node.name: ast.get_docstring(node, clean=False) for node in tree.body
                 if isinstance(node, ast.ClassDef)})
    return docs


@pytest.mark.parametrize("doc", [
    'x"""\nimport os; os.system("echo PWNED")\n"""', "ends with a quote\"", "a \\x41 b \\",
    "tab\there", "nul \x00 and bell \x07", "'''", "{}", "\\N{BULLET}", "plain line",
    "two\nlines\n  indented", "",
])
def test_docs_reach_the_source_only_as_string_literals(doc: str, tmp_path: Path) -> None:
    import inspect
    import json

    spec = (f"doc: {json.dumps(doc)}\ninput: [3, 8, 8]\nblocks:\n  unit:\n"
            f"    doc: {json.dumps(doc)}\n    body: conv(4, 3); relu\nlayers:\n  - u: unit\n")
    text = archc.source(spec)
    raw = module_docstrings(text)
    docs = {name: inspect.cleandoc(d) if d is not None else None for name, d in raw.items()}
    assert docs["Unit"] == (inspect.cleandoc(doc) if doc else None)
    # the module's docstring is not indented: exactly the doc
    assert raw[""] is not None and raw[""].startswith(f"network: {doc}" if doc else "network")
    model = archc.build(spec)  # build runs the very text: it must not run the doc
    written = type(model.u).__doc__ if doc else None
    assert (inspect.cleandoc(written) if written else None) == (inspect.cleandoc(doc) or None)


def test_a_bool_next_to_a_channel_count_of_one_stays_a_bool() -> None:
    # Python says True == 1: a literal found for one must not stand for the other
    spec = """
input: [3, 8, 8]
blocks:
  unit:
    params: [c, flag]
    body: conv(c, 3, bias=flag); bn
  outer:
    params: [flag]
    body: unit(1, flag)
layers:
  - a: unit(1, true)
  - b: outer(true)
  - bn
"""
    text = archc.source(spec)
    assert "BatchNorm2d(True)" not in text and "BatchNorm2d(flag)" not in text
    import torch

    model = archc.build(spec)
    assert model[2].num_features == 1 if isinstance(model, torch.nn.Sequential) else True
    assert all(m.num_features == 1 for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize(("value", "code"), [
    ("1e999", 'float("inf")'), ("-1e999", '-float("inf")'),
])
def test_infinite_values_are_written_as_python_reads_them(value: str, code: str) -> None:
    import torch

    text = archc.source(f"input: [4]\nlayers:\n  - leaky_relu({value})\n")
    assert code in text
    model = archc.build(f"input: [4]\nlayers:\n  - leaky_relu({value})\n")
    slope = next(m for m in model.modules() if isinstance(m, torch.nn.LeakyReLU)).negative_slope
    assert slope == float(value)


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_docstrings_fit_the_line_length_and_keep_their_words(path: Path) -> None:
    """Long docs are wrapped between words at 100 columns, as a person would write them;
    the words (what the spec's doc says) are the same and in order."""
    import ast
    import inspect

    text = archc.source(path)
    lines = text.splitlines()
    tree = ast.parse(text)
    holders: list[ast.Module | ast.ClassDef] = [tree, *(n for n in tree.body
                                                        if isinstance(n, ast.ClassDef))]
    spec = archc.load(path)
    docs = {b.name: b.doc for b in spec.blocks}
    for holder in holders:
        doc = ast.get_docstring(holder, clean=False)
        if doc is None:
            continue
        node = holder.body[0]
        assert all(len(lines[i - 1]) <= 100 or " " not in lines[i - 1].strip()
                   for i in range(node.lineno, (node.end_lineno or node.lineno) + 1))
        if isinstance(holder, ast.ClassDef) and holder.name in {
                "".join(p.capitalize() for p in name.split("_")) for name in docs}:
            written = next(d for name, d in docs.items()
                           if "".join(p.capitalize() for p in name.split("_")) == holder.name)
            assert inspect.cleandoc(doc).split() == inspect.cleandoc(written or "").split()


@pytest.mark.parametrize("first, in_place", [
    ("conv(8, 3, padding=1); bn", True),  # a batch norm's output: its backward needs none
    ("conv(8, 3, padding=1)", True),
    ("conv(8, 3, padding=1); relu", False),  # relu's backward reads its output
    ("conv(8, 3, padding=1); sigmoid", False),
])
def test_a_residual_add_is_written_in_place_only_where_autograd_allows(
        first: str, in_place: bool) -> None:
    import torch

    text = (f"name: r\ninput: [8, 8, 8]\nlayers:\n  - add:\n      - {first}\n"
            "      - identity\n  - relu\n")
    source = archc.source(text)
    assert (" += x" in source) is in_place, source
    model = archc.build(text).train()
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    model(x).sum().backward()  # an in-place add where autograd forbids it raises here
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_a_value_read_again_is_never_written_into() -> None:
    import torch

    text = ("name: r\ninput: [8, 8, 8]\nlayers:\n  - c: conv(8, 3, padding=1)\n"
            "  - d:\n      add: ['@c', '@x']\n  - add: ['@d', '@c']\n")
    source = archc.source(text)
    forward = source.split("def forward")[-1]
    assert "c +=" not in forward and "c = self.c(x)" in forward  # c is read by both adds
    model = archc.build(text).eval()
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        c = model.c(x)
        torch.testing.assert_close(model(x), (c + x) + c)


AUXILIARY = ROOT / "examples" / "constructs" / "auxiliary_head.yaml"


def test_training_outputs_are_computed_and_returned_while_training_only(
        tmp_path: Path) -> None:
    """The auxiliary head runs in training mode only, and forward then returns both logits;
    the oracle is the same computation written in torch by hand, and the written file, the
    scripted model and the exported program agree with the eval path."""
    import warnings

    import torch

    torch.manual_seed(0)
    model = archc.build(AUXILIARY)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.3 + (1.0 if tensor.dim() == 1 else 0))
    x = torch.randn(2, 3, 32, 32)

    def by_hand(training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model.train(training)  # the batch norms as in that mode
        middle = model.middle(model.stem(x))
        return model.head(middle), model.aux(middle)

    with torch.no_grad():
        eval_out = model.eval()(x)
        head, _ = by_hand(False)
        assert isinstance(eval_out, torch.Tensor)
        torch.testing.assert_close(eval_out, head)
        assert eval_out.abs().mean() > 0.1  # outputs of order 1: a comparison that can fail
        reference = by_hand(True)
        model.train()
        training = model(x)
    assert isinstance(training, tuple) and len(training) == 2
    for ours, theirs in zip(training, reference, strict=True):
        torch.testing.assert_close(ours, theirs)
    text = archc.source(AUXILIARY)
    assert "if self.training and not torch.jit.is_scripting():\n            aux = self.aux(" \
        in text
    assert "-> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:" in text
    # TorchScript compiles the eval path only: the scripted model returns the head's logits
    # (whatever its mode; training updated the batch norms' statistics, so eval again)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
    with torch.no_grad():
        eval_out = model(x)
        torch.testing.assert_close(scripted(x), eval_out)
        exported = torch.export.export(model, (x,))
        torch.testing.assert_close(exported.module()(x), eval_out)
        assert scripted.train()(x).shape == eval_out.shape
