"""`ganbench report`: the results store -> a static site (index.html, a page per run) that opens from file://.

The site is built in a temporary folder beside --out and swapped in, so a reader never sees half a site;
figures of the previous build are reused by content hash. Records that cannot be placed are skipped and named
on the page and in the return value, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ganbench import leaderboard as L
from ganbench import plots
from ganbench.errors import UserError
from ganbench.results import load_records

# Package data (pyproject's package-data), so a plain `pip install` renders the same site as a checkout.
TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORTED = Path(__file__).resolve().parent / "reported.json"
MARKER = ".ganbench-site"  # only a folder carrying this is ever replaced by a new build
ASSETS = ("site.css", "site.js")


@dataclass
class Built:
    index: Path
    records: int
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    figures_drawn: int = 0
    figures_reused: int = 0


# --- cells -----------------------------------------------------------------------------------------------


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
    return {
        "rank": _text(str(row.rank), row.rank),
        "model": _text(row.model),
        "step": _text("" if row.step is None else f"{row.step:,}", "" if row.step is None else row.step),
        "fid": fid_cell(rec),
        "kid": metric_cell(rec, "kid_mean", ".5f", "kid_std"),
        "is": metric_cell(rec, "is_mean", ".2f", "is_std"),
        "kl": metric_cell(rec, "is_kl", ".3f"),
        "precision": metric_cell(rec, "precision"),
        "recall": metric_cell(rec, "recall"),
        "density": metric_cell(rec, "density"),
        "coverage": metric_cell(rec, "coverage"),
        "ifid": metric_cell(rec, "ifid", ".2f"),
        "acc": metric_cell(rec, "classifier_accuracy"),
        "div": flags_cell(flags),
        "n": _text(setup_label["samples"], rec["samples"]["n"]),
        "reference": _text(setup_label["reference"]),
        "weights": _text(setup_label["weights"]),
        "resize": _text(setup_label["resize"]),
        "date": _text(created[:16].replace("T", " "), created),
    }


COLUMNS = [
    ("rank", "#"),
    ("model", "model"),
    ("step", "step"),
    ("fid", "FID (95% CI)"),
    ("kid", "KID"),
    ("is", "IS"),
    ("kl", "IS KL"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("ifid", "IFID"),
    ("acc", "classifier acc."),
    ("div", "diversity flags"),
    ("n", "samples"),
    ("reference", "reference"),
    ("weights", "weights"),
    ("resize", "resize"),
    ("date", "date"),
]
OPTIONAL = {"ifid": "ifid", "acc": "classifier_accuracy"}  # shown once any record carries the metric


def page_name(model: str) -> str:
    """A file name for a model's page that is safe whatever the name holds (`<script>`, `../x`, unicode)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")[:40] or "run"
    return f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}.html"


# --- reported rows (numbers from others, not measured here) -----------------------------------------------


def load_reported(path: Path | None) -> tuple[list[dict], list[str]]:
    path = REPORTED if path is None else path
    if not path.is_file():
        return [], [f"{path.name}: no such file (the reported-elsewhere table is left out)"]
    try:
        data = json.loads(path.read_text())
        sources = []
        for s in data["sources"]:
            rows = [
                {"model": str(r["model"]), "fid": r.get("fid"), "is": r.get("is"), "note": r.get("note", "")}
                for r in s["rows"]
            ]
            sources.append(
                {
                    "title": s["title"],
                    "protocol": s["protocol"],
                    "source": s.get("source", ""),
                    "url": s.get("url"),
                    "caveat": s.get("caveat", ""),
                    "rows": rows,
                }
            )
        return sources, []
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [], [
            f"{path.name}: unreadable ({type(e).__name__}: {e}); the reported-elsewhere table is left out"
        ]


# --- the site ---------------------------------------------------------------------------------------------


def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def collect(store: Path) -> tuple[list[dict], list[str]]:
    """Readable, placeable records and a 'file: reason' line for every one skipped."""
    raw, skipped = load_records(store)
    records = []
    for rec in raw:
        try:
            records.append(L.validate(rec))
        except L.SkipRecord as e:
            skipped.append(f"{Path(rec.get('_file', '?')).name}: {e}")
    return records, skipped


def index_context(records: list[dict], groups: list[L.Group], reported: list[dict]) -> dict:
    varying = L.varying_fields(groups)
    present = {c for c, key in OPTIONAL.items() if any(key in r["metrics"] for r in records)}
    if any(L.class_view(r).flags is not None for r in records):
        present.add("div")
    columns = [
        {"key": k, "label": lbl} for k, lbl in COLUMNS if k not in ("ifid", "acc", "div") or k in present
    ]
    out = []
    for g in groups:
        label = {f: g.setup[f][1] for f in L.SETUP_FIELDS}
        setup = [
            {"name": L.SETUP_NAMES[f], "label": label[f], "varies": f in varying} for f in L.SETUP_FIELDS
        ]
        rows = []
        for row in g.rows:
            ci = L.ci_of(row.record)
            rows.append(
                {
                    "cells": row_cells(row, label),
                    "tags": row.tags,
                    "overlap": row.overlaps_above,
                    "ci": ci,
                    "page": "runs/" + page_name(row.model),
                    "warnings": row.record.get("warnings") or [],
                }
            )
        out.append({"setup": setup, "differs": g.differs, "rows": rows})
    return {
        "columns": columns,
        "groups": out,
        "varying": [L.SETUP_NAMES[f] for f in varying],
        "reported": reported,
    }


def _prepare_out(out: Path) -> Path:
    if out.exists() and not (out / MARKER).exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not a ganbench site; pass an empty or new --out folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "runs").mkdir(parents=True)
    (tmp / "assets").mkdir()
    (tmp / MARKER).write_text("built by ganbench report; replaced wholesale on the next build\n")
    return tmp


def _swap(tmp: Path, out: Path) -> None:
    """Put the new build in place: rename the old site aside, rename the new one in, delete the old."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def build_site(store: Path, out: Path, reported_path: Path | None = None) -> Built:
    """Render the leaderboard and run pages for every record in `store` into `out` (replaced atomically)."""
    from ganbench.report_pages import render_run_page

    t0 = time.perf_counter()
    records, skipped = collect(store)
    reported, reported_notes = load_reported(reported_path)
    groups = L.build_groups(records)
    tmp = _prepare_out(out)
    try:
        figures = plots.Figures(tmp / "img", out / "img" if (out / MARKER).exists() else None)
        env = _env()
        for name in ASSETS:
            shutil.copy2(TEMPLATES / name, tmp / "assets" / name)
        runs = L.runs_of(records)
        for model, recs in runs.items():
            html = render_run_page(env, model, recs, figures)
            (tmp / "runs" / page_name(model)).write_text(html, encoding="utf-8")
        ctx = index_context(records, groups, reported)
        ctx |= {
            "root": "",
            "store": str(store),
            "n_records": len(records),
            "skipped": skipped,
            "notes": reported_notes,
            "built": time.strftime("%Y-%m-%d %H:%M"),
        }
        (tmp / "index.html").write_text(env.get_template("index.html").render(**ctx), encoding="utf-8")
        figures.finish()  # the queued matplotlib figures, in parallel; before the site is swapped in
        _swap(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Built(
        out / "index.html",
        len(records),
        skipped + reported_notes + figures.failed,
        time.perf_counter() - t0,
        figures.drawn,
        figures.reused,
    )
