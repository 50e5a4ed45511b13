"""Inception Score (Salimans et al. 2016) from classifier logits."""

from __future__ import annotations

import numpy as np


def _mean_kl_to_marginal(log_p: np.ndarray) -> float:
    """Mean over rows of KL(p(y|x) || p(y)), p(y) the mean of the rows, in nats.

    log p(y) is taken as logsumexp over rows minus log N, so a class whose probability underflows to 0 in
    every row gives 0 * finite = 0 rather than torch-fidelity's 0 * inf = NaN.
    """
    from scipy.special import logsumexp  # scipy costs ~0.5 s of start-up: imported when IS runs

    log_q = logsumexp(log_p, axis=0) - np.log(log_p.shape[0])
    p = np.exp(log_p)
    return float((p * (log_p - log_q)).sum(axis=1).mean())


def inception_score(
    logits: np.ndarray, splits: int = 10, seed: int = 2020, shuffle: bool = True
) -> dict[str, float]:
    """Inception Score from (N, C) unbiased logits (softmax is applied here, in float64).

    Matches torch-fidelity 0.4.0: rows optionally permuted with RandomState(seed).permutation(N), split at
    i*N//splits, IS = exp(mean KL) per split, mean and population std (ddof=0) over splits.

    Returns {"is_mean", "is_std", "is_kl"}; is_kl is the mean KL(p(y|x) || p(y)) in nats over all N
    images with p(y) the marginal of the whole set (not per split).
    """
    x = np.asarray(logits)
    if x.ndim != 2:
        raise ValueError(f"logits must be a 2-D array (N, C), got shape {x.shape}")
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    n = x.shape[0]
    if n < splits:
        raise ValueError(f"need at least as many images as splits, got N={n} and splits={splits}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("logits contain NaN or infinite values")

    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    from scipy.special import log_softmax

    log_p = log_softmax(x, axis=1)

    scores = [
        np.exp(_mean_kl_to_marginal(log_p[i * n // splits : (i + 1) * n // splits])) for i in range(splits)
    ]
    return {
        "is_mean": float(np.mean(scores)),
        "is_std": float(np.std(scores)),  # ddof=0, as torch-fidelity
        "is_kl": _mean_kl_to_marginal(log_p),
    }
