"""`ganbench benchmark`: every bundled arch trained on one budget, scored under one protocol, published.

For each arch: train with its preset (cpu on a CPU, paper on CUDA) -> generate --n samples from the final
checkpoint (EMA weights when present, labels cycling over the classes) -> score them against a seeded
--ref-n subset of cifar10-train with every metric -> one record, tagged with the budget and what training
reached. Then the leaderboard site and benchmark.md beside it.

The budget is the preset's step count (reproducible on any machine) unless --minutes caps the training
time. Everything survives interruption: OUT/benchmark.json pins the protocol, OUT/<arch>/state.json says
how far each arch got, and checkpoints carry the training seconds spent, so running the same command again
continues unfinished archs with what remains of their budget, skips trained ones and does not rescore.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.atomic import atomic_write_text
from ganbench.errors import UserError
from ganbench.report import cells as C
from ganbench.report import leaderboard as L
from ganbench.version import __version__
from trainers import checkpoint, settings
from trainers.registry import BENCHMARK_ARCHS, arch_module

ARCHS = BENCHMARK_ARCHS
SCORE_IMG_PER_S = 9.0  # Inception on these 2 CPU cores, for the ETA only
MANIFEST = "benchmark.json"

# What the write-ups this project starts from reported (protocols in ganbench/report/reported.json) and
# the targets of the cpu hour; shown beside the measured rows in benchmark.md.
WRITE_UPS: dict[str, tuple[str, str]] = {
    "dcgan": ("FID 138.3 (DELE CA2, epoch 40); 68 (DEEL CA2 best run)", "FID < 138.3"),
    "cgan": ("FID 90.9, classifier accuracy 0.64 (DELE CA2)", "FID ≤ 83.8, accuracy ≥ 0.61"),
    "acgan": ("FID 93.1, classifier accuracy 0.61 (DELE CA2)", "FID < 93.1, accuracy ≥ 0.61"),
    "biggan": ("FID 51.5 with 10k samples, IS 6.74 (DEEL CA2)", "FID < 80"),
    "biggan-aux": ("FID 45.04, IS 7.19 (AC-BigGAN write-up)", "FID < 80, accuracy ≥ 0.61"),
    "wgan-gp": ("failed: FID 496, all-black images (DEEL CA2)", "FID < 138.3"),
}


@dataclass(frozen=True)
class Protocol:
    """What makes two benchmark runs comparable; pinned in OUT/benchmark.json."""

    preset: str  # trainer preset of every arch (cpu on a CPU, paper on CUDA)
    minutes: float | None  # training wall-time cap per arch (None: the preset's step count is the budget)
    n: int  # samples generated and scored per arch
    ref_n: int  # seeded subset of cifar10-train
    fid_ci: int  # bootstrap resamples of FID's 95% interval
    fid_inf: int = 15  # subset sizes of FID-infinity, the number that compares across sample counts
    seed: int = 0  # training seed, latent seed and subset seed
    ref: str = "cifar10-train"
    classifier: str = "resnet56"


@dataclass(frozen=True)
class Request:
    archs: tuple[str, ...]
    protocol: Protocol
    out: Path
    device: str = "auto"
    data: str | None = None
    command: str = ""  # the command line, for benchmark.md


def check_request(archs: tuple[str, ...], minutes: float | None, n: int, ref_n: int, fid_ci: int) -> None:
    """One-line UserErrors for bad input, before anything is written."""
    unknown = [a for a in archs if a not in ARCHS]
    if unknown or not archs:
        raise UserError(f"unknown arch {', '.join(unknown) or '(none given)'}; valid: {', '.join(ARCHS)}")
    if len(set(archs)) != len(archs):
        raise UserError(f"--archs names an arch twice: {','.join(archs)}")
    if minutes is not None and not minutes > 0:
        raise UserError(f"--minutes must be above 0 (got {minutes:g})")
    for name, value in (("--n", n), ("--ref-n", ref_n)):
        if value < 2:
            raise UserError(f"{name} must be at least 2 (FID needs 2 or more images), got {value}")
    if fid_ci < 0:
        raise UserError(f"--fid-ci must be 0 or more, got {fid_ci}")


def pin_protocol(out: Path, protocol: Protocol) -> None:
    """Write OUT/benchmark.json, or check that the one there matches: a different budget or protocol in an
    existing folder would mix incomparable rows."""
    path = out / MANIFEST
    want = dataclasses.asdict(protocol)
    if path.is_file():
        try:
            have = json.loads(path.read_text())["protocol"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is unreadable ({e}); use a new --out or delete it") from None
        diff = [f"{k} {have.get(k)!r} -> {v!r}" for k, v in want.items() if have.get(k) != v]
        if diff:
            raise UserError(
                f"{out} holds a benchmark with another protocol ({'; '.join(diff)}); use a new --out or the same options"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"protocol": want, "ganbench_version": __version__}, indent=2) + "\n")


def _state_path(out: Path, name: str) -> Path:
    return out / name / "state.json"


def read_state(out: Path, name: str) -> dict[str, Any]:
    path = _state_path(out, name)
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_state(out: Path, name: str, state: dict[str, Any]) -> None:
    path = _state_path(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def _run_dir(train_out: Path, arch: str) -> Path | None:
    """The arch's one run folder under train_out (the benchmark trains each arch once)."""
    runs = sorted(p for p in train_out.glob(f"[0-9][0-9][0-9][0-9][0-9]-{arch}") if p.is_dir())
    return runs[-1] if runs else None


def train_arch(req: Request, name: str, echo: Callable[[str], None]) -> dict[str, Any]:
    """Train (or continue) one arch to its budget. -> the trained state (checkpoint, steps, seconds)."""
    from trainers import loop

    arch, model = ARCHS[name]
    module = arch_module(arch)
    p = req.protocol
    train_out = req.out / name / "train"
    run_dir = _run_dir(train_out, arch)
    last = checkpoint.latest(run_dir) if run_dir is not None else None
    spent = 0.0
    loop_overrides: dict[str, Any] = {"device": req.device, "data": req.data, "minutes": None}
    if last is None:
        loop_overrides |= {"out": str(train_out), "seed": p.seed}
        if p.minutes is not None:
            loop_overrides["minutes"] = p.minutes
        cfg, s = settings.fresh(module, p.preset, model, loop_overrides)
        echo(f"{name}: training from step 0 to {s.steps}" + _budget_text(p))
        run_dir = loop.train(arch, cfg, s, echo=echo)
    else:
        ckpt = checkpoint.load(last)
        _same_recipe(name, module, p.preset, model, ckpt, req.out)
        spent = float(ckpt.get("train_seconds", 0.0))
        left = None if p.minutes is None else p.minutes - spent / 60
        if ckpt["step"] < int(ckpt["train_args"]["steps"]) and (left is None or left > 0):
            cfg, s = settings.resumed(module, ckpt, model, loop_overrides | {"minutes": left})
            echo(f"{name}: resuming {last} at step {ckpt['step']} of {s.steps}" + _budget_text(p, spent))
            loop.train(arch, cfg, s, resume=ckpt, run_dir=last.parent, echo=echo)
    final = checkpoint.latest(run_dir)
    assert final is not None
    ckpt = checkpoint.load(final)
    seconds = float(ckpt.get("train_seconds", 0.0))
    batch = int(ckpt["train_args"]["batch_size"]) * int(ckpt.get("world_size", 1))
    return {
        "status": "trained",
        "arch": arch,
        "model_settings": model,
        "checkpoint": str(final),
        "steps": int(ckpt["step"]),
        "steps_budget": int(ckpt["train_args"]["steps"]),
        "train_seconds": round(seconds, 1),
        "img_per_s": round(int(ckpt["batches_drawn"]) * batch / seconds, 1) if seconds > 0 else None,
        "generator": "G_ema" if ckpt.get("G_ema") is not None else "G",
    }


RECIPE_TRAIN_KEYS = ("steps", "batch_size", "lr", "lr_decay_from", "flip", "concat_test")


def _same_recipe(name: str, module: Any, preset: str, model: dict[str, Any], ckpt: dict, out: Path) -> None:
    """A run continues only under the recipe it started with: a preset edited since (a new recipe) would
    otherwise be resumed on the old one and reported under the new one's name."""
    cfg, s = settings.fresh(module, preset, model, {})
    now = dataclasses.asdict(cfg) | {k: getattr(s, k) for k in RECIPE_TRAIN_KEYS if hasattr(s, k)}
    then = ckpt["model_args"] | {k: ckpt["train_args"].get(k) for k in RECIPE_TRAIN_KEYS if hasattr(s, k)}
    diff = [f"{k} {then.get(k)!r} -> {v!r}" for k, v in now.items() if then.get(k) != v]
    if diff:
        raise UserError(
            f"{name}: its {preset} preset changed since its run started ({', '.join(diff)}); "
            f"delete {out / name} to train it afresh, or check out the version it started with"
        )


def _budget_text(p: Protocol, spent: float = 0.0) -> str:
    if p.minutes is None:
        return " (budget: the preset's steps)"
    return f" (budget {p.minutes:g} min, {spent / 60:.1f} spent)"


def score_arch(req: Request, name: str, trained: dict[str, Any], echo: Callable[[str], None]) -> Path:
    """Generate and score one arch's final checkpoint; store the tagged record. -> the record's path."""
    from ganbench.results import write_record
    from ganbench.scoring import ScoreConfig, Stages, score_images, setup
    from trainers.sample import checkpoint_source

    p = req.protocol
    cfg = ScoreConfig(samples=trained["checkpoint"], ref=p.ref, n=p.n, ref_n=p.ref_n, seed=p.seed,
                      fid_ci=p.fid_ci, fid_inf=p.fid_inf, data_dir=req.data, classifier=p.classifier)  # fmt: skip
    echo(f"{name}: scoring {p.n} samples of {Path(trained['checkpoint']).name} against {p.ref_n} {p.ref}")
    # --device reaches the sampling and the networks (the .pt path loader alone takes CUDA when present)
    t0, stages = time.time(), Stages()
    run = setup(cfg, device=None if req.device == "auto" else req.device)
    with stages("load_samples"):
        samples = checkpoint_source(cfg.samples, cfg.samples, p.n, p.seed, device=req.device)
    record = score_images(run, samples, stages=stages, t0=t0)
    run_dir = str(Path(trained["checkpoint"]).parent)
    record["run"] = {"name": name, "arch": trained["arch"], "step": trained["steps"], "run_dir": run_dir}
    record["benchmark"] = {
        "name": name,
        "protocol": dataclasses.asdict(p),
        **{
            k: trained[k]
            for k in (
                "arch",
                "model_settings",
                "steps",
                "steps_budget",
                "train_seconds",
                "img_per_s",
                "generator",
            )
        },  # fmt: skip
        "machine": machine(),
        "code": code_version(),
    }
    return write_record(record, req.out / "results")


def machine() -> dict[str, Any]:
    """Where the numbers were measured: CPU model, cores, GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": str(torch.__version__)}


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


def _eta(req: Request, names: list[str]) -> str:
    """Rough time left for the whole benchmark: each unfinished arch's training budget (its preset's
    `minutes`, the hour its steps were calibrated to, or --minutes) plus the scoring passes."""
    left = 0.0
    for name in names:
        state = read_state(req.out, name)
        if state.get("status") == "scored":
            continue
        if state.get("status") != "trained":
            preset = arch_module(ARCHS[name][0]).PRESETS[req.protocol.preset]
            budget = req.protocol.minutes or preset.get("minutes")
            if budget is None:
                return "unknown"
            left += float(budget) * 60
        left += req.protocol.n / SCORE_IMG_PER_S
    return _hms(left)


def _hms(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{int(seconds % 60):02d}s"


def run(req: Request, echo: Callable[[str], None] = print) -> Path:
    """The whole benchmark; returns OUT/benchmark.md."""
    from ganbench.inputs.datasets import resolve_cifar10

    p = req.protocol
    check_request(req.archs, p.minutes, p.n, p.ref_n, p.fid_ci)
    resolve_cifar10(req.data)  # no data: a one-line error before anything is written
    pin_protocol(req.out, p)
    names = list(req.archs)
    for i, name in enumerate(names, 1):
        state = read_state(req.out, name)
        head = f"[{i}/{len(names)}] {name}"
        if state.get("status") not in ("trained", "scored"):
            echo(f"{head}: training; benchmark ETA {_eta(req, names[i - 1 :])}")
            state = train_arch(req, name, echo)
            _write_state(req.out, name, state)
        else:
            echo(f"{head}: trained already ({state['steps']} steps), not trained again")
        if state.get("status") == "scored" and Path(state["record"]).is_file():
            echo(f"{head}: scored already ({Path(state['record']).name}), not scored again")
            continue
        echo(f"{head}: sampling and scoring; benchmark ETA {_eta(req, names[i - 1 :])}")
        state = {**state, "status": "scored", "record": str(score_arch(req, name, state, echo))}
        _write_state(req.out, name, state)
    return publish(req, names, echo)


def publish(req: Request, names: list[str], echo: Callable[[str], None]) -> Path:
    """The leaderboard site (OUT/site) and OUT/benchmark.md, from the stored records."""
    from ganbench.report.site import build_site

    site = build_site(req.out / "results", req.out / "site")
    records = {}
    for name in names:
        state = read_state(req.out, name)
        if state.get("status") == "scored":
            records[name] = json.loads(Path(state["record"]).read_text())
    path = req.out / "benchmark.md"
    atomic_write_text(path, benchmark_markdown(req, records))
    echo(f"leaderboard: {site.index}")
    echo(f"table: {path}")
    return path


# benchmark.md's metric columns after FID: (result key, format), shown as the leaderboard's cells show them
MD_METRICS = (("fid_inf", ".2f"), ("kid_mean", ".4f"), ("precision", ".3f"), ("recall", ".3f"),
              ("density", ".3f"), ("coverage", ".3f"), ("classifier_accuracy", ".3f"), ("ifid", ".1f"))  # fmt: skip
CLASS_METRICS = ("classifier_accuracy", "ifid")  # need the labels an unconditional arch does not have


def benchmark_markdown(req: Request, records: dict[str, dict]) -> str:
    """One row per arch with the protocol, the machine and the write-ups' numbers beside it."""
    p = req.protocol
    budget = f"{p.minutes:g} training minutes per arch" if p.minutes else f"the `{p.preset}` preset's steps"
    lines = [
        "# ganbench benchmark",
        "",
        f"Protocol: `{p.preset}` presets, budget {budget}; {p.n:,} samples per arch (EMA generator when "
        f"there is one, labels cycling over the classes) against a seeded {p.ref_n:,}-image subset of "
        f"{p.ref} (seed {p.seed}); FID 95% interval from {p.fid_ci} bootstrap resamples; FID∞ (Chong & "
        f"Forsyth 2020) fitted over {p.fid_inf} subset sizes; classifier {p.classifier}.",
        "",
        "| arch | FID (95% CI) | FID∞ | KID | precision | recall | density | coverage | classifier acc. | IFID "
        "| flags | steps | minutes | img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    first = next(iter(records.values()), None)
    missing: list[str] = []  # "arch metric: reason", below the table (a reason does not fit in a cell)

    def cell(name: str, rec: dict, key: str, spec: str) -> str:
        if rec["metrics"].get(key) is None:
            if key in CLASS_METRICS and not arch_module(BENCHMARK_ARCHS[name][0]).CONDITIONAL:
                return "n/a (unconditional)"  # not the scorer's reason, which suggests adding labels
            missing.append(f"{name} {key}: {rec.get('unavailable', {}).get(key, 'not computed')}")
            return "n/a"
        return C.metric_cell(rec, key, spec)["text"]

    for name, rec in records.items():
        b = rec["benchmark"]
        ci = L.ci_of(rec)
        row = [
            name,
            cell(name, rec, "fid", ".2f") + ("" if ci is None else f" [{ci[0]:.1f}, {ci[1]:.1f}]"),
            *(cell(name, rec, key, spec) for key, spec in MD_METRICS),
            C.flags_cell(L.class_view(rec).flags)["text"],
            f"{b['steps']:,} / {b['steps_budget']:,}",
            f"{b['train_seconds'] / 60:.1f}",
            "n/a" if b["img_per_s"] is None else f"{b['img_per_s']:.0f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    if missing:
        lines += ["", "n/a: " + "; ".join(missing) + "."]
    lines += ["", "Reported elsewhere (their own protocols; orientation, not equals) and the cpu-hour targets:", "",
              "| arch | write-up | target |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {WRITE_UPS[name][0]} | {WRITE_UPS[name][1]} |" for name in req.archs]
    mach = (first or {}).get("benchmark", {}).get("machine") or machine()
    ref = (first or {}).get("reference", {})
    lines += [
        "",
        f"Command: `{req.command or 'ganbench benchmark'}`",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, GPU {mach['gpu'] or 'none'}; torch {mach['torch']}.",
        f"Reference copy: {(ref.get('origin') or {}).get('copy', '?')}. Date: {time.strftime('%Y-%m-%d')}. "
        f"ganbench {__version__}.",
        "",
    ]
    return "\n".join(lines)
