"""FD-infinity and IS-infinity (Chong & Forsyth, "Effectively Unbiased FID and Inception Score and where
to find them", CVPR 2020): the score at evenly spaced subset sizes N, a least-squares line against 1/N,
and its intercept, the score an infinite sample would get.

FID from N samples is biased upwards by a term that falls like 1/N with a model-dependent slope, so FID at
the small N of CPU work (500-10,000) does not compare across N or even across models; the intercept does.
The authors' code takes 15 sizes from 5,000 to 50,000 (a tenth of N up to N) and shuffles once per size;
here the sizes start at a fifth of N (smaller subsets leave the 1/N regime at CIFAR's small N) and each
subset is drawn without replacement from a seeded generator.
"""

from __future__ import annotations

import numpy as np

from .bootstrap import SubsetFID
from .inception_score import inception_score

DEFAULT_POINTS = 15  # as the authors
MIN_FRACTION = 0.2  # the smallest subset, as a fraction of N
MIN_SAMPLES = 10  # below this there are too few distinct subset sizes for a line


def subset_sizes(n: int, points: int = DEFAULT_POINTS, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """Evenly spaced distinct sizes from min_fraction * n (at least 2) up to n."""
    if points < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    if n < MIN_SAMPLES:
        raise ValueError(f"FD-infinity needs at least {MIN_SAMPLES} samples, got {n}")
    return np.unique(np.linspace(max(2, int(n * min_fraction)), n, points).astype(np.int64))


def _intercept(sizes: np.ndarray, scores: np.ndarray) -> float:
    _, intercept = np.polyfit(1.0 / sizes, scores, 1)
    return float(intercept)


def fid_infinity(
    fake_features: np.ndarray,
    real_mu: np.ndarray,
    real_sigma: np.ndarray,
    points: int = DEFAULT_POINTS,
    seed: int = 2020,
    fid_of: SubsetFID | None = None,
) -> dict[str, float]:
    """{"fid_inf": the intercept at 1/N = 0, "fid_inf_points": how many sizes were fitted}.
    fid_of: a SubsetFID of these same features, when the caller has one (it saves the projection)."""
    fid_of = fid_of or SubsetFID(fake_features, real_mu, real_sigma)
    n = fid_of.x.shape[0]
    sizes = subset_sizes(n, points)
    rng = np.random.default_rng(seed)
    fids = np.array([fid_of(rng.permutation(n)[:size]) for size in sizes])
    return {"fid_inf": _intercept(sizes, fids), "fid_inf_points": float(len(sizes))}


def is_infinity(logits: np.ndarray, points: int = DEFAULT_POINTS, seed: int = 2020) -> dict[str, float]:
    """{"is_inf"}: the Inception Score of each subset (one split, as the authors) against 1/N, intercept."""
    x = np.asarray(logits)
    n = x.shape[0]
    sizes = subset_sizes(n, points)
    rng = np.random.default_rng(seed)
    scores = np.array(
        [inception_score(x[rng.permutation(n)[:size]], splits=1, shuffle=False)["is_mean"] for size in sizes]
    )
    return {"is_inf": _intercept(sizes, scores)}
