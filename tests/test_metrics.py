"""Tests for ganbench.metrics: exact cases, cross-checks against torch-fidelity 0.4.0 and prdc 0.2."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import prdc
import pytest
import torch
from threadpoolctl import threadpool_limits
from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_featuresdict_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric

import ganbench.metrics.prdc as prdc_mod
from ganbench.metrics import (
    FID_BIAS_THRESHOLD,
    METRIC_KEYS,
    density_coverage,
    feature_stats,
    fid,
    fid_between_features,
    fid_from_stats,
    frechet_distance,
    inception_score,
    kid,
    precision_recall,
)

torch.set_num_threads(1)
LAYER = "feat"  # torch-fidelity's *_featuresdict_* functions take {layer name: tensor}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # The machine is shared: keep numpy's BLAS/LAPACK on one thread.
    with threadpool_limits(limits=1):
        yield


def _fd(x: np.ndarray) -> dict[str, torch.Tensor]:
    return {LAYER: torch.from_numpy(np.ascontiguousarray(x))}


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    """(fake 600x64, real 700x64): overlapping but different Gaussians, float64."""
    rng = np.random.default_rng(0)
    fake = rng.standard_normal((600, 64)) * 1.1 + 0.1
    real = rng.standard_normal((700, 64))
    return fake, real


@pytest.fixture(scope="module")
def big() -> tuple[np.ndarray, np.ndarray]:
    """(fake 1200x2048, real 1250x2048): fewer rows than dims, so both covariances are singular."""
    rng = np.random.default_rng(1)
    # Low-rank structure plus noise (made non-negative like pool3 features) so that k-NN balls are
    # informative; i.i.d. 2048-d noise makes precision/recall degenerate (0 or 1).
    w = rng.standard_normal((16, 2048)) / 4
    fake = np.abs(1.3 * rng.standard_normal((1200, 16)) @ w + 0.3 * rng.standard_normal((1200, 2048)))
    real = np.abs(rng.standard_normal((1250, 16)) @ w + 0.3 * rng.standard_normal((1250, 2048)))
    return fake, real


def test_metric_keys() -> None:
    assert METRIC_KEYS == (
        "fid",
        "kid_mean",
        "kid_std",
        "is_mean",
        "is_std",
        "is_kl",
        "precision",
        "recall",
        "density",
        "coverage",
    )
    assert FID_BIAS_THRESHOLD == 2048


# ---------------------------------------------------------------- FID


def test_feature_stats_matches_numpy(small) -> None:
    fake, _ = small
    mu, sigma = feature_stats(fake.astype(np.float32))
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, fake.astype(np.float32).astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(fake.astype(np.float32).astype(np.float64), rowvar=False))
    _, s1 = feature_stats(fake[:, :1])
    assert s1.shape == (1, 1)
    # float64 input is centred out of place: the caller's array must be untouched.
    before = fake.copy()
    _, s64 = feature_stats(fake)
    np.testing.assert_array_equal(fake, before)
    np.testing.assert_allclose(s64, np.cov(fake, rowvar=False), rtol=1e-12)


def test_fid_self_is_zero(small) -> None:
    fake, _ = small
    _, sigma = feature_stats(fake)
    assert abs(fid(fake, fake)["fid"]) < 1e-6 * np.trace(sigma)


def test_fid_diagonal_closed_form() -> None:
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    s1, s2 = rng.uniform(0.1, 3.0, 16), rng.uniform(0.0, 3.0, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_commuting_nondiagonal_closed_form() -> None:
    # Same eigenbasis Q: tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    a, b = rng.uniform(0.1, 2.0, 12), rng.uniform(0.1, 2.0, 12)
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    mu1, mu2 = np.ones(12), np.zeros(12)
    expected = 12.0 + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_fid_2x2_noncommuting_closed_form() -> None:
    # For 2x2: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2))) = sqrt(10 + 2 sqrt(12)) here.
    s1 = np.array([[2.0, 1.0], [1.0, 2.0]])
    s2 = np.array([[1.0, 0.0], [0.0, 4.0]])
    mu1, mu2 = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    expected = 5.0 + 4.0 + 5.0 - 2 * math.sqrt(10 + 2 * math.sqrt(12))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)
    assert fid_from_stats(mu1, s1, mu2, s2) == {"fid": pytest.approx(expected, rel=1e-12)}


def test_fid_symmetric(small) -> None:
    fake, real = small
    assert fid(fake, real)["fid"] == pytest.approx(fid(real, fake)["fid"], rel=1e-10)


def test_fid_from_stats_equals_fid(small) -> None:
    fake, real = small
    # fid() of features takes the singular-value route; from statistics, the covariance route
    assert fid_from_stats(*feature_stats(fake), *feature_stats(real))["fid"] == pytest.approx(
        fid(fake, real)["fid"], rel=1e-9
    )


def _antipodal(q: np.ndarray, scales: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    """Rows +-s_i q_i (+ shift): mean exactly `shift`, covariance 2/(n-1) sum s_i^2 q_i q_i^T, rank k < d."""
    v = q[:, : len(scales)].T * scales[:, None]
    return np.concatenate([v, -v]) + shift


def test_fid_of_rank_deficient_features_is_exact_on_the_singular_value_route() -> None:
    """Fewer samples than dimensions (every CPU-sized run): a closed form from shared orthogonal directions.
    The covariance route squares the condition number and lands ~1e-8 off here; features -> ~1e-15."""
    rng = np.random.default_rng(1)
    d = 512
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    sx, sy, shift = rng.uniform(1, 3, 200), rng.uniform(1, 3, 120), rng.normal(size=d) * 0.1
    x, y = _antipodal(q, sx, shift), _antipodal(q, sy, 0.0)
    ex, ey = 2 * sx**2 / (len(x) - 1), 2 * sy**2 / (len(y) - 1)
    exact = shift @ shift + ex.sum() + ey.sum() - 2 * np.sqrt(ex[:120] * ey).sum()
    assert fid_between_features(x, y) == pytest.approx(exact, rel=1e-13)
    assert fid_between_features(y, x) == pytest.approx(exact, rel=1e-13)
    assert fid(x, y)["fid"] == pytest.approx(exact, rel=1e-13)
    # the covariance route is right to its documented rounding only
    assert frechet_distance(*feature_stats(x), *feature_stats(y)) == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize(("nx", "ny"), [(30, 20), (30, 80), (80, 30), (90, 70)])
def test_fid_between_features_takes_every_route_to_the_same_value(nx: int, ny: int) -> None:
    rng = np.random.default_rng(nx + ny)
    x = rng.normal(size=(nx, 40)) @ rng.normal(size=(40, 40))
    y = rng.normal(0.3, 1.2, size=(ny, 40))
    expected = frechet_distance(*feature_stats(x), *feature_stats(y))
    # within the covariance route's own rounding on rank-deficient covariances (fid.py)
    assert fid_between_features(x, y) == pytest.approx(expected, rel=1e-7)


def _tf_fid(fake: np.ndarray, real: np.ndarray) -> float:
    s1 = fid_featuresdict_to_statistics(_fd(fake), LAYER)
    s2 = fid_featuresdict_to_statistics(_fd(real), LAYER)
    return fid_statistics_to_metric(s1, s2, verbose=False)["frechet_inception_distance"]


def test_fid_matches_torch_fidelity_small(small) -> None:
    fake, real = small
    # Reached: ~1e-14 relative on float64 inputs.
    assert fid(fake, real)["fid"] == pytest.approx(_tf_fid(fake, real), rel=1e-10)
    # float32 inputs: torch-fidelity keeps mu in float32, we upcast first. Reached ~1e-7.
    f32, r32 = fake.astype(np.float32), real.astype(np.float32)
    assert fid(f32, r32)["fid"] == pytest.approx(_tf_fid(f32, r32), rel=1e-5)


@pytest.fixture(scope="module")
def big_fid(big) -> float:
    return fid(*big)["fid"]


def _exact_fid_from_samples(x: np.ndarray, y: np.ndarray) -> float:
    """Reference without D x D square roots: with S1 = A^T A, S2 = B^T B (A, B centred, scaled samples),
    tr sqrt(S1 S2) is the nuclear norm of the small N1 x N2 matrix A B^T."""
    a = (x - x.mean(0)) / math.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / math.sqrt(len(y) - 1)
    diff = x.mean(0) - y.mean(0)
    return float(
        diff @ diff + (a * a).sum() + (b * b).sum() - 2 * np.linalg.svd(a @ b.T, compute_uv=False).sum()
    )


def test_fid_matches_torch_fidelity_2048d_singular(big, big_fid) -> None:
    # Reached: ~1.4e-7 relative. Both sides carry rounding noise of this size on rank-deficient S1 S2
    # (torch-fidelity: eigvals of the non-symmetric product; see the exact-reference test below).
    assert big_fid == pytest.approx(_tf_fid(*big), rel=1e-6)


def test_fid_exact_on_singular_covariances(big, big_fid) -> None:
    # N < D: both covariances singular. Reached: ~1.9e-7 relative to the exact value (torch-fidelity: 3.2e-7).
    assert big_fid == pytest.approx(_exact_fid_from_samples(*big), rel=1e-6)


def test_fid_exact_on_ill_conditioned_covariances() -> None:
    # Full rank, covariance spectrum spanning 1e-12..1: sqrt(S1) S2 sqrt(S1) squares the condition number,
    # so its smallest eigenvalues are rounding noise. Reached: ~2e-6 relative (1e-8 with a 1e-8..1 spectrum).
    rng = np.random.default_rng(11)
    d = 256
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = np.sqrt(np.logspace(-12, 0, d))
    x = (rng.standard_normal((1500, d)) * scales) @ q.T
    y = (rng.standard_normal((1500, d)) * scales * 1.05) @ q.T + 0.01
    assert fid(x, y)["fid"] == pytest.approx(_exact_fid_from_samples(x, y), rel=1e-5)
    assert abs(fid(x, x)["fid"]) < 1e-6 * np.trace(np.cov(x, rowvar=False))  # reached ~3e-8


def test_fid_validation() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="dimensions"):
        fid(rng.standard_normal((10, 4)), rng.standard_normal((10, 5)))
    with pytest.raises(ValueError, match="dimensions"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma_2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="1-D"):
        frechet_distance(np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(np.array([0.0, np.nan]), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN or infinite"):
        fid(np.full((5, 2), np.inf), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="2-D"):
        fid(np.zeros(5), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        feature_stats(np.zeros((1, 3)))


# ---------------------------------------------------------------- KID


def test_kid_same_distribution_near_zero() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((700, 64)), rng.standard_normal((700, 64))
    same = kid(a, b, subsets=20, subset_size=300)
    shifted = kid(a + 0.3, b, subsets=20, subset_size=300)
    assert shifted["kid_mean"] > 0.1
    assert abs(same["kid_mean"]) < 0.02 * shifted["kid_mean"]  # reached: ~0.6 %


def test_kid_identical_arrays_slightly_negative(small) -> None:
    # kid(x, x) is NOT centred on 0: the fake and real subsets are drawn from the same rows, so they share
    # ~m^2/n points whose large k(x, x) enter the cross term (the diagonal is only dropped within sets).
    _, real = small
    same = kid(real, real, subsets=20, subset_size=300)
    shifted = kid(real + 0.3, real, subsets=20, subset_size=300)
    assert -0.1 * shifted["kid_mean"] < same["kid_mean"] < 0.0


def _tf_kid(fake: np.ndarray, real: np.ndarray, **kwargs) -> dict[str, float]:
    return kid_featuresdict_to_metric(_fd(fake), _fd(real), LAYER, verbose=False, **kwargs)


def test_kid_matches_torch_fidelity(small) -> None:
    fake, real = small
    ours = kid(fake, real, subsets=15, subset_size=250, seed=123)
    ref = _tf_kid(fake, real, kid_subsets=15, kid_subset_size=250, rng_seed=123)
    # Reached: ~1e-13 relative on float64 inputs (same subsets, same float64 kernels).
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-10)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-10)
    assert (ours["kid_subset_size"], ours["kid_subsets"]) == (250, 15)


def test_kid_gram_and_per_subset_paths_agree(small, monkeypatch) -> None:
    """Whole-set kernel matrices (the default at these sizes) and per-subset products give the same KID."""
    from ganbench.metrics import kid as kid_module_fn

    module = sys.modules[kid_module_fn.__module__]
    fake, real = small
    gram = kid(fake, real, subsets=10, subset_size=200, seed=5)
    monkeypatch.setattr(module, "GRAM_BUDGET", 0)
    per_subset = kid(fake, real, subsets=10, subset_size=200, seed=5)
    assert per_subset["kid_mean"] == pytest.approx(gram["kid_mean"], rel=1e-12)
    assert per_subset["kid_std"] == pytest.approx(gram["kid_std"], rel=1e-12)


def test_kid_matches_torch_fidelity_kernel_params(small) -> None:
    fake, real = small
    ours = kid(fake, real, subsets=5, subset_size=200, degree=2, gamma=0.5, coef0=0.25, seed=7)
    ref = _tf_kid(
        fake,
        real,
        kid_subsets=5,
        kid_subset_size=200,
        rng_seed=7,
        kid_kernel_poly_degree=2,
        kid_kernel_poly_gamma=0.5,
        kid_kernel_poly_coef0=0.25,
    )
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-10)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-10)


def test_kid_matches_torch_fidelity_2048d(big) -> None:
    fake, real = big
    ours = kid(fake, real, subsets=3, subset_size=400)
    ref = _tf_kid(fake, real, kid_subsets=3, kid_subset_size=400)
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-10)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-10)


def test_kid_float32_inputs_close_to_torch_fidelity(small) -> None:
    # torch-fidelity computes float32 kernels on float32 input; we upcast. Reached ~1e-6, KID being a
    # difference of large kernel sums.
    fake, real = (a.astype(np.float32) for a in small)
    ours = kid(fake, real, subsets=5, subset_size=300)
    ref = _tf_kid(fake, real, kid_subsets=5, kid_subset_size=300)
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-4)


def test_kid_small_sets_shrink_subset_with_warning(small) -> None:
    fake, real = small
    with pytest.warns(UserWarning, match="subset_size=600"):
        ours = kid(fake, real, subsets=3, subset_size=1000)
    assert ours["kid_subset_size"] == 600 and ours["kid_subsets"] == 3
    ref = _tf_kid(fake, real, kid_subsets=3, kid_subset_size=600)
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-10)


def test_kid_no_warning_when_enough_samples(small) -> None:
    fake, real = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = kid(fake, real, subsets=2, subset_size=100)
    assert set(out) == {"kid_mean", "kid_std", "kid_subset_size", "kid_subsets"}
    assert all(type(v) in (float, int) for v in out.values())


def test_kid_validation() -> None:
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="dimensions"):
        kid(rng.standard_normal((50, 4)), rng.standard_normal((50, 5)), subset_size=10)
    with pytest.raises(ValueError, match="subsets"):
        kid(rng.standard_normal((50, 4)), rng.standard_normal((50, 4)), subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        kid(rng.standard_normal((50, 4)), rng.standard_normal((50, 4)), subset_size=1)


# ---------------------------------------------------------------- Inception Score


def _one_hot_logits(n_classes: int, per_class: int, gap: float, width: int = 1008) -> np.ndarray:
    labels = np.tile(np.arange(n_classes), per_class)  # each contiguous block holds every class equally
    logits = np.zeros((labels.size, width))
    logits[np.arange(labels.size), labels] = gap
    return logits


def test_is_one_hot_uniform_equals_num_classes() -> None:
    # gap 1000: other classes' probabilities underflow to exactly 0 (torch-fidelity returns NaN here).
    logits = _one_hot_logits(10, 50, gap=1000.0)
    out = inception_score(logits, splits=10, shuffle=False)
    assert out["is_mean"] == pytest.approx(10.0, rel=1e-12)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-10)
    assert out["is_kl"] == pytest.approx(math.log(10), rel=1e-12)
    # is_kl uses the whole-set marginal, so shuffling cannot change it.
    assert inception_score(logits, splits=10)["is_kl"] == pytest.approx(math.log(10), rel=1e-12)


def test_is_identical_rows_is_one() -> None:
    row = np.random.default_rng(6).standard_normal(1008) * 3
    out = inception_score(np.tile(row, (100, 1)), splits=10)
    assert out["is_mean"] == pytest.approx(1.0, abs=1e-12)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-12)
    assert out["is_kl"] == pytest.approx(0.0, abs=1e-12)


def test_is_single_split_is_exp_kl() -> None:
    logits = np.random.default_rng(7).standard_normal((300, 1008)) * 4
    out = inception_score(logits, splits=1)
    assert out["is_mean"] == pytest.approx(math.exp(out["is_kl"]), rel=1e-12)


@pytest.mark.parametrize(("n", "splits", "shuffle", "seed"), [(1000, 10, True, 2020), (1003, 7, False, 5)])
def test_is_matches_torch_fidelity(n: int, splits: int, shuffle: bool, seed: int) -> None:
    logits = (np.random.default_rng(8).standard_normal((n, 1008)) * 5).astype(np.float32)
    ours = inception_score(logits, splits=splits, seed=seed, shuffle=shuffle)
    ref = isc_featuresdict_to_metric(
        _fd(logits), LAYER, isc_splits=splits, samples_shuffle=shuffle, rng_seed=seed, verbose=False
    )
    # Reached: ~1e-15 relative (both in float64 after the same permutation).
    assert ours["is_mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-10)
    assert ours["is_std"] == pytest.approx(ref["inception_score_std"], rel=1e-8)


def test_is_validation() -> None:
    with pytest.raises(ValueError, match="2-D"):
        inception_score(np.zeros(10))
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.zeros((5, 3)), splits=10)
    with pytest.raises(ValueError, match="NaN"):
        inception_score(np.full((20, 3), np.nan), splits=2)


# ---------------------------------------------------------------- precision / recall / density / coverage


def _tf_prc(fake: np.ndarray, real: np.ndarray, k: int) -> dict[str, float]:
    return prc_featuresdict_to_metric(_fd(fake), _fd(real), LAYER, prc_neighborhood=k, verbose=False)


def _assert_same_fractions(ours: dict[str, float], ref: dict[str, float], n_fake: int, n_real: int) -> None:
    """torch-fidelity returns float32-rounded fractions: compare the underlying counts exactly."""
    assert round(ours["precision"] * n_fake) == round(ref["precision"] * n_fake)
    assert round(ours["recall"] * n_real) == round(ref["recall"] * n_real)
    assert ours["precision"] == pytest.approx(ref["precision"], rel=1e-7)
    assert ours["recall"] == pytest.approx(ref["recall"], rel=1e-7)


# Hand-computed 1-D case with exact ties (all distances exact in binary), k=1.
# real radii: all 1. fake radii: 3 -> 2.5, 20 -> 17, 0.5 -> 2.5.
HAND_REAL = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
HAND_FAKE = np.array([[3.0], [20.0], [0.5]])


def test_pr_hand_case_boundary_counts_as_inside() -> None:
    out = precision_recall(HAND_REAL, HAND_FAKE, k=1)
    # fake 3 lies exactly on real 2's ball boundary (<=): precision 2/3 (it would be 1/3 with <).
    assert out == {"precision": pytest.approx(2 / 3), "recall": 1.0}
    ref = _tf_prc(HAND_FAKE, HAND_REAL, 1)
    _assert_same_fractions(out, ref, len(HAND_FAKE), len(HAND_REAL))


def test_dc_hand_case_boundary_counts_as_outside() -> None:
    out = density_coverage(HAND_REAL, HAND_FAKE, k=1)
    # Strict <: fake 0.5 is inside the balls of 0 and 1 only; real 2's nearest fake is exactly on its radius.
    assert out == {"density": pytest.approx(2 / 3), "coverage": pytest.approx(2 / 5)}
    ref = prdc.compute_prdc(HAND_REAL, HAND_FAKE, nearest_k=1)
    assert out["density"] == pytest.approx(ref["density"], rel=1e-12)
    assert out["coverage"] == pytest.approx(ref["coverage"], rel=1e-12)


def test_pr_self_is_one(small) -> None:
    _, real = small
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}


def test_dc_self_and_disjoint(small) -> None:
    _, real = small
    # Without ties each real ball strictly holds itself and k-1 others, so density is exactly 1.
    assert density_coverage(real, real, k=5) == {"density": pytest.approx(1.0, rel=1e-12), "coverage": 1.0}
    assert density_coverage(real, real + 100.0, k=5) == {"density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [3, 5])
def test_pr_matches_torch_fidelity(small, dtype, k: int) -> None:
    fake, real = (a.astype(dtype) for a in small)
    ours = precision_recall(real, fake, k=k)
    ref = _tf_prc(fake, real, k)  # torch-fidelity: input1 = fake, input2 = real
    # Reached: identical counts (values agree to float32 rounding, ~1e-8 relative).
    _assert_same_fractions(ours, ref, len(fake), len(real))
    assert 0.0 < ours["precision"] < 1.0 and 0.0 < ours["recall"] < 1.0


def test_pr_matches_torch_fidelity_2048d_multi_chunk(big) -> None:
    fake, real = big  # > 1024 rows: exercises several distance blocks
    ours = precision_recall(real, fake)
    ref = _tf_prc(fake, real, 3)
    _assert_same_fractions(ours, ref, len(fake), len(real))
    assert 0.0 < ours["precision"] < 1.0 and 0.0 < ours["recall"] < 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dc_matches_prdc(small, dtype) -> None:
    fake, real = (a.astype(dtype) for a in small)
    ours = density_coverage(real, fake, k=5)
    ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    # Reached: exact coverage, density to ~1e-16 (it is a count / (k * n_fake)).
    assert ours["density"] == pytest.approx(float(ref["density"]), rel=1e-12)
    assert ours["coverage"] == float(ref["coverage"])
    # prdc's precision/recall use < instead of <=; on tie-free data they agree with ours (same order).
    pr = precision_recall(real, fake, k=5)
    assert (pr["precision"], pr["recall"]) == (float(ref["precision"]), float(ref["recall"]))


def test_chunking_does_not_change_results(small, monkeypatch) -> None:
    fake, real = small
    full_pr, full_dc = precision_recall(real, fake), density_coverage(real, fake)
    monkeypatch.setattr(prdc_mod, "_CHUNK_ROWS", 97)
    assert precision_recall(real, fake) == full_pr
    assert density_coverage(real, fake) == full_dc


def test_prdc_validation() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((20, 4)), rng.standard_normal((20, 5))
    with pytest.raises(ValueError, match="dimensions"):
        precision_recall(a, b)
    with pytest.raises(ValueError, match="dimensions"):
        density_coverage(a, b)
    with pytest.raises(ValueError, match="at least 4 rows"):
        precision_recall(a[:3], a, k=3)
    with pytest.raises(ValueError, match="k must be"):
        density_coverage(a, a, k=0)
