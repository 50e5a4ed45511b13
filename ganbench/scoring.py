"""The scoring pipeline: sources -> features (cached, one pass) -> metrics -> one result record."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganbench import cache, classaware, parallel
from ganbench import weights as W
from ganbench.errors import warn
from ganbench.extractors.inception import InceptionExtractor
from ganbench.inputs.imageset import ImageSet
from ganbench.inputs.sources import load_source
from ganbench.metrics import FID_BIAS_THRESHOLD, feature_stats, registry
from ganbench.metrics.registry import MetricInputs
from ganbench.references import Reference, is_stats_file, load_stats, named_stats


@dataclass(frozen=True)
class ScoreConfig:
    """Everything that decides a score. The CLI builds it; the record stores it."""

    samples: str  # any image source: folder, class folders, .zip, .npz, cifar10-train/-test
    ref: str = "cifar10-train"  # an image source, a stats .npz (mu, sigma) or an imported reference name
    n: int | None = None  # seeded subset of the samples (None: all)
    ref_n: int | None = None  # seeded subset of the reference images (None: all)
    seed: int = 0  # seed of both subsets
    metric_seed: int = 2020  # KID subsets and IS split shuffle (torch-fidelity's default)
    data_dir: str | None = None  # where cifar10-* come from (else GANBENCH_DATA, else torchvision)
    strict: bool = False  # non-image files among images are an error instead of skipped
    backend: str = "auto"  # auto | torch | onnxruntime
    resize: str = "legacy-tf"  # legacy-tf (torch-fidelity, TF FID) | clean (clean-fid)
    batch_size: int = 64
    inception_weights: str | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prc_k: int = 3  # precision/recall neighbourhood (torch-fidelity / Kynkäänniemi et al.)
    dc_k: int = 5  # density/coverage neighbourhood (Naeem et al., prdc)
    fid_ci: int = 0  # bootstrap resamples for FID's 95% interval (0: none; each costs a 2048-d eigensolve)
    fid_inf: int = 0  # subset sizes of FD-infinity and IS-infinity (0: none; 15 as Chong & Forsyth)
    classifier: str = "resnet56"  # surrogate CIFAR-10 classifier: resnet56 | resnet20 | none
    classifier_weights: str | None = None  # else GANBENCH_CLASSIFIER_WEIGHTS, the cache, download
    calibration_n: int | None = None  # cifar10-test images for the classifier's accuracy (None: all, 0: skip)


def features_for(images: ImageSet, extractor, desc: str, use_cache: bool = True) -> tuple[dict, bool]:
    """Features of an image set from the cache, or one network pass (then cached). Returns (features, hit).

    `extractor` is anything with identity(), outputs, batch_size and __call__(images, desc=): the Inception
    extractor or the surrogate classifier, each cached under its own identity. use_cache=False: neither read
    nor write. In a process group each rank runs its shard of whole batches (ganbench/parallel.py).
    """
    key = cache.make_key(images.content_hash(), extractor.identity()) if use_cache else None
    rank, size = parallel.world()
    hit = cache.get(key) if key is not None and rank == 0 else None
    found = hit is not None and set(extractor.outputs) <= set(hit)
    if size > 1:
        if parallel.broadcast_flag(found):
            return parallel.broadcast_arrays(
                {k: hit[k] for k in extractor.outputs} if rank == 0 else None
            ), True
        lo, hi = parallel.shard(len(images.images), extractor.batch_size)
        local = extractor(
            images.images[lo:hi], desc=f"{desc} (rank {rank}: {hi - lo} of {len(images.images)})"
        )
        feats = {k: parallel.gather_rows(local[k]) for k in extractor.outputs}
    elif found:
        return hit, True
    else:
        feats = extractor(images.images, desc=desc)
    if key is not None:
        meta = {"source": images.source, "n": len(images.images), **extractor.identity()}
        cache.put(key, feats, meta)  # rank 0 only (cache.put)
    return feats, False


def _source_info(images: ImageSet) -> dict:
    return {
        "source": images.source,
        "kind": images.kind,
        "n": int(len(images.images)),
        "content_sha256": images.content_hash(),
        "labels": images.labels is not None,
        "notes": dict(images.notes),
        "origin": dict(images.origin),
        "subset": images.subset,
    }


def load_reference(cfg: ScoreConfig, extractor: InceptionExtractor) -> tuple[Reference, bool]:
    """Resolve --ref: a stats file path, an imported name, else any image source."""
    path = Path(cfg.ref)
    stats_path = path if is_stats_file(path) else (None if path.exists() else named_stats(cfg.ref))
    if stats_path is not None:
        mu, sigma, meta = load_stats(stats_path)
        info = {"source": cfg.ref, "kind": "statistics", "path": str(stats_path.resolve()), "meta": meta}
        made_with = {k: meta.get(k) for k in ("weights_sha256", "resize")}
        expected = {"weights_sha256": extractor.weights.sha256, "resize": extractor.resize_policy}
        if not meta:
            warn(f"{stats_path} says nothing of how it was made; FID is valid only if it used the same "
                 "Inception weights and resize policy")  # fmt: skip
        elif made_with != expected:
            warn(f"{stats_path} was made with {made_with}, this run uses {expected}; FID is not comparable")
        return Reference(info=info, mu=mu, sigma=sigma), True
    images = load_source(cfg.ref, data_dir=cfg.data_dir, n=cfg.ref_n, seed=cfg.seed, strict=cfg.strict)
    feats, hit = features_for(images, extractor, desc="reference")
    mu, sigma = feature_stats(feats["pool3"])
    ref = Reference(_source_info(images), mu, sigma, feats["pool3"], images.labels, {"names": images.names})
    return ref, hit


def compute_metrics(
    cfg: ScoreConfig, fake: dict, ref: Reference, head_file: str, seconds: dict[str, float] | None = None
) -> tuple[dict, dict]:
    """Every registered pool3/logit metric from one set of features (ganbench/metrics/registry.py).
    Returns (metrics, unavailable: metric key -> reason); seconds gets each metric's wall time."""
    inputs = MetricInputs(fake["pool3"], fake.get("logits"), ref.mu, ref.sigma, ref.features, cfg)
    return registry.compute_metrics(inputs, weights_file=head_file, seconds=seconds)


class Stages:
    """Wall seconds of each stage of a run, for the record ("stage_seconds")."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t, 3)


@dataclass
class Setup:
    """What every run against one reference shares: the networks and the reference's features or
    statistics, loaded once (the API's Evaluator holds one across many runs)."""

    cfg: ScoreConfig
    extractor: InceptionExtractor
    classifier: Any  # a ClassifierExtractor, or None for --classifier none
    reference: Reference | None = None
    reference_hit: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    reference_reported: bool = False  # a record already told how the reference was loaded (later: held)

    def load_reference(self) -> Reference:
        if self.reference is None:
            stages = Stages()
            with stages("reference"):
                self.reference, self.reference_hit = load_reference(self.cfg, self.extractor)
            self.seconds.update(stages.seconds)
        return self.reference


def setup(
    cfg: ScoreConfig, extractor: InceptionExtractor | None = None, classifier=None, device: str | None = None
) -> Setup:
    """The networks for cfg (the surrogate resolved first: a missing file fails before any slow pass).
    device: where the torch networks run (None: CUDA when present, else CPU)."""
    stages = Stages()
    with stages("networks"):
        if extractor is None:
            extractor = InceptionExtractor(
                W.resolve(cfg.inception_weights), backend=cfg.backend, resize_policy=cfg.resize,
                batch_size=cfg.batch_size, device=device,
            )  # fmt: skip
        if classifier is None and cfg.classifier != "none":
            classifier = classaware.make_classifier(cfg.classifier, cfg.classifier_weights, device=device)
    return Setup(cfg, extractor, classifier, seconds=stages.seconds)


def score(cfg: ScoreConfig, extractor: InceptionExtractor | None = None, classifier=None) -> dict:
    """Score one sample source against one reference; returns the result record (not yet stored).

    classifier: a ClassifierExtractor to use instead of building one from cfg.classifier (tests share one).
    """
    t0 = time.time()
    run = setup(cfg, extractor, classifier)
    stages = Stages()
    with stages("load_samples"):
        samples = load_source(cfg.samples, data_dir=cfg.data_dir, n=cfg.n, seed=cfg.seed, strict=cfg.strict)
    return score_images(run, samples, stages=stages, t0=t0)


def score_images(
    run: Setup,
    samples: ImageSet,
    *,
    cfg: ScoreConfig | None = None,
    stages: Stages | None = None,
    t0: float | None = None,
    cache_samples: bool = True,
    extra: dict | None = None,
) -> dict:
    """Score decoded samples against run's reference -> the result record (not yet stored).

    cfg: this run's settings when they differ from run.cfg in what only the samples' side uses (the API's
    source description, n, seed); the reference and network settings are run.cfg's."""
    from ganbench.version import __version__

    cfg = cfg or run.cfg
    t0 = time.time() if t0 is None else t0
    stages = stages or Stages()
    ref = run.load_reference()
    fresh_reference, run.reference_reported = not run.reference_reported, True
    extractor, classifier = run.extractor, run.classifier
    with stages("sample_features"):
        fake, fake_hit = features_for(samples, extractor, desc="samples", use_cache=cache_samples)
    notes: list[str] = []
    n = len(samples.images)
    if n < FID_BIAS_THRESHOLD:
        notes.append(
            f"FID from {n} samples (< {FID_BIAS_THRESHOLD}) is biased upwards; compare only at equal n"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with stages("metrics"):
            metrics, unavailable = compute_metrics(
                cfg, fake, ref, extractor.weights.spec.filename, seconds=stages.seconds
            )
        t_class = time.time()
        with stages("classaware"):
            class_metrics, class_unavailable, classwise, class_notes = classaware.evaluate(
                samples, fake["pool3"], ref, classifier, features_for, identity=extractor.identity(),
                seed=cfg.metric_seed, data_dir=cfg.data_dir, calibration_n=cfg.calibration_n,
            )  # fmt: skip
        classwise["wall_seconds"] = round(time.time() - t_class, 3)
    metrics.update(class_metrics)
    unavailable.update(class_unavailable)
    notes += class_notes + [str(w.message) for w in caught]
    for note in notes:
        warn(note)
    shared = {k: v for k, v in run.seconds.items() if fresh_reference or k != "reference"}
    record = {
        "schema": 1,
        "ganbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_seconds": round(time.time() - t0, 3),
        "stage_seconds": {**shared, **stages.seconds},
        "world_size": parallel.world()[1],  # processes that shared the network passes (torchrun)
        "samples": _source_info(samples),
        "reference": ref.info,
        "extractor": {
            **extractor.identity(),
            "weights": extractor.weights.identity(),
            "backend": extractor.backend,
            "device": extractor.device if extractor.backend == "torch" else "cpu",
            "batch_size": extractor.batch_size,
        },
        "cache": {"samples_hit": fake_hit, "reference_hit": run.reference_hit or not fresh_reference},
        "config": asdict(cfg),
        "seed": cfg.seed,
        "metric_seed": cfg.metric_seed,
        "metrics": {k: (None if v is None else float(v)) for k, v in metrics.items()},
        "unavailable": unavailable,
        "classwise": classwise,
        "warnings": notes,
    }
    if extra:
        record.update(extra)
    return record
