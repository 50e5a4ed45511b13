"""The `ganbench` command line: parsing and printing only; the work lives in the modules it calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ganbench import __version__
from ganbench.cli.admin import GROUPS
from ganbench.cli.common import Group, extractor_options, make_extractor
from ganbench.cli.tables import class_table, metric_rows
from trainers.cli import benchmark_command, sample_command, train_command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """One-pass GAN evaluation for CIFAR-10: FID, KID, IS, precision/recall, density/coverage."""


for _group in GROUPS:  # classifier, reference, weights, cache (ganbench/cli/admin.py)
    cli.add_command(_group)


def print_record(record: dict, stored: Path | None) -> None:

    s, r, e = record["samples"], record["reference"], record["extractor"]
    labels = "with labels" if s["labels"] else "no labels"
    ref_n = f", {r['n']} images" if "n" in r else ""
    copy = r.get("origin", {}).get("copy")
    head = [
        ("samples", f"{s['source']} ({s['n']} images, {labels})"),
        ("reference", f"{r['source']}{ref_n}" + (f" [{copy}]" if copy else "")),
        ("network", f"{e['weights']['file']} sha256 {e['weights']['sha256'][:12]}…, resize {e['resize']}, "
                    f"{e['backend']}"),
    ]  # fmt: skip
    rows = head + [("", "")] + metric_rows(record)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v}".rstrip())

    for line in class_table(record):
        click.echo(line)
    click.echo(f"{'time':<{width}}  {record['wall_seconds']:.1f} s")
    if stored:
        click.echo(f"{'record':<{width}}  {stored}")
        heatmap = (record.get("classwise") or {}).get("heatmap")
        if heatmap:
            click.echo(f"{'heatmap':<{width}}  {stored.with_name(heatmap)}")


@cli.command()
@click.argument("samples")
@click.option(
    "--ref",
    default="cifar10-train",
    show_default=True,
    help="Reference: an image source, a stats .npz (mu, sigma) or an imported reference name.",
)
@click.option(
    "--n",
    type=click.IntRange(2),
    default=None,
    help="Score a seeded subset of N samples (a trainer checkpoint .pt: generate N, default 10,000).",
)
@click.option(
    "--ref-n", type=click.IntRange(2), default=None, help="Use a seeded subset of N reference images."
)
@extractor_options
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON instead of a table.")
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default=None,
    help="Results store (else GANBENCH_RESULTS, else leaderboard/results).",
)
@click.option("--no-store", is_flag=True, help="Do not write the record to the results store.")
@click.option(
    "--classifier",
    type=click.Choice(["resnet56", "resnet20", "none"]),
    default="resnet56",
    show_default=True,
    help="Surrogate CIFAR-10 classifier for the class-aware metrics (none: skip).",
)
@click.option(
    "--classifier-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Classifier weights file (else GANBENCH_CLASSIFIER_WEIGHTS, the cache, download).",
)
@click.option(
    "--calibration-n",
    type=click.IntRange(0),
    default=None,
    help="cifar10-test images for the classifier's recorded accuracy (default all; 0: skip).",
)
@click.option("--fid-ci", type=click.IntRange(0), default=0, show_default=True, metavar="N",
              help="95% bootstrap interval of FID from N resamples (e.g. 50; ~1-2 s each on CPU).")  # fmt: skip
def score(samples, ref, n, ref_n, backend, resize, batch_size, inception_weights, data_dir, seed, strict,
          as_json, results, no_store, classifier, classifier_weights, calibration_n, fid_ci) -> None:  # fmt: skip
    """Score SAMPLES (folder, class folders, .zip, .npz, cifar10-test…) against a reference."""
    from ganbench import results as R
    from ganbench.scoring import ScoreConfig
    from ganbench.scoring import score as run_score

    cfg = ScoreConfig(samples=samples, ref=ref, n=n, ref_n=ref_n, seed=seed, data_dir=data_dir, strict=strict,
                      backend=backend, resize=resize, batch_size=batch_size,
                      inception_weights=inception_weights, classifier=classifier,
                      classifier_weights=classifier_weights, calibration_n=calibration_n,
                      fid_ci=fid_ci)  # fmt: skip
    record = run_score(cfg, make_extractor(backend, resize, batch_size, inception_weights))
    stored = None if no_store else R.write_record(record, R.store_dir(results))
    if as_json:
        click.echo(json.dumps(record, indent=2, sort_keys=True))
    else:
        print_record(record, stored)


@cli.command("report")
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default=None,
    help="Results store (else GANBENCH_RESULTS, else leaderboard/results).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="leaderboard/site",
    show_default=True,
    help="Site folder; replaced as a whole (only if it is a ganbench site or empty).",
)
@click.option(
    "--reported",
    type=click.Path(dir_okay=False),
    default=None,
    help="Scores reported elsewhere (default: the reported.json shipped in the ganbench package).",
)
def report_command(results, out, reported) -> None:
    """Write the leaderboard site (index.html + a page per run) from the results store; prints its path."""
    from ganbench.report.site import build_site
    from ganbench.results import store_dir

    built = build_site(store_dir(results), Path(out), Path(reported) if reported else None)
    for line in built.skipped:
        click.echo(f"skipped {line}", err=True)
    plural = "" if built.records == 1 else "s"
    click.echo(f"{built.records} record{plural} in {built.seconds:.1f} s", err=True)
    click.echo(str(built.index.resolve()))


@cli.command("check")
@click.argument("sources", nargs=-1)
@click.option(
    "--baseline",
    required=True,
    type=click.Path(dir_okay=False),
    help="Baseline JSON (model -> FID, interval, setup), committed beside the code.",
)
@click.option(
    "--tolerance",
    default="1%",
    show_default=True,
    help="How much worse FID may get when the baseline has no interval: points (2) or percent (1%).",
)
@click.option(
    "--update", is_flag=True, help="Rewrite the baseline from the current results instead of checking."
)
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default=None,
    help="Current results when no SOURCES are given (else GANBENCH_RESULTS, else leaderboard/results).",
)
@click.option("--ref", default="cifar10-train", show_default=True, help="Reference for scoring SOURCES.")
@click.option("--n", type=click.IntRange(2), default=None, help="Score a seeded subset of N of each source.")
@click.option("--ref-n", type=click.IntRange(2), default=None, help="Seeded subset of N reference images.")
@extractor_options
def check_command(sources, baseline, tolerance, update, results, ref, n, ref_n, backend, resize, batch_size,
                  inception_weights, data_dir, seed, strict) -> None:  # fmt: skip
    """CI gate: compare current FIDs (SOURCES scored now, else the results store) with --baseline.

    Exit 0: every model within tolerance or its baseline interval; 1: a regression; 2: bad input
    (missing baseline, a model missing, setups that differ).
    """
    from ganbench import check as C
    from ganbench.results import store_dir

    tol = C.parse_tolerance(tolerance)
    base = None if update else C.load_baseline(Path(baseline))  # bad input first, before any slow scoring
    if sources:
        from ganbench.scoring import ScoreConfig

        cfg = ScoreConfig(samples=sources[0], ref=ref, n=n, ref_n=ref_n, seed=seed, data_dir=data_dir,
                          strict=strict, backend=backend, resize=resize, batch_size=batch_size,
                          inception_weights=inception_weights)  # fmt: skip
        extractor = make_extractor(backend, resize, batch_size, inception_weights)
        records = C.score_sources(list(sources), cfg, extractor)
    else:
        records, skipped = C.current_records(store_dir(results))
        for line in skipped:
            click.echo(f"skipped {line}", err=True)
    if update:
        for line in C.write_baseline(Path(baseline), records):
            click.echo(line)
        click.echo(f"wrote {baseline}")
        return
    lines = C.compare(base, records, tol)
    click.echo(C.table(lines))
    regressed = [ln.model for ln in lines if ln.status == "REGRESSION"]
    if regressed:
        click.echo(f"FID regression: {', '.join(regressed)}", err=True)
        sys.exit(1)


@cli.command("demo")
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
    from ganbench.cli.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        workdir=Path(workdir), minutes=minutes, steps=steps, n=n, ref_n=ref_n, data_dir=data_dir,
        train=not no_train,
    )  # fmt: skip
    index = run_demo(cfg, echo=lambda line: click.echo(line, err=True))
    click.echo(str(index.resolve()))


# The composition root: the trainers (same distribution) contribute their verbs here, and only here.
cli.add_command(train_command, "train")
cli.add_command(sample_command, "sample")
cli.add_command(benchmark_command, "benchmark")


def main() -> None:
    cli(prog_name="ganbench")


if __name__ == "__main__":
    sys.exit(main())
