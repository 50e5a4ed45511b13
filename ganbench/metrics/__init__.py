"""Pure metric functions: numpy features/logits in, dict of Python floats out."""

from .fid import FID_BIAS_THRESHOLD, feature_stats, fid, fid_from_stats, frechet_distance
from .inception_score import inception_score
from .kid import kid
from .prdc import density_coverage, precision_recall

# Result keys, in report order.
METRIC_KEYS = (
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

__all__ = [
    "FID_BIAS_THRESHOLD",
    "METRIC_KEYS",
    "density_coverage",
    "feature_stats",
    "fid",
    "fid_from_stats",
    "frechet_distance",
    "inception_score",
    "kid",
    "precision_recall",
]
