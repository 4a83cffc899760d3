"""Every spec in specs/ and examples/constructs/: load, infer, build, forward, script, and the
emitted source, each checked against the static shapes; eager, TorchScript and the standalone
source agree on outputs of normal scale from random weights and batch-norm statistics. A
variant of a torchvision family (and the family spec itself, which is one of its builders) runs
on the meta device here; `make zoo` scripts it and compares eager, TorchScript and the written
file with torchvision's outputs."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import archc
from archc.backends.artefacts import script
from archc.backends.python import generate_source
from archc.dims import BATCH
from archc.ir import verify
from archc.ops import OPS
from tests.conftest import ALL_SPECS, as_tuple, count, input_for, randomise, spec_id


def _inputs(network: archc.ir.Network) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    return tuple(torch.randn(1, *network.node(i).shape[1:]) for i in network.inputs.values())


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_spec_builds_runs_and_matches_static_shapes(path: Path, tmp_path: Path) -> None:
    size = input_for(path)
    # a variant of a torchvision family (the family's spec with other parameters, some of
    # them a hundred million weights) runs on the meta device: the same code, every shape
    # real, no values; its family's representative here and every builder in `make zoo`
    # compare values
    meta = size is not None
    network = verify(archc.network(path, inputs=size), shapes=True)  # each node's shape is its
    # op's rule's. Random weights and batch-norm statistics: a fresh batch norm is the identity
    # and a zero bias hides nothing, so with default weights a misplaced layer might not show
    with torch.device("meta" if meta else "cpu"):
        model = archc.build(path, inputs=size)
        model = (model if meta else randomise(model)).eval()
        inputs = _inputs(network)
    # every intermediate module's real output shape is recorded, for its static shape below
    report = archc.shapes(path, inputs=size)
    # (a module forward uses otherwise than `child(x)`, an op's `call`, gives no output a hook
    # sees as the value: a parameter its module holds, attention's tuple)
    called = {".".join(p) for p, m in network.modules.items()
              if m.node is not None and OPS[network.node(m.node).op].call is not None}
    expected = {row["path"]: row["shape"] for row in report["layers"]
                if row["kind"] == "op" and row["path"] not in called}
    seen: dict[str, list[int]] = {}
    hooks = [
        module.register_forward_hook(
            lambda m, a, out, name=name: seen.__setitem__(name, [None, *out.shape[1:]]))
        for name, module in model.named_modules() if name in expected
    ]
    with torch.no_grad():
        outputs = as_tuple(model(*inputs))
        if network.training_outputs:  # and what runs only while training, in a copy (its
            # batch norms' statistics change) on the inputs twice over (they train on two)
            trained = as_tuple(copy.deepcopy(model).train()(*(torch.cat([x, x]) for x in inputs)))
            assert [tuple(o.shape[1:]) for o in trained] == [
                tuple(network.node(n).shape[1:]) for _, n in network.training_outputs]
    for hook in hooks:
        hook.remove()
    for output in [] if meta else outputs:  # of normal scale, and not constant: the
        # comparisons below can fail
        assert output.abs().mean() > 0.1 and (output.numel() == 1 or output.std() > 0.1), output
    static = [tuple(1 if d == BATCH else d for d in s) for s in network.output_shapes()]
    assert [tuple(o.shape) for o in outputs] == static
    assert count(model.parameters()) == network.total_params
    assert count(model.buffers()) == network.total_buffers

    assert seen == expected  # every intermediate module's real output shape: its static one

    # TorchScript of it runs and agrees (a variant's: in `make zoo`, with torchvision's weights,
    # as its family's representative is here)
    if not meta:
        scripted = script(model)
        with torch.no_grad():
            for real, scripted_out in zip(outputs, as_tuple(scripted(*inputs)), strict=True):
                assert_agree(scripted_out, real, meta)

    # the emitted .py imports on its own and gives the same outputs with the same state_dict
    source = generate_source(network)
    file = tmp_path / f"{network.name}_model.py"
    file.write_text(source.text)
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    try:
        spec.loader.exec_module(module)
        with torch.device("meta"):  # no initialisation: every tensor comes from the state_dict
            standalone = getattr(module, source.class_name)().eval()
    finally:
        del sys.modules[file.stem]
    assert list(standalone.state_dict()) == list(model.state_dict())
    standalone.load_state_dict(model.state_dict(), assign=True)
    with torch.no_grad():
        for real, again in zip(outputs, as_tuple(standalone(*inputs)), strict=True):
            assert_agree(again, real, meta)


def assert_agree(got: torch.Tensor, want: torch.Tensor, meta: bool) -> None:
    """Equal outputs; on the meta device (no values), equal shapes and dtypes."""
    if meta:
        assert got.shape == want.shape and got.dtype == want.dtype and got.is_meta
    else:
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_every_spec_has_a_name_and_doc(path: Path) -> None:
    spec = archc.load(path)
    assert spec.doc, f"{path} needs a doc: line naming its source"


def test_build_takes_parameter_overrides(root: Path) -> None:
    model = archc.build(root / "specs" / "googlenet.yaml", num_classes=100)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 96, 96)).shape == (1, 100)


def test_build_takes_input_shapes(root: Path) -> None:
    network = archc.network(root / "specs" / "vgg.yaml", inputs=[3, 64, 64])
    assert network.output_shapes() == [(BATCH, 10)]
    report = archc.shapes(root / "specs" / "vgg.yaml", inputs=[3, 64, 64], depth=1)
    assert report["layers"][0]["shape"] == [None, 512, 2, 2]
