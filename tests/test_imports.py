"""Each command imports only what it uses: a fresh interpreter runs one command and reports
the libraries and archc stages it loaded. Starting fast is a feature (`archc --help` is about
three times Python's own start), and an import added at the top of a module would quietly
take it away; torch is held off by test_torch_free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LIBRARIES = ("click", "lark", "yaml", "rich", "networkx", "graphviz", "torch", "numpy")
STAGES = ("archc.elaborate", "archc.frontend.yaml", "archc.frontend.text", "archc.ir",
          "archc.report", "archc.lint", "archc.backends.python", "archc.backends.graphviz")
PROBE = """
import json, sys
from archc.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
# a module that is only promised (importlib's LazyLoader) is not loaded: type() does not
# load it, where reading any attribute would
loaded = [m for m, module in list(sys.modules.items()) if type(module).__name__ != "_LazyModule"]
print(json.dumps(loaded), file=sys.stderr)
"""
VGG = str(ROOT / "specs" / "vgg.yaml")

# command → (libraries it may load, archc stages it must not load)
CASES: dict[str, tuple[list[str], set[str], set[str]]] = {
    "help": (["--help"], {"click"}, set(STAGES)),
    "version": (["--version"], {"click"}, set(STAGES)),
    "cache": (["cache"], {"click"}, set(STAGES)),
    "shapes --help": (["shapes", "--help"], {"click"}, set(STAGES)),
    "ops": (["ops"], {"click", "lark", "yaml", "rich"}, {"archc.backends.python"}),
    "check": (["check", VGG], {"click", "lark", "yaml"},
              {"archc.report", "archc.backends.python", "archc.backends.graphviz"}),
    "shapes json": (["shapes", VGG, "--format", "json"], {"click", "lark", "yaml"},
                    {"archc.backends.python", "archc.backends.graphviz"}),
    "shapes": (["shapes", VGG], {"click", "lark", "yaml"},
               {"archc.backends.python", "archc.backends.graphviz"}),
    "compile py": (["compile", VGG, "-o", "{out}/vgg.py"], {"click", "lark", "yaml"},
                   {"archc.report", "archc.backends.graphviz"}),
    "draw dot": (["draw", VGG, "-o", "{out}/vgg.dot"], {"click", "lark", "yaml", "graphviz"},
                 {"archc.backends.python"}),
}


def loaded(args: list[str], out: Path) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *(a.format(out=out) for a in args)],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("case", CASES)
def test_a_command_loads_only_what_it_uses(case: str, tmp_path: Path) -> None:
    args, allowed, stages = CASES[case]
    modules = loaded(args, tmp_path)
    libraries = {m.split(".")[0] for m in modules} & set(LIBRARIES)
    assert libraries == allowed, f"archc {' '.join(args)} loaded {sorted(libraries)}"
    assert not modules & stages, f"archc {' '.join(args)} loaded {sorted(modules & stages)}"
