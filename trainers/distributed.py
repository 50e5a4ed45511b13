"""Data-parallel training under torchrun: process group, DDP wrapping, per-rank seeds, and the few collectives
the loop needs. With one process (no WORLD_SIZE, or 1) every function here is a no-op, unless
GANBENCH_FORCE_DDP=1 (below).

    torchrun --nproc_per_node=N -m ganbench train ARCH ...
    GANBENCH_FORCE_DDP=1 ganbench train ARCH ...     # one process, through the DDP path all the same

- gloo on CPU, NCCL on CUDA (rank r uses cuda:LOCAL_RANK). --batch-size stays per process: a step sees
  N x batch_size real images, each rank a distinct slice of the same shuffled epoch (trainers/data.py).
- G and D are wrapped in DistributedDataParallel: gradients are averaged over ranks, so the weights stay equal
  on every rank. BN statistics and spectral-norm vectors are not broadcast before each forward (BN buffers
  are never used in a training forward, SN vectors follow from the equal weights), so rank 0's are what
  samples and checkpoints use. The EMA copy of G is rank-local and follows the equal weights.
- Rank 0 alone writes the run folder; the others only train. Each rank draws its own latents: rank 0 keeps
  the single-process RNG stream, rank r > 0 is reseeded from (seed, r).
- --score-every: rank 0 scores the whole sample folder alone, outside the group's collectives
  (ganbench.parallel.alone), while the others wait at a barrier of a gloo group with a long timeout
  (WAIT_TIMEOUT), so neither NCCL's watchdog nor gloo's 30-minute default cuts a long CPU score short.
- GANBENCH_FORCE_DDP=1 with one process (plain `ganbench train`, or torchrun --nproc_per_node=1) still makes
  a process group of one (NCCL on CUDA) and wraps G and D in DDP, with every collective below taken: the
  multi-process code path, checkable on a machine with one GPU.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as td
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganbench.errors import UserError
from trainers.gan import Nets

# Rank 0 writes samples (and may score them with --score-every, ~10 images/s on a CPU) while the others wait
# in their next all-reduce: the default 10-30 min collective timeout could cut a long scoring pass short.
TIMEOUT = timedelta(hours=2)
# How long the other ranks wait for rank 0's --score-every pass (a cold reference of 50,000 images takes
# ~1.5 h on a 2-core CPU); a dead rank 0 still ends the run sooner: torchrun stops every rank when one fails.
WAIT_TIMEOUT = timedelta(hours=24)
FORCE_ENV = "GANBENCH_FORCE_DDP"
T = TypeVar("T")
_wait_group: Any = None  # the gloo group of main_alone's barrier, made at its first use


@dataclass(frozen=True)
class Dist:
    """Where this process stands: its rank, the number of processes, its device."""

    rank: int
    world: int
    device: torch.device
    owns_group: bool = False  # this module started the process group, so it ends it too
    ddp: bool = False  # in a process group: DDP-wrapped nets and real collectives (world > 1, or forced)

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0


def forced() -> bool:
    """GANBENCH_FORCE_DDP=1: the DDP path with a single process too."""
    value = os.environ.get(FORCE_ENV, "").strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no"):
        raise UserError(f"{FORCE_ENV}={value!r}: use 1 (force the DDP path with one process) or 0")
    return value in ("1", "true", "yes")


def setup(device: torch.device) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1 (or make one of one process with
    GANBENCH_FORCE_DDP=1); else a single process on `device`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not forced():
        return Dist(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = not td.is_initialized()
    if owns:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if world <= 1:  # one process needs no rendezvous (torchrun's or a MASTER_ADDR): an in-memory store
            td.init_process_group(backend, store=td.HashStore(), rank=0, world_size=1, timeout=TIMEOUT)
        else:
            td.init_process_group(backend, timeout=TIMEOUT)
    return Dist(td.get_rank(), td.get_world_size(), device, owns, ddp=True)


def barrier(d: Dist) -> None:
    """Wait for every rank (e.g. for rank 0's last checkpoint before anyone returns)."""
    if d.ddp:
        td.barrier()


def main_alone(d: Dist, fn: Callable[..., T] | None, *args: Any) -> T | None:
    """fn(*args) on rank 0 alone, as a single process for ganbench (no collective of the group), while the
    other ranks wait for it; every rank calls this (fn may be None but on rank 0). -> fn's result on rank 0."""
    global _wait_group
    if not d.ddp:
        return fn(*args) if fn is not None else None
    from ganbench import parallel

    if _wait_group is None:  # every rank makes it, at the same call
        _wait_group = td.new_group(backend="gloo", timeout=WAIT_TIMEOUT)
    result = None
    if d.main and fn is not None:
        with parallel.alone():
            result = fn(*args)
    td.barrier(group=_wait_group)
    return result


def teardown(d: Dist) -> None:
    global _wait_group
    if _wait_group is not None and td.is_initialized():
        td.destroy_process_group(_wait_group)
    _wait_group = None
    if d.owns_group and td.is_initialized():
        td.destroy_process_group()


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """A well-mixed seed for rank > 0 (and for a rank that a resumed checkpoint has no RNG state of)."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)


def wrap(nets: Nets, d: Dist) -> Nets:
    """G and D in DistributedDataParallel in a process group (optimisers keep the same params)."""
    if not d.ddp:
        return nets
    ids = [d.device.index] if d.device.type == "cuda" else None
    # No buffer broadcast before each forward. Newer torch names the option forward_sync_buffers (and still
    # syncs at init, which is harmless: every rank starts from the same seed).
    new_name = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync = {"forward_sync_buffers" if new_name else "broadcast_buffers": False}

    def ddp(m: nn.Module) -> nn.Module:
        return DistributedDataParallel(m, device_ids=ids, **no_sync)

    return replace(nets, G=ddp(nets.G), D=ddp(nets.D))  # the rest (optimisers, EMA, scalers) as it is


def bare(module: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (what state_dict and sampling use; its forward has no collectives)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def broadcast(d: Dist, obj: Any) -> Any:
    """Rank 0's `obj` on every rank."""
    if not d.ddp:
        return obj
    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]


def gather(d: Dist, obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...] on every rank."""
    if not d.ddp:
        return [obj]
    out: list[Any] = [None] * d.world
    td.all_gather_object(out, obj)
    return out


def mean(d: Dist, values: dict[str, float]) -> dict[str, float]:
    """The average of each value over the ranks (every rank logs the same keys in the same order)."""
    if not d.ddp or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=d.device)
    td.all_reduce(t)
    return dict(zip(values, (t / d.world).tolist(), strict=True))
