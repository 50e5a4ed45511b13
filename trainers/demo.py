"""`ganbench demo`'s loop, which a newcomer can run on a laptop CPU in well under 15 minutes.

train a small conditional GAN -> score its samples -> write the report. When training fails (no data for
it, a full disk), the CIFAR-10 test copy stands in for samples, so the rest of the loop still runs and the
page says what was scored. It lives with the trainers because it trains (trainers -> ganbench, never the
reverse); ganbench/cli/demo.py parses the verb.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from ganbench.errors import UserError
from trainers.cli import train_command

Echo = Callable[[str], None]


COMMITTED = Path("leaderboard/results/benchmark-cpu")  # in the repository (the Makefile runs from its root)


@dataclass(frozen=True)
class DemoConfig:
    workdir: Path = Path("runs/demo")  # train/, results/ and site/ go here
    arch: str = "cgan"  # a conditional model, so the grid has a row per class
    minutes: float = 5.0  # training budget: the demo's length does not depend on how busy the machine is
    steps: int | None = None  # cap on generator updates (None: the cpu preset's, far beyond the budget)
    n: int = 500  # samples scored (of the 1,000 the trainer writes at the last step)
    ref_n: int = 1000  # CIFAR-10 train images in the reference (cached after the first demo)
    data_dir: str | None = None  # CIFAR-10 copy (else GANBENCH_DATA, else ganbench.inputs.datasets' default)
    train: bool = True  # False: skip training, score the CIFAR-10 test copy


def train_small(cfg: DemoConfig, echo: Echo) -> Path | None:
    """Train `cfg.arch` on the CPU for `cfg.minutes` (or `cfg.steps`, whichever ends first); the folder of
    its last samples, or None to fall back."""
    out = cfg.workdir / "train"
    once = str(10**9)  # samples and a checkpoint at the last step only, wherever the budget ends it
    args = [cfg.arch, "--preset", "cpu", "--minutes", str(cfg.minutes), "--sample-every", once,
            "--ckpt-every", once, "--log-every", "10", "--device", "cpu", "--out", str(out)]  # fmt: skip
    if cfg.steps is not None:
        args += ["--steps", str(cfg.steps)]
    if cfg.data_dir:
        args += ["--data", cfg.data_dir]
    cap = f" (at most {cfg.steps} steps)" if cfg.steps is not None else ""
    echo(f"training {cfg.arch} for {cfg.minutes:g} minutes{cap} on the CPU into {out}/ ...")
    before = set(out.glob(f"*-{cfg.arch}")) if out.is_dir() else set()
    try:
        train_command.main(args, prog_name="ganbench train", standalone_mode=False)
    except (UserError, click.ClickException, OSError) as e:
        echo(f"training failed ({type(e).__name__}: {e}): the CIFAR-10 test copy stands in for samples")
        return None
    new = sorted(set(out.glob(f"*-{cfg.arch}")) - before)
    steps = [int(p.name) for p in (new[-1] / "samples").glob("*") if p.name.isdigit()] if new else []
    samples = new[-1] / "samples" / str(max(steps)) if steps else None
    if samples is None or not samples.is_dir():
        echo(f"training wrote no samples under {out}: the CIFAR-10 test copy stands in for samples")
        return None
    return samples


def run_demo(cfg: DemoConfig, echo: Echo = print, score_fn: Callable[..., dict] | None = None) -> Path:
    """Train (or not), score, report; returns the report's index.html. `score_fn` stands in for scoring."""
    from ganbench.report.site import build_site
    from ganbench.results import write_record
    from ganbench.scoring import ScoreConfig, score

    samples = train_small(cfg, echo) if cfg.train else None
    source = str(samples) if samples is not None else "cifar10-test"
    n = cfg.n
    echo(
        f"scoring {n} images of {source} against {cfg.ref_n} CIFAR-10 train images "
        "(the Inception network: ~10 images/s on 2 CPU cores; cached afterwards)"
    )
    # the classifier's accuracy on 1,000 test images, not all 10,000: seconds instead of minutes
    score_cfg = ScoreConfig(samples=source, ref="cifar10-train", n=n, ref_n=cfg.ref_n, data_dir=cfg.data_dir,
                            calibration_n=1000)  # fmt: skip
    try:
        record = (score_fn or score)(score_cfg)
    except UserError as e:
        if getattr(score_cfg, "classifier", "none") == "none":
            raise
        # most likely the surrogate classifier's weights are not here (offline): FID etc. need none of it
        echo(f"{e}\nscoring again without the class-aware metrics (--classifier none)")
        record = (score_fn or score)(dataclasses.replace(score_cfg, classifier="none"))
    stored = write_record(record, cfg.workdir / "results")
    fid = record["metrics"].get("fid")
    echo(
        f"FID {fid:.2f} ({n} samples; small-sample FID is biased upwards) -> {stored}"
        if fid is not None
        else f"no FID: {record.get('unavailable', {}).get('fid', 'unknown reason')}"
    )
    # the benchmark's committed records, beside the newcomer's own run (marked with where they were measured)
    committed = [p for p in (COMMITTED,) if p.is_dir() and any(p.glob("*.json"))]
    built = build_site(cfg.workdir / "results", cfg.workdir / "site", committed=committed)
    for line in built.skipped:
        echo(f"report skipped {line}")
    return built.index
