"""`ganbench check`: the CI regression gate. Current FIDs against a committed baseline (model -> FID,
interval, setup). A model passes when its FID is within the tolerance or within the baseline's bootstrap
interval; a setup that differs from the baseline's is bad input (exit 2), never compared silently.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ganbench.atomic import atomic_write_text
from ganbench.errors import UserError
from ganbench.report import leaderboard as L
from ganbench.report.leaderboard import collect

FORMAT = "ganbench-baseline/1"


@dataclass(frozen=True)
class Tolerance:
    """How much worse FID may get: absolute points ("2") or relative to the baseline ("1%")."""

    value: float
    relative: bool

    def allowed(self, fid: float) -> float:
        return fid * self.value / 100.0 if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


def parse_tolerance(text: str) -> Tolerance:
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", text)
    if not m:
        raise UserError(
            f"--tolerance {text!r}: give FID points (e.g. 2) or a percentage of the baseline (e.g. 1%)"
        )
    return Tolerance(float(m.group(1)), bool(m.group(2)))


@dataclass
class Line:
    model: str
    status: str  # ok | REGRESSION | improved | new
    baseline: float | None = None
    ci: tuple[float, float] | None = None
    current: float | None = None
    limit: float | None = None
    how: str = ""  # which rule set the limit

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None or self.current is None else self.current - self.baseline


# --- baseline file ----------------------------------------------------------------------------------------


def entry_of(rec: dict) -> dict:
    """The baseline's view of one record: FID, its interval when recorded, the setup it was measured under."""
    setup = L.setup_of(rec)
    entry = {
        "fid": L.fid_of(rec),
        "step": L.step_of(rec),
        "setup": {f: {"key": setup[f][0], "label": setup[f][1]} for f in L.SETUP_FIELDS},
        "record": Path(rec.get("_file", "")).name or None,
        "samples_sha256": rec["samples"].get("content_sha256"),
        "created": rec.get("created"),
    }
    ci = L.ci_of(rec)
    if ci is not None:
        entry["fid_ci_low"], entry["fid_ci_high"] = ci
    return entry


def load_baseline(path: Path) -> dict[str, dict]:
    """model -> entry; one-line UserErrors for a missing, unreadable or foreign file."""
    if not path.is_file():
        raise UserError(
            f"baseline {path} does not exist; create it with `ganbench check --baseline {path} --update`"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(
            f"baseline {path} is not readable JSON ({e}); restore it from git or --update"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("models"), dict):
        raise UserError(f"baseline {path} is not a {FORMAT} file; recreate it with --update")
    for name, e in data["models"].items():
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("fid"), (int, float))
            or not isinstance(e.get("setup"), dict)
        ):
            raise UserError(f"baseline {path}: entry {name!r} has no FID or setup; recreate it with --update")
    return data["models"]


def write_baseline(path: Path, records: list[dict]) -> list[str]:
    """Rewrite the baseline from `records` (the latest per model); returns lines saying what changed."""
    current = latest_per_model(records)
    if not current:
        raise UserError("no current results to write into the baseline; score something first")
    try:
        old = load_baseline(path) if path.exists() else {}
    except UserError:
        old = {}
    models = {name: entry_of(rec) for name, rec in sorted(current.items()) if L.fid_of(rec) is not None}
    changes = []
    for name, e in models.items():
        before = old.get(name)
        if before is None:
            changes.append(f"{name}: added, FID {e['fid']:.3f}")
        elif before["fid"] != e["fid"] or before.get("setup") != e["setup"]:
            changes.append(
                f"{name}: FID {before['fid']:.3f} -> {e['fid']:.3f}"
                + "".join(
                    f"; {L.SETUP_NAMES[f]} now {e['setup'][f]['label']}"
                    for f in L.SETUP_FIELDS
                    if (before.get("setup") or {}).get(f, {}).get("key") != e["setup"][f]["key"]
                )
            )
    changes += [f"{name}: removed" for name in old if name not in models]
    data = {"format": FORMAT, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "models": models}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return changes or ["no change"]


# --- comparing --------------------------------------------------------------------------------------------


def latest_per_model(records: list[dict], setup_keys: dict[str, dict] | None = None) -> dict[str, dict]:
    """model -> its most recent record (highest step, then newest), among those under the baseline's setup
    when `setup_keys` (model -> baseline setup) names one."""
    by_model: dict[str, list[dict]] = {}
    for rec in records:
        by_model.setdefault(L.model_name(rec), []).append(rec)
    out = {}
    for name, recs in by_model.items():
        want = (setup_keys or {}).get(name)
        if want is not None:
            match = [
                r for r in recs if _setup_keys(r) == {f: want[f]["key"] for f in L.SETUP_FIELDS if f in want}
            ]
            recs = match or recs  # no match: compare() reports the difference
        out[name] = L.latest(recs)
    return out


def _setup_keys(rec: dict) -> dict[str, str]:
    s = L.setup_of(rec)
    return {f: s[f][0] for f in L.SETUP_FIELDS}


def compare(baseline: dict[str, dict], records: list[dict], tol: Tolerance) -> list[Line]:
    """A line per model. Raises UserError (exit 2) when a baseline model has no current result or was
    measured under another setup: those cannot be compared."""
    current = latest_per_model(records, {k: v["setup"] for k, v in baseline.items()})
    problems, lines = [], []
    for name, base in sorted(baseline.items()):
        rec = current.get(name)
        if rec is None:
            problems.append(f"{name}: no current result (score it, or drop it with --update)")
            continue
        now = L.setup_of(rec)
        diff = [
            f"{L.SETUP_NAMES[f]} {now[f][1]} (baseline {base['setup'][f]['label']})"
            for f in L.SETUP_FIELDS
            if f in base["setup"] and now[f][0] != base["setup"][f]["key"]
        ]
        if diff:
            problems.append(f"{name}: setup differs: {', '.join(diff)}")
            continue
        fid = L.fid_of(rec)
        if fid is None:
            problems.append(f"{name}: the current record has no FID")
            continue
        b = float(base["fid"])
        ci = (
            (base["fid_ci_low"], base["fid_ci_high"])
            if "fid_ci_low" in base and "fid_ci_high" in base
            else None
        )
        limit, how = b + tol.allowed(b), f"tolerance {tol}"
        if ci is not None and ci[1] > limit:
            limit, how = ci[1], "baseline's 95% interval"
        low = min(b - tol.allowed(b), ci[0]) if ci is not None else b - tol.allowed(b)
        status = "REGRESSION" if fid > limit else ("improved" if fid < low else "ok")
        lines.append(Line(name, status, b, ci, fid, limit, how))
    if problems:
        raise UserError("cannot compare with the baseline: " + "; ".join(problems))
    lines += [
        Line(name, "new", current=L.fid_of(rec))
        for name, rec in sorted(current.items())
        if name not in baseline
    ]
    return lines


def table(lines: list[Line]) -> str:
    """What moved and by how much, one row per model."""

    def f(v, spec=".3f"):
        return "" if v is None else format(v, spec)

    head = ("model", "baseline FID", "95% interval", "current FID", "change", "limit", "status")
    rows = [head] + [
        (
            ln.model,
            f(ln.baseline),
            f"[{ln.ci[0]:.3f}, {ln.ci[1]:.3f}]" if ln.ci else "",
            f(ln.current),
            f(ln.delta, "+.3f"),
            f"{f(ln.limit)} ({ln.how})" if ln.limit else "",
            ln.status,
        )
        for ln in lines
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def current_records(store: Path) -> tuple[list[dict], list[str]]:
    """Placeable records of a results folder and the files skipped; an empty folder is bad input."""

    records, skipped = collect(store)
    if not records:
        raise UserError(
            f"no usable result records in {store}; score something first or pass SOURCES to score"
        )
    return records, skipped


def score_sources(sources: list[str], cfg, extractor) -> list[dict]:
    """Score each source with `cfg` (a ScoreConfig whose samples field is replaced); nothing is stored."""
    from ganbench.scoring import score

    if "classifier" in {f.name for f in dataclasses.fields(cfg)}:
        cfg = dataclasses.replace(cfg, classifier="none")  # the gate reads FID only: skip the classifier pass
    return [score(dataclasses.replace(cfg, samples=s), extractor) for s in sources]
