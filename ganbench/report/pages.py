"""One report page per run (model): sample grid, per-class charts, confusion matrix, learning curves,
FID against the checkpoint step and the full records. Each section appears only when its data exists."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from ganbench.report import leaderboard as L
from ganbench.report import plots
from ganbench.report import seeds as S
from ganbench.report.cells import fid_cell, metric_cell, seeds_cell

FIGURE_ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError)  # bad data on disk, not a bug here


def _file_key(path: Path) -> list:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _copy_png(src: Path, out: BinaryIO) -> None:
    """A figure 'drawn' by copying an existing PNG (plots.Figures writes `out` atomically)."""
    with open(src, "rb") as f:
        shutil.copyfileobj(f, out)


def _samples_folder(rec: dict) -> Path | None:
    origin = L.get_path(rec, "samples", "origin") or {}
    path = origin.get("path")
    if not path:
        return None
    folder = Path(path)
    if origin.get("split") and (folder / origin["split"]).is_dir():  # a CIFAR-10 copy: <root>/<split>/<class>
        folder = folder / origin["split"]
    return folder


def grid_section(rec: dict, run_dir: Path | None, figures: plots.Figures) -> dict:
    """The grid stored beside the record (a benchmark unit's final grid), else the trainer's grid-<step>.png
    for samples in a run folder, else a grid drawn from the samples."""
    stored = L.get_path(rec, "benchmark", "grid")
    if isinstance(stored, str) and stored and rec.get("_file"):
        pick = Path(rec["_file"]).parent / Path(stored).name
        if pick.is_file():
            name = figures.make("grid", _file_key(pick), _copy_png, pick)
            with Image.open(pick) as im:
                width = im.width * 2
            seed = S.training_seed(rec)
            caption = (f"final sample grid of training seed {seed}, step {L.step_of(rec):,} "
                       "(conditional models: a row per class, airplane to truck)")  # fmt: skip
            return {"src": name, "caption": caption, "width": width}
    if run_dir is not None:
        step = L.step_of(rec)
        grids = sorted(
            run_dir.glob("grid-*.png"),
            key=lambda p: int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else -1,
        )
        pick = run_dir / f"grid-{step}.png"
        pick = pick if pick.is_file() else (grids[-1] if grids else None)
        if pick is not None:
            name = figures.make("grid", _file_key(pick), _copy_png, pick)
            with Image.open(pick) as im:  # reads the header only; the page shows it at 2x, pixelated
                width = im.width * 2
            caption = (
                f"{pick.name} from the trainer, fixed latents "
                "(conditional models: a row per class, airplane to truck)"
            )
            return {"src": name, "caption": caption, "width": width}
    folder = _samples_folder(rec)
    if folder is None or not plots.can_grid(folder):
        kind = L.get_path(rec, "samples", "kind") or "this source"
        return {"missing": f"no sample grid: the samples ({kind}) are not an image folder on this machine"}
    key = [str(folder), L.get_path(rec, "samples", "content_sha256")]
    name = figures.make("grid", key, plots.sample_grid, folder)
    return {"src": name, "caption": f"first images of each class folder in {folder}"}


def class_sections(rec: dict, figures: plots.Figures) -> dict:
    view = L.class_view(rec)
    out: dict = {"flags": view.flags}
    if view.series and view.classes:
        content = [view.classes, view.series]
        out["bars"] = figures.make(
            "classes", content, plots.per_class_bars, view.classes, view.series, defer=True
        )
    if view.confusion_png is not None and view.confusion_png.is_file():
        src = view.confusion_png
        out["confusion"] = figures.make("confusion", _file_key(src), _copy_png, src)
    elif view.confusion is not None and view.classes:  # the PNG is missing (copied store): draw it again
        plots.check_confusion(
            view.confusion, view.classes
        )  # bad data is a note on the page, not a worker error
        content = [view.classes, view.confusion]
        out["confusion"] = figures.make(
            "confusion", content, plots.confusion_heatmap, view.confusion, view.classes, defer=True
        )
    return out


def fid_lines(recs: list[dict]) -> dict[str, list[tuple]]:
    """setup label -> (step, fid, ci_low, ci_high) of every checkpoint scored under it."""
    lines: dict[str, list[tuple]] = defaultdict(list)
    for rec in recs:
        step, fid = L.step_of(rec), L.fid_of(rec)
        if step is None or fid is None:
            continue
        s = L.setup_of(rec)
        label = f"{s['samples'][1]} samples vs {s['reference'][1]}, {s['resize'][1]}"
        ci = L.ci_of(rec) or (None, None)
        lines[label].append((step, fid, ci[0], ci[1]))
    return dict(lines)


def seed_sections(sets: list[list[dict]]) -> list[dict]:
    """Each set of records that differ only in the training seed: every seed's FID, accuracy and machine."""
    out = []
    for members in sets:
        rows = []
        for rec in members:
            m = L.get_path(rec, "benchmark", "machine") or {}
            rows.append({
                "seed": S.training_seed(rec),
                "fid": fid_cell(rec),
                "acc": metric_cell(rec, "classifier_accuracy", ".3f"),
                "step": L.step_of(rec),
                "machine": " ".join(filter(None, [m.get("gpu") or m.get("cpu"), m.get("simd")])),
                "created": str(rec.get("created", ""))[:10],
            })  # fmt: skip
        out.append({"mean": seeds_cell(members, "fid", ".2f"), "rows": rows})
    return out


def _focus(recs: list[dict], latest: dict, sets: list[list[dict]]) -> dict:
    """The record the page pictures: the lowest seed of the largest seed set (not the luckiest seed), else
    the best under the latest record's setup."""
    if sets:
        return max(sets, key=len)[0]
    return L.best([r for r in recs if L.setup_key(r) == L.setup_key(latest)])


def _run_config(run_dir: Path) -> dict:
    try:
        cfg = json.loads((run_dir / "config.json").read_text())
        return cfg if isinstance(cfg, dict) else {}
    except (OSError, ValueError):
        return {}


def _try(notes: list[str], what: str, fn):
    try:
        return fn()
    except FIGURE_ERRORS as e:
        notes.append(f"{what} left out: {type(e).__name__}: {e}")
        return None


def render_run_page(env, model: str, recs: list[dict], figures: plots.Figures) -> str:
    """HTML of the page for one run: `recs` are all its records, oldest first."""
    latest = L.latest(recs)
    sets = list(S.group(recs).values())
    focus = _focus(recs, latest, sets)
    run_dir = L.run_dir_of(focus)
    notes: list[str] = []
    rows = []
    for i, rec in enumerate(reversed(recs)):
        s = L.setup_of(rec)
        tags = (["best"] if rec is focus else []) + (["latest"] if rec is latest else [])
        rows.append(
            {
                "id": f"r{i}",
                "step": L.step_of(rec),
                "fid": fid_cell(rec),
                "tags": tags,
                "setup": " · ".join(s[f][1] for f in L.SETUP_FIELDS),
                "created": rec.get("created", ""),
                "file": Path(rec.get("_file", "")).name,
                "focus": rec is focus,
                "json": {k: v for k, v in rec.items() if k != "_file"},
            }
        )
    lines = fid_lines(recs)
    ctx = {
        "root": "../",
        "model": model,
        "run_dir": str(run_dir) if run_dir else None,
        "config": _run_config(run_dir) if run_dir else {},
        "rows": rows,
        "focus_id": next(r["id"] for r in rows if r["focus"]),
        "focus_step": L.step_of(focus),
        "grid": _try(notes, "sample grid", lambda: grid_section(focus, run_dir, figures)) or {},
        "classes": _try(notes, "per-class charts", lambda: class_sections(focus, figures)) or {"flags": None},
        "curves": None,
        "fid_steps": None,
        "warnings": focus.get("warnings") or [],
        "seeds": seed_sections(sets),
    }
    if run_dir is not None and (run_dir / "log.csv").is_file():
        log = run_dir / "log.csv"
        curves = _try(notes, "learning curves", lambda: plots.read_curves(log))
        if curves is not None:
            ctx["curves"] = figures.make("curves", _file_key(log), plots.learning_curves, *curves, defer=True)
    if sum(len(v) for v in lines.values()) >= 2:
        ctx["fid_steps"] = figures.make("fidsteps", lines, plots.fid_vs_step, lines, defer=True)
    ctx["notes"] = notes
    return env.get_template("run.html").render(**ctx)
