"""`ganbench score`: one sample source against one reference -> a printed table or JSON + a stored record."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganbench.cli.common import extractor_options, make_extractor
from ganbench.cli.tables import class_table, metric_rows


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


@click.command("score")
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
@click.option("--fid-inf", type=click.IntRange(0), default=0, show_default=True, metavar="K",
              help="FID∞ (and IS∞ with the IS head): fit over K subset sizes, Chong & Forsyth (e.g. 15).")  # fmt: skip
def score(samples, ref, n, ref_n, backend, resize, batch_size, inception_weights, data_dir, seed, strict,
          as_json, results, no_store, classifier, classifier_weights, calibration_n, fid_ci, fid_inf) -> None:  # fmt: skip
    """Score SAMPLES (folder, class folders, .zip, .npz, cifar10-test…) against a reference."""
    from ganbench import parallel
    from ganbench import results as R
    from ganbench.scoring import ScoreConfig
    from ganbench.scoring import score as run_score

    cfg = ScoreConfig(samples=samples, ref=ref, n=n, ref_n=ref_n, seed=seed, data_dir=data_dir, strict=strict,
                      backend=backend, resize=resize, batch_size=batch_size,
                      inception_weights=inception_weights, classifier=classifier,
                      classifier_weights=classifier_weights, calibration_n=calibration_n,
                      fid_ci=fid_ci, fid_inf=fid_inf)  # fmt: skip
    parallel.init_from_env()  # under torchrun: each rank extracts a shard; rank 0 alone stores and prints
    record = run_score(cfg, make_extractor(backend, resize, batch_size, inception_weights))
    if not parallel.is_main():
        return
    stored = None if no_store else R.write_record(record, R.store_dir(results))
    if as_json:
        click.echo(json.dumps(record, indent=2, sort_keys=True))
    else:
        print_record(record, stored)
