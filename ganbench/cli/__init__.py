"""The `ganbench` command line: parsing and printing only; the work lives in the modules it calls.

One module per verb group: score.py, leaderboard.py (report, check), demo.py, admin.py (classifier,
reference, weights, cache); the trainers' verbs (train, sample, benchmark) are wired in below.
"""

from __future__ import annotations

import sys

import click

from ganbench.cli.admin import GROUPS
from ganbench.cli.common import Group
from ganbench.cli.demo import demo_command
from ganbench.cli.leaderboard import check_command, report_command
from ganbench.cli.score import score
from ganbench.threads import prefer_short_spins
from ganbench.version import __version__
from trainers.cli import benchmark_command, sample_command, train_command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """One-pass GAN evaluation for CIFAR-10: FID, KID, IS, precision/recall, density/coverage."""


for _command in (score, report_command, check_command, demo_command, *GROUPS):  # one module per verb group
    cli.add_command(_command)


# The composition root: the trainers (same distribution) contribute their verbs here, and only here.
cli.add_command(train_command, "train")
cli.add_command(sample_command, "sample")
cli.add_command(benchmark_command, "benchmark")


def main() -> None:
    prefer_short_spins()  # before any command loads torch (and with it OpenMP)
    cli(prog_name="ganbench")


if __name__ == "__main__":
    sys.exit(main())
