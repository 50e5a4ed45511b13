"""What makes two benchmark runs comparable (pinned in OUT/benchmark.json), the request, its bad-input checks."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from ganbench.atomic import atomic_write_text
from ganbench.errors import UserError
from ganbench.version import __version__
from trainers.registry import BENCHMARK_ARCHS
from trainers.registry import BENCHMARK_DEFAULTS as DEFAULTS

ARCHS = BENCHMARK_ARCHS
MANIFEST = "benchmark.json"

# What the write-ups this project starts from reported (protocols in ganbench/report/reported.json) and the
# targets of the seeded cpu table (mean over 3 training seeds); shown beside the measured rows in benchmark.md.
WRITE_UPS: dict[str, tuple[str, str]] = {
    "dcgan": ("FID 138.3 (DELE CA2, epoch 40); 68 (DEEL CA2 best run)", "FID < 68"),
    "cgan": ("FID 90.9, classifier accuracy 0.64 (DELE CA2)", "FID < 90.9, accuracy ≥ 0.64"),
    "acgan": ("FID 93.1, classifier accuracy 0.61 (DELE CA2)", "FID < 50, accuracy ≥ 0.61"),
    "biggan": ("FID 51.5 with 10k samples (46 best), IS 6.74 (DEEL CA2)", "FID < 46, accuracy ≥ 0.61"),
    "biggan-aux": ("FID 45.04, IS 7.19 (AC-BigGAN write-up)", "FID < 45.04, accuracy ≥ 0.64"),
    "wgan-gp": ("failed: FID 496, all-black images (DEEL CA2)", "FID < 80"),
}


# The reference machine of the cpu presets' steps budgets: each arch's real images per second there from one
# `python benchmarks/bench_train.py --steps 40 --warmup 5` run (README: Benchmark). A quality curve turns its
# steps into this machine's minutes with them, so curves measured on VMs of different speeds (the same model
# name covers AVX2-only and AVX-512 ones) share one compute axis.
REFERENCE_MACHINE = {
    "machine": "2-core AMD EPYC VM, AVX2 only",
    "date": "2026-12-07",
    "preset": "cpu",
    "source": "benchmarks/bench_train.py --steps 40 --warmup 5",
    "real_img_per_s": {
        "dcgan": 169,
        "cgan": 147,
        "acgan": 159,
        "biggan": 45,
        "biggan-aux": 40,
        # 374 at n_dis 5 there; the preset's n_dis 2 takes 2.27x the G steps per second (step times of the
        # screens in trainers/wgan_gp.py, AVX-512 VM): 374 x 2.27 x 2 / 5 real images per second
        "wgan-gp": 340,
    },
}


def calibration(name: str, preset: str | None, recipe: dict | None) -> dict | None:
    """What one training step of `name` costs on the reference machine (None outside its preset or without the
    recipe's batch size): batch x D updates per step real images at the measured rate."""
    ips = REFERENCE_MACHINE["real_img_per_s"].get(name)
    try:
        per_step = int(recipe["train"]["batch_size"]) * int(recipe["model"].get("n_dis") or 1)  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None
    if preset != REFERENCE_MACHINE["preset"] or ips is None:
        return None
    keep = ("machine", "date", "source")
    return {**{k: REFERENCE_MACHINE[k] for k in keep}, "real_img_per_s": ips, "real_images_per_step": per_step,
            "seconds_per_step": per_step / ips}  # fmt: skip


@dataclass(frozen=True)
class Protocol:
    """What makes two benchmark runs comparable; pinned in OUT/benchmark.json. The training seeds are not part
    of it: each (arch, seed) is a unit of its own, and more seeds can be added to a folder later."""

    preset: str  # trainer preset of every arch (cpu on a CPU, paper on CUDA)
    minutes: float | None  # training wall-time cap per unit (None: the preset's step count is the budget)
    n: int  # samples generated and scored per unit
    ref_n: int  # seeded subset of cifar10-train
    fid_ci: int  # bootstrap resamples of FID's 95% interval
    fid_inf: int = 15  # subset sizes of FID-infinity, the number that compares across sample counts
    ref_seed: int = 0  # seed of the reference subset and of the scored samples' latents, fixed across seeds
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
    seeds: tuple[int, ...] = (0,)  # training seeds: one unit (train -> sample -> score) per arch and seed


FLAGS = {
    "n": "--n",
    "ref_n": "--ref-n",
    "fid_ci": "--fid-ci",
    "ref_seed": "--ref-seed",
    "classifier": "--classifier",
}


def command_line(p: Protocol, archs: tuple[str, ...], seeds: tuple[int, ...]) -> str:
    """The `ganbench benchmark` command whose units, run in one go or spread over several commands, make
    records under protocol `p` for these archs and seeds."""
    parts = ["ganbench benchmark", f"--archs {','.join(archs)}", f"--seeds {','.join(map(str, seeds))}",
             f"--preset {p.preset}"]  # fmt: skip
    if p.minutes is not None:
        parts.append(f"--minutes {p.minutes:g}")
    parts += [f"{FLAGS[k]} {getattr(p, k)}" for k, v in DEFAULTS.items() if getattr(p, k) != v]
    return " ".join(parts)


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0,1,2' -> (0, 1, 2); a one-line UserError for anything else."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        seeds = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(f"--seeds takes comma-separated whole numbers like 0,1,2 (got {text!r})") from None
    if not seeds:
        raise UserError("--seeds names no seed; e.g. --seeds 0,1,2")
    if any(s < 0 for s in seeds):
        raise UserError(f"--seeds must be 0 or more (got {text})")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds names a seed twice: {text}")
    return seeds


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
