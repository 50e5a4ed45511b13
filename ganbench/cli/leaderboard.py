"""`ganbench report` (the HTML leaderboard) and `ganbench check` (the FID regression gate)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ganbench.cli.common import extractor_options, make_extractor


@click.command("report")
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
@click.option(
    "--committed",
    "committed",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Also show this store's records, measured elsewhere (e.g. leaderboard/results/benchmark-cpu), each "
    "marked with where and when; repeatable.",
)
def report_command(results, out, reported, committed) -> None:
    """Write the leaderboard site (index.html + a page per run) from the results store; prints its path."""
    from ganbench.report.site import build_site
    from ganbench.results import store_dir

    built = build_site(
        store_dir(results), Path(out), Path(reported) if reported else None, [Path(c) for c in committed]
    )
    for line in built.skipped:
        click.echo(f"skipped {line}", err=True)
    plural = "" if built.records == 1 else "s"
    click.echo(f"{built.records} record{plural} in {built.seconds:.1f} s", err=True)
    click.echo(str(built.index.resolve()))


@click.command("check")
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
