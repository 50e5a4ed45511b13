"""The metric registry: one registered pure function reaches the pipeline, the CLI table, the report's
columns; an unmet need is null with the declared reason, never a number."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ganbench.cli.tables import metric_rows
from ganbench.metrics import registry as R
from ganbench.metrics.fid import feature_stats
from ganbench.report import cells
from ganbench.scoring import ScoreConfig


@pytest.fixture
def toy_metric():
    """Register a toy metric for one test (the spread of the samples' pool3 means), then remove it."""

    @R.register("toy_spread", keys=("toy_spread",), needs=("pool3", "ref_features"),
                rows=(R.Row("toy_spread", "Toy spread", ".2f"),),
                columns=(R.Column("toy", "toy spread", "toy_spread", ".1f"),))  # fmt: skip
    def toy(x: R.MetricInputs) -> dict[str, float]:
        return {"toy_spread": float(x.pool3.mean(axis=1).std())}

    yield toy
    del R.METRICS["toy_spread"]


def _inputs(stats_only: bool = False, logits: bool = False) -> R.MetricInputs:
    rng = np.random.default_rng(0)
    fake, real = rng.random((40, 8)), rng.random((50, 8))
    mu, sigma = feature_stats(real)
    cfg = ScoreConfig(samples="x", kid_subsets=5, kid_subset_size=20)
    return R.MetricInputs(fake, rng.standard_normal((40, 1008)) if logits else None, mu, sigma,
                          None if stats_only else real, cfg)  # fmt: skip


def test_a_registered_metric_reaches_pipeline_table_and_report(toy_metric):
    x = _inputs()
    values, unavailable = R.compute_metrics(x)
    assert values["toy_spread"] == pytest.approx(float(x.pool3.mean(axis=1).std()))
    record = {"metrics": values, "unavailable": unavailable}
    assert ("Toy spread", format(values["toy_spread"], ".2f")) in metric_rows(record)
    assert ("toy", "toy spread") in cells.columns()
    assert "toy_spread" in R.result_keys(computed_here=True)


def test_unmet_needs_are_null_with_the_declared_reason(toy_metric):
    values, unavailable = R.compute_metrics(_inputs(stats_only=True), weights_file="w.pt")
    assert values["fid"] is not None  # FID needs only the statistics
    for key in ("toy_spread", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"):
        assert values[key] is None and unavailable[key] == R.NEEDS["ref_features"]
    for key in ("is_mean", "is_std", "is_kl"):
        assert values[key] is None and "w.pt" in unavailable[key] and "1008-way head" in unavailable[key]
    rows = dict(metric_rows({"metrics": values, "unavailable": unavailable}))
    assert rows["KID"].startswith("n/a — the reference is statistics only")


def test_metrics_enabled_by_an_option_are_left_out_unless_asked():
    x = _inputs(logits=True)
    values, unavailable = R.compute_metrics(x)
    assert "fid_ci_low" not in values and unavailable == {}
    assert values["is_mean"] is not None
    asked, _ = R.compute_metrics(replace(x, options=replace(x.options, fid_ci=20)))
    assert asked["fid_ci_low"] < asked["fid_ci_high"] and asked["fid_boot_n"] == 20


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        R.declare("fid", keys=("fid",), needs=())


def test_the_gate_and_the_rank_are_fid():
    from ganbench.report import leaderboard as L

    assert R.gated().keys == ("fid",) and L.RANK_KEY == "fid"
