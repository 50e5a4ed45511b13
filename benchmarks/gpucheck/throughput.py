"""Stage 4: training img/s per arch at batch 64 (bench_train.py's worker, one process per arch), Inception
img/s at each batch size on the device, and ganbench against torch-fidelity from the same image folder when
torch-fidelity is installed. One job at a time: these are timings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from gpucheck.jobs import Job, Record, run_jobs, write_json
from gpucheck.plan import TRAIN_ARCHS, Ctx, bench_train_cmd, part_cmd


def stage_throughput(ctx: Ctx, rec: Record, until: float) -> None:
    archs = list(dict.fromkeys(TRAIN_ARCHS[n][0] for n in ctx.archs))  # the trainer archs bench_train knows
    jobs = [Job(f"bench_train {a}", bench_train_cmd(ctx, a), until - time.time()) for a in archs]
    inception, fidelity = ctx.work_dir / "inception.json", ctx.work_dir / "fidelity.json"
    jobs += [Job("inception", part_cmd(ctx, "inception", str(inception)), until - time.time()),
             Job("torch-fidelity", part_cmd(ctx, "fidelity", str(fidelity)), until - time.time())]  # fmt: skip
    for path in (inception, fidelity):
        path.unlink(missing_ok=True)
    train: dict[str, Any] = {}
    for job in jobs:  # one at a time, each recorded as soon as it ends
        d = run_jobs([job], 1, until - 3)[job.key]
        if job.key.startswith("bench_train"):
            arch = job.key.split()[1]
            row = _last_json_line(d.output) if d.ok else None
            train[arch] = row or {"error": d.error() or "no result line"}
            rec.set("train_batch64", train)
            detail = f"{row['real_img_per_s']:.0f} real img/s" if row else d.error() or "no result line"
            rec.check(job.key, row is not None, detail)
        else:
            got = (
                json.loads(Path(inception if job.key == "inception" else fidelity).read_text())
                if d.ok
                else {}
            )
            rec.set(job.key.replace("-", "_"), got or {"error": d.error()})
            skipped = got.get("installed") is False
            rec.check(job.key, None if skipped else bool(got) and d.ok, got.get("reason") or d.error())


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def _images(ctx: Ctx, n: int):
    """n CIFAR-10 test images (repeated when the folder has fewer), uint8 [n,3,32,32]."""
    import numpy as np

    from ganbench.inputs.sources import load_source

    images = load_source("cifar10-test", data_dir=ctx.data).images
    return np.ascontiguousarray(np.resize(images, (n, *images.shape[1:])))


def _sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def part_inception(ctx: Ctx, result: Path) -> None:
    """img/s of the Inception pass (resize + network + copy back) at each batch size, torch on the device."""
    from ganbench import weights as W
    from ganbench.extractors.inception import InceptionExtractor

    cuda = ctx.device == "cuda"
    images = _images(ctx, ctx.plan.inception_n)
    ext = InceptionExtractor(W.resolve(), backend="torch", device=ctx.device)
    out: dict[str, Any] = {"backend": "torch", "device": ctx.device, "n": len(images), "img_per_s": {}}
    for batch in ctx.plan.inception_batches:
        ext.batch_size = batch
        ext(images[:batch])  # warm-up: cuDNN's algorithm choice, allocations
        _sync(cuda)
        t = time.perf_counter()
        ext(images)
        _sync(cuda)
        out["img_per_s"][str(batch)] = round(len(images) / (time.perf_counter() - t), 1)
        write_json(result, out)
    if cuda:
        import torch

        out["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    write_json(result, out)


FIDELITY_NOTE = ("folder in, features out, each timed from its network's construction: ganbench's decoder "
                 "and torch pass; torch-fidelity's calculate_metrics(isc=True) with the same weights")  # fmt: skip


def part_fidelity(ctx: Ctx, result: Path) -> None:
    """The same image folder through ganbench and torch-fidelity (when installed), both on the device."""
    try:
        import torch_fidelity
    except ImportError:
        write_json(result, {"installed": False, "reason": "torch-fidelity is not installed"})
        return
    import torch
    from PIL import Image

    from ganbench import weights as W
    from ganbench.extractors.inception import InceptionExtractor
    from ganbench.inputs.sources import load_source

    cuda, n = ctx.device == "cuda", ctx.plan.fidelity_n
    folder = ctx.work_dir / "fidelity-images"
    folder.mkdir(exist_ok=True)
    for i, img in enumerate(_images(ctx, n)):
        Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{i:05d}.png")
    sd = W.load_state_dict(W.resolve())
    # its layout wants the IS head; zeros will do, IS is not what is timed
    sd.setdefault("fc.weight", torch.zeros(1008, 2048))
    sd.setdefault("fc.bias", torch.zeros(1008))
    weights = ctx.work_dir / "inception-fidelity-layout.pth"
    torch.save(sd, weights)
    if cuda:
        torch.zeros(1, device="cuda")  # the CUDA context is neither tool's cost
    t = time.perf_counter()
    ext = InceptionExtractor(W.resolve(), backend="torch", device=ctx.device)
    ext(load_source(str(folder)).images)
    _sync(cuda)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    torch_fidelity.calculate_metrics(input1=str(folder), isc=True, cuda=cuda, batch_size=64, verbose=False,
                                     feature_extractor="inception-v3-compat", cache=False,
                                     feature_extractor_weights_path=str(weights))  # fmt: skip
    _sync(cuda)
    theirs = time.perf_counter() - t
    write_json(result, {"installed": True, "version": torch_fidelity.__version__, "n": n, "batch_size": 64,
                        "ganbench_img_per_s": round(n / ours, 1), "torch_fidelity_img_per_s": round(n / theirs, 1),
                        "ratio": round(theirs / ours, 2), "note": FIDELITY_NOTE})  # fmt: skip
