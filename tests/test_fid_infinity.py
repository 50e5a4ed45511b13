"""FD-infinity / IS-infinity (Chong & Forsyth 2020) and the registry's small-sample rule."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.metrics import registry as R
from ganbench.metrics.fid import feature_stats, fid_from_stats
from ganbench.metrics.fid_infinity import fid_infinity, is_infinity, subset_sizes
from ganbench.scoring import ScoreConfig

D = 64
S_FAKE = np.linspace(0.5, 2.0, D)  # diagonal covariances: the Fréchet distance in closed form
MU_REAL, S_REAL = np.full(D, 0.1), np.ones(D)
CLOSED_FORM = float((MU_REAL**2).sum() + ((np.sqrt(S_FAKE) - np.sqrt(S_REAL)) ** 2).sum())


@pytest.mark.parametrize("seed", range(4))
def test_fd_infinity_lands_much_closer_to_the_closed_form_than_fid(seed):
    x = np.random.default_rng(seed).standard_normal((500, D)) * np.sqrt(S_FAKE)
    fid = fid_from_stats(*feature_stats(x), MU_REAL, np.diag(S_REAL))["fid"]
    got = fid_infinity(x, MU_REAL, np.diag(S_REAL))
    assert fid - CLOSED_FORM > 1.5  # FID at N=500 is biased upwards by more than a third here
    assert abs(got["fid_inf"] - CLOSED_FORM) < 0.25 * abs(fid - CLOSED_FORM)
    assert got["fid_inf_points"] == 15


def test_fd_infinity_is_seeded_and_the_sizes_are_evenly_spaced():
    x = np.random.default_rng(0).standard_normal((200, D))
    a = fid_infinity(x, MU_REAL, np.diag(S_REAL), points=5, seed=1)
    assert a == fid_infinity(x, MU_REAL, np.diag(S_REAL), points=5, seed=1)
    assert a != fid_infinity(x, MU_REAL, np.diag(S_REAL), points=5, seed=2)
    assert subset_sizes(200, 5).tolist() == [40, 80, 120, 160, 200]
    with pytest.raises(ValueError, match="at least 10 samples"):
        subset_sizes(9)


def test_is_infinity_of_a_constant_score_is_that_score():
    logits = np.tile(np.linspace(-2, 2, 1008), (60, 1))  # every subset: IS exactly 1
    assert is_infinity(logits)["is_inf"] == pytest.approx(1.0, abs=1e-9)
    mixed = np.random.default_rng(0).standard_normal((60, 1008)) * 3
    assert np.isfinite(is_infinity(mixed)["is_inf"])


def _inputs(n_fake: int, n_real: int, **options) -> R.MetricInputs:
    rng = np.random.default_rng(0)
    real = rng.random((n_real, 8))
    mu, sigma = feature_stats(real)
    return R.MetricInputs(rng.random((n_fake, 8)), None, mu, sigma, real, ScoreConfig(samples="x", **options))


def test_fd_infinity_in_the_registry_only_when_asked_and_with_enough_samples():
    values, _ = R.compute_metrics(_inputs(40, 50))
    assert "fid_inf" not in values
    values, unavailable = R.compute_metrics(_inputs(40, 50, fid_inf=6), weights_file="w.pt")
    assert np.isfinite(values["fid_inf"]) and values["fid_inf_points"] == 6
    assert values["is_inf"] is None and "1008-way head" in unavailable["is_inf"]
    values, unavailable = R.compute_metrics(_inputs(8, 50, fid_inf=6))
    assert values["fid_inf"] is None and unavailable["fid_inf"] == "needs at least 10 samples (got 8 samples)"


def test_too_few_samples_for_precision_recall_is_a_reason_not_a_crash():
    """3 samples against 4 reference images: FID is computed, the k-NN metrics say why they are not."""
    values, unavailable = R.compute_metrics(_inputs(3, 4))
    assert np.isfinite(values["fid"])
    assert values["precision"] is None and values["recall"] is None
    assert (
        unavailable["precision"]
        == "needs at least 4 samples and reference images (got 3 samples and 4 reference images)"
    )
    assert unavailable["density"].startswith("needs at least 6 samples")
