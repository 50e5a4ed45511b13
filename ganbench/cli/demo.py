"""`ganbench demo`: parsing and printing; the loop is trainers/demo.py."""

from __future__ import annotations

from pathlib import Path

import click

from trainers.demo import DemoConfig, run_demo


@click.command("demo")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default="runs/demo",
    show_default=True,
    help="Where the run, the results and the site go.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Training time of the small CPU model.",
)
@click.option(
    "--steps", type=click.IntRange(1), default=None, help="Cap on its training steps [default: none]."
)
@click.option("--n", type=click.IntRange(2), default=500, show_default=True, help="Samples to score.")
@click.option("--ref-n", type=click.IntRange(2), default=1000, show_default=True, help="Reference images.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="CIFAR-10 location (else GANBENCH_DATA, else torchvision).",
)
@click.option("--no-train", is_flag=True, help="Skip training: score the CIFAR-10 test copy as samples.")
def demo_command(workdir, minutes, steps, n, ref_n, data_dir, no_train) -> None:
    """Train a small GAN on the CPU, score it and write the report: the whole loop in minutes."""

    cfg = DemoConfig(
        workdir=Path(workdir), minutes=minutes, steps=steps, n=n, ref_n=ref_n, data_dir=data_dir,
        train=not no_train,
    )  # fmt: skip
    index = run_demo(cfg, echo=lambda line: click.echo(line, err=True))
    click.echo(str(index.resolve()))
