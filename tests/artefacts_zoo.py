"""`make artefacts`: every spec in specs/ through torch.export and ONNX, each checked against
the eager module, with a table of what fails and why.

Input: the spec files (or the names given on the command line: `resnet50 vit_b_16`).
Output: one row per spec on stdout: torch.export (`.pt2`), then ONNX (`.onnx`, run by
onnxruntime), each `ok` or the first line of what went wrong. A program is `ok` only if its
outputs equal the eager module's on weights of normal scale, at the batch it was exported at
and at another batch (both exporters are given a dynamic batch). Not part of `make test`: the
large models take minutes to export.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

import archc
from archc.backends.artefacts import example_inputs, export, write_onnx
from tests.conftest import SPEC_FILES, SPECS, randomise

PARTIAL = SPECS / "torchvision" / "families"  # blocks other specs import, not networks


def _equal(got: Any, want: Any) -> None:
    """Equal outputs, leaf for leaf, of a magnitude a tolerance cannot pass by accident."""
    got_leaves, want_leaves = tree_leaves(got), tree_leaves(want)
    if len(got_leaves) != len(want_leaves):
        raise AssertionError(f"{len(got_leaves)} outputs, eager gives {len(want_leaves)}")
    for a, b in zip(got_leaves, want_leaves, strict=True):
        a = torch.as_tensor(a)
        if b.is_floating_point() and b.abs().mean() < 1e-3:
            raise AssertionError(f"eager output of magnitude {b.abs().mean():.1e}: no test")
        a = a.to(b.dtype)
        # float32 rounding grows with depth and with the outputs' size (ResNet-101's logits
        # reach 1e3 on random weights, and onnxruntime's kernels round otherwise than torch's):
        # the tolerance is relative to the largest output, far below what a wrong op gives
        scale = float(b.abs().max()) if b.is_floating_point() else 0.0
        if not torch.allclose(a, b, rtol=1e-3, atol=1e-4 + 1e-5 * scale):
            raise AssertionError(f"outputs differ by up to {(a - b).abs().max():.2e} where "
                                 f"eager's largest is {b.abs().max():.2e}")


def _onnx(module: torch.nn.Module, network: archc.Network,
          batches: list[tuple[torch.Tensor, ...]]) -> None:
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        write_onnx(module, network, path)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        for inputs in batches:
            got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
            with torch.no_grad():
                want = module(*inputs)
            _equal([torch.from_numpy(g) for g in got], want)


def _export(module: torch.nn.Module, network: archc.Network,
            batches: list[tuple[torch.Tensor, ...]]) -> None:
    program = export(module, network).module()
    for inputs in batches:
        with torch.no_grad():
            _equal(program(*inputs), module(*inputs))


def _first_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text[:110]}"


def check(path: Path) -> tuple[str, str]:
    """torch.export's and ONNX's results for one spec: `ok` or why not."""
    network = archc.network(path)
    module = randomise(archc.build(path, seed=0), seed=1).eval()
    batches = [example_inputs(network, batch) for batch in (2, 3)]
    results = []
    for run in (_export, _onnx):
        try:
            run(module, network, batches)
            results.append("ok")
        except Exception as error:  # a report of every spec, not the first failure
            results.append(_first_line(error))
    return results[0], results[1]


def main(names: list[str]) -> int:
    specs = [p for p in SPEC_FILES if p.parent != PARTIAL
             and (not names or p.stem in names)]
    failed = 0
    print("| spec | torch.export | ONNX | seconds |\n|---|---|---|---|", flush=True)
    for path in specs:
        start = time.perf_counter()
        try:
            exported, onnx = check(path)
        except Exception as error:
            exported = onnx = f"not built: {_first_line(error)}"
        failed += (exported != "ok") + (onnx != "ok")
        print(f"| {path.relative_to(SPECS)} | {exported} | {onnx} | "
              f"{time.perf_counter() - start:.1f} |", flush=True)
    print(f"\n{len(specs)} specs, {2 * len(specs) - failed} of {2 * len(specs)} artefacts equal "
          "the eager module")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
