"""`ganbench classifier | reference | weights | cache`: the commands that manage models, references and the
cache rather than score. Registered on the main group by ganbench/cli.py; parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganbench import parallel
from ganbench.cli.common import Group, extractor_options, make_extractor
from ganbench.errors import UserError


@click.group(cls=Group)
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


@click.group(cls=Group)
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
    parallel.init_from_env()  # under torchrun: shards of the pass; rank 0 writes the cache entry and prints
    ref, hit = load_reference(cfg, make_extractor(backend, resize, batch_size, inception_weights))
    if not parallel.is_main():
        return
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
    parallel.init_from_env()
    ref, _ = load_reference(cfg, extractor)
    if not parallel.is_main():
        return
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


@click.group(cls=Group)
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
    from ganbench.extractors.classifier import KNOWN_CLASSIFIERS, cache_copy, resolve_classifier

    resolved = W.resolve()
    click.echo(
        f"{resolved.path}  sha256 {resolved.sha256}  IS head: {'yes' if resolved.spec.has_logits else 'no'}"
    )
    archs = {"all": list(KNOWN_CLASSIFIERS), "none": []}.get(
        classifier or "resnet56", [classifier or "resnet56"]
    )
    for arch in archs:
        try:
            clf = cache_copy(resolve_classifier(arch))
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


@click.group(cls=Group)
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


GROUPS = (classifier, reference, weights, cache)
