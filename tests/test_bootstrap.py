"""The FID bootstrap interval (ganbench.metrics.bootstrap) on small Gaussian features."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.metrics import feature_stats, frechet_distance
from ganbench.metrics.bootstrap import bootstrap_fids, fid_bootstrap

D = 12


@pytest.fixture(scope="module")
def real() -> tuple[np.ndarray, np.ndarray]:
    return feature_stats(np.random.default_rng(0).normal(size=(4000, D)))


@pytest.mark.parametrize("n", [300, 8])  # 8 < D: the Gram-matrix branch
def test_resamples_match_the_plain_formula(real, n):
    fake = np.random.default_rng(1).normal(size=(n, D)) + 0.2
    fast = bootstrap_fids(fake, *real, n_boot=4, seed=7)
    rng = np.random.default_rng(7)
    slow = [frechet_distance(*feature_stats(fake[rng.integers(0, n, n)]), *real) for _ in range(4)]
    np.testing.assert_allclose(fast, slow, rtol=1e-6)  # singular covariances: ~1e-7 (fid.py)


def test_interval_is_centred_on_the_estimate_and_seeded(real):
    fake = np.random.default_rng(2).normal(size=(400, D)) * 1.1
    point = frechet_distance(*feature_stats(fake), *real)
    ci = fid_bootstrap(fake, *real, n_boot=60, seed=3)
    assert ci["fid_ci_low"] < point < ci["fid_ci_high"] and ci["fid_boot_n"] == 60
    assert ci == fid_bootstrap(fake, *real, n_boot=60, seed=3)
    assert ci != fid_bootstrap(fake, *real, n_boot=60, seed=4)
    # resampling duplicates samples, which biases FID upwards: the raw bootstrap mean sits above the estimate
    assert bootstrap_fids(fake, *real, 60, 3).mean() > point


def test_width_matches_the_spread_of_fresh_samples(real):
    """The interval's width estimates how FID varies over independent sample sets of the same size."""
    rng = np.random.default_rng(5)
    fresh = [frechet_distance(*feature_stats(rng.normal(size=(400, D)) + 0.1), *real) for _ in range(150)]
    ci = fid_bootstrap(rng.normal(size=(400, D)) + 0.1, *real, n_boot=200, seed=0)
    width, expected = ci["fid_ci_high"] - ci["fid_ci_low"], 2 * 1.96 * np.std(fresh)
    assert 0.6 * expected < width < 1.6 * expected, (width, expected)
    wider = fid_bootstrap(rng.normal(size=(100, D)) + 0.1, *real, n_boot=200, seed=0)
    assert wider["fid_ci_high"] - wider["fid_ci_low"] > 1.5 * width  # 4x fewer samples: about 2x wider


def test_bad_input(real):
    with pytest.raises(ValueError, match="dimensions differ"):
        fid_bootstrap(np.zeros((10, D + 1)), *real)
    with pytest.raises(ValueError, match="n_boot"):
        fid_bootstrap(np.ones((10, D)), *real, n_boot=1)
    with pytest.raises(ValueError, match="confidence"):
        fid_bootstrap(np.ones((10, D)), *real, confidence=1.0)
