"""Fréchet Inception Distance (Heusel et al. 2017) on precomputed features."""

from __future__ import annotations

import numpy as np

# Below this many samples FID is noticeably biased upwards (and the 2048-d covariance is rank-deficient);
# callers warn, the metric itself does not.
FID_BIAS_THRESHOLD = 2048


def _as_features(features: np.ndarray, name: str, min_rows: int = 1) -> np.ndarray:
    """Validate an (N, D) feature matrix and return it as float64."""
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {name_a} has {a.shape[1]} columns, {name_b} has {b.shape[1]}"
        )


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features in float64 (ddof=1, like torch-fidelity)."""
    x = _as_features(features, "features", min_rows=2)
    mu = x.mean(axis=0)
    # Same arithmetic as np.cov (centre, then X^T X / (N - 1)) without its extra N x D copy (~800 MB at
    # 50k x 2048): centre in place when x is our own float64 copy, never in the caller's array.
    if isinstance(features, np.ndarray) and np.may_share_memory(x, features):
        x = x - mu
    else:
        x -= mu
    sigma = (x.T @ x) / (x.shape[0] - 1)
    return mu, sigma


def _check_stats(mu: np.ndarray, sigma: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(f"mu_{name} must be 1-D, got shape {mu.shape}")
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f"sigma_{name} must have shape {(mu.shape[0], mu.shape[0])}, got {sigma.shape}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"statistics for {name} contain NaN or infinite values")
    return mu, sigma


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix; small negative eigenvalues from rounding are clipped to 0."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    tr(sqrt(S1 S2)) is the sum of square roots of the eigenvalues of the symmetric PSD matrix
    sqrt(S1) S2 sqrt(S1) (same spectrum as S1 S2), with sqrt(S1) from eigh: no sqrtm, no complex parts, no
    eps * I offset, and singular covariances (N < D) are fine. The product squares the condition number,
    so on singular or very ill-conditioned covariances expect ~1e-7..1e-6 relative error.
    """
    mu1, sigma1 = _check_stats(mu1, sigma1, "1")
    mu2, sigma2 = _check_stats(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(f"statistics have different dimensions: {mu1.shape[0]} vs {mu2.shape[0]}")

    root1 = _psd_sqrt(sigma1)
    m = root1 @ sigma2 @ root1
    # Symmetrise against rounding so eigvalsh applies; clip rounding negatives before the sqrt.
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()

    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_against_stats(features: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """FID of (n, d) features against real statistics (mu, sigma); the same value as
    frechet_distance(*feature_stats(features), mu, sigma), computed in n x n when n <= d.

    With fewer rows than dimensions the sample covariance is A^T A, A = (X - mean) / sqrt(n - 1) (n x d),
    and the nonzero eigenvalues of sigma A^T A are those of the symmetric PSD A sigma A^T (n x n), so
    tr sqrt(sigma S) needs one n x n eigenproblem instead of two 2048 x 2048 ones. The route for a
    reference that is statistics only; with reference features, fid_between_features is exact and cheaper.
    """
    shape = np.shape(features)
    if len(shape) == 2 and shape[0] > shape[1]:  # feature_stats makes the one float64 copy
        return frechet_distance(*feature_stats(features), mu, sigma)
    x = _as_features(features, "features", min_rows=2)
    mu, sigma = _check_stats(mu, sigma, "real")
    if x.shape[1] != mu.shape[0]:
        raise ValueError(f"feature dimensions differ: features {x.shape[1]}, statistics {mu.shape[0]}")
    n = x.shape[0]
    mean = x.mean(0)
    a = (x - mean) / np.sqrt(n - 1)
    m = (a @ sigma) @ a.T
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    diff = mean - mu
    tr_fake = float(np.einsum("ij,ij->", a, a))
    return float(diff @ diff + tr_fake + np.trace(sigma) - 2.0 * np.sqrt(np.clip(eig, 0.0, None)).sum())


def fid_between_features(x: np.ndarray, y: np.ndarray) -> float:
    """FID of two (n, d) feature sets; with both at most d rows, exact to rounding.

    With A = (X - mean) / sqrt(n_x - 1) and B likewise, S_x = A^T A and S_y = B^T B, and the nonzero
    eigenvalues of S_x S_y are the squared singular values of C = A B^T (n_x x n_y), so tr sqrt(S_x S_y) is
    the sum of C's singular values: no d x d matrix, no eigensolve of a product that squares the condition
    number. On rank-deficient covariances (the usual case below 2,048 samples) the routes through the
    covariances lose ~1e-8..1e-6 relative; this one matches a closed-form case to ~1e-15 (tests/test_metrics.py).
    With more rows than dimensions on either side it takes the covariance routes.
    """
    shape_x, shape_y = np.shape(x), np.shape(y)
    if len(shape_x) == 2 and len(shape_y) == 2 and shape_x[1] == shape_y[1]:
        d = shape_x[1]
        if shape_x[0] > d or shape_y[0] > d:
            if shape_x[0] <= d:
                return fid_against_stats(x, *feature_stats(y))
            if shape_y[0] <= d:
                return fid_against_stats(y, *feature_stats(x))  # FID is symmetric
            return frechet_distance(*feature_stats(x), *feature_stats(y))
    fx, fy = _as_features(x, "features x", min_rows=2), _as_features(y, "features y", min_rows=2)
    _check_same_dim(fx, fy, "features x", "features y")
    mx, my = fx.mean(0), fy.mean(0)
    a, b = (fx - mx) / np.sqrt(len(fx) - 1), (fy - my) / np.sqrt(len(fy) - 1)
    tr_covmean = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    diff = mx - my
    tr_x, tr_y = float(np.einsum("ij,ij->", a, a)), float(np.einsum("ij,ij->", b, b))
    return float(diff @ diff + tr_x + tr_y - 2.0 * tr_covmean)


def fid_from_stats(
    mu_fake: np.ndarray, sigma_fake: np.ndarray, mu_real: np.ndarray, sigma_real: np.ndarray
) -> dict[str, float]:
    """FID from precomputed statistics (e.g. cached CIFAR-10 train stats). Returns {"fid": value}."""
    return {"fid": frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real)}


def fid(fake_features: np.ndarray, real_features: np.ndarray) -> dict[str, float]:
    """FID between two (N, D) feature sets. Returns {"fid": value}."""
    fake, real = np.asarray(fake_features), np.asarray(real_features)
    # Cheap shape check up front; the routes do the rest of the validation (and the float64 copies).
    if fake.ndim == 2 and real.ndim == 2:
        _check_same_dim(fake, real, "fake_features", "real_features")
    return {"fid": fid_between_features(fake, real)}
