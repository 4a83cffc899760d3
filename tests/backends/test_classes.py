"""The generated source as a reviewer reads it: one class per block definition (repeats as
loops, ifs as Python ifs), no numbered attributes outside nn.Sequential and nn.ModuleList, the
network's class taking the spec's parameters, and the file standing alone: run where archc
cannot be imported, it strict-loads what `archc.build` built and computes the same."""

from __future__ import annotations

import ast as pyast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import archc
from archc.backends.python import HELPER_NAMES, camel
from tests.conftest import (
    COMPUTED_SPECS,
    SPEC_FILES,
    TORCHVISION_SPECS,
    as_tuple,
    randomise,
    spec_id,
)


def classes(text: str) -> dict[str, pyast.ClassDef]:
    return {node.name: node for node in pyast.parse(text).body
            if isinstance(node, pyast.ClassDef)}


def signature(text: str, name: str) -> dict[str, Any]:
    """The network class's constructor parameters and their defaults, read from the text."""
    init = next(n for n in classes(text)[name].body
                if isinstance(n, pyast.FunctionDef) and n.name == "__init__")
    names = [a.arg for a in init.args.args[1:]]
    defaults = [pyast.literal_eval(d) for d in init.args.defaults]
    return dict(zip(names[len(names) - len(defaults):], defaults, strict=True))


@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_id)
def test_one_class_per_block_definition_and_no_numbered_attributes(path: Path) -> None:
    network = archc.network(path)
    text = archc.source(path)
    used = {m.block for m in network.modules.values() if m.kind == "block"}
    containers = {m.name for p, m in network.modules.items()
                  if m.kind == "container" and not network.is_chain(p)}
    helpers = HELPER_NAMES  # what torch lacks, defined in the file: not blocks
    found = {name: node for name, node in classes(text).items() if name not in helpers}
    assert len(found) == len(used) + len(containers) + 1, sorted(found)
    assert {camel(b) for b in used} <= set(found)
    assert "add_module(" not in text and "getattr(self" not in text


def test_resnet50_reads_as_torchvision_writes_it() -> None:
    text = archc.source(TORCHVISION_SPECS / "resnet50.yaml")
    assert set(classes(text)) == {"Bottleneck", "Stage", "ResNet50"}
    # the if becomes a Python if with the None pattern, the repeat a loop carrying channels
    assert "        if stride != 1 or in_channels != planes * 4:" in text
    assert "            self.downsample = None" in text
    assert "        if self.downsample is not None:" in text
    assert "        for j in range(n):" in text
    assert "Bottleneck(\n                    channels,\n                    planes,\n" \
        "                    stride=stride if j == 0 else 1,\n" \
        "                    dilation=previous if j == 0 else dilation,\n" in text
    assert "            channels = planes * 4" in text
    assert "self.layer2 = Stage(256, 128, 4, stride=2)" in text
    assert "self.fc = nn.Linear(2048, num_classes)" in text
    assert signature(text, "ResNet50") == {"num_classes": 1000}


def test_a_dense_block_is_a_module_list_that_loops() -> None:
    text = archc.source(SPEC_FILES[0].parent / "densenet.yaml")
    dense = pyast.unparse(classes(text)["DenseBlock"])
    assert "class DenseBlock(nn.ModuleList):" in dense
    assert "for _ in range(num_layers):" in dense and "self.append(ConvBlock(" in dense
    assert "for layer in self:" in dense


# ------------------------------------------------------------------ the file alone

RUNNER = """
import importlib.util, json, sys
sys.modules["archc"] = None  # the file must not need archc
import torch
for case in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("generated", case["py"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):  # no initialisation: every tensor comes from the state_dict
        model = getattr(module, case["cls"])(**case["kwargs"])
    model.load_state_dict(torch.load(case["state"]), strict=True, assign=True)
    model.eval()
    inputs = torch.load(case["inputs"])
    with torch.no_grad():
        out = model(*inputs)
    outs = tuple(out.values()) if isinstance(out, dict) else (
        out if isinstance(out, tuple) else (out,))
    torch.save(list(outs), case["out"])
"""


def standalone(cases: list[dict[str, Any]]) -> None:
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(cases)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def case(path: Path, tmp: Path, overrides: dict[str, Any] | None = None,
         kwargs: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """Write the spec's source and what `archc.build` computes (randomised weights, normal
    scale), for the runner to compare with."""
    name = f"{path.stem}_{len(list(tmp.iterdir()))}"
    network = archc.network(path, **(overrides or {}))
    source = archc.source(path)  # the default spec: its class takes the overrides
    (tmp / f"{name}.py").write_text(source)
    with torch.device("meta"):  # its default initialisation would be overwritten
        model = archc.build(path, **(overrides or {}))
    model = randomise(model.to_empty(device="cpu"), seed=3).eval()
    for buffer in model.buffers():
        if not buffer.is_floating_point():  # batch norms' counts: randomise sets the rest
            buffer.zero_()
    generator = torch.Generator().manual_seed(5)
    inputs = [torch.randn(2, *network.node(i).shape[1:], generator=generator)
              for i in network.inputs.values()]
    with torch.no_grad():
        out = model(*inputs)
    expected = list(as_tuple(out))
    torch.save(model.state_dict(), tmp / f"{name}.state")
    torch.save(inputs, tmp / f"{name}.inputs")
    cls = next(n for n in classes(source) if n == camel(network.name))
    return {"py": str(tmp / f"{name}.py"), "cls": cls, "kwargs": kwargs or {},
            "state": str(tmp / f"{name}.state"), "inputs": str(tmp / f"{name}.inputs"),
            "out": str(tmp / f"{name}.out")}, expected


def compare(cases: list[tuple[dict[str, Any], list[torch.Tensor]]]) -> None:
    standalone([c for c, _ in cases])
    for entry, expected in cases:
        got = torch.load(entry["out"])
        for real, mine in zip(expected, got, strict=True):
            assert real.abs().mean() > 1e-3, entry["py"]  # a comparison that can fail
            torch.testing.assert_close(mine, real, rtol=1e-4, atol=1e-5)


# each spec but the variants of a torchvision family (conftest.COMPUTED_SPECS)
COMPARED = [path for path in SPEC_FILES if path in COMPUTED_SPECS]


# in a few groups, each one runner process, so that parallel workers share them out
GROUPS = [COMPARED[start::3] for start in range(3)]


@pytest.mark.parametrize("group", GROUPS, ids=[f"group{i}" for i in range(len(GROUPS))])
def test_every_specs_source_runs_alone_and_strict_loads_what_build_built(
        group: list[Path], tmp_path: Path) -> None:
    compare([case(path, tmp_path) for path in group])


@pytest.mark.parametrize("group", GROUPS, ids=[f"group{i}" for i in range(len(GROUPS))])
def test_the_network_class_takes_the_parameters_its_code_reads(group: list[Path],
                                                               tmp_path: Path) -> None:
    """`ResNet50(num_classes=10)` builds what `archc.build(spec, num_classes=10)` builds,
    for every parameter every spec's class takes."""
    cases = []
    for path in group:
        text = archc.source(path)
        # every parameter changed at once (one build per spec): each must reach the class
        changed = {name: default + 3 if isinstance(default, int) else default / 2
                   for name, default in signature(text, camel(archc.network(path).name)).items()}
        if changed:
            cases.append(case(path, tmp_path, changed, changed))
        else:  # NiN's classes are a conv's width, which a layer after it holds as a number
            assert path.stem == "nin", path
    assert len(cases) == len(group) - sum(path.stem == "nin" for path in group)
    compare(cases)


def test_resnet50_class_matches_torchvision_with_ten_classes(tmp_path: Path) -> None:
    """Against an oracle that is not archc: torchvision's own ResNet-50 with 10 classes."""
    from tests.test_torchvision import models

    text = archc.source(TORCHVISION_SPECS / "resnet50.yaml")
    namespace: dict[str, Any] = {}
    exec(compile(text, "resnet50.py", "exec"), namespace)
    mine = namespace["ResNet50"](num_classes=10)
    theirs = models.resnet50(weights=None, num_classes=10)
    assert {k: v.shape for k, v in mine.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}
    randomise(theirs, seed=1).eval()
    mine.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = theirs(x)
        assert expected.abs().mean() > 1e-2
        torch.testing.assert_close(mine.eval()(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("layers", "taken"), [
    # a width that changes the features a literal linear size holds: fixed in the file
    ("- conv(width, 3)\n  - flatten\n  - linear(10)", {}),
    # a size read by a repeat count: fixed, the loop is unrolled at the network's level
    ("- repeat: depth\n    body: conv(4, 3, padding=1)\n  - flatten\n  - linear(10)", {}),
    # a dropout probability changes no shape: taken, even before a layer with a literal size
    ("- conv(4, 3)\n  - dropout(p)\n  - flatten\n  - linear(out)", {"p": 0.5, "out": 7}),
    # the last layer's size: taken, the layer after it follows it as code
    ("- flatten\n  - linear(out)\n  - relu\n  - linear(3)", {"out": 7}),
])
def test_a_parameter_is_taken_only_where_the_code_follows_it(layers: str,
                                                             taken: dict[str, Any]) -> None:
    spec = f"""name: net
params: {{width: 4, depth: 2, p: 0.5, out: 7}}
input: [3, 8, 8]
layers:
  {layers}
"""
    text = archc.source(spec)
    assert signature(text, "Net") == taken
    namespace: dict[str, Any] = {}
    exec(compile(text, "net.py", "exec"), namespace)
    for name, value in taken.items():
        other = value / 2 if isinstance(value, float) else value + 2
        mine = namespace["Net"](**{name: other})
        built = archc.build(spec, **{name: other})
        assert {k: v.shape for k, v in mine.state_dict().items()} == {
            k: v.shape for k, v in built.state_dict().items()}
        assert str(mine) == str(built)


def test_a_test_every_instance_passes_stays_an_if_and_an_untaken_branch_is_not_written(
        ) -> None:
    spec = TORCHVISION_SPECS / "resnet50.yaml"
    taken = archc.source(spec, [256, 56, 56], "bottleneck", planes=64, stride=2)
    assert "        if stride != 1 or in_channels != planes * 4:" in taken  # says when
    assert "        if self.downsample is not None:" in taken
    plain = archc.source(spec, [256, 56, 56], "bottleneck", planes=64)  # never elaborated
    assert "downsample" not in plain and "out += x" in plain  # in place, as torchvision


CNA = """name: cna_net
input: [3, 16, 16]
blocks:
  cna:
    params: [out, k, {stride: 1}, {act: "'relu'"}]
    body:
      - conv(out, k, stride=stride, padding=(k - 1) // 2, bias=false)
      - bn(eps=0.001)
      - if: act == 'hardswish'
        then: hardswish(inplace=true)
      - if: act == 'relu'
        then: relu(inplace=true)
layers:
  - cna(8, 3, 2, act='hardswish')
  - cna(8, 3)
  - cna(16, 1, act='none')
  - flatten
  - linear(4)
"""


def test_ifs_in_a_chain_append_their_branch_and_the_numbers_follow() -> None:
    text = archc.source(CNA)
    assert set(classes(text)) == {"Cna", "CnaNet"}
    assert '        if act == "hardswish":\n            layers.append(nn.Hardswish(inplace=True))' \
        in text
    assert '        if act == "relu":\n            layers.append(nn.ReLU(inplace=True))' in text
    namespace: dict[str, Any] = {}
    exec(compile(text, "cna.py", "exec"), namespace)
    model = namespace["CnaNet"]()
    kinds = [[type(m).__name__ for m in block] for block in list(model)[:3]]
    assert kinds == [["Conv2d", "BatchNorm2d", "Hardswish"], ["Conv2d", "BatchNorm2d", "ReLU"],
                     ["Conv2d", "BatchNorm2d"]]
    built = archc.build(CNA)
    assert list(built.state_dict()) == list(model.state_dict())
    assert str(built) == str(model)


def test_an_if_whose_branches_both_compute_switches_forward() -> None:
    """MobileNetV3's residual: `self.condition = ...` in __init__, one forward per branch; a
    parameter whose default is an expression no call writes is computed by the class."""
    text = archc.source(TORCHVISION_SPECS / "mobilenet_v3_large.yaml")
    residual = pyast.unparse(classes(text)["InvertedResidual"])
    assert "self.condition = stride == 1 and in_channels == out" in residual
    assert "if self.condition:" in residual and "out += x" in residual
    assert "return self.block(x)" in residual
    excite = pyast.unparse(classes(text)["SqueezeExcitation"])
    assert "def __init__(self, in_channels: int) -> None:" in excite
    assert "quarter = in_channels // 4" in excite
    assert "squeeze = rounded + 8 if rounded < 0.9 * quarter else rounded" in excite


def test_an_inline_blocks_expressions_are_not_written_in_the_enclosing_class() -> None:
    """Found by `make fuzz`: the inline block's `c` (8) was written as the enclosing block's
    own parameter `c` (2), so the built network computed 2 channels where its shapes said 8."""
    spec = """network generated {
  input [1, 16, 8]
  inline block b0(c) {
    conv(c, 1)
    silu
  }
  block b1(c, k) {
    conv(c, 1)
    repeat(1, i) b0(8)
  }
  n1: b1(2, 2)
}
"""
    model = archc.build(spec)
    with torch.no_grad():
        out = model(torch.randn(2, 1, 16, 8))
    assert list(out.shape[1:]) == list(archc.network(spec).output_shapes()[0][1:]) == [8, 16, 8]


def test_an_op_helper_is_defined_once_and_never_takes_a_block_s_name(tmp_path: Path) -> None:
    # stochastic depth is a class of the generated file (torch has none); a block that camel-
    # cases to its name gets another, and the file still runs on its own
    spec = ("input: [4, 3, 3]\nblocks:\n  StochasticDepth:\n    body:\n      add:\n"
            "        - conv(4, 1); stochastic_depth(0.1)\n        - identity\n"
            "layers:\n  - StochasticDepth\n  - StochasticDepth\n"
            "  - stochastic_depth(0.2, mode='batch')\n")
    text = archc.source(spec)
    assert text.count("class StochasticDepth(nn.Module):") == 1
    # (the block's: an nn.Sequential whose forward adds its input)
    assert "class StochasticDepth2(nn.Sequential):" in text
    assert "torchvision" not in text.replace("(torchvision.ops.StochasticDepth)", "")
    namespace: dict[str, object] = {}
    exec(compile(text, "<generated>", "exec"), namespace)
    assert "StochasticDepth" in namespace and "StochasticDepth2" in namespace
    assert "class StochasticDepth" not in archc.source("input: [4]\nlayers: [linear(2)]\n")


def test_forward_variables_leave_python_s_builtins_visible() -> None:
    # an entry named like a builtin keeps its attribute name; its variable gets PEP 8's _
    text = archc.source("input: [4]\nlayers:\n  - max: linear(4)\n  - relu\n  - add:\n"
                        "    - identity\n    - '@max'\n")
    assert "self.max = nn.Linear(4, 4)" in text
    assert "max_ = self.max(x)" in text and "return x + max_" in text
    assert not re.search(r"^\s+max = ", text, re.M)


def test_a_parameter_read_only_by_a_loop_s_child_names_is_taken() -> None:
    # `block{index}-{j}` reads the block's parameter index: its class takes it (it once wrote
    # the f-string but left the parameter out, so the built module raised a NameError)
    spec = ("input: [3, 8, 8]\nblocks:\n  stage:\n    params: [index, n]\n    body:\n"
            "      repeat: n\n      as: j\n      body:\n"
            "        \"block{index}-{j}\": conv(4, 3, padding=1)\n"
            "layers:\n  - repeat: 2\n    as: i\n    body:\n      s{i}: stage(i + 1, 2)\n")
    text = archc.source(spec)
    assert "def __init__(self, in_channels: int, index: int, n: int) -> None:" in text
    assert sorted(archc.build(spec).state_dict())[:2] == ["s0.block1-0.bias", "s0.block1-0.weight"]
