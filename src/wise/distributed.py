"""One model trained by several processes: DistributedDataParallel under `torchrun`.

    torchrun --nproc-per-node N -m wise train --config wise --manifest m.jsonl --out model.wise

torchrun starts N copies of the command with WORLD_SIZE, RANK and LOCAL_RANK (and
MASTER_ADDR/MASTER_PORT) in their environment; `process_group` joins them (gloo on CPU, nccl
on CUDA, where process LOCAL_RANK takes GPU LOCAL_RANK). Every rank draws the same global
batches and trains on its own shard of each (`World.shard`); `wise.train.train` scales the
loss so that the gradient DDP averages over the ranks is the single-process batch's. Without
torchrun (WORLD_SIZE unset or 1) nothing here does anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

TIMEOUT = timedelta(minutes=30)
"""How long a rank waits for the others at a collective (rank 0 building the feature cache,
an all-reduce) before it fails instead of hanging. torchrun itself stops every rank as soon as
one exits with an error, so this only matters for a rank that hangs."""


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one training (one process: `SINGLE`)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that builds the feature cache, shows progress and writes files."""
        return self.rank == 0

    def shard(self, rows: list[int]) -> list[int]:
        """This rank's rows of a global batch: every `size`-th from its rank, so that the
        shards of a batch sorted by length get alike lengths. Empty when the batch has fewer
        rows than ranks."""
        return rows[self.rank::self.size]

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """`model` for training: in DDP when there are several ranks (it broadcasts rank 0's
        weights now and averages the gradients in every backward), else itself."""
        if self.size == 1:
            return model
        return DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def sum(self, x: torch.Tensor) -> torch.Tensor:
        """`x` summed over the ranks (in place), on every rank."""
        if self.size > 1:
            dist.all_reduce(x)
        return x

    def from_main(self, x: torch.Tensor) -> torch.Tensor:
        """Rank 0's `x` (in place), on every rank."""
        if self.size > 1:
            dist.broadcast(x, src=0)
        return x


SINGLE = World()


def world_from_env() -> World:
    """The world torchrun describes in the environment; `SINGLE` outside torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE
    return World(rank=int(os.environ["RANK"]), size=size,
                 local_rank=int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def process_group(device: torch.device) -> Iterator[World]:
    """Join the other ranks for the block (gloo on CPU, nccl on CUDA, each rank on GPU
    LOCAL_RANK), and leave the group after it; outside torchrun, just `SINGLE`."""
    world = world_from_env()
    if world.size == 1:
        yield world
        return
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    try:
        yield world
    finally:
        dist.destroy_process_group()
