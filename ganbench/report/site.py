"""`ganbench report`: the results store -> a static site (index.html, a page per run) that opens from file://.

The site is built in a temporary folder beside --out and swapped in, so a reader never sees half a site;
figures of the previous build are reused by content hash. Records that cannot be placed are skipped and named
on the page and in the return value, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ganbench.atomic import replace_dir, temp_dir_beside, writing
from ganbench.errors import UserError
from ganbench.report import cells, plots
from ganbench.report import leaderboard as L
from ganbench.report import seeds as S
from ganbench.report.compute import figures as compute_figures
from ganbench.report.compute import load_curves
from ganbench.report.leaderboard import collect
from ganbench.report.pages import render_run_page

# Package data (pyproject's package-data), so a plain `pip install` renders the same site as a checkout.
TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORTED = Path(__file__).resolve().parent / "reported.json"
MARKER = ".ganbench-site"  # only a folder carrying this is ever replaced by a new build
ASSETS = ("site.css", "site.js")
MARK_TITLES = {  # the 'vs ↑' cell's tooltip; site.js carries the same texts for a re-sorted table
    "": "",
    "≈": "not significantly different from the row above",
    S.ONE_SEED: "one training seed: retraining could change its rank against the row above",
    S.ABOVE_ONE_SEED: "the row above has one training seed: retraining it could change the order",
}


@dataclass
class Built:
    index: Path
    records: int
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    figures_drawn: int = 0
    figures_reused: int = 0


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


def index_context(records: list[dict], groups: list[L.Group], reported: list[dict]) -> dict:
    varying = L.varying_fields(groups)
    optional = cells.optional_columns()
    present = {c for c, key in optional.items() if any(key in r["metrics"] for r in records)}
    if any(L.class_view(r).flags is not None for r in records):
        present.add("div")
    columns = [
        {"key": k, "label": lbl}
        for k, lbl in cells.columns()
        if (k not in optional and k != "div") or k in present
    ]
    out = []
    for g in groups:
        label = {f: g.setup[f][1] for f in L.SETUP_FIELDS}
        setup = [
            {"name": L.SETUP_NAMES[f], "label": label[f], "varies": f in varying} for f in L.SETUP_FIELDS
        ]
        rows = []
        for row in g.rows:
            rows.append(
                {
                    "cells": cells.row_cells(row, label),
                    "tags": row.tags,
                    "mark": row.mark_above,
                    # a seeded row's mark against each other row (by data-index), for the page's re-sorting
                    "marks": json.dumps({o - 1: m for o, m in row.marks.items()}) if row.seeds else None,
                    "ci": None if row.seeds else L.ci_of(row.record),
                    "one_seed": row.one_seed,
                    "page": "runs/" + page_name(row.model),
                    "measured": row.record.get("_measured"),
                    "warnings": row.record.get("warnings") or [],
                }
            )
        shown = [(c["key"], c["label"]) for c in columns]
        na_notes = cells.shared_reasons([r["cells"] for r in rows], shown)
        out.append({"setup": setup, "differs": g.differs, "rows": rows, "na_notes": na_notes})
    return {
        "columns": columns,
        "groups": out,
        "mark_titles": MARK_TITLES,
        "varying": [L.SETUP_NAMES[f] for f in varying],
        "reported": reported,
    }


def _prepare_out(out: Path) -> Path:
    if out.exists() and not (out / MARKER).exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not a ganbench site; pass an empty or new --out folder")
    tmp = temp_dir_beside(out)
    try:
        (tmp / "runs").mkdir()
        (tmp / "assets").mkdir()
        (tmp / MARKER).write_text("built by ganbench report; replaced wholesale on the next build\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def measured_where(rec: dict) -> str:
    """ "measured 2026-12-02 on <CPU>, 2 cores" for a record made elsewhere (its machine, when recorded)."""
    m = rec.get("machine") or {}
    where = m.get("gpu") or m.get("cpu")
    cores = f", {m['cores']} cores" if m.get("cores") and not m.get("gpu") else ""
    return f"measured {str(rec.get('created', '?'))[:10]}" + (f" on {where}{cores}" if where else "")


def build_site(
    store: Path, out: Path, reported_path: Path | None = None, committed: Sequence[Path] = ()
) -> Built:
    """Render the leaderboard and run pages for every record in `store` into `out` (replaced atomically).

    committed: stores of records measured elsewhere (e.g. the repository's leaderboard/results/benchmark-cpu),
    shown beside the store's own, each row marked with where and when it was measured."""

    t0 = time.perf_counter()
    records, skipped = collect(store)
    curves, curves_skipped = load_curves(store)
    skipped += curves_skipped
    for extra in committed:
        more, more_skipped = collect(extra)
        for rec in more:
            rec["_measured"] = measured_where(rec)
        records += more
        skipped += more_skipped
        more_curves, more_skipped = load_curves(extra)
        curves += more_curves
        skipped += more_skipped
    reported, reported_notes = load_reported(reported_path)
    groups = L.build_groups(records)
    with writing(out):  # a full disk: one line naming the site, and the old site left as it was
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
            ctx["compute"] = [
                {
                    "src": figures.make(
                        "compute",
                        f,
                        plots.quality_vs_compute,
                        f["lines"],
                        f["xlabel"],
                        f["accuracy"],
                        defer=True,
                    ),
                    **f,
                }
                for f in compute_figures(curves)
            ]
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
            replace_dir(tmp, out)
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
