"""Result records -> leaderboard rows: who the model is, which setup it was scored under, best and latest.

Pure logic over the record dicts (plus a cached look for trainer run folders on disk), shared by the report
and the CI gate so both name models and compare setups the same way.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ganbench.metrics import registry
from ganbench.report import seeds as S
from ganbench.results import get_path, load_records

SCHEMA = 1  # the record schema this module reads (ganbench/scoring.py writes it)

# The settings that change FID by themselves: results that differ in any of them are never ranked together.
SETUP_FIELDS = ("reference", "samples", "weights", "resize")
SETUP_NAMES = {"reference": "reference", "samples": "sample count", "weights": "weights", "resize": "resize"}


class SkipRecord(ValueError):
    """A record the leaderboard cannot place (too old, half-written...); the message says why."""


def validate(rec: dict) -> dict:
    """Check the fields ranking needs exist; raise SkipRecord naming the first that is missing."""
    schema = rec.get("schema")
    if not isinstance(schema, int) or schema < SCHEMA:
        raise SkipRecord(f"record schema {schema!r} is older than this report reads ({SCHEMA}); rescore it")
    need = [
        ("metrics",),
        ("samples", "source"),
        ("samples", "n"),
        ("reference", "source"),
        ("extractor", "weights_sha256"),
        ("extractor", "resize"),
    ]
    for path in need:
        if get_path(rec, *path) is None:
            raise SkipRecord(f"no {'.'.join(path)} (half-written or from another tool)")
    if not isinstance(rec["metrics"], dict):
        raise SkipRecord("metrics is not a mapping")
    fid = rec["metrics"].get("fid")
    if fid is not None and not isinstance(fid, (int, float)):
        raise SkipRecord(f"metrics.fid is {fid!r}, not a number")
    return rec


# --- identity: model name, step, trainer run folder ------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def find_run_dir(path: str) -> Path | None:
    """The trainer run folder (holding config.json and log.csv) at or above `path`, if any."""
    p = Path(path)
    for cand in [p, *p.parents][:6]:  # samples/<step>/<class> is at most a few levels below the run
        if (cand / "config.json").is_file() and (cand / "log.csv").is_file():
            return cand
    return None


def run_dir_of(rec: dict) -> Path | None:
    explicit = get_path(rec, "run", "run_dir")
    if explicit and Path(explicit).is_dir():
        return Path(explicit)
    origin = get_path(rec, "samples", "origin", "path")
    return find_run_dir(str(origin)) if origin else None


def model_name(rec: dict) -> str:
    """run.name (trainers write it), else the trainer run folder, else the samples source's folder name."""
    name = get_path(rec, "run", "name")
    if name:
        return str(name)
    run = run_dir_of(rec)
    if run is not None:
        return run.name
    source = str(get_path(rec, "samples", "source") or "?").rstrip("/\\")
    base = re.split(r"[/\\]", source)[-1] or source
    return re.sub(r"\.(zip|npz)$", "", base, flags=re.IGNORECASE)


def step_of(rec: dict) -> int | None:
    """run.step, else the step of a scored checkpoint, else the <step> of a trainer's samples/<step>/."""
    step = get_path(rec, "run", "step")
    if isinstance(step, int):
        return step
    if get_path(rec, "samples", "kind") == "checkpoint":  # `ganbench score ckpt-<step>.pt`
        step = str(get_path(rec, "samples", "origin", "step") or "")
        return int(step) if step.isdigit() else None
    origin = get_path(rec, "samples", "origin", "path")
    if origin and run_dir_of(rec) is not None:
        parts = Path(origin).parts
        if "samples" in parts[:-1]:
            nxt = parts[parts.index("samples") + 1]
            if nxt.isdigit():
                return int(nxt)
    return None


# --- setup: what must match for two FIDs to be comparable -------------------------------------------------


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def setup_of(rec: dict) -> dict[str, tuple[str, str]]:
    """field -> (key that must match, label a reader understands)."""
    ref, ext = rec["reference"], rec["extractor"]
    if ref.get("kind") == "statistics":
        sha = get_path(ref, "meta", "source", "content_sha256") or ref.get("path", "")
        ref_label = f"{ref['source']} (statistics file)"
        ref_key = f"stats:{ref['source']}:{sha}"
    else:
        sub = ref.get("subset") or {}
        size = (
            f"{_count(ref.get('n'))} of {_count(sub['of'])}, seed {sub.get('seed')}"
            if sub.get("of")
            else (f"{_count(ref.get('n'))} images")
        )
        copy = get_path(ref, "origin", "copy")
        ref_label = f"{ref['source']} ({size})" + (f" [{copy}]" if copy else "")
        ref_key = f"images:{ref['source']}:{ref.get('content_sha256', ref_label)}"
    weights = ext.get("weights") or {}
    w_file = weights.get("file") or ext.get("extractor", "?")
    sha = str(ext["weights_sha256"])
    return {
        "reference": (ref_key, ref_label),
        "samples": (str(rec["samples"]["n"]), _count(rec["samples"]["n"])),
        "weights": (f"{ext.get('extractor')}:{ext.get('version')}:{sha}", f"{w_file} ({sha[:8]})"),
        "resize": (str(ext["resize"]), str(ext["resize"])),
    }


def setup_key(rec: dict) -> tuple[str, ...]:
    s = setup_of(rec)
    return tuple(s[f][0] for f in SETUP_FIELDS)


def setup_diff(a: dict, b: dict) -> list[str]:
    """'sample count 500 vs 1,000'-style lines for the setup fields where records a and b differ."""
    sa, sb = setup_of(a), setup_of(b)
    return [f"{SETUP_NAMES[f]} {sa[f][1]} vs {sb[f][1]}" for f in SETUP_FIELDS if sa[f][0] != sb[f][0]]


# --- rows and groups --------------------------------------------------------------------------------------


RANK_KEY = registry.gated().keys[0]  # what rows are ranked by and `ganbench check` gates on: FID


def fid_of(rec: dict) -> float | None:
    v = rec["metrics"].get(RANK_KEY)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def ci_of(rec: dict) -> tuple[float, float] | None:
    lo, hi = rec["metrics"].get("fid_ci_low"), rec["metrics"].get("fid_ci_high")
    return (float(lo), float(hi)) if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else None


def _recency(rec: dict) -> tuple:
    step = step_of(rec)
    return (step if step is not None else -1, str(rec.get("created", "")))


def latest(recs: list[dict]) -> dict:
    """The most recent checkpoint (highest step), ties and step-less records by creation time."""
    return max(recs, key=_recency)


def best(recs: list[dict]) -> dict:
    """Lowest FID; records without one only when nothing else is there."""
    return min(recs, key=lambda r: (fid_of(r) is None, fid_of(r) or 0.0, _recency(r)))


@dataclass
class Row:
    model: str
    record: dict  # the row's record; for a seeded row, its lowest seed's
    tags: list[str]  # "best", "latest", "3 seeds"
    step: int | None
    rank: int = 0  # by FID within its group, 1 = best
    # vs the row ranked just above: "" ranked, "≈" not separated, S.ONE_SEED (a one-seed training record),
    # S.ABOVE_ONE_SEED (the row above is one)
    mark_above: str = ""
    seeds: list[dict] | None = None  # records that differ only in the training seed, one per seed
    marks: dict[int, str] = field(default_factory=dict)  # other row's rank -> mark, where this row is seeded

    @property
    def one_seed(self) -> bool:
        return bool(self.seeds) and len(self.seeds) == 1

    @property
    def overlaps_above(self) -> bool:
        return self.mark_above == "≈"

    def fid(self) -> float | None:
        """The FID it is ranked by: its record's, or the mean over its seeds."""
        return S.spread(self.seeds, RANK_KEY).mean if self.seeds else fid_of(self.record)

    def interval(self) -> tuple[float, float] | None:
        """Bootstrap interval over samples; for a seeded row, the t-interval of the mean over seeds."""
        return S.spread(self.seeds, RANK_KEY).interval() if self.seeds else ci_of(self.record)


@dataclass
class Group:
    key: tuple[str, ...]
    setup: dict[str, tuple[str, str]]
    rows: list[Row] = field(default_factory=list)
    # how it differs from the first (largest) group, e.g. ["sample count 500 vs 1,000"]
    differs: list[str] = field(default_factory=list)


def intervals_overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def pair_mark(a: Row, b: Row) -> str:
    """Whether two rows' FID order is significant (symmetric). Records that name a training seed are judged by
    the seeds' spread (Welch's t on the per-seed FIDs; a lone seed is not tested); other records by whether
    their bootstrap intervals overlap."""
    if a.one_seed or b.one_seed:
        return S.ONE_SEED
    if a.seeds and b.seeds:
        fa, fb = (list(S.spread(r.seeds, RANK_KEY).values.values()) for r in (a, b))
        verdict = S.differ(fa, fb)
        return S.ONE_SEED if verdict is None else ("" if verdict else "≈")
    return "≈" if intervals_overlap(a.interval(), b.interval()) else ""


def _model_rows(name: str, recs: list[dict]) -> list[Row]:
    """A row per set of records that differ only in the training seed; for the rest, best and latest."""
    rows = []
    for members in S.group(recs).values():
        tag = f"{len(members)} seed" + ("s" if len(members) > 1 else "")
        rows.append(Row(name, members[0], [tag], step_of(members[0]), seeds=members))
    plain = [r for r in recs if S.group_key(r) is None]
    if plain:
        b, last = best(plain), latest(plain)
        if b is last:
            rows.append(Row(name, b, ["best", "latest"] if len(plain) > 1 else [], step_of(b)))
        else:
            rows += [Row(name, b, ["best"], step_of(b)), Row(name, last, ["latest"], step_of(last))]
    return rows


def build_groups(records: list[dict]) -> list[Group]:
    """Group records by setup; per model in a group, a row per seed set and for its best and latest record."""
    by_setup: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        by_setup[setup_key(rec)][model_name(rec)].append(rec)
    groups = []
    for key, models in by_setup.items():
        first = next(iter(models.values()))[0]
        g = Group(key=key, setup=setup_of(first))
        for name, recs in models.items():
            g.rows += _model_rows(name, recs)
        g.rows.sort(key=lambda r: (r.fid() is None, r.fid() or 0.0, r.model))
        for i, row in enumerate(g.rows):
            row.rank = i + 1
            if i:
                row.mark_above = S.below_mark(pair_mark(g.rows[i - 1], row), row.one_seed)
        for row in g.rows:  # the page re-sorts: a seeded row carries its mark against every other row
            if row.seeds:
                row.marks = {o.rank: m for o in g.rows if o is not row and (m := pair_mark(o, row))}
        groups.append(g)
    # the largest setup first (the others are described against it), then by their best FID
    groups.sort(key=lambda g: (-len(g.rows), g.rows[0].fid() is None, g.rows[0].fid() or 0.0, g.key))
    if len(groups) > 1:
        head = groups[0].rows[0].record
        for g in groups[1:]:
            g.differs = setup_diff(g.rows[0].record, head)
    return groups


def varying_fields(groups: list[Group]) -> list[str]:
    """The setup fields that take more than one value across groups (named on the page)."""
    return [f for f in SETUP_FIELDS if len({g.setup[f][0] for g in groups}) > 1]


def runs_of(records: list[dict]) -> dict[str, list[dict]]:
    """model name -> its records (all setups, all checkpoints), oldest first: one report page each."""
    out: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        out[model_name(rec)].append(rec)
    return {k: sorted(v, key=_recency) for k, v in sorted(out.items())}


# --- class-aware fields: record["classwise"] (ganbench/classaware.py); absent in older records ------------

# per_class row key -> chart label
CLASS_SERIES = (
    ("recall", "accuracy (per-class recall)"),
    ("fid", "IFID (FID per class)"),
    ("diversity_ratio", "diversity ratio"),
)


@dataclass
class ClassView:
    """What a run page can plot per class. Every part is None/empty when the record does not carry it."""

    classes: list[str] | None = None
    series: dict[str, list[float | None]] = field(default_factory=dict)  # label -> a value per class
    confusion: list[list[float]] | None = None
    confusion_png: Path | None = None
    flags: list[str] | None = None  # "class: flag" for every class not "ok"; [] = checked, none flagged


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def class_view(rec: dict) -> ClassView:
    """The record's per-class table, confusion matrix (and its PNG beside the record) and diversity flags."""
    cw = rec.get("classwise")
    view = ClassView()
    if not isinstance(cw, dict):
        return view
    rows = [r for r in cw.get("per_class") or [] if isinstance(r, dict)]
    names = cw.get("classes") if isinstance(cw.get("classes"), list) else []
    view.classes = (
        [str(r.get("class", names[i] if i < len(names) else i)) for i, r in enumerate(rows)]
        or [str(c) for c in names]
        or None
    )
    for key, label in CLASS_SERIES:
        if any(_number(r.get(key)) for r in rows):
            view.series[label] = [float(r[key]) if _number(r.get(key)) else None for r in rows]
    conf = cw.get("confusion_matrix")
    if isinstance(conf, list) and conf and all(isinstance(r, list) for r in conf):
        view.confusion = conf
    png = cw.get("heatmap")
    if isinstance(png, str) and png and rec.get("_file"):
        view.confusion_png = Path(rec["_file"]).parent / Path(png).name  # written beside the record
    flagged = [r for r in rows if isinstance(r.get("flag"), str)]
    if flagged:
        view.flags = [f"{r.get('class', '?')}: {r['flag']}" for r in flagged if r["flag"] != "ok"]
    elif isinstance(cw.get("overall_flag"), str):
        view.flags = [] if cw["overall_flag"] == "ok" else [f"all samples: {cw['overall_flag']}"]
    return view


def collect(store: Path) -> tuple[list[dict], list[str]]:
    """Readable, placeable records and a 'file: reason' line for every one skipped."""
    raw, skipped = load_records(store)
    records = []
    for rec in raw:
        try:
            records.append(validate(rec))
        except SkipRecord as e:
            skipped.append(f"{Path(rec.get('_file', '?')).name}: {e}")
    return records, skipped
