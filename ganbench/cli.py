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
    click.echo(f"{'time':<{width}}  {record['wall_seconds']:.1f} s")
    if stored:
        click.echo(f"{'record':<{width}}  {stored}")


@cli.command()
@click.argument("samples")
@click.option(
    "--ref",
    default="cifar10-train",
    show_default=True,
    help="Reference: an image source, a stats .npz (mu, sigma) or an imported reference name.",
)
@click.option("--n", type=click.IntRange(2), default=None, help="Score a seeded subset of N samples.")
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
def score(samples, ref, n, ref_n, backend, resize, batch_size, inception_weights, data_dir, seed, strict,
          as_json, results, no_store) -> None:  # fmt: skip
    """Score SAMPLES (folder, class folders, .zip, .npz, cifar10-test…) against a reference."""
    from ganbench import results as R
    from ganbench.scoring import ScoreConfig
    from ganbench.scoring import score as run_score

    cfg = ScoreConfig(samples=samples, ref=ref, n=n, ref_n=ref_n, seed=seed, data_dir=data_dir, strict=strict,
                      backend=backend, resize=resize, batch_size=batch_size,
                      inception_weights=inception_weights)  # fmt: skip
    record = run_score(cfg, make_extractor(backend, resize, batch_size, inception_weights))
    stored = None if no_store else R.write_record(record, R.store_dir(results))
    if as_json:
        click.echo(json.dumps(record, indent=2, sort_keys=True))
    else:
        print_record(record, stored)


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
    """Fetch, list and verify the FID Inception weights."""


@weights.command("fetch")
def weights_fetch() -> None:
    """Put verified weights in the cache (already there: nothing to do)."""
    from ganbench import weights as W

    resolved = W.resolve()
    click.echo(
        f"{resolved.path}  sha256 {resolved.sha256}  IS head: {'yes' if resolved.spec.has_logits else 'no'}"
    )


@weights.command("list")
def weights_list() -> None:
    """Known weight files and which are in the cache."""
    from ganbench import weights as W

    for spec in W.KNOWN:
        p = W.weights_dir() / spec.filename
        state = "cached" if p.is_file() else "missing"
        head = "with IS head" if spec.has_logits else "pool3 only"
        click.echo(f"{spec.filename:<45} {state:<8} {head:<13} {spec.source}")


@weights.command("verify")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def weights_verify(path) -> None:
    """Check the hash of PATH (or of the weights that would be used)."""
    from ganbench import weights as W

    resolved = W.identify(Path(path)) if path else W.resolve()
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
