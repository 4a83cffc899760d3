"""Built modules pickle: torch.save of a whole model read back in a fresh process,
copy.deepcopy, and a spawn worker all give the same outputs (weights randomised, so a model
that lost or scrambled its weights cannot pass)."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import subprocess
import sys
from pathlib import Path

import torch

import archc
from tests.conftest import SPECS, TORCHVISION_SPECS, randomise

SPEC = TORCHVISION_SPECS / "resnet18.yaml"
INPUT = (2, 3, 64, 64)


def built() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    model = randomise(archc.build(SPEC)).eval()
    x = torch.randn(*INPUT, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    assert y.abs().mean() > 0.1 and y.std() > 0.1  # a normal-scale output, not about zero
    return model, x, y


def test_torch_save_of_the_whole_model_loads_in_a_fresh_process(tmp_path: Path) -> None:
    model, x, y = built()
    torch.save(model, tmp_path / "model.pt")
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import torch, sys\n"
        "model = torch.load(sys.argv[1], weights_only=False)\n"
        "x = torch.load(sys.argv[2])\n"
        "with torch.no_grad():\n"
        "    torch.save(model(x), sys.argv[3])\n"
        "print(type(model).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.pt"),
                           str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == type(model).__name__
    assert torch.equal(torch.load(tmp_path / "y.pt"), y)


def test_deepcopy_is_an_independent_equal_model() -> None:
    model, x, y = built()
    twin = copy.deepcopy(model)
    assert type(twin) is type(model)
    with torch.no_grad():
        assert torch.equal(twin(x), y)
        next(twin.parameters()).add_(1.0)  # a copy: changing it leaves the original alone
        assert torch.equal(model(x), y) and not torch.equal(twin(x), y)


def test_pickle_keeps_changes_made_after_the_build() -> None:
    model = archc.build(SPECS / "mlp.yaml")
    model.extra = torch.nn.Linear(2, 2)  # an attribute the spec never had
    again = pickle.loads(pickle.dumps(model))
    assert isinstance(again.extra, torch.nn.Linear)
    assert again.state_dict().keys() == model.state_dict().keys()


def _forward(model: torch.nn.Module, x: torch.Tensor, queue: multiprocessing.Queue) -> None:
    with torch.no_grad():  # plain numbers: a tensor would travel by shared memory, and this
        queue.put(model(x).tolist())  # process may be gone before it is read


def test_a_spawn_worker_runs_the_model() -> None:
    model, x, y = built()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=_forward, args=(model, x, queue))
    worker.start()
    result = queue.get(timeout=300)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert torch.equal(torch.tensor(result), y)  # float32 values are exact as Python floats
