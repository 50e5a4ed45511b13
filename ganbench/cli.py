"""The `ganbench` command line: parsing and printing only; the work lives in the modules it calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ganbench import __version__
from ganbench.errors import UserError


class Group(click.Group):
    """Turns a UserError anywhere below into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """One-pass GAN evaluation for CIFAR-10: FID, KID, IS, precision/recall, density/coverage."""


def extractor_options(f):
    opts = [
        click.option("--backend", type=click.Choice(["auto", "torch", "onnxruntime"]), default="auto",
                     show_default=True, help="auto: CUDA torch if present, else onnxruntime on CPU."),
        click.option("--resize", "resize", type=click.Choice(["legacy-tf", "clean"]), default="legacy-tf",
                     show_default=True, help="legacy-tf: TF1 bilinear (torch-fidelity); clean: PIL bicubic (clean-fid)."),
        click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True),
        click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
                     help="FID Inception weights file (else GANBENCH_INCEPTION_WEIGHTS, the cache, download)."),
        click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
                     help="CIFAR-10 location for cifar10-train/-test (else GANBENCH_DATA, else torchvision)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --n/--ref-n subsets."),
        click.option("--strict", is_flag=True, help="Non-image files among images are an error, not skipped."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def make_extractor(backend: str, resize: str, batch_size: int, inception_weights: str | None):
    from ganbench import weights
    from ganbench.extractors.inception import InceptionExtractor

    return InceptionExtractor(weights.resolve(inception_weights), backend=backend, resize_policy=resize,
                              batch_size=batch_size)  # fmt: skip


def print_record(record: dict, stored: Path | None) -> None:
    from ganbench.scoring import metric_rows

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
    from ganbench.classaware import class_table

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


@cli.group(cls=Group)
def classifier() -> None:
    """The surrogate CIFAR-10 classifier behind the class-aware metrics."""


@classifier.command("train")
@click.argument("data")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Checkpoint to write.")
@click.option("--arch", type=click.Choice(["resnet20", "resnet56"]), default="resnet20", show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=128, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True)
@click.option("--val", default=None, help="Labelled source for the accuracy each epoch (e.g. cifar10-test).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="CIFAR-10 location for cifar10-train/-test (else GANBENCH_DATA).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="torch device (default: cuda when present, else cpu).")
def classifier_train(data, out, arch, epochs, batch_size, lr, val, data_dir, seed, device) -> None:
    """Train a CIFAR ResNet on DATA (class folders, npz with y, labels.csv, cifar10-train); use it with
    `score --classifier-weights OUT`."""
    from ganbench.classifier_train import TrainConfig, train

    cfg = TrainConfig(data=data, out=out, arch=arch, epochs=epochs, batch_size=batch_size, lr=lr, val=val,
                      data_dir=data_dir, seed=seed, device=device)  # fmt: skip
    train(cfg, log=lambda line: click.echo(line, err=True))


@cli.group(cls=Group)
def reference() -> None:
    """Build, export, import and list reference statistics."""


@reference.command("build")
@click.argument("source")
@click.option("--ref-n", "n", type=click.IntRange(2), default=None, help="Seeded subset of N images.")
@extractor_options
def reference_build(
    source, n, backend, resize, batch_size, inception_weights, data_dir, seed, strict
) -> None:
    """Compute and cache the features of SOURCE (e.g. cifar10-train) once."""
    from ganbench.scoring import ScoreConfig, load_reference

    cfg = ScoreConfig(samples=source, ref=source, ref_n=n, seed=seed, data_dir=data_dir, strict=strict,
                      backend=backend, resize=resize, batch_size=batch_size)  # fmt: skip
    ref, hit = load_reference(cfg, make_extractor(backend, resize, batch_size, inception_weights))
    state = "already cached" if hit else "built and cached"
    click.echo(
        f"{source}: {ref.info.get('n', '?')} images, {state} ({ref.info.get('origin', {}).get('copy', '')})"
    )


@reference.command("export")
@click.argument("source")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--ref-n", "n", type=click.IntRange(2), default=None)
@extractor_options
def reference_export(source, out, n, backend, resize, batch_size, inception_weights, data_dir, seed,
                     strict) -> None:  # fmt: skip
    """Write SOURCE's FID statistics to OUT.npz (mu, sigma: the TTUR / clean-fid layout, plus meta)."""
    from ganbench.references import save_stats
    from ganbench.scoring import ScoreConfig, load_reference

    if not out.endswith(".npz"):
        raise UserError(f"{out}: the statistics file name must end in .npz")
    extractor = make_extractor(backend, resize, batch_size, inception_weights)
    cfg = ScoreConfig(samples=source, ref=source, ref_n=n, seed=seed, data_dir=data_dir, strict=strict)
    ref, _ = load_reference(cfg, extractor)
    meta = {**extractor.identity(), "source": ref.info}
    save_stats(Path(out), ref.mu, ref.sigma, meta)
    click.echo(f"wrote {out}")


@reference.command("import")
@click.argument("stats", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Name to use with --ref.")
def reference_import(stats, name) -> None:
    """Store a statistics .npz (mu, sigma) under NAME for `score --ref NAME`."""
    from ganbench.references import import_stats

    click.echo(f"imported {stats} as {name} -> {import_stats(Path(stats), name)}")


@reference.command("list")
def reference_list() -> None:
    """Imported statistics files."""
    from ganbench.references import list_stats

    items = list_stats()
    if not items:
        click.echo("no imported references")
    for item in items:
        click.echo(json.dumps(item, sort_keys=True))


@cli.group(cls=Group)
def weights() -> None:
    """Fetch, list and verify the FID Inception and surrogate-classifier weights."""


@weights.command("fetch")
@click.option(
    "--classifier",
    type=click.Choice(["resnet56", "resnet20", "all", "none"]),
    default=None,
    help="Surrogate classifier weights to fetch too [default: resnet56; a failure is then only a warning].",
)
def weights_fetch(classifier) -> None:
    """Put verified weights in the cache (already there: nothing to do)."""
    from ganbench import weights as W
    from ganbench.errors import UserError, warn
    from ganbench.extractors.classifier import KNOWN_CLASSIFIERS, resolve_classifier

    resolved = W.resolve()
    click.echo(
        f"{resolved.path}  sha256 {resolved.sha256}  IS head: {'yes' if resolved.spec.has_logits else 'no'}"
    )
    archs = {"all": list(KNOWN_CLASSIFIERS), "none": []}.get(
        classifier or "resnet56", [classifier or "resnet56"]
    )
    for arch in archs:
        try:
            clf = resolve_classifier(arch)
        except UserError as e:
            if classifier is not None:  # asked for by name: its absence is the error
                raise
            warn(f"surrogate classifier unavailable, so class-aware scoring needs --classifier-weights or "
                 f"--classifier none: {e}")  # fmt: skip
            continue
        click.echo(f"{clf.path}  sha256 {clf.sha256}  classifier: {clf.arch}")


@weights.command("list")
def weights_list() -> None:
    """Known weight files and which are in the cache."""
    from ganbench import weights as W
    from ganbench.extractors.classifier import KNOWN_CLASSIFIERS

    for spec in W.KNOWN:
        p = W.weights_dir() / spec.filename
        state = "cached" if p.is_file() else "missing"
        head = "with IS head" if spec.has_logits else "pool3 only"
        click.echo(f"{spec.filename:<45} {state:<8} {head:<13} {spec.source}")
    for c in KNOWN_CLASSIFIERS.values():
        state = "cached" if (W.weights_dir() / c.filename).is_file() else "missing"
        click.echo(f"{c.filename:<45} {state:<8} {'classifier':<13} akamaster/pytorch_resnet_cifar10")


@weights.command("verify")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def weights_verify(path) -> None:
    """Check the hash of PATH (Inception or classifier weights), or of the Inception weights in use."""
    from ganbench import weights as W
    from ganbench.errors import UserError
    from ganbench.extractors import classifier as C

    if not path:
        resolved = W.resolve()
    else:
        try:
            resolved = W.identify(Path(path))
        except UserError as not_inception:
            try:
                clf = C.identify(Path(path))
            except UserError:
                known = [s.filename for s in W.KNOWN] + [c.filename for c in C.KNOWN_CLASSIFIERS.values()]
                if not Path(path).is_file():
                    raise not_inception from None
                raise UserError(f"{path} matches no known weights file ({', '.join(known)}); "
                                "re-download it with `ganbench weights fetch`") from None  # fmt: skip
            click.echo(f"ok: {clf.path} is the {clf.arch} classifier ({clf.source}, sha256 {clf.sha256})")
            return
    click.echo(f"ok: {resolved.path} is {resolved.spec.filename} (sha256 {resolved.sha256})")


@cli.group(cls=Group)
def cache() -> None:
    """Inspect or clear the feature cache."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True)
def cache_info(as_json) -> None:
    from ganbench import cache as C

    info = C.info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(
        f"{info['root']}: {info['feature_entries']} feature entries, {info['feature_bytes'] / 1e6:.1f} MB"
    )
    for e in info["entries"]:
        click.echo(f"  {e['key'][:12]}  {e.get('source', '?')}  n={e.get('n', '?')}  {e.get('resize', '')}")


@cache.command("clear")
def cache_clear() -> None:
    from ganbench import cache as C

    click.echo(f"removed {C.clear()} feature entries")


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
    from ganbench.report import build_site
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
    from ganbench.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        workdir=Path(workdir), minutes=minutes, steps=steps, n=n, ref_n=ref_n, data_dir=data_dir,
        train=not no_train,
    )  # fmt: skip
    index = run_demo(cfg, echo=lambda line: click.echo(line, err=True))
    click.echo(str(index.resolve()))


def _register_trainers() -> None:
    try:
        from trainers.cli import sample_command, train_command
    except ModuleNotFoundError as e:  # trainers not installed beside ganbench; any other error is a bug
        if not (e.name or "").startswith("trainers"):
            raise
        return
    cli.add_command(train_command, "train")
    cli.add_command(sample_command, "sample")


_register_trainers()


def main() -> None:
    cli(prog_name="ganbench")


if __name__ == "__main__":
    sys.exit(main())
