"""The class-aware part of a scoring run: surrogate-classifier probabilities (cached), per-class quality,
intra-class FID, mode collapse and memorisation -> top-level metrics + the record's "classwise" section.

Which labels group the samples: the conditioning labels when the source has them (class folders, npz `y`,
labels.csv); else the classifier's predictions (for the histogram and per-class diversity only: the
label-dependent numbers are None with the reason); else none (overall diversity only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from ganbench import cache
from ganbench.errors import UserError
from ganbench.extractors.classifier import ClassifierExtractor, resolve_classifier
from ganbench.inputs.datasets import split_fingerprint
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet
from ganbench.inputs.sources import load_source
from ganbench.metrics import classwise as CW
from ganbench.metrics import diversity as DV
from ganbench.metrics import registry
from ganbench.references import Reference

# Result keys this module adds to `metrics`, in report order (declared in the metric registry).
CLASS_METRIC_KEYS = registry.result_keys(computed_here=False)
LABEL_KEYS = ("classifier_accuracy", "macro_f1", "ifid")
PROB_KEYS = ("classifier_accuracy", "macro_f1", "classifier_score", "classifier_kl", "pred_kl_uniform")
OFFENDERS = 10  # worst memorised images listed by name
FeaturesFor = Callable[..., tuple[dict, bool]]
# Per-class statistics (needed only when a class has more rows than dimensions) are cached only for references
# above this size: the entry is 10 x 2048^2 float64 (~320 MB) whatever the size, and reading it (~1 s) is slower
# than computing them from 1,000 rows (~0.1 s).
CLASS_STATS_CACHE_MIN = 5_000


def make_classifier(
    arch: str, weights: str | None, batch_size: int = 256, device: str | None = None
) -> ClassifierExtractor | None:
    """The surrogate for --classifier ARCH (None for "none")."""
    if arch == "none":
        return None
    return ClassifierExtractor(resolve_classifier(arch, weights), batch_size=batch_size, device=device)


def class_reference(
    ref: Reference, identity: dict
) -> dict[int, np.ndarray] | dict[int, tuple[np.ndarray, np.ndarray]]:
    """What intra_class_fid compares each class with: the class's reference features when no class has more
    rows than dimensions (exact and cheap), else its (mu, sigma), cached beside the reference's features for
    large references (keyed by its content, the network and the labels, since the labels decide the split)."""
    assert ref.features is not None and ref.labels is not None
    if np.bincount(ref.labels, minlength=CW.NUM_CLASSES).max() <= ref.features.shape[1]:
        return CW.class_features(ref.features, ref.labels)
    if len(ref.features) <= CLASS_STATS_CACHE_MIN:
        return CW.class_stats(ref.features, ref.labels)
    labels_sha = hashlib.sha256(ref.labels.tobytes()).hexdigest()
    key = cache.make_key(
        ref.info["content_sha256"], {**identity, "derived": "class-stats-v1", "labels": labels_sha}
    )
    hit = cache.get(key)
    if hit is not None:
        return {int(k[2:]): (hit[k], hit[f"sigma{k[2:]}"]) for k in hit if k.startswith("mu")}
    stats = CW.class_stats(ref.features, ref.labels)
    arrays = {
        f"{name}{c}": arr for c, (mu, sigma) in stats.items() for name, arr in (("mu", mu), ("sigma", sigma))
    }
    cache.put(key, arrays, {"source": ref.info["source"], "derived": "per-class reference statistics"})
    return stats


def calibration(
    clf: ClassifierExtractor,
    data_dir: str | None,
    n: int | None,
    features_for: FeaturesFor,
    samples: ImageSet,
) -> dict:
    """The classifier's accuracy on (a seeded subset of) cifar10-test, from the copy this run uses.

    Cached by the split's file fingerprint (names, sizes, mtimes) + classifier + n, so a run does not
    decode the 10,000 test images again just to find their cached probabilities (~10-15 s on 2 cores).
    """
    same = samples.source == "cifar10-test" and samples.subset is None and n is None
    key = None
    if not same:
        try:
            kind, files = split_fingerprint("test", data_dir)
        except UserError:  # no local copy yet: load_source below downloads or names the problem
            pass
        else:
            ident = {**clf.identity(), "derived": "calibration-v1", "n": n, "seed": 0}
            key = cache.make_key(f"cifar10-test-files:{files}", ident)
            hit = cache.get(key)
            if hit is not None:
                return {"split": "cifar10-test", "copy": str(hit["copy"]), "n": int(hit["n"]),
                        "accuracy": float(hit["accuracy"]), "cached": True}  # fmt: skip
    # scoring the whole test split already holds it: skip decoding 10,000 files again
    test = samples if same else load_source("cifar10-test", data_dir=data_dir, n=n, seed=0)
    probs = features_for(test, clf, desc="classifier calibration")[0]["probs"]
    assert test.labels is not None
    out = {
        "split": "cifar10-test",
        "copy": test.origin.get("copy"),
        "n": len(test),
        "accuracy": float((probs.argmax(1) == test.labels).mean()),
    }
    if key is not None:
        arrays = {
            "accuracy": np.array(out["accuracy"]),
            "n": np.array(out["n"]),
            "copy": np.array(str(out["copy"])),
        }
        cache.put(key, arrays, {"source": "cifar10-test", "derived": "classifier calibration accuracy"})
    return out


def _diversity(
    pool3: np.ndarray, groups: np.ndarray | None, ref: Reference, seed: int, notes: list[str]
) -> dict:
    """Per-group diversity statistics (None where a class is too small), pooled rates and offenders."""
    out: dict = {"per_class": [None] * CW.NUM_CLASSES, "offenders": []}
    real = ref.features
    assert real is not None
    names = ref.extra.get("names")

    def offenders(stats: dict, fake_idx: np.ndarray, real_idx: np.ndarray) -> list[dict]:
        return [
            {"sample": int(fake_idx[i]), "reference": names[int(real_idx[j])] if names else int(real_idx[j]),
             "distance": float(d)}
            for i, j, d in zip(stats["memorised"], stats["memorised_nn"], stats["memorised_dist"], strict=True)
        ]  # fmt: skip

    if groups is None or ref.labels is None:
        if len(pool3) < 2 or len(real) < DV.COVERAGE_K + 1:
            notes.append(
                f"no diversity statistics: they need 2+ samples and {DV.COVERAGE_K + 1}+ reference images"
            )
            return out
        stats = DV.group_diversity(pool3, real, seed=seed)
        out["offenders"] = offenders(stats, np.arange(len(pool3)), np.arange(len(real)))
        out["pooled"] = stats
        return out
    too_small = []
    for c in range(CW.NUM_CLASSES):
        fake_idx, real_idx = np.flatnonzero(groups == c), np.flatnonzero(ref.labels == c)
        if len(fake_idx) < 2 or len(real_idx) < DV.COVERAGE_K + 1:
            if len(fake_idx) == 1 or (len(fake_idx) and len(real_idx) < DV.COVERAGE_K + 1):
                too_small.append(CIFAR10_CLASSES[c])
            continue
        stats = DV.group_diversity(pool3[fake_idx], real[real_idx], seed=seed + c)
        out["per_class"][c] = stats
        out["offenders"] += offenders(stats, fake_idx, real_idx)
    if too_small:
        notes.append(
            f"no per-class diversity for {', '.join(too_small)}: needs 2+ samples and "
            f"{DV.COVERAGE_K + 1}+ reference images of the class"
        )
    done = [s for s in out["per_class"] if s is not None]
    if done:
        weights = np.array([s["n_examined"] for s in done], float)
        out["pooled"] = {
            key: float(np.average([s[key] for s in done], weights=weights))
            for key in ("near_duplicate_rate", "memorisation_rate")
        }
    out["offenders"].sort(key=lambda o: o["distance"])
    return out


def evaluate(
    samples: ImageSet,
    pool3: np.ndarray,
    ref: Reference,
    clf: ClassifierExtractor | None,
    features_for: FeaturesFor,
    *,
    identity: dict,
    seed: int,
    data_dir: str | None,
    calibration_n: int | None,
) -> tuple[dict, dict, dict, list[str]]:
    """Returns (metrics, unavailable, the record's "classwise" section, notes for the warnings list)."""
    metrics: dict[str, float | None] = dict.fromkeys(CLASS_METRIC_KEYS)
    unavailable: dict[str, str] = {}
    notes: list[str] = []
    section: dict = {
        "classes": list(CIFAR10_CLASSES),
        "classifier": None,
        "confusion_matrix": None,
        "heatmap": None,
    }
    rows = [{"label": c, "class": name} for c, name in enumerate(CIFAR10_CLASSES)]
    labels = samples.labels
    section["labels"] = samples.origin.get("labels", samples.kind) if labels is not None else None
    if labels is not None:
        for row, count in zip(rows, np.bincount(labels, minlength=CW.NUM_CLASSES), strict=True):
            row["n"] = int(count)

    probs = None
    if clf is None:
        for key in PROB_KEYS:
            unavailable[key] = "no surrogate classifier (--classifier none)"
    else:
        probs, hit = features_for(samples, clf, desc="classifier")
        probs = probs["probs"]
        section["classifier"] = {**clf.describe(), "cache_hit": hit}
        real_run = samples.origin.get("copy") or ref.info.get("origin", {}).get("copy")
        if real_run and calibration_n != 0:
            section["classifier"]["calibration"] = calibration(
                clf, data_dir, calibration_n, features_for, samples
            )
        pred = probs.argmax(1).astype(np.int64)
        metrics.update(CW.classifier_score(probs))
        hist = CW.prediction_histogram(pred)
        metrics["pred_kl_uniform"] = hist["pred_kl_uniform"]
        section["never_predicted"] = [CIFAR10_CLASSES[c] for c in hist["never_predicted"]]
        for row, count in zip(rows, hist["histogram"], strict=True):
            row["predicted"] = count
        if labels is not None:
            rep = CW.classification_report(labels, pred)
            metrics["classifier_accuracy"], metrics["macro_f1"] = rep["accuracy"], rep["macro_f1"]
            section["confusion_matrix"] = rep["confusion_matrix"]
            for c, row in enumerate(rows):
                row.update({k: rep[k][c] for k in ("precision", "recall", "f1", "support")})
        if hist["never_predicted"]:
            notes.append(f"the classifier never predicted {', '.join(section['never_predicted'])}")

    if labels is None:
        for key in LABEL_KEYS:
            unavailable[key] = "the samples have no labels (use class folders, an npz y, or labels.csv)"
    if ref.features is None:
        for key in ("ifid", "diversity_ratio", "near_duplicate_rate", "memorisation_rate", "classes_flagged"):
            unavailable.setdefault(key, "the reference is statistics only; these need reference features")
    elif ref.labels is None:
        unavailable.setdefault("ifid", "the reference has no labels, so it has no per-class statistics")
    elif labels is not None:
        real_classes = class_reference(ref, identity)
        ifid = CW.intra_class_fid(pool3, labels, real_classes)
        metrics["ifid"] = ifid["ifid"]
        if ifid["ifid"] is None:
            missing = [CIFAR10_CLASSES[c] for c in real_classes if ifid["fid"][c] is None]
            unavailable["ifid"] = (
                f"no per-class FID for {', '.join(missing)} (fewer than 2 samples); IFID averages every "
                "reference class or none"
                if missing
                else ifid["ifid_reason"]
            )
        for c, row in enumerate(rows):
            row["fid"] = ifid["fid"][c]
        if ifid["small_classes"]:
            small = ", ".join(f"{CIFAR10_CLASSES[c]} ({ifid['n_samples'][c]})" for c in ifid["small_classes"])
            notes.append(
                f"per-class FID from fewer than {CW.IFID_SMALL_CLASS} samples is biased upwards: {small}"
            )
        for c, reason in ifid["reasons"].items():
            notes.append(f"class {CIFAR10_CLASSES[c]}: no FID ({reason})")

    if ref.features is not None:
        groups = labels if labels is not None else (None if probs is None else probs.argmax(1))
        div = _diversity(pool3, groups, ref, seed, notes)
        metrics["diversity_ratio"] = DV.overall_diversity_ratio(pool3, ref.features, seed=seed)
        pooled = div.get("pooled")
        if pooled is not None:
            metrics["near_duplicate_rate"] = pooled["near_duplicate_rate"]
            metrics["memorisation_rate"] = pooled["memorisation_rate"]
        section["diversity_groups"] = "none" if groups is None or ref.labels is None else (
            "labels" if labels is not None else "predicted")  # fmt: skip
        flagged = 0
        for c, stats in enumerate(div["per_class"]):
            if stats is not None:
                rows[c].update({k: stats[k] for k in ("diversity_ratio", "near_duplicate_rate", "memorisation_rate",
                                                      "coverage", "flag", "tau_dup", "tau_mem")})  # fmt: skip
                flagged += stats["flag"] != "ok"
        if any(s is not None for s in div["per_class"]):
            metrics["classes_flagged"] = float(flagged)
        elif section["diversity_groups"] != "none":
            unavailable["classes_flagged"] = (
                f"no class has 2+ samples and {DV.COVERAGE_K + 1}+ reference images"
            )
        else:
            unavailable["classes_flagged"] = (
                "no per-class groups (no labels and no classifier, or an unlabelled reference)"
            )
            if isinstance(pooled, dict) and "flag" in pooled:
                section["overall_flag"] = pooled["flag"]
        section["memorised"] = [
            {**o, "sample": samples.names[o["sample"]]} for o in div["offenders"][:OFFENDERS]
        ]
        section["thresholds"] = {
            "percentile": DV.PERCENTILE,
            "collapsed": {
                "near_duplicate_rate": DV.COLLAPSED_DUP,
                "diversity_ratio_below": DV.COLLAPSED_RATIO,
            },
            "memorising": {"memorisation_rate": DV.MEMORISING_RATE},
            "low diversity": {"near_duplicate_rate": DV.LOW_DUP, "diversity_ratio_below": DV.LOW_RATIO},
        }
    section["per_class"] = rows
    for key, value in metrics.items():
        if value is None and key not in unavailable:
            unavailable[key] = f"too few images (needs 2+ samples and {DV.COVERAGE_K + 1}+ reference images)"
    return metrics, unavailable, section, notes
