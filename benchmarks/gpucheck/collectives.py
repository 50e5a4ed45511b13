"""Stage 2's second half, run under `torchrun --nproc_per_node=1`: ganbench.parallel's collectives over NCCL
(gloo on a CPU) on every dtype the scoring path sends, empty shards included, and a generator scored inside
the process group, as a plain module and DDP-wrapped, against the same score outside the group."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gpucheck.jobs import Record
from gpucheck.plan import Ctx


def _attempt(rec: Record, name: str, fn: Callable[[], tuple[bool, str | None]]) -> None:
    try:
        ok, detail = fn()
    except Exception as e:  # a collective that raises is what this stage looks for: record it, go on
        ok, detail = False, f"{type(e).__name__}: {e}".splitlines()[0][:400]
        traceback.print_exc()
    rec.check(name, ok, detail)


def part_collectives(ctx: Ctx, result: Path) -> None:
    import torch
    import torch.distributed as td

    from ganbench import parallel

    rec = Record(result)
    cuda = ctx.device == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    td.init_process_group("nccl" if cuda else "gloo")  # torchrun's env:// rendezvous
    rec.set("backend", td.get_backend())
    rec.set("world_size", td.get_world_size())
    rng = np.random.default_rng(0)
    cases: dict[str, np.ndarray] = {
        "uint8 images": rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8),
        "float32 features": rng.standard_normal((7, 2048)).astype(np.float32),
        "float64 rows": rng.standard_normal((3, 10)),
        "empty float32": np.zeros((0, 2048), np.float32),
        "empty images of unknown size": np.zeros((0, 3, 0, 0), np.uint8),  # an empty generator shard
    }
    for name, arr in cases.items():
        _attempt(rec, f"gather_rows {name}", lambda arr=arr: _same(parallel.gather_rows(arr), arr))

    def broadcast() -> tuple[bool, str | None]:
        sent = {"mu": cases["float64 rows"], "images": cases["uint8 images"]}
        got = parallel.broadcast_arrays(sent)
        flag = parallel.broadcast_flag(True)
        parallel.agree(None)
        return all(_same(got[k], v)[0] for k, v in sent.items()) and flag, None

    _attempt(rec, "broadcast_arrays, broadcast_flag, agree", broadcast)
    _attempt(rec, "score a generator in the group", lambda: _score_generators(ctx, rec, cuda))
    if td.is_initialized():
        td.destroy_process_group()


def _same(got: np.ndarray, want: np.ndarray) -> tuple[bool, str | None]:
    ok = got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    return ok, None if ok else f"got {got.dtype} {got.shape}, sent {want.dtype} {want.shape}"


def _tiny_generator(device: str) -> Any:
    """G(z, y) -> [-1, 1] images, the labels ignored: the smallest generator the API takes."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(16, 3 * 32 * 32)

        def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            return torch.tanh(self.fc(z)).view(-1, 3, 32, 32)

    torch.manual_seed(0)
    return Tiny().to(device)


def _score_generators(ctx: Ctx, rec: Record, cuda: bool) -> tuple[bool, str | None]:
    """FID of one small generator: in the group, in the group DDP-wrapped, and alone (the same numbers)."""
    import torch
    import torch.distributed as td
    from torch.nn.parallel import DistributedDataParallel

    import ganbench
    from ganbench import parallel

    p = ctx.plan
    device = "cuda" if cuda else "cpu"
    G = _tiny_generator(device)
    ev = ganbench.Evaluator("cifar10-test", ref_n=p.collectives_ref_n, data_dir=ctx.data, classifier="none",
                            calibration_n=0, device=device)  # fmt: skip
    call = {"z_dim": 16, "n": p.collectives_gen_n, "num_classes": 10, "value_range": (-1, 1), "batch_size": 8}
    fids: dict[str, Any] = {}

    def fid(name: str, model: Any) -> None:
        try:
            fids[name] = ev.score(model, **call).metrics["fid"]
        except Exception as e:  # recorded; the other ways still run
            fids[name] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            traceback.print_exc()
        rec.set("generator_fid", fids)

    fid("in the group", G)
    ids = [torch.cuda.current_device()] if cuda else None
    fid("in the group, DDP-wrapped", DistributedDataParallel(G, device_ids=ids))
    alone = getattr(parallel, "alone", None)
    if alone is not None:
        with alone():
            fid("alone()", G)
    td.destroy_process_group()
    fid("no group", G)
    values = [v for v in fids.values() if isinstance(v, float)]
    ok = len(values) == len(fids) and max(values) - min(values) <= 1e-6 * max(abs(v) for v in values)
    return ok, None if ok else f"FIDs differ or failed: {fids}"
