"""Stages that drive the trainers' command line as a user does: 1 train (every arch, resume, sample on the CPU,
--compile), 2 ddp (the wrapped DDP path with one process, and the scoring collectives), 5 benchmark."""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from gpucheck.jobs import Done, Job, Record, guarded, run_jobs
from gpucheck.plan import (
    Ctx,
    benchmark_args,
    ganbench_cmd,
    pick,
    resume_args,
    sample_args,
    torchrun_cmd,
    train_args,
)

NOT_LOSSES = {"step", "epoch", "lr_G", "lr_D", "img_per_s", "fid"}
PART_MAX = 15 * 2**20  # files come back from the device at most 16 MiB each: a larger one goes in parts
MARGIN_S = 5.0
PRECISION_KEY = re.compile(
    r"precision|autocast|bf16|fp16|dtype|(^|[._])amp($|[._])"
)  # config.json keys  # a stage keeps this long after its last job to write its record


def run_folder(out: Path) -> Path | None:
    runs = sorted(p for p in out.glob("[0-9][0-9][0-9][0-9][0-9]-*") if p.is_dir())
    return runs[-1] if runs else None


def read_log(run: Path) -> list[dict[str, float]]:
    with open(run / "log.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def banner(output: str) -> str | None:
    """The trainer's first line: '<arch> (<preset> preset) on <device ...>: steps a -> b, run folder ...'."""
    return next((ln.strip() for ln in output.splitlines() if " preset) on " in ln), None)


def examine_run(done: Done, out: Path) -> dict[str, Any]:
    """A finished `ganbench train`: its log's losses finite, its samples and checkpoints there."""
    info: dict[str, Any] = {"ok": False, "seconds": round(done.seconds, 1), "error": done.error()}
    info["banner"] = banner(done.output)
    run = run_folder(out)
    if run is None:
        info["error"] = info["error"] or "no run folder"
        return info
    info["run"] = str(run)
    try:
        rows = read_log(run)
    except OSError as e:
        info["error"] = info["error"] or f"no log.csv ({e})"
        return info
    losses = {k: v for row in rows for k, v in row.items() if k not in NOT_LOSSES}
    finite = bool(rows) and all(
        math.isfinite(v) for row in rows for k, v in row.items() if k not in NOT_LOSSES
    )
    info.update(steps=int(rows[-1]["step"]) if rows else 0, rows=len(rows), losses_finite=finite,
                last_losses={k: round(v, 5) for k, v in losses.items()},
                img_per_s=rows[-1].get("img_per_s") if rows else None)  # fmt: skip
    info["samples"] = {p.name: sum(1 for _ in p.rglob("*.png")) for p in sorted((run / "samples").glob("*"))}
    info["checkpoints"] = sorted(p.name for p in run.glob("ckpt-*.pt"))
    config = _json(run / "config.json")
    info["precision"] = {k: v for k, v in _flat(config).items() if PRECISION_KEY.search(k)}
    if info["error"] is None and not finite:
        info["error"] = "a loss in log.csv is not finite"
    if info["error"] is None and not any(info["samples"].values()):
        info["error"] = "no sample images"
    info["ok"] = info["error"] is None
    return info


def _json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def compare_checkpoints(a: Path, b: Path) -> dict[str, Any]:
    """Largest absolute difference of G, G_ema and D between two checkpoints (0 everywhere: bit for bit)."""
    import torch

    x, y = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    diffs: dict[str, float] = {}
    for part in ("G", "G_ema", "D"):
        if isinstance(x.get(part), dict) and isinstance(y.get(part), dict):
            worst = 0.0
            for k, t in x[part].items():
                u = y[part][k]
                same = t.shape == u.shape and (torch.equal(t, u) or not t.is_floating_point())
                worst = max(worst, 0.0 if same else float((t.float() - u.float()).abs().max()))
            diffs[part] = worst
    return {"max_abs_diff": diffs, "bitwise": all(v == 0.0 for v in diffs.values()) and bool(diffs)}


def stage_train(ctx: Ctx, rec: Record, until: float) -> None:
    p, root = ctx.plan, ctx.work_dir / "train"
    shutil.rmtree(root, ignore_errors=True)
    cap = until - time.time() - MARGIN_S
    jobs = []
    compile_archs = pick(p.compile_archs, ctx.archs)
    if ctx.device == "cpu" and ctx.quick:
        for a in compile_archs:
            rec.check(f"compile {a}", None, "skipped with --quick on a CPU (inductor takes minutes there)")
    else:  # first, so that the slowest jobs start first
        jobs += [Job(f"compile {a}", ganbench_cmd(ctx, *train_args(ctx, a, root / f"compile-{a}",
                 steps=p.compile_steps, compile_=True)), cap) for a in compile_archs]  # fmt: skip
    jobs += [Job(f"train {n}", ganbench_cmd(ctx, *train_args(ctx, n, root / n)), cap) for n in ctx.archs]
    done = run_jobs(jobs, ctx.jobs, until - MARGIN_S)
    archs: dict[str, dict[str, Any]] = {}
    second: list[Job] = []
    for n in ctx.archs:
        info = archs[n] = guarded(
            rec, f"train {n}", lambda n=n: examine_run(done[f"train {n}"], root / n), {}
        )
        if info:
            rec.check(f"train {n}", info["ok"], info["error"])
        if info.get("ok"):
            run = Path(info["run"])
            second += guarded(rec, f"resume {n}", lambda n=n, run=run: _second_jobs(ctx, n, run, cap), [])
    rec.set("archs", archs)
    rec.set("concurrent_jobs", ctx.jobs)  # the trainings shared the device: their img/s are not timings
    done |= run_jobs(second, ctx.jobs, until - MARGIN_S)
    for n in ctx.archs:
        if f"resume {n}" in done:
            res = guarded(
                rec, f"resume {n}", lambda n=n: _resume_result(ctx, done[f"resume {n}"], archs[n], rec, n)
            )
            archs[n]["resume"] = res
            archs[n]["sample_cpu"] = _sample_result(
                done[f"sample {n}"], root / f"sample-{n}", p.sample_n, rec, n
            )
        rec.set("archs", archs)
    compiled = {}
    for a in compile_archs:
        if f"compile {a}" in done:
            d = done[f"compile {a}"]
            compiled[a] = guarded(
                rec, d.key, lambda d=d, a=a: _compile_result(d, root / f"compile-{a}", archs.get(a), rec)
            )
            rec.set("compile", compiled)


def _second_jobs(ctx: Ctx, name: str, run: Path, cap: float) -> list[Job]:
    """A resume from the middle checkpoint, and `ganbench sample --device cpu` of the final one (kept aside
    under a name that is no ckpt-<step>.pt, since the resumed run writes the final checkpoint anew)."""
    p = ctx.plan
    final, mid = run / f"ckpt-{p.steps}.pt", run / f"ckpt-{max(1, p.steps // 2)}.pt"
    kept = run / "before-resume.pt"
    os.replace(final, kept)
    out = ctx.work_dir / "train" / f"sample-{name}"
    return [Job(f"resume {name}", ganbench_cmd(ctx, *resume_args(ctx, name, mid)), cap),
            Job(f"sample {name}", ganbench_cmd(ctx, *sample_args(kept, out, p.sample_n)), cap)]  # fmt: skip


def _sample_result(d: Done, out: Path, n: int, rec: Record, name: str) -> dict[str, Any]:
    count = sum(1 for _ in out.rglob("*.png"))
    res = {"ok": d.ok and count == n, "images": count, "seconds": round(d.seconds, 1), "error": d.error()}
    rec.check(f"sample --device cpu {name}", res["ok"], d.error() or f"{count} images of {n}")
    return res


def _resume_result(ctx: Ctx, d: Done, info: dict[str, Any], rec: Record, name: str) -> dict[str, Any]:
    run = Path(info["run"])
    res: dict[str, Any] = {"ok": d.ok, "seconds": round(d.seconds, 1), "error": d.error(),
                           "from_step": max(1, ctx.plan.steps // 2), "to_step": ctx.plan.steps}  # fmt: skip
    final = run / f"ckpt-{ctx.plan.steps}.pt"
    if d.ok and final.is_file():
        res |= compare_checkpoints(run / "before-resume.pt", final)
        rows = read_log(run)
        res["losses_finite"] = all(
            math.isfinite(v) for r in rows for k, v in r.items() if k not in NOT_LOSSES
        )
        # the README promises bit-for-bit resumes on the CPU only (cuDNN, TF32, atomics on CUDA)
        if ctx.device == "cpu" and not res["bitwise"]:
            res["error"] = f"not bit for bit on the CPU: {res['max_abs_diff']}"
        elif not res["losses_finite"]:
            res["error"] = "a loss after the resume is not finite"
    elif d.ok:
        res["error"] = f"no {final.name} after the resume"
    res["ok"] = res["error"] is None
    detail = res["error"] or (
        "bit for bit" if res.get("bitwise") else f"max |diff| {res.get('max_abs_diff')}"
    )
    rec.check(f"resume {name}", res["ok"], detail)
    return res


def _compile_result(d: Done, out: Path, plain: dict | None, rec: Record) -> dict[str, Any]:
    """--compile: runs, or is refused in one line (exit 2); a traceback or a hang is a failure."""
    name = d.key.split(" ", 1)[1]
    if d.rc == 2:
        res = {"ok": True, "refused": d.error(), "seconds": round(d.seconds, 1)}
        rec.check(d.key, True, f"refused: {d.error()}")
        return res
    info = examine_run(d, out)
    if info["ok"] and plain and plain.get("img_per_s") and info.get("img_per_s"):
        info["speedup_vs_eager"] = round(info["img_per_s"] / plain["img_per_s"], 2)
    rec.check(d.key, info["ok"], info["error"] or f"{info.get('img_per_s')} img/s (eager: "
              f"{(plain or {}).get('img_per_s')})")  # fmt: skip
    return info | {"arch": name}


def stage_ddp(ctx: Ctx, rec: Record, until: float) -> None:
    """DDP with one process (GANBENCH_FORCE_DDP=1 under torchrun), and ganbench.parallel's collectives."""
    from trainers import distributed

    p, root = ctx.plan, ctx.work_dir / "ddp"
    shutil.rmtree(root, ignore_errors=True)
    cap = until - time.time() - MARGIN_S
    force = getattr(distributed, "FORCE_ENV", None)
    jobs = []
    for a in pick(p.ddp_archs, ctx.archs):
        if force is None:
            rec.check(f"ddp {a}", None, "this tree cannot force the DDP path with one process "
                      "(no GANBENCH_FORCE_DDP in trainers/distributed.py)")  # fmt: skip
        else:
            jobs.append(Job(f"ddp {a}", torchrun_cmd(ctx, "--ganbench", *train_args(ctx, a, root / a, steps=p.ddp_steps)),
                            cap, env=ctx.child_env(**{force: "1"})))  # fmt: skip
    result = ctx.work_dir / "collectives.json"
    result.unlink(missing_ok=True)
    part = ["--part", "collectives", str(ctx.work_dir / "ctx.json"), str(result)]
    jobs.append(Job("collectives", torchrun_cmd(ctx, *part), cap))
    done = run_jobs(jobs, ctx.jobs, until - MARGIN_S)
    archs = {}
    for a in pick(p.ddp_archs, ctx.archs):
        if f"ddp {a}" in done:
            info = examine_run(done[f"ddp {a}"], root / a)
            info["ddp_wrapped"] = bool(info.get("banner") and re.search(r"\bDDP\b", info["banner"]))
            if info["ok"] and not info["ddp_wrapped"]:
                info["ok"], info["error"] = False, f"the DDP path was not taken: {info.get('banner')!r}"
            archs[a] = info
            rec.check(f"ddp {a}", info["ok"], info["error"] or info.get("banner"))
    rec.set("archs", archs)
    got = _json(result)
    rec.set("collectives", got)
    d = done["collectives"]
    if not got:
        rec.check("collectives", False, d.error() or "no result written")
    for name, res in got.get("checks", {}).items():
        rec.check(f"collectives: {name}", res["ok"], res.get("detail"))
    if got and not d.ok:
        rec.check("collectives", False, d.error())


def stage_benchmark(ctx: Ctx, rec: Record, until: float) -> None:
    """`ganbench benchmark --archs biggan` in the time left; its generator comes back in OUT."""
    p, out = ctx.plan, ctx.work_dir / "benchmark"
    shutil.rmtree(out, ignore_errors=True)
    left = until - time.time() - MARGIN_S
    train_s = left - p.benchmark_overhead_s
    if train_s < (5 if ctx.quick else 30):
        rec.check("benchmark", None, f"only {left:.0f} s left: not enough to train and score")
        return
    minutes = round(min(train_s / 60, 0.5) if ctx.quick else train_s / 60, 2)  # smoke: 2 steps, seconds
    args = benchmark_args(ctx, out, minutes)
    rec.set("command", "ganbench " + " ".join(args))
    rec.set("minutes", minutes)
    d = run_jobs([Job("benchmark biggan", ganbench_cmd(ctx, *args), left)], 1, until - MARGIN_S)[
        "benchmark biggan"
    ]
    rec.set("command_seconds", round(d.seconds, 1))
    records = sorted((out / "results").glob("*.json")) if (out / "results").is_dir() else []
    record = _json(records[-1]) if records else {}
    if record:
        m, b = record.get("metrics", {}), record.get("benchmark", {})
        rec.set("result", {k: m.get(k) for k in ("fid", "fid_inf", "kid_mean", "precision", "recall",
                                                  "density", "coverage", "classifier_accuracy")}
                | {k: b.get(k) for k in ("steps", "steps_budget", "train_seconds", "img_per_s", "generator")}
                | {"n": record.get("samples", {}).get("n"), "ref_n": record.get("reference", {}).get("n"),
                   "weights": record.get("extractor", {}).get("weights")})  # fmt: skip
    state = _json(out / "biggan" / "seed0" / "state.json")
    ckpt = Path(state["checkpoint"]) if state.get("checkpoint") else None
    if ckpt is not None and ckpt.is_file():
        rec.set("generator", export_generator(ckpt, Path(ctx.out), "benchmark-biggan-G.pt"))
    ok = d.ok and bool(record) and ckpt is not None
    rec.check("benchmark", ok, d.error() or (None if ok else "no record or checkpoint written"))


def export_generator(ckpt: Path, out: Path, name: str) -> dict[str, Any]:
    """The checkpoint's generator alone (EMA weights when present) with what rebuilds it, a file `ganbench
    score`/`sample` read; in parts of at most PART_MAX bytes when larger (join them with cat)."""
    import torch

    from gpucheck.weights import sha256_file

    full = torch.load(ckpt, map_location="cpu", weights_only=True)
    keep = (
        "format",
        "arch",
        "model_args",
        "train_args",
        "class_names",
        "step",
        "torch_version",
        "train_seconds",
    )
    small = {k: full.get(k) for k in keep} | {"G": None, "G_ema": None}
    ema = full.get("G_ema") is not None
    small["G_ema" if ema else "G"] = full["G_ema"] if ema else full["G"]
    whole = ckpt.parent / name
    torch.save(small, whole)
    info = {"file": name, "bytes": whole.stat().st_size, "sha256": sha256_file(whole), "step": full.get("step"),
            "from": str(ckpt)}  # fmt: skip
    data = whole.read_bytes()
    if len(data) <= PART_MAX:
        shutil.copyfile(whole, out / name)
        return info
    parts = [f"{name}.part{i}" for i in range(math.ceil(len(data) / PART_MAX))]
    for i, part in enumerate(parts):
        (out / part).write_bytes(data[i * PART_MAX : (i + 1) * PART_MAX])
    return info | {"parts": parts, "join": f"cat {' '.join(parts)} > {name}"}
