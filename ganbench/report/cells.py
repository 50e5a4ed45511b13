"""Table cells of the leaderboard: one record's metric as {'text', 'sort', 'title'}, the column list."""

from __future__ import annotations

import math
from collections import Counter

from ganbench.metrics import registry
from ganbench.report import leaderboard as L
from ganbench.report import seeds as S


def metric_cell(rec: dict, key: str, spec: str = ".3f", std_key: str | None = None) -> dict:
    """{'text', 'sort', 'title'}: the value; 'n/a — reason' when not computable; '—' when not recorded."""
    m, un = rec["metrics"], rec.get("unavailable") or {}
    if key not in m:
        return {"text": "—", "sort": "", "title": "not measured in this record (older ganbench or no labels)"}
    v = m[key]
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        reason = str(un.get(key, "unavailable"))
        short = reason if len(reason) <= 32 else reason[:30].rstrip() + "…"
        return {"text": f"n/a — {short}", "sort": "", "title": reason, "na": True}
    text = format(v, spec)
    if std_key and isinstance(m.get(std_key), (int, float)):
        text += f" ± {format(m[std_key], spec)}"
    return {"text": text, "sort": repr(float(v)), "title": ""}


def fid_cell(rec: dict) -> dict:
    cell = metric_cell(rec, "fid", ".2f")
    ci = L.ci_of(rec)
    if ci is not None:
        n = rec["metrics"].get("fid_boot_n")
        cell["ci"] = f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        cell["title"] = f"95% bootstrap interval over {int(n) if n else '?'} resamples of the samples"
    elif cell["sort"]:
        cell["ci"] = "no interval"
        cell["title"] = "this record has no bootstrap interval: its rank against neighbours is untested"
    return cell


def seeds_cell(recs: list[dict], key: str, spec: str = ".3f") -> dict:
    """Mean ± standard deviation over a row's training seeds, each seed's value in the tooltip; a metric no
    seed has falls back to the first record's cell (its 'n/a — reason')."""
    sp = S.spread(recs, key)
    if sp.n == 0:
        return metric_cell(recs[0], key, spec)
    text = format(sp.mean, spec) + ("" if sp.sd is None else f" ± {format(sp.sd, spec)}")
    each = ", ".join(f"seed {seed}: {format(v, spec)}" for seed, v in sp.values.items())
    lacking = len(recs) - sp.n
    title = f"mean ± standard deviation over {sp.n} training seed{'s' if sp.n > 1 else ''} ({each})"
    cell = {
        "text": text,
        "sort": repr(sp.mean),
        "title": title + (f"; {lacking} without it" if lacking else ""),
    }
    if key == "fid":
        cell["ci"] = f"{sp.n} seed{'s' if sp.n > 1 else ''}"
    return cell


def _text(text: str, sort=None, title: str = "") -> dict:
    return {"text": text, "sort": text if sort is None else sort, "title": title}


def flags_cell(flags: list[str] | None) -> dict:
    """'none', the flagged classes when few, else a count per flag (the full list in the tooltip)."""
    if flags is None:
        return {"text": "—", "sort": "", "title": "no diversity check in this record"}
    if len(flags) <= 2:
        return _text(", ".join(flags) or "none", len(flags))
    kinds = Counter(f.rsplit(": ", 1)[-1] for f in flags)
    return _text(", ".join(f"{k} ×{n}" for k, n in kinds.most_common()), len(flags), "; ".join(flags))


def row_cells(row: L.Row, setup_label: dict[str, str]) -> dict[str, dict]:
    rec = row.record
    flags = L.class_view(rec).flags
    created = str(rec.get("created", ""))
    if row.seeds:
        metric_cells = {c.id: seeds_cell(row.seeds, c.key, c.fmt) for c in registry.columns()}
    else:
        metric_cells = {
            c.id: fid_cell(rec) if c.key == "fid" else metric_cell(rec, c.key, c.fmt, c.std_key)
            for c in registry.columns()
        }
    return {
        "rank": _text(str(row.rank), row.rank),
        "model": _text(row.model),
        "step": _text("" if row.step is None else f"{row.step:,}", "" if row.step is None else row.step),
        **metric_cells,
        "div": flags_cell(flags),
        "n": _text(setup_label["samples"], rec["samples"]["n"]),
        "reference": _text(setup_label["reference"]),
        "weights": _text(setup_label["weights"]),
        "resize": _text(setup_label["resize"]),
        "date": _text(created[:16].replace("T", " "), created),
    }


def shared_reasons(rows: list[dict[str, dict]], columns: list[tuple[str, str]]) -> list[str]:
    """A column that is n/a for one reason in every row says it once: its cells shrink to 'n/a' (the reason
    stays in their tooltip) and the returned 'title: reason' lines go under the table."""
    notes = []
    for cid, title in columns:
        cs = [r[cid] for r in rows if cid in r]
        reasons = {c["title"] for c in cs if c.get("na")}
        if cs and len(reasons) == 1 and all(c.get("na") for c in cs):
            for c in cs:
                c["text"] = "n/a"
            notes.append(f"{title}: {reasons.pop()}")
    return notes


def columns() -> list[tuple[str, str]]:
    """(id, title) of every column; the metric columns come from the metric registry, in its order."""
    return [
        ("rank", "#"),
        ("model", "model"),
        ("step", "step"),
        *((c.id, c.title) for c in registry.columns()),
        ("div", "diversity flags"),
        ("n", "samples"),
        ("reference", "reference"),
        ("weights", "weights"),
        ("resize", "resize"),
        ("date", "date"),
    ]


def optional_columns() -> dict[str, str]:
    """column id -> result key, for the columns shown only once some record carries the key."""
    return {c.id: c.key for c in registry.columns() if c.optional}
