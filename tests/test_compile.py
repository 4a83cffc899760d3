"""torch.compile: the generated forward is one graph for every spec (no graph breaks), and
compiled modules compute what the eager ones do.

The graph-break check runs dynamo with fullgraph=True and the eager backend (no compiler) over
every spec in specs/ and examples/constructs/ but the torchvision variants and text-form twins.
The compile-and-compare runs on a few small specs: with the inductor backend (C++ code
generation on CPU) for two of them, and with aot_eager (the same dynamo graph and AOT autograd,
without inductor's C++ compile, which takes ~40 s for GoogLeNet on CPU) for the rest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import archc
from archc.backends.artefacts import example_inputs
from tests.conftest import COMPUTED_SPECS, ROOT, as_tuple, spec_id

# dynamo itself touches torch.jit.script_method, which torch >= 2.10 marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*deprecated:DeprecationWarning")


@pytest.mark.parametrize("spec", COMPUTED_SPECS, ids=spec_id)
def test_forward_has_no_graph_breaks(spec: Path) -> None:
    # fullgraph: dynamo raises at the first graph break, naming it, or traces one graph; the
    # eager backend runs that graph as traced (a third faster than torch._dynamo.explain)
    network = archc.network(spec)
    model = archc.build(spec).eval()
    x = example_inputs(network, batch=1)
    torch._dynamo.reset()
    with torch.no_grad():
        traced = torch.compile(model, backend="eager", fullgraph=True)(*x)
        for got, want in zip(as_tuple(traced), as_tuple(model(*x)), strict=True):
            torch.testing.assert_close(got, want)


SMALL = [
    ("inductor", ROOT / "specs" / "lenet.yaml"),
    ("inductor", ROOT / "examples" / "constructs" / "multi_io.yaml"),
    ("aot_eager", ROOT / "specs" / "googlenet.yaml"),
    ("aot_eager", ROOT / "examples" / "constructs" / "residual.yaml"),
    ("aot_eager", ROOT / "examples" / "constructs" / "skips.yaml"),
]


@pytest.mark.parametrize(("backend", "spec"), SMALL,
                         ids=[f"{b}-{spec_id(s)}" for b, s in SMALL])
def test_compiled_equals_eager(backend: str, spec: Path) -> None:
    if backend == "inductor" and not (shutil.which("g++") or shutil.which("c++")
                                      or shutil.which("clang++")):
        pytest.skip("inductor needs a C++ compiler on CPU")
    network = archc.network(spec)
    model = archc.build(spec, seed=0).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=backend, fullgraph=True)
    x = example_inputs(network, batch=2)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*x), model(*x), rtol=1e-4, atol=1e-4)
