"""DistributedDataParallel: two SGD steps of a zoo model on 2 processes (gloo, loopback) give
the gradients and weights of one process training on the same global batch."""

from __future__ import annotations

import datetime
import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import archc
from tests.conftest import ROOT

SPEC = ROOT / "specs" / "lenet.yaml"
WORLD = 2
STEPS = 2


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(4, 1, 28, 28, generator=generator),
            torch.randint(10, (4,), generator=generator))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """STEPS steps of SGD; the gradients of each step, then the final weights."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    record = []
    for _ in range(STEPS):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        record.append({k: p.grad.detach().clone() for k, p in model.named_parameters()
                       if p.grad is not None})
        optimiser.step()
    record.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return record


def worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    try:
        model = nn.parallel.DistributedDataParallel(archc.build(SPEC, seed=0))
        x, y = global_batch()
        local = slice(2 * rank, 2 * rank + 2)  # the global batch of 4, split 2 + 2
        record = train(model, x[local], y[local])
        if rank == 0:  # DDP's keys carry its `module.` prefix
            torch.save([{k.removeprefix("module."): v for k, v in r.items()} for r in record],
                       out)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_ddp_gradients_match_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform.startswith("linux") and os.path.exists("/sys/class/net/lo"):
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")  # loopback only
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    out = tmp_path / "ddp.pt"
    mp.start_processes(worker, args=(free_port(), str(out)), nprocs=WORLD, join=True,
                       start_method="spawn")
    distributed = torch.load(out, weights_only=True)
    x, y = global_batch()
    single = train(archc.build(SPEC, seed=0), x, y)
    assert len(distributed) == len(single) == STEPS + 1
    for step, (got, want) in enumerate(zip(distributed, single, strict=True)):
        assert got.keys() == want.keys()
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-8,
                                       msg=lambda m, k=key, s=step: f"step {s}, {k}: {m}")
