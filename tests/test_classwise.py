"""Class-aware metrics on synthetic arrays: exact cases, scikit-learn cross-checks, collapse and memorisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support
from threadpoolctl import threadpool_limits

from ganbench.metrics import classwise as CW
from ganbench.metrics import diversity as DV
from ganbench.metrics import feature_stats, fid


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1):  # the machine is shared
        yield


def noisy_predictions(seed: int, n: int = 500, drop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 10, n))
    if drop is not None:  # a class the classifier never predicts
        pred[pred == drop] = (drop + 1) % 10
    return y, pred


@pytest.mark.parametrize("drop", [None, 3])
def test_report_matches_scikit_learn(drop):
    y, pred = noisy_predictions(0, drop=drop)
    rep = CW.classification_report(y, pred)
    np.testing.assert_array_equal(rep["confusion_matrix"], sk_confusion(y, pred, labels=range(10)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(10), zero_division=0)
    for c in range(10):
        if drop == c:  # never predicted: ours is None (undefined), scikit-learn's zero_division=0 says 0
            assert rep["precision"][c] is None and rep["f1"][c] == 0.0 and f[c] == 0.0
        else:
            assert rep["precision"][c] == pytest.approx(p[c], abs=1e-12)
            assert rep["f1"][c] == pytest.approx(f[c], abs=1e-12)
        assert rep["recall"][c] == pytest.approx(r[c], abs=1e-12)
        assert rep["support"][c] == s[c]
    assert rep["accuracy"] == pytest.approx((y == pred).mean())
    defined = [v for v in rep["precision"] if v is not None]
    assert rep["macro_precision"] == pytest.approx(np.mean(defined))


def test_report_rejects_bad_labels():
    with pytest.raises(ValueError, match="0..9"):
        CW.classification_report(np.array([0, 10]), np.array([0, 1]))
    with pytest.raises(ValueError, match="entries"):
        CW.classification_report(np.array([0, 1]), np.array([0]))


def test_classifier_score_exact_cases():
    onehot = np.eye(10)[np.arange(100) % 10]
    assert CW.classifier_score(onehot)["classifier_score"] == pytest.approx(10.0)
    assert CW.classifier_score(onehot)["classifier_kl"] == pytest.approx(math.log(10))
    same = np.tile(np.eye(10)[3], (50, 1))  # every image the same confident class: score 1
    assert CW.classifier_score(same)["classifier_score"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        CW.classifier_score(np.full((4, 10), 0.2))


def test_prediction_histogram():
    h = CW.prediction_histogram(np.arange(100) % 10)
    assert h["pred_kl_uniform"] == pytest.approx(0.0, abs=1e-12) and h["never_predicted"] == []
    h = CW.prediction_histogram(np.array([2, 2, 2, 7]))
    assert h["histogram"][2] == 3 and h["never_predicted"] == [0, 1, 3, 4, 5, 6, 8, 9]
    assert h["pred_kl_uniform"] == pytest.approx(0.75 * math.log(7.5) + 0.25 * math.log(2.5))
    assert CW.prediction_histogram(np.zeros(5, np.int64))["pred_kl_uniform"] == pytest.approx(math.log(10))


def test_intra_class_fid_equals_core_fid_per_class():
    rng = np.random.default_rng(1)
    real, real_y = rng.normal(size=(300, 16)), np.arange(300) % 10
    fake, fake_y = rng.normal(0.2, 1.1, size=(200, 16)), np.arange(200) % 10
    out = CW.intra_class_fid(fake, fake_y, CW.class_stats(real, real_y))
    for c in range(10):
        assert out["fid"][c] == pytest.approx(fid(fake[fake_y == c], real[real_y == c])["fid"], rel=1e-7)
    assert out["ifid"] == pytest.approx(np.mean(out["fid"])) and out["n_samples"] == [20] * 10
    assert out["small_classes"] == list(range(10))  # 20 < IFID_SMALL_CLASS: the caller warns


@pytest.mark.parametrize(("n", "d"), [(5, 40), (39, 40), (40, 40), (60, 40)])
def test_fid_against_stats_matches_the_core_fid_on_both_routes(n, d):
    rng = np.random.default_rng(n)
    real = rng.normal(size=(300, d)) @ rng.normal(size=(d, d)) * 0.3
    fake = np.abs(rng.normal(0.5, 1.0, size=(n, d)))
    expected = fid(fake, real)["fid"]
    # the core route squares the condition number on singular covariances: ~1e-8 relative (fid.py)
    assert CW.fid_against_stats(fake, *feature_stats(real)) == pytest.approx(expected, rel=1e-7)


def test_intra_class_fid_small_and_missing_classes():
    rng = np.random.default_rng(2)
    real, real_y = rng.normal(size=(100, 8)), np.arange(100) % 10
    fake_y = np.array([0] * 10 + [1] + [2] * 5)  # class 1: one sample; classes 3-9: none
    out = CW.intra_class_fid(rng.normal(size=(16, 8)), fake_y, CW.class_stats(real, real_y))
    assert out["fid"][0] is not None and out["fid"][1] is None and "1 generated" in out["reasons"][1]
    assert out["fid"][5] is None and "0 generated" in out["reasons"][5]
    assert out["ifid"] is None and "1, 3, 4" in out["ifid_reason"]  # no mean over a subset of classes


# ----------------------------------------------------------------------------------------------- diversity


def clustered(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    """Non-negative 'features' with a real spread, like pool3."""
    return np.abs(rng.normal(size=(n, dim)) + rng.normal(size=dim)).astype(np.float32)


def test_healthy_generator_is_ok():
    rng = np.random.default_rng(3)
    real, fake = clustered(rng, 600), clustered(rng, 200)
    s = DV.group_diversity(fake, real, seed=0)
    assert s["diversity_ratio"] == pytest.approx(1.0, abs=0.1)
    assert s["near_duplicate_rate"] < 0.05 and s["memorisation_rate"] < 0.05 and s["flag"] == "ok"
    assert 0 < s["coverage"] <= 1


def test_collapsed_generator_is_flagged():
    rng = np.random.default_rng(4)
    real = clustered(rng, 500)
    fake = np.repeat(clustered(rng, 5), 20, axis=0)  # 5 images, each 20 times
    s = DV.group_diversity(fake, real, seed=0)
    assert s["near_duplicate_rate"] == 1.0 and s["flag"] == "collapsed"
    assert s["diversity_ratio"] < 0.9  # pairs of copies count as zero distance


def test_memorising_generator_is_flagged_with_offenders():
    rng = np.random.default_rng(5)
    real = clustered(rng, 500)
    fake = np.concatenate([real[:40], clustered(rng, 60)])  # 40% copies of reference rows
    s = DV.group_diversity(fake, real, seed=0)
    assert s["memorisation_rate"] == pytest.approx(0.4, abs=0.02) and s["flag"] == "memorising"
    assert set(s["memorised"][:40].tolist()) >= set(range(38))
    np.testing.assert_array_equal(s["memorised_nn"][:5], s["memorised"][:5])  # copy i is reference row i


def test_thresholds_have_about_one_percent_base_rate_on_real_data():
    rng = np.random.default_rng(6)
    pool = clustered(rng, 3000)
    real, fake = pool[:2000], pool[2000:]  # both "real": held-out rows play the generator
    s = DV.group_diversity(fake, real, seed=1)
    assert s["memorisation_rate"] < 0.04 and s["near_duplicate_rate"] < 0.04
    assert DV.flag(s) == "ok"


def test_flag_precedence():
    base = {"near_duplicate_rate": 0.0, "diversity_ratio": 1.0, "memorisation_rate": 0.0}
    assert DV.flag(base) == "ok"
    assert DV.flag({**base, "diversity_ratio": 0.8}) == "low diversity"
    assert DV.flag({**base, "memorisation_rate": 0.5, "near_duplicate_rate": 0.2}) == "memorising"
    assert DV.flag({**base, "memorisation_rate": 1.0, "near_duplicate_rate": 0.9}) == "collapsed"


def test_nearest_and_mean_pairwise_distance_exact():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], np.float32)
    d, i = DV.nearest(x, x, same=True)
    np.testing.assert_allclose(d, [5, 5, 5], atol=1e-4)
    assert i.tolist() == [1, 0, 1]
    assert DV.mean_pairwise_distance(x) == pytest.approx((5 + 10 + 5) / 3, abs=1e-4)
    mu, _ = feature_stats(x)  # sanity: the module shares the pool3 conventions (rows are images)
    assert mu.shape == (2,)


def test_intra_class_fid_from_class_features_matches_class_statistics():
    """Classes with at most d reference rows are compared through their features (the exact route)."""
    rng = np.random.default_rng(5)
    real, real_y = rng.normal(size=(300, 40)), np.arange(300) % 10
    fake, fake_y = rng.normal(0.2, 1.1, size=(200, 40)), np.arange(200) % 10
    by_features = CW.intra_class_fid(fake, fake_y, CW.class_features(real, real_y))
    by_stats = CW.intra_class_fid(fake, fake_y, CW.class_stats(real, real_y))
    assert by_features["fid"] == pytest.approx(by_stats["fid"], rel=1e-7)
    assert by_features["ifid"] == pytest.approx(by_stats["ifid"], rel=1e-7)
