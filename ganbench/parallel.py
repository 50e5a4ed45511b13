"""Scoring across processes: torchrun (`torchrun --nproc_per_node=N -m ganbench score ...`) or a process group
the caller initialised (the API inside a DDP training script). With one process every function is a no-op.

Each rank runs the same code path. A network pass is split into disjoint shards of whole batches (rank r takes
batches r*B/N..(r+1)*B/N), so every batch is the one a single process would run and the features are the same
bits; the shards are gathered onto every rank in order. The metrics are then computed on every rank (the same
numbers) and rank 0 alone writes: the cache entries, the record, the statistics file, the printed table.
Rank 0's cache decides hit or miss for all (broadcast), so every rank takes the same collectives.
gloo on CPU, NCCL on CUDA (rank r on cuda:LOCAL_RANK, see cuda_device). A shard may be empty (fewer batches
than ranks): that rank still enters every collective, with no rows.

Code that scores on one rank only (the trainers' --score-every hook on rank 0) runs inside `alone()`: there
every function here behaves as in a single process, so no collective is entered that the others never join.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np

TIMEOUT = timedelta(hours=2)  # a long shard on a CPU must not trip the collective timeout
LEAVE_TIMEOUT = timedelta(minutes=10)  # how long an exiting rank waits for rank 0's last writes
_alone = 0  # > 0 inside alone(): the process group is ignored


@contextmanager
def alone() -> Iterator[None]:
    """Score as a single process although a process group is up: no collectives, this process reads and
    writes everything (cache entries, records). For work that one rank does while the others wait elsewhere,
    e.g. rank 0 scoring a sample folder while training; calling ganbench on one rank outside this hangs."""
    global _alone
    _alone += 1
    try:
        yield
    finally:
        _alone -= 1


def _dist():
    """torch.distributed when a process group is up (and not alone()), else None (never imports torch)."""
    if _alone:
        return None
    td = sys.modules.get("torch.distributed")
    if td is None or not td.is_available() or not td.is_initialized():
        return None
    return td


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) without a process group."""
    td = _dist()
    return (td.get_rank(), td.get_world_size()) if td is not None else (0, 1)


def is_main() -> bool:
    """The process that writes and prints: rank 0 (or the only one). Under torchrun before the group is up,
    the RANK variable says. Inside alone(): this process."""
    if _alone:
        return True
    td = _dist()
    return td.get_rank() == 0 if td is not None else os.environ.get("RANK", "0") == "0"


def init_from_env() -> None:
    """Join torchrun's process group when WORLD_SIZE > 1 (the CLI calls this; API callers bring their own)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or _dist() is not None:
        return
    import torch
    import torch.distributed as td

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        td.init_process_group("nccl", timeout=TIMEOUT)
    else:
        td.init_process_group("gloo", timeout=TIMEOUT)
    atexit.register(_leave)


def _leave() -> None:
    """Leave the group this process joined before the interpreter tears down: a gloo rank that exits still in
    it can abort ("terminate called without an active exception", exit -6) after its work is done, and
    torchrun then fails the whole command. The gloo ranks first wait for each other (a barrier, as the trainers
    do before their teardown): without it the two-rank scoring of a DDP-wrapped generator aborted in 4 of 30
    runs beside a busy scoring job, with it in none of 30. Not after an uncaught error: the other ranks may be
    inside a collective this one will never join, and leaving could then wait on them; a barrier that fails (a
    dead peer, or one still busy after LEAVE_TIMEOUT) leaves the group as it is, as before."""
    import torch.distributed as td

    if getattr(sys, "last_value", None) is not None or not (td.is_available() and td.is_initialized()):
        return
    if td.get_backend() == "gloo":
        try:
            td.monitored_barrier(timeout=LEAVE_TIMEOUT)
        except RuntimeError:
            return
    td.destroy_process_group()


def cuda_device() -> str:
    """This rank's CUDA device: "cuda" (the current device), or "cuda:LOCAL_RANK" in a process group whose
    caller never chose a device (current device still 0), so that the ranks do not all share cuda:0 (NCCL
    refuses two ranks on one device). A caller who did call torch.cuda.set_device keeps its choice."""
    import torch

    local = os.environ.get("LOCAL_RANK", "")
    if _dist() is None or not local.isdigit() or torch.cuda.current_device() != 0:
        return "cuda"
    return f"cuda:{local}" if 0 < int(local) < torch.cuda.device_count() else "cuda"


def _device():
    import torch

    td = _dist()
    return torch.device(cuda_device()) if td.get_backend() == "nccl" else torch.device("cpu")


def shard(n: int, batch: int) -> tuple[int, int]:
    """This rank's [start, stop) of n rows: a contiguous run of whole batches of `batch` rows."""
    rank, size = world()
    batches = -(-n // batch)
    lo, hi = (batches * rank) // size, (batches * (rank + 1)) // size
    return min(lo * batch, n), min(hi * batch, n)


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's flag on every rank."""
    td = _dist()
    if td is None:
        return flag
    box = [bool(flag)]
    td.broadcast_object_list(box, src=0)
    return bool(box[0])


def broadcast_arrays(arrays: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Rank 0's dict of arrays on every rank (others pass None)."""
    import torch

    td = _dist()
    if td is None:
        assert arrays is not None
        return arrays
    box = [None if arrays is None else {k: (v.shape, v.dtype.str) for k, v in arrays.items()}]
    td.broadcast_object_list(box, src=0)
    out = {}
    for name, (shape, dtype) in box[0].items():
        t = (torch.from_numpy(np.ascontiguousarray(arrays[name])) if arrays is not None
             else torch.empty(shape, dtype=_torch_dtype(dtype)))  # fmt: skip
        t = t.to(_device())
        td.broadcast(t, src=0)
        out[name] = t.cpu().numpy()
    return out


def agree(error: str | None) -> None:
    """Raise on every rank the first rank's error (a UserError message), so that no rank waits forever in a
    collective the failed one never reaches. Without a process group: nothing (the caller raised already)."""
    td = _dist()
    if td is None:
        return
    _, size = world()
    errors: list[str | None] = [None] * size
    td.all_gather_object(errors, error)
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        from ganbench.errors import UserError

        raise UserError(first)


def gather_rows(local: np.ndarray) -> np.ndarray:
    """Every rank's rows, concatenated in rank order, on every rank (the shards may differ in length)."""
    import torch

    td = _dist()
    if td is None:
        return local
    _, size = world()
    shapes: list[tuple[int, ...]] = [()] * size
    td.all_gather_object(shapes, tuple(local.shape))
    counts = [s[0] for s in shapes]
    row = next((s[1:] for s in shapes if s[0] > 0), local.shape[1:])  # an empty shard has no row shape
    longest = max(counts)
    padded = np.zeros((longest, *row), local.dtype)
    if len(local):  # an empty shard may not know the row shape, e.g. (0, 3, 0, 0) from a generator
        padded[: len(local)] = local
    t = torch.from_numpy(padded).to(_device())
    parts = [torch.empty_like(t) for _ in range(size)]
    td.all_gather(parts, t)
    return np.concatenate([p.cpu().numpy()[:c] for p, c in zip(parts, counts, strict=True)])


def _torch_dtype(dtype: str):
    import torch

    return torch.from_numpy(np.empty(0, np.dtype(dtype))).dtype
