"""Click commands `train` and `sample`, registered by ganbench/cli/ (the composition root). Parsing only: the work is in loop/sample.

User errors are raised as ganbench.errors.UserError; the main CLI prints them as one line with exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from ganbench.errors import UserError
from trainers.registry import ARCHS, BENCHMARK_ARCHS, arch_module
from trainers.registry import BENCHMARK_DEFAULTS as BENCH_DEFAULTS
from trainers.settings import DEFAULT_PRESET, PRESET_NAMES, parse_set


def _echo(line: str) -> None:
    click.echo(line, err=True)


@click.command("train")
@click.argument("arch", type=click.Choice(list(ARCHS)))
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default=None,
    help=f"smoke (seconds, for tests) | cpu (~1 h on 2 cores) | paper (full recipe, GPU) [default: {DEFAULT_PRESET}]",
)
@click.option(
    "--data", default=None, help="CIFAR-10 folder: DIR/train/<class>/*.jpg [default: $GANBENCH_DATA]"
)
@click.option("--out", default=None, help="Runs go to OUT/<NNNNN>-<arch>/ [default: runs]")
@click.option("--seed", type=int, default=None, help="Seed for everything [default: 0]")
@click.option("--steps", type=int, default=None, help="Generator updates in the whole run")
@click.option("--batch-size", type=int, default=None, help="Real images per D update")
@click.option("--sample-every", type=int, default=None, help="Samples, grid, gif and curves every N steps")
@click.option("--ckpt-every", type=int, default=None, help="Checkpoint every N steps")
@click.option("--log-every", type=int, default=None, help="A log.csv row every N steps")
@click.option(
    "--lr", type=float, default=None, help="Adam learning rate of G and D (--set lr_d=... for D alone)"
)
@click.option(
    "--lr-decay-from",
    type=int,
    default=None,
    metavar="STEP",
    help="From this step the learning rates fall linearly towards 0 at --steps [default: constant]",
)
@click.option("--flip/--no-flip", default=None, help="Random horizontal flips of real images [default: on]")
@click.option("--concat-test/--no-concat-test", default=None, help="Also train on the test split")
@click.option("--aux/--no-aux", default=None, help="biggan: AC-BigGAN (auxiliary classifier head)")
@click.option(
    "--diffaug/--no-diffaug", default=None, help="cgan, biggan: DiffAugment color,translation,cutout"
)
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile G and D")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, help="[default: auto]")
@click.option(
    "--resume", default=None, help="Continue a run: its folder (latest checkpoint) or a ckpt-<step>.pt"
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any model setting, e.g. --set g_ch=32"
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads per process, --score-every's network too [default: OMP_NUM_THREADS, else torch's]",
)
@click.option(
    "--minutes",
    type=float,
    default=None,
    help="Stop after this many minutes of training (then the last samples and checkpoint) [default: no limit]",
)
@click.option(
    "--keep-ckpts",
    type=int,
    default=None,
    metavar="K",
    help="Keep only the newest K checkpoints (0: all) [default: all]",
)
@click.option(
    "--tensorboard/--no-tensorboard", default=None, help="Also write the log's scalars to <run>/tb/"
)
@click.option(
    "--score-every",
    type=int,
    default=None,
    metavar="K",
    help="Score samples/<step>/ at multiples of K: FID into log.csv, a record into the results store "
    "(0: off, e.g. to stop it on --resume)",
)
@click.option("--score-ref", default=None, help="Reference of --score-every [default: cifar10-train]")
@click.option("--score-ref-n", type=int, default=None, help="Seeded reference subset [default: 1000]")
@click.option(
    "--score-classifier/--no-score-classifier",
    default=None,
    help="Class-aware metrics in --score-every records [default: on]",
)
@click.option(
    "--results",
    default=None,
    help="Results store of --score-every [default: $GANBENCH_RESULTS, else leaderboard/results]",
)
def train_command(
    arch: str,
    preset: str | None,
    data: str | None,
    lr: float | None,
    aux: bool | None,
    diffaug: bool | None,
    resume: str | None,
    sets: tuple[str, ...],
    **options: object,
) -> None:
    """Train a GAN on CIFAR-10: ARCH is one of dcgan, cgan, acgan, biggan, wgan-gp.

    Writes OUT/<NNNNN>-<arch>/: config.json, log.csv, ckpt-<step>.pt, samples/<step>/<class>/*.png,
    grid-<step>.png, progress.gif, curves.png (and tb/ with --tensorboard). Explicit options override the
    preset. Data-parallel: torchrun --nproc_per_node=N -m ganbench train ARCH ... (batch size per process).
    """
    from trainers.data import resolve_data_dir
    from trainers.loop import train_from_cli

    module = arch_module(arch)
    model = parse_set(arch, module.Config, sets)
    for name, value in (("aux", aux), ("diffaug", diffaug)):
        if value is not None:
            if name not in module.Config.__dataclass_fields__:
                has = [a for a in ARCHS if name in arch_module(a).Config.__dataclass_fields__]
                raise UserError(f"--{name} applies to {', '.join(has)} only, not {arch}")
            model[name] = value
    if lr is not None:
        model |= {"lr_g": lr, "lr_d": model.get("lr_d", lr)}
    # Every other option is a TrainSettings field of the same name (--compile is `compile_` to click).
    loop = {k.rstrip("_"): v for k, v in options.items() if v is not None}
    score_every = loop.get("score_every")
    if score_every is not None and score_every < 0:
        raise UserError(f"--score-every must be 0 (off) or at least 1 (got {score_every})")
    if score_every == 0:  # explicit off: overrides a resumed run's saved setting
        loop["score_every"] = None
    if data is not None or resume is None:
        loop["data"] = resolve_data_dir(data)
    train_from_cli(arch, preset, model, loop, resume, echo=_echo)


@click.command("sample")
@click.argument("ckpt")
@click.option(
    "--n", "n", type=int, default=10_000, show_default=True, help="Images (per class with --per-class)"
)
@click.option("--per-class", is_flag=True, help="N images of every class (conditional models)")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new or empty folder")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latents")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def sample_command(
    ckpt: str, n: int, per_class: bool, out: Path, seed: int, batch_size: int, device: str
) -> None:
    """Write PNGs from a trainer checkpoint (CKPT: a ckpt-<step>.pt or a run folder), EMA weights when present.

    Conditional models: OUT/<class>/<i>.png; unconditional: OUT/<i>.png. Needs nothing but the checkpoint.
    """
    from trainers.sample import write_samples

    count = write_samples(ckpt, out, n, per_class, seed, batch_size, device)
    _echo(f"wrote {count} images to {out}")


@click.command("benchmark")
@click.option(
    "--archs",
    default=",".join(BENCHMARK_ARCHS),
    show_default=True,
    help="Comma-separated archs to train and score (biggan-aux: AC-BigGAN)",
)
@click.option(
    "--minutes",
    type=float,
    default=None,
    help="Cap each arch's training at this many minutes [default: no cap: the preset's steps are the budget]",
)
@click.option(
    "--seeds",
    default="0",
    show_default=True,
    help="Training seeds, comma-separated: each (arch, seed) is its own unit; rows aggregate over them",
)
@click.option(
    "--n", "n", type=int, default=BENCH_DEFAULTS["n"], show_default=True, help="Samples scored per unit"
)
@click.option(
    "--ref-n",
    type=int,
    default=BENCH_DEFAULTS["ref_n"],
    show_default=True,
    help="Seeded cifar10-train subset",
)
@click.option(
    "--ref-seed",
    type=int,
    default=BENCH_DEFAULTS["ref_seed"],
    show_default=True,
    help="Seed of the reference subset (and the scored latents), the same for every training seed",
)
@click.option(
    "--fid-ci",
    type=int,
    default=BENCH_DEFAULTS["fid_ci"],
    show_default=True,
    help="Bootstrap resamples of FID's 95% CI",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/benchmark"), show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default=None,
    help="Trainer preset of every arch [default: cpu on a CPU, paper on CUDA]",
)
@click.option("--data", default=None, help="CIFAR-10 folder [default: $GANBENCH_DATA]")
@click.option(
    "--classifier",
    type=click.Choice(["resnet56", "resnet20", "none"]),
    default=BENCH_DEFAULTS["classifier"],
    show_default=True,
    help="Surrogate classifier of the class-aware metrics",
)
@click.option(
    "--publish",
    "publish_store",
    type=click.Path(path_type=Path),
    default=None,
    help="Train and score nothing: rebuild STORE/benchmark.md, its compute figure and OUT/site from the records "
    "in STORE scored under these options (e.g. the committed leaderboard/results/benchmark-cpu, where units run "
    "in different sessions meet)",
)
def benchmark_command(
    archs: str,
    minutes: float | None,
    seeds: str,
    n: int,
    ref_n: int,
    ref_seed: int,
    fid_ci: int,
    out: Path,
    device: str,
    preset: str | None,
    data: str | None,
    classifier: str,
    publish_store: Path | None,
) -> None:
    """Train every bundled arch on one budget, score all of them under one protocol, write the leaderboard
    and OUT/results/benchmark.md. Run it again to continue an interrupted benchmark where it stopped."""
    import shlex
    import sys

    from trainers import benchmark as B
    from trainers.data import resolve_data_dir

    names = tuple(a.strip() for a in archs.split(",") if a.strip())
    if preset is None:
        import torch

        cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        preset = "paper" if cuda else "cpu"
    if ref_seed < 0:
        raise UserError(f"--ref-seed must be 0 or more (got {ref_seed})")
    protocol = B.Protocol(
        preset=preset,
        minutes=minutes,
        n=n,
        ref_n=ref_n,
        fid_ci=fid_ci,
        classifier=classifier,
        ref_seed=ref_seed,
    )
    command = (
        "ganbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["benchmark"] else ""
    )
    if publish_store is not None:
        if not (publish_store.is_dir() and any(publish_store.glob("*.json"))):
            raise UserError(
                f"--publish {publish_store}: no records there (a folder of ganbench result JSON files)"
            )
        B.check_request(names, minutes, n, ref_n, fid_ci)
        B.publish(
            B.Request(names, protocol, out, device, None, command, B.parse_seeds(seeds)), _echo, publish_store
        )
        return
    req = B.Request(names, protocol, out, device, resolve_data_dir(data), command, B.parse_seeds(seeds))
    B.run(req, echo=_echo)
