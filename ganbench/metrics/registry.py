"""The metric registry: every number a record's `metrics` holds is declared here once.

A metric declares its result keys, what it needs from the one network pass and the reference, how it is
shown (table label, format, report column) and why it is unavailable when a need is missing. The pipeline's
compute_metrics, the CLI table, the report's columns and the check gate all read this list, so adding a
metric is one registered pure function:

    @register("my_metric", keys=("my_metric",), needs=("pool3", "ref_features"), rows=(Row("my_metric", "Mine"),))
    def my_metric(x: MetricInputs) -> dict[str, float]:
        return {"my_metric": ...}

Metrics with `compute=None` are computed by the class-aware section (ganbench/classaware.py: one classifier
pass serves all of them); they are declared here so that they are shown and gated the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .bootstrap import SubsetFID, fid_bootstrap
from .fid import fid_against_stats, fid_between_features
from .fid_infinity import MIN_SAMPLES as FID_INF_MIN
from .fid_infinity import fid_infinity, is_infinity
from .inception_score import inception_score
from .kid import kid
from .prdc import density_coverage, precision_recall

# What a metric can need, and the reason shown when it is missing ({weights_file} is filled in).
NEEDS = {
    "pool3": "no pool3 features",
    "logits": (
        "the Inception weights in use ({weights_file}) have no 1008-way head; get torch-fidelity's "
        "weights-inception-2015-12-05-6726825d.pth (ganbench weights fetch, online) for IS"
    ),
    "ref_stats": "no reference statistics",
    "ref_features": "the reference is statistics only (mu, sigma); these need reference features",
    "classifier": "no surrogate classifier (--classifier none)",
}


@dataclass(frozen=True)
class MetricInputs:
    """What one scoring run hands every metric: the samples' features, the reference and the options."""

    pool3: np.ndarray  # [N, 2048] float, the samples
    logits: np.ndarray | None  # [N, 1008] unbiased logits, when the weights carry the head
    ref_mu: np.ndarray
    ref_sigma: np.ndarray
    ref_features: np.ndarray | None  # None when the reference is statistics only
    options: Any  # the ScoreConfig: seeds, k, subset sizes, bootstrap resamples

    # Computed once per run and shared: FID is the interval's centre, and the bootstrap and FD-infinity
    # draw their subsets from one projection of the samples.
    @cached_property
    def fid(self) -> float:
        n, d = self.pool3.shape
        if self.ref_features is not None and n <= d and len(self.ref_features) <= d:
            return fid_between_features(self.pool3, self.ref_features)  # exact, and no d x d eigensolve
        return fid_against_stats(self.pool3, self.ref_mu, self.ref_sigma)

    @cached_property
    def subset_fid(self) -> SubsetFID:
        return SubsetFID(self.pool3, self.ref_mu, self.ref_sigma)


@dataclass(frozen=True)
class Row:
    """A line of the CLI table showing one result key."""

    key: str
    label: str
    fmt: str = ".4f"
    std_key: str | None = None  # shown as "value ± std" when both are numbers


@dataclass(frozen=True)
class Column:
    """A report column showing one result key."""

    id: str  # the column's key in the page (sorting, CSS)
    title: str
    key: str  # the result key shown
    fmt: str = ".3f"
    std_key: str | None = None  # shown as "value ± std"
    optional: bool = False  # shown only once some record carries the key


@dataclass(frozen=True)
class Metric:
    name: str
    keys: tuple[str, ...]  # result keys, in display order
    needs: tuple[str, ...]  # of NEEDS
    compute: Callable[[MetricInputs], dict[str, float]] | None  # None: computed by the class-aware section
    rows: tuple[Row, ...] = ()  # what the CLI table shows of it
    columns: tuple[Column, ...] = ()  # what the report shows of it
    enabled: Callable[[Any], bool] | None = None  # computed only when enabled(options) (e.g. --fid-ci N)
    gate: str | None = None  # "lower" / "higher" is better: `ganbench check` gates on it
    min_samples: Callable[[Any], int] | None = None  # rows the samples (and reference features) need

    def reason(self, missing: str, weights_file: str = "?") -> str:
        return NEEDS[missing].format(weights_file=weights_file)


METRICS: dict[str, Metric] = {}


def register(name: str, **fields: Any) -> Callable:
    """Decorator: register `fn` as the metric `name` (see Metric for the fields)."""

    def wrap(fn: Callable[[MetricInputs], dict[str, float]] | None) -> Callable | None:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name=name, compute=fn, **fields)
        return fn

    return wrap


def declare(name: str, **fields: Any) -> None:
    """A metric computed elsewhere (the class-aware section), registered for display and gating."""
    register(name, **fields)(None)


def _selected(computed_here: bool | None) -> Iterator[Metric]:
    """Registered metrics in order: all (None), only the pool3/logit ones (True) or only the class-aware."""
    return (m for m in METRICS.values() if computed_here is None or (m.compute is not None) == computed_here)


def table_rows(computed_here: bool | None = None) -> list[Row]:
    """The CLI table's lines, in registry order."""
    return [r for m in _selected(computed_here) for r in m.rows]


def result_keys(computed_here: bool | None = None) -> tuple[str, ...]:
    """Every registered key, in display order."""
    return tuple(k for m in _selected(computed_here) for k in m.keys)


def columns() -> list[Column]:
    """The report's metric columns, in registry order."""
    return [c for m in METRICS.values() for c in m.columns]


def gated() -> Metric:
    """The metric `ganbench check` gates on."""
    (m,) = [m for m in METRICS.values() if m.gate]
    return m


def compute_metrics(
    x: MetricInputs, weights_file: str = "?", seconds: dict[str, float] | None = None
) -> tuple[dict, dict]:
    """Every registered pool3/logit metric whose needs are met. -> (metrics, unavailable: key -> reason).

    A metric with an unmet need gets None for each key and the reason; one that is not enabled is left out.
    seconds: filled with each computed metric's wall seconds ("metric:<name>").
    """
    have = {
        "pool3": True,
        "logits": x.logits is not None,
        "ref_stats": True,
        "ref_features": x.ref_features is not None,
    }
    values: dict[str, float | None] = {}
    unavailable: dict[str, str] = {}
    for m in METRICS.values():
        if m.compute is None or (m.enabled is not None and not m.enabled(x.options)):
            continue
        missing = [need for need in m.needs if not have.get(need, False)]
        if missing:
            for key in m.keys:
                values[key], unavailable[key] = None, m.reason(missing[0], weights_file)
            continue
        few = _too_few(m, x)
        if few:
            for key in m.keys:
                values[key], unavailable[key] = None, few
            continue
        t = time.perf_counter()
        values.update(m.compute(x))
        if seconds is not None:
            seconds[f"metric:{m.name}"] = round(time.perf_counter() - t, 3)
    return values, unavailable


def _too_few(m: Metric, x: MetricInputs) -> str | None:
    """Why `m` cannot be computed from this few rows, or None."""
    if m.min_samples is None:
        return None
    k = m.min_samples(x.options)
    n_ref = len(x.ref_features) if "ref_features" in m.needs and x.ref_features is not None else None
    if len(x.pool3) >= k and (n_ref is None or n_ref >= k):
        return None
    have = f"{len(x.pool3)} samples" + ("" if n_ref is None else f" and {n_ref} reference images")
    return f"needs at least {k} samples{'' if n_ref is None else ' and reference images'} (got {have})"


# --- the metrics, in display order ---------------------------------------------------------------------


@register("fid", keys=("fid",), needs=("pool3", "ref_stats"), rows=(Row("fid", "FID"),), gate="lower",
          columns=(Column("fid", "FID (95% CI)", "fid", ".2f"),))  # fmt: skip
def _fid(x: MetricInputs) -> dict[str, float]:
    return {"fid": x.fid}


@register("fid_ci", keys=("fid_ci_low", "fid_ci_high", "fid_boot_n"), needs=("pool3", "ref_stats"),
          enabled=lambda o: bool(o.fid_ci))  # fmt: skip
def _fid_ci(x: MetricInputs) -> dict[str, float]:
    o = x.options
    return fid_bootstrap(x.pool3, x.ref_mu, x.ref_sigma, n_boot=o.fid_ci, seed=o.metric_seed, point=x.fid,
                         fid_of=x.subset_fid)  # fmt: skip


@register("fid_infinity", keys=("fid_inf", "fid_inf_points"), needs=("pool3", "ref_stats"),
          rows=(Row("fid_inf", "FID∞"),), columns=(Column("fid_inf", "FID∞", "fid_inf", ".2f", optional=True),),
          enabled=lambda o: bool(o.fid_inf), min_samples=lambda o: FID_INF_MIN)  # fmt: skip
def _fid_infinity(x: MetricInputs) -> dict[str, float]:
    o = x.options
    return fid_infinity(
        x.pool3, x.ref_mu, x.ref_sigma, points=o.fid_inf, seed=o.metric_seed, fid_of=x.subset_fid
    )


@register("is_infinity", keys=("is_inf",), needs=("logits",), rows=(Row("is_inf", "IS∞", ".3f"),),
          enabled=lambda o: bool(o.fid_inf), min_samples=lambda o: FID_INF_MIN)  # fmt: skip
def _is_infinity(x: MetricInputs) -> dict[str, float]:
    return is_infinity(x.logits, points=x.options.fid_inf, seed=x.options.metric_seed)


@register("kid", keys=("kid_mean", "kid_std"), needs=("pool3", "ref_features"),
          rows=(Row("kid_mean", "KID", ".5f", "kid_std"),),
          columns=(Column("kid", "KID", "kid_mean", ".5f", "kid_std"),))  # fmt: skip
def _kid(x: MetricInputs) -> dict[str, float]:
    o = x.options
    return kid(
        x.pool3, x.ref_features, subsets=o.kid_subsets, subset_size=o.kid_subset_size, seed=o.metric_seed
    )


@register("inception_score", keys=("is_mean", "is_std", "is_kl"), needs=("logits",),
          rows=(Row("is_mean", "Inception Score", ".3f", "is_std"), Row("is_kl", "IS KL")),
          columns=(Column("is", "IS", "is_mean", ".2f", "is_std"), Column("kl", "IS KL", "is_kl")))  # fmt: skip
def _inception_score(x: MetricInputs) -> dict[str, float]:
    return inception_score(x.logits, seed=x.options.metric_seed)


@register("precision_recall", keys=("precision", "recall"), needs=("pool3", "ref_features"),
          min_samples=lambda o: o.prc_k + 1,
          rows=(Row("precision", "Precision"), Row("recall", "Recall")),
          columns=(Column("precision", "precision", "precision"), Column("recall", "recall", "recall")))  # fmt: skip
def _precision_recall(x: MetricInputs) -> dict[str, float]:
    return precision_recall(x.ref_features, x.pool3, k=x.options.prc_k)


@register("density_coverage", keys=("density", "coverage"), needs=("pool3", "ref_features"),
          min_samples=lambda o: o.dc_k + 1,
          rows=(Row("density", "Density"), Row("coverage", "Coverage")),
          columns=(Column("density", "density", "density"), Column("coverage", "coverage", "coverage")))  # fmt: skip
def _density_coverage(x: MetricInputs) -> dict[str, float]:
    return density_coverage(x.ref_features, x.pool3, k=x.options.dc_k)


# The class-aware section's numbers (ganbench/classaware.py computes them from one classifier pass).
for _key, _label, _fmt, _column in (
    ("classifier_accuracy", "classifier accuracy", ".4f", ("acc", "classifier acc.", ".3f")),
    ("macro_f1", "macro f1", ".4f", None),
    ("classifier_score", "classifier score", ".4f", None),
    ("classifier_kl", "classifier kl", ".4f", None),
    ("pred_kl_uniform", "pred kl uniform", ".4f", None),
    ("ifid", "ifid", ".4f", ("ifid", "IFID", ".2f")),
    ("diversity_ratio", "diversity ratio", ".4f", None),
    ("near_duplicate_rate", "near duplicate rate", ".4f", None),
    ("memorisation_rate", "memorisation rate", ".4f", None),
    ("classes_flagged", "classes flagged", ".0f", None),
):
    _cols = () if _column is None else (Column(_column[0], _column[1], _key, _column[2], optional=True),)
    declare(_key, keys=(_key,), needs=("classifier",), rows=(Row(_key, _label, _fmt),), columns=_cols)
