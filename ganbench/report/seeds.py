"""Records that differ only in the training seed -> one row: mean ± standard deviation over seeds, and
whether two rows' order is significant given the seeds' spread (retraining moves FID more than resampling).

Pure logic over record dicts, shared by the leaderboard and `ganbench benchmark`'s table. A record carries a
training seed when it says so (`benchmark.seed`; benchmark records before seeds were a protocol option used
`benchmark.protocol.seed` for training and subset alike).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

from ganbench.results import get_path

ALPHA = 0.05  # two-sided level of the between-seed test
ONE_SEED = "1 seed: ranking not tested"  # the row itself has one training seed
ABOVE_ONE_SEED = "row above: 1 seed, not tested"  # a row of several seeds (or none) under a one-seed row


def below_mark(mark: str, one_seed: bool) -> str:
    """A pair's mark as the lower row shows it: the untested pair names which of the two has one seed."""
    return ABOVE_ONE_SEED if mark == ONE_SEED and not one_seed else mark


def training_seed(rec: dict) -> int | None:
    """The seed the model was trained with, when the record says (None: not a seeded training record)."""
    for path in (("benchmark", "seed"), ("benchmark", "protocol", "seed"), ("run", "training_seed")):
        v = get_path(rec, *path)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def group_key(rec: dict) -> str | None:
    """What must match for records to be seeds of one row: the model's name and recipe, the steps reached and
    budgeted, and every protocol field but the training seed. None for a record without a training seed."""
    if training_seed(rec) is None:
        return None
    b = rec.get("benchmark") or {}
    protocol = {k: v for k, v in (b.get("protocol") or {}).items() if k not in ("seed", "seeds")}
    key = {
        "name": b.get("name") or get_path(rec, "run", "name"),
        "recipe": b.get("recipe"),
        "model_settings": b.get("model_settings"),
        "steps": b.get("steps", get_path(rec, "run", "step")),
        "steps_budget": b.get("steps_budget"),
        "protocol": protocol,
        "samples_n": get_path(rec, "samples", "n"),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Spread:
    """One metric over a row's seeds."""

    values: dict[int, float] = field(default_factory=dict)  # training seed -> value (finite ones only)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values.values()) / self.n if self.n else None

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (n-1); None below two seeds."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values.values()) / (self.n - 1))

    def interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """Student-t interval of the mean over seeds; None below two seeds."""
        if self.n < 2:
            return None
        from scipy import stats

        half = float(stats.t.ppf(0.5 + level / 2, self.n - 1)) * self.sd / math.sqrt(self.n)
        return (self.mean - half, self.mean + half)


def spread(recs: list[dict], key: str) -> Spread:
    """`metrics[key]` of each record by its training seed (records lacking a finite value are left out)."""
    out = Spread()
    for rec in recs:
        v, seed = (rec.get("metrics") or {}).get(key), training_seed(rec)
        if seed is not None and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.values[seed] = float(v)
    return out


def group(records: list[dict]) -> dict[str, list[dict]]:
    """group key -> its records (one per training seed: a seed scored twice keeps the newest record)."""
    out: dict[str, dict[int, dict]] = {}
    for rec in records:
        key = group_key(rec)
        if key is None:
            continue
        seeds = out.setdefault(key, {})
        seed = training_seed(rec)
        if seed not in seeds or str(rec.get("created", "")) > str(seeds[seed].get("created", "")):
            seeds[seed] = rec
    return {k: [v[s] for s in sorted(v)] for k, v in out.items()}


def differ(a: list[float], b: list[float], alpha: float = ALPHA) -> bool | None:
    """Whether two sets of per-seed values have different means (Welch's t, two-sided); None when either
    has fewer than two seeds (not testable)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy import stats

    va, vb = Spread(dict(enumerate(a))), Spread(dict(enumerate(b)))
    if va.sd == 0 and vb.sd == 0:  # no spread at all: the means either are the same or are not
        return va.mean != vb.mean
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return p < alpha
