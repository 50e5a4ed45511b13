"""Pure metric functions: numpy features/logits in, dict of Python floats out."""

from .fid import (
    FID_BIAS_THRESHOLD,
    feature_stats,
    fid,
    fid_against_stats,
    fid_between_features,
    fid_from_stats,
    frechet_distance,
)
from .inception_score import inception_score
from .kid import kid
from .prdc import density_coverage, precision_recall
from .registry import METRICS

# The keys every run records (computable or null with a reason), in display order; FID's interval is
# recorded only with --fid-ci, the class-aware keys by the class-aware section.
METRIC_KEYS = tuple(
    k for m in METRICS.values() if m.compute is not None and m.enabled is None for k in m.keys
)

__all__ = [
    "FID_BIAS_THRESHOLD",
    "METRICS",
    "METRIC_KEYS",
    "density_coverage",
    "feature_stats",
    "fid",
    "fid_against_stats",
    "fid_between_features",
    "fid_from_stats",
    "frechet_distance",
    "inception_score",
    "kid",
    "precision_recall",
]
