"""One benchmark unit, (arch, training seed): train to the budget -> generate -> score -> one tagged record.

A unit lives in OUT/<arch>/seed<k>/: state.json (how far it got), train/<run>/ (checkpoints carry the training
seconds spent, so a time budget survives a restart). Units are independent: another seed can be added later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganbench.atomic import atomic_write, atomic_write_text
from ganbench.errors import UserError
from ganbench.report.compute import CURVES, KIND
from trainers import checkpoint, settings
from trainers.benchmark.protocol import ARCHS, Protocol, Request, calibration
from trainers.registry import arch_module

RECIPE_TRAIN_KEYS = ("steps", "batch_size", "lr", "lr_decay_from", "flip", "concat_test")
GRID_MAX_BYTES = 150_000  # a committed row's grid PNG
SIMD = (
    ("AMX", "amx_tile"),
    ("AVX-512", "avx512f"),
    ("AVX2", "avx2"),
)  # (name, /proc/cpuinfo flag), widest first


def unit_dir(out: Path, name: str, seed: int) -> Path:
    return out / name / f"seed{seed}"


def read_state(out: Path, name: str, seed: int = 0) -> dict[str, Any]:
    path = unit_dir(out, name, seed) / "state.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(out: Path, name: str, seed: int, state: dict[str, Any]) -> None:
    path = unit_dir(out, name, seed) / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def _run_dir(train_out: Path, arch: str) -> Path | None:
    """The unit's one run folder under train_out (each unit trains once)."""
    runs = sorted(p for p in train_out.glob(f"[0-9][0-9][0-9][0-9][0-9]-{arch}") if p.is_dir())
    return runs[-1] if runs else None


def recipe(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The model settings and the training keys that change the result: seeds of one row must share them."""
    train = {k: ckpt["train_args"].get(k) for k in RECIPE_TRAIN_KEYS}
    body = {"model": ckpt["model_args"], "train": train}
    sha = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return {"sha256_12": sha, **body}


def train_unit(req: Request, name: str, seed: int, echo: Callable[[str], None]) -> dict[str, Any]:
    """Train (or continue) one unit to its budget. -> the trained state (checkpoint, steps, seconds)."""
    from trainers import loop

    arch, model = ARCHS[name]
    module = arch_module(arch)
    p = req.protocol
    label = f"{name} seed {seed}"
    train_out = unit_dir(req.out, name, seed) / "train"
    run_dir = _run_dir(train_out, arch)
    last = checkpoint.latest(run_dir) if run_dir is not None else None
    loop_overrides: dict[str, Any] = {"device": req.device, "data": req.data, "minutes": None}
    if last is None:
        loop_overrides |= {"out": str(train_out), "seed": seed}
        if p.minutes is not None:
            loop_overrides["minutes"] = p.minutes
        cfg, s = settings.fresh(module, p.preset, model, loop_overrides)
        echo(f"{label}: training from step 0 to {s.steps}" + _budget_text(p))
        run_dir = loop.train(arch, cfg, s, echo=echo)
    else:
        ckpt = checkpoint.load(last)
        _same_recipe(name, module, p.preset, model, ckpt, unit_dir(req.out, name, seed))
        spent = float(ckpt.get("train_seconds", 0.0))
        left = None if p.minutes is None else p.minutes - spent / 60
        if ckpt["step"] < int(ckpt["train_args"]["steps"]) and (left is None or left > 0):
            cfg, s = settings.resumed(module, ckpt, model, loop_overrides | {"minutes": left})
            echo(f"{label}: resuming {last} at step {ckpt['step']} of {s.steps}" + _budget_text(p, spent))
            loop.train(arch, cfg, s, resume=ckpt, run_dir=last.parent, echo=echo)
    final = checkpoint.latest(run_dir)
    assert final is not None
    ckpt = checkpoint.load(final)
    seconds = float(ckpt.get("train_seconds", 0.0))
    batch = int(ckpt["train_args"]["batch_size"]) * int(ckpt.get("world_size", 1))
    return {
        "status": "trained",
        "arch": arch,
        "seed": int(ckpt["train_args"].get("seed", seed)),
        "model_settings": model,
        "recipe": recipe(ckpt),
        "checkpoint": str(final),
        "steps": int(ckpt["step"]),
        "steps_budget": int(ckpt["train_args"]["steps"]),
        "train_seconds": round(seconds, 1),
        "img_per_s": round(int(ckpt["batches_drawn"]) * batch / seconds, 1) if seconds > 0 else None,
        "generator": "G_ema" if ckpt.get("G_ema") is not None else "G",
        "precision": ckpt.get("precision", "fp32"),  # of training (bf16/fp16 autocast on GPUs)
    }


def _same_recipe(name: str, module: Any, preset: str, model: dict[str, Any], ckpt: dict, where: Path) -> None:
    """A run continues only under the recipe it started with: a preset edited since (a new recipe) would
    otherwise be resumed on the old one and reported under the new one's name."""
    cfg, s = settings.fresh(module, preset, model, {})
    now = dataclasses.asdict(cfg) | {k: getattr(s, k) for k in RECIPE_TRAIN_KEYS if hasattr(s, k)}
    then = ckpt["model_args"] | {k: ckpt["train_args"].get(k) for k in RECIPE_TRAIN_KEYS if hasattr(s, k)}
    diff = [f"{k} {then.get(k)!r} -> {v!r}" for k, v in now.items() if then.get(k) != v]
    if diff:
        raise UserError(
            f"{name}: its {preset} preset changed since its run started ({', '.join(diff)}); "
            f"delete {where} to train it afresh, or check out the version it started with"
        )


def _budget_text(p: Protocol, spent: float = 0.0) -> str:
    if p.minutes is None:
        return " (budget: the preset's steps)"
    return f" (budget {p.minutes:g} min, {spent / 60:.1f} spent)"


BENCH_KEYS = ("arch", "seed", "model_settings", "recipe", "steps", "steps_budget", "train_seconds", "img_per_s",
              "precision", "generator")  # fmt: skip


def score_unit(req: Request, name: str, trained: dict[str, Any], echo: Callable[[str], None]) -> Path:
    """Generate and score one unit's final checkpoint; store the tagged record and the final sample grid
    beside it. -> the record's path."""
    import time

    from ganbench.results import write_record
    from ganbench.scoring import ScoreConfig, Stages, score_images, setup
    from trainers.sample import checkpoint_source

    p = req.protocol
    cfg = ScoreConfig(samples=trained["checkpoint"], ref=p.ref, n=p.n, ref_n=p.ref_n, seed=p.ref_seed,
                      fid_ci=p.fid_ci, fid_inf=p.fid_inf, data_dir=req.data, classifier=p.classifier)  # fmt: skip
    echo(f"{name} seed {trained['seed']}: scoring {p.n} samples of {Path(trained['checkpoint']).name} "
         f"against {p.ref_n} {p.ref} (subset seed {p.ref_seed})")  # fmt: skip
    # --device reaches the sampling and the networks (the .pt path loader alone takes CUDA when present)
    t0, stages = time.time(), Stages()
    run = setup(cfg, device=_scoring_device(req))
    with stages("load_samples"):
        samples = checkpoint_source(cfg.samples, cfg.samples, p.n, p.ref_seed, device=req.device)
    record = score_images(run, samples, stages=stages, t0=t0)
    run_dir = Path(trained["checkpoint"]).parent
    record["run"] = {"name": name, "arch": trained["arch"], "step": trained["steps"], "run_dir": str(run_dir),
                     "training_seed": trained["seed"]}  # fmt: skip
    record["benchmark"] = {
        "name": name,
        "protocol": dataclasses.asdict(p),
        "ref_seed": p.ref_seed,
        **{k: trained.get(k) for k in BENCH_KEYS},
        "machine": machine(),
        "code": code_version(),
    }
    grid = run_dir / f"grid-{trained['steps']}.png"

    # the picture beside the numbers, in the store that gets committed
    def place_grid(path: Path) -> list[Path]:
        if not grid.is_file():
            return []
        dest = path.with_name(f"{path.stem}-grid.png")
        atomic_write(dest, lambda f: store_grid(grid, f))
        if dest.stat().st_size > GRID_MAX_BYTES:
            echo(f"warning: {dest.name} is {dest.stat().st_size:,} bytes (over {GRID_MAX_BYTES:,} to commit)")
        record["benchmark"]["grid"] = dest.name
        return [dest]

    return write_record(record, req.out / "results", beside=place_grid)


def _scoring_device(req: Request) -> str | None:
    """The networks' device for scoring: None lets the scorer pick (CUDA when present) for --device auto."""
    return None if req.device == "auto" else req.device


def store_grid(src: Path, out: Any) -> None:
    """The store's copy of a run's sample grid: a 256-colour palette PNG (a 10x10 grid: ~90 KB instead of
    ~240 KB in full colour, under GRID_MAX_BYTES to commit); the run folder keeps the full-colour one."""
    from PIL import Image

    with Image.open(src) as im:
        im.convert("RGB").quantize(colors=256).save(out, format="PNG", optimize=True)


def machine() -> dict[str, Any]:
    """Where the numbers were measured: CPU model and its widest vector unit (the same model name covers
    AVX2-only and AVX-512 VMs, 2.5x apart in speed), cores, GPU."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
        flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    except OSError:
        pass
    simd = next((name for name, flag in SIMD if flag in flags), None)
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "simd": simd, "cores": os.cpu_count(), "gpu": gpu, "torch": str(torch.__version__)}


def code_version() -> str | None:
    """`git describe --always --dirty` of the checkout that ran (None outside one): the version string alone
    does not tell two development trees apart, and the recipes change between commits."""
    import subprocess

    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


CURVE_N, CURVE_POINTS = (
    2_000,
    5,
)  # quality against compute: FID of 2,000 samples at five checkpoints of seed 0


def curve_checkpoints(run_dir: Path, steps: int, points: int = CURVE_POINTS) -> list[Path]:
    """The checkpoint nearest each of `points` evenly spaced steps up to `steps` (the last one is the final)."""
    have = {int(p.stem.split("-")[1]): p for p in run_dir.glob("ckpt-*.pt") if p.stem.split("-")[1].isdigit()}
    picks: list[int] = []
    for k in range(1, points + 1):
        want = steps * k / points
        best = min((s for s in have if s not in picks), key=lambda s: (abs(s - want), s), default=None)
        if best is not None:
            picks.append(best)
    return [have[s] for s in sorted(picks)]


def curve_unit(req: Request, name: str, trained: dict[str, Any], echo: Callable[[str], None]) -> Path:
    """FID of CURVE_N samples at CURVE_POINTS checkpoints against the protocol's reference subset, with the
    training minutes each had taken -> OUT/results/curves/<name>-seed<k>.json (a subfolder of the store: the
    records' loader reads only its top level)."""
    import time

    from ganbench.scoring import ScoreConfig, score_images, setup
    from trainers.sample import checkpoint_source

    p = req.protocol
    run_dir = Path(trained["checkpoint"]).parent
    ckpts = curve_checkpoints(run_dir, trained["steps"])
    # a conditional arch's curve also follows its classifier accuracy: whether it still rises at the end of the
    # budget says if more steps (or another split of them) would buy class fidelity
    conditional = bool(getattr(arch_module(trained["arch"]), "CONDITIONAL", False))
    classifier = p.classifier if conditional else "none"
    cfg = ScoreConfig(samples=str(ckpts[-1]), ref=p.ref, n=CURVE_N, ref_n=p.ref_n, seed=p.ref_seed, fid_ci=0,
                      fid_inf=0, data_dir=req.data, classifier=classifier, calibration_n=0)  # fmt: skip
    run = setup(cfg, device=_scoring_device(req))
    points = []
    for ckpt_path in ckpts:
        echo(f"{name} seed {trained['seed']}: quality curve, {CURVE_N} samples of {ckpt_path.name}")
        samples = checkpoint_source(str(ckpt_path), str(ckpt_path), CURVE_N, p.ref_seed, device=req.device)
        rec = score_images(run, samples, cfg=dataclasses.replace(cfg, samples=str(ckpt_path)))
        ck = checkpoint.load(ckpt_path)
        # unrounded: a smoke run reaches its first checkpoint in well under a second
        seconds = float(ck.get("train_seconds", 0))
        point = {"step": int(ck["step"]), "train_seconds": round(seconds, 3), "train_minutes": seconds / 60,
                 "fid": rec["metrics"]["fid"]}  # fmt: skip
        if rec["metrics"].get("classifier_accuracy") is not None:
            point["classifier_accuracy"] = rec["metrics"]["classifier_accuracy"]
        points.append(point)
    curve = {
        "kind": KIND,
        "schema": 1,
        "name": name,
        "arch": trained["arch"],
        "seed": trained["seed"],
        "steps_budget": trained["steps_budget"],
        "recipe": trained.get("recipe"),
        "calibration": calibration(name, p.preset, trained.get("recipe")),
        "n": CURVE_N,
        "classifier": classifier,
        "reference": {
            k: rec["reference"].get(k) for k in ("source", "n", "subset", "content_sha256", "origin")
        },
        "extractor": {
            k: rec["extractor"].get(k) for k in ("extractor", "weights_sha256", "resize", "backend")
        },
        "protocol": dataclasses.asdict(p),
        "machine": machine(),
        "code": code_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "points": points,
    }
    path = req.out / "results" / CURVES / f"{name}-seed{trained['seed']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(curve, indent=2, sort_keys=True) + "\n")
    return path
