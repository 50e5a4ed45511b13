"""A bootstrap interval for FID: how much the score moves when the same generator draws other samples.

Only the fake features are resampled (with replacement); the reference statistics stay fixed, because every
model in a leaderboard group is scored against the same reference. Resampling duplicates images, which raises
FID by itself (FID's small-sample bias grows), so the bootstrap distribution sits above the estimate. The
interval therefore keeps the distribution's spread and centres it on the estimate: it answers "is the gap
between two models at this sample count larger than sampling noise?", not "what is FID at infinite N?".
"""

from __future__ import annotations

import numpy as np

from .fid import _as_features, _check_stats, _psd_sqrt, frechet_distance

DEFAULT_RESAMPLES = 50  # enough for a 95% interval's rough edges; each costs one N x D^2 product + eigvalsh


class SubsetFID:
    """FID of row subsets of one feature set against fixed real statistics, cheaply: tr sqrt(Sr^1/2 Sb
    Sr^1/2) needs the spectrum of Yc^T Yc / (n-1), Y = X Sr^1/2 and Yc a subset's rows centred, so X is
    projected once and each subset costs one Gram matrix and one eigvalsh of min(n, D) (no D^3 sqrtm).
    Serves the bootstrap (rows drawn with replacement) and FD-infinity (subsets without)."""

    def __init__(self, fake_features: np.ndarray, real_mu: np.ndarray, real_sigma: np.ndarray) -> None:
        self.x = _as_features(fake_features, "fake_features", min_rows=2)
        self.real_mu, real_sigma = _check_stats(real_mu, real_sigma, "real")
        if self.x.shape[1] != self.real_mu.shape[0]:
            raise ValueError(
                f"feature dimensions differ: fake {self.x.shape[1]}, real {self.real_mu.shape[0]}"
            )
        self.y = self.x @ _psd_sqrt(real_sigma)
        self.trace_real = float(np.trace(real_sigma))

    def __call__(self, idx: np.ndarray) -> float:
        n = len(idx)
        xb, yb = self.x[idx], self.y[idx]
        mu_b = xb.mean(axis=0)
        yc = yb - yb.mean(axis=0)
        gram = (yc @ yc.T) if n < yc.shape[1] else (yc.T @ yc)  # same non-zero spectrum; take the smaller
        eig = np.linalg.eigvalsh(gram / (n - 1))
        tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
        trace_b = float(((xb - mu_b) ** 2).sum()) / (n - 1)
        diff = mu_b - self.real_mu
        return float(diff @ diff + trace_b + self.trace_real - 2.0 * tr_covmean)


def bootstrap_fids(
    fake_features: np.ndarray,
    real_mu: np.ndarray,
    real_sigma: np.ndarray,
    n_boot: int,
    seed: int,
    fid_of: SubsetFID | None = None,
) -> np.ndarray:
    """FID of `n_boot` resamples (with replacement, same N) of the fake features against fixed real stats.
    fid_of: a SubsetFID of these same features, when the caller has one (it saves the projection)."""
    fid_of = fid_of or SubsetFID(fake_features, real_mu, real_sigma)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    n = fid_of.x.shape[0]
    rng = np.random.default_rng(seed)
    return np.array([fid_of(rng.integers(0, n, size=n)) for _ in range(n_boot)])


def fid_bootstrap(
    fake_features: np.ndarray,
    real_mu: np.ndarray,
    real_sigma: np.ndarray,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 2020,
    confidence: float = 0.95,
    *,
    point: float | None = None,
    fid_of: SubsetFID | None = None,
) -> dict[str, float]:
    """95% bootstrap interval of FID over resamples of the fake features.

    Returns {"fid_ci_low", "fid_ci_high", "fid_boot_n"}: the percentile interval of the bootstrap FIDs,
    shifted so that it is centred on the FID of `fake_features` (see the module docstring), and the number
    of resamples it used. Cost: n_boot x (N x D^2 + eigvalsh of min(N, D)); ~2 min for 10k x 2048 on 2 cores.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = _as_features(fake_features, "fake_features", min_rows=2)
    boots = bootstrap_fids(x, real_mu, real_sigma, n_boot, seed, fid_of)  # validates the shapes first
    if point is None:  # the FID of these features, unless the caller computed it already
        mu = x.mean(axis=0)
        xc = x - mu
        point = frechet_distance(mu, (xc.T @ xc) / (x.shape[0] - 1), real_mu, real_sigma)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boots - boots.mean(), [alpha, 1.0 - alpha])
    return {"fid_ci_low": float(point + lo), "fid_ci_high": float(point + hi), "fid_boot_n": float(n_boot)}
