"""Per-class quality under a surrogate classifier: agreement with the conditioning label, the confusion
matrix, the classifier score, the predicted-class histogram, and intra-class FID.

Pure functions: arrays in, plain Python values out. A number that cannot be computed is None, and the
caller says why. Conventions follow scikit-learn: confusion matrix rows are the true (conditioning) label,
columns the prediction; precision, recall and F1 of class c are one-vs-rest.
"""

from __future__ import annotations

import numpy as np

from .fid import feature_stats, fid_against_stats, fid_between_features

NUM_CLASSES = 10
# Below this many samples a class's FID is dominated by its small-sample bias (and the 2048-d covariance is
# rank-deficient); the per-class FID is still reported, with a warning. 2 is the hard minimum (covariance).
IFID_SMALL_CLASS = 500


def _check_labels(labels: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries, expected {n}")
    if len(arr) and (arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise ValueError(f"{name} must lie in 0..{NUM_CLASSES - 1}, got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def _check_probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != NUM_CLASSES or len(p) < 1:
        raise ValueError(f"probs must be [N, {NUM_CLASSES}] with N >= 1, got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("probs must be finite, non-negative rows that sum to 1")
    return p


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """int64 [10, 10]: entry (i, j) counts samples conditioned on class i that the classifier calls j."""
    y = _check_labels(labels, "labels")
    p = _check_labels(predictions, "predictions", len(y))
    return np.bincount(y * NUM_CLASSES + p, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def classification_report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1/support, their macro means, and the confusion matrix.

    Undefined ratios are None, not 0 (scikit-learn's zero_division=0 turns them into 0): precision of a
    class never predicted, recall of a class with no samples, F1 when both are empty. Macro means average
    the defined values only.
    """
    cm = confusion_matrix(labels, predictions)
    tp = np.diag(cm)
    support = cm.sum(1)  # samples conditioned on each class
    predicted = cm.sum(0)  # samples the classifier put in each class
    precision = [_ratio(tp[c], predicted[c]) for c in range(NUM_CLASSES)]
    recall = [_ratio(tp[c], support[c]) for c in range(NUM_CLASSES)]
    # 2tp / (2tp + fp + fn): equal to the harmonic mean where both are defined, and 0 (not undefined) for a
    # class with samples that is never predicted, as scikit-learn >= 1.3 computes it.
    f1 = [
        _ratio(2 * tp[c], 2 * tp[c] + (predicted[c] - tp[c]) + (support[c] - tp[c]))
        for c in range(NUM_CLASSES)
    ]

    def macro(values: list[float | None]) -> float | None:
        defined = [v for v in values if v is not None]
        return float(np.mean(defined)) if defined else None

    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": [int(s) for s in support],
        "macro_precision": macro(precision),
        "macro_recall": macro(recall),
        "macro_f1": macro(f1),
        "confusion_matrix": cm.tolist(),
    }


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) along the last axis, with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(-1)


def classifier_score(probs: np.ndarray) -> dict[str, float]:
    """exp(E_x KL(p(y|x) || p(y))) under the surrogate (the Inception Score's formula, one split) and the
    mean KL itself. Ranges over [1, 10]: 10 for confident predictions spread evenly over the classes."""
    p = _check_probs(probs)
    kl = float(_kl(p, p.mean(0, keepdims=True)).mean())
    return {"classifier_score": float(np.exp(kl)), "classifier_kl": kl}


def prediction_histogram(predictions: np.ndarray) -> dict:
    """Counts per predicted class, KL(histogram || uniform) in nats (0 = even, log 10 = one class only), and
    the classes never predicted."""
    pred = _check_labels(predictions, "predictions")
    if len(pred) == 0:
        raise ValueError("predictions is empty")
    counts = np.bincount(pred, minlength=NUM_CLASSES)
    freq = counts / counts.sum()
    return {
        "histogram": [int(c) for c in counts],
        "pred_kl_uniform": float(_kl(freq, np.full(NUM_CLASSES, 1.0 / NUM_CLASSES))),
        "never_predicted": [int(c) for c in np.flatnonzero(counts == 0)],
    }


def class_stats(features: np.ndarray, labels: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(mu, sigma) of each class that has at least 2 samples."""
    y = _check_labels(labels, "labels", len(features))
    return {c: feature_stats(features[y == c]) for c in range(NUM_CLASSES) if (y == c).sum() >= 2}


def class_features(features: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """The rows of each class that has at least 2 (what intra_class_fid takes instead of class_stats when
    every class has at most d rows: the exact route, and no d x d statistics)."""
    y = _check_labels(labels, "labels", len(features))
    return {c: features[y == c] for c in range(NUM_CLASSES) if (y == c).sum() >= 2}


def intra_class_fid(
    fake_features: np.ndarray,
    fake_labels: np.ndarray,
    real_classes: dict[int, np.ndarray] | dict[int, tuple[np.ndarray, np.ndarray]],
) -> dict:
    """FID of each class's samples against that class's real features (class_features) or statistics
    (class_stats), and their mean (IFID).

    fid[c] is None with reasons[c] when the class has fewer than 2 samples on either side; "ifid" is the
    mean over classes with a value, and None (with "ifid_reason") unless every class present in the
    reference has one — a mean over a subset of classes would flatter a generator that drops the hard ones.
    """
    y = _check_labels(fake_labels, "fake_labels", len(fake_features))
    counts = np.bincount(y, minlength=NUM_CLASSES)
    fids: list[float | None] = [None] * NUM_CLASSES
    reasons: dict[int, str] = {}
    for c in range(NUM_CLASSES):
        if c not in real_classes:
            reasons[c] = "fewer than 2 reference images of this class"
        elif counts[c] < 2:
            reasons[c] = f"{counts[c]} generated sample(s) of this class; FID needs 2 or more"
        else:
            real = real_classes[c]
            fake = fake_features[y == c]
            fids[c] = (
                fid_between_features(fake, real)
                if isinstance(real, np.ndarray)
                else fid_against_stats(fake, *real)
            )
    missing = [c for c in real_classes if fids[c] is None]
    out: dict = {"fid": fids, "n_samples": [int(n) for n in counts], "reasons": reasons}
    if missing or not real_classes:
        out["ifid"] = None
        out["ifid_reason"] = (
            f"no per-class FID for class(es) {missing}" if missing else "no reference classes"
        )
    else:
        out["ifid"] = float(np.mean([fids[c] for c in real_classes]))
    out["small_classes"] = [c for c in range(NUM_CLASSES) if 2 <= counts[c] < IFID_SMALL_CLASS]
    return out
