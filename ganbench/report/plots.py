"""Report figures: seaborn-styled matplotlib (Agg, no pyplot state) and a PIL sample grid, each a PNG file.

Figures are content-addressed (`<kind>-<hash of what is drawn>.png`), so rebuilding a site reuses the PNGs of
the previous build instead of drawing them again. Drawing is the slow part of a report (~0.03-0.1 s a figure,
mostly matplotlib's tick and text objects), so matplotlib figures are queued and drawn together at the end,
across processes when there are enough of them: a cold 500-record site went from ~16 s to under 10 s on 2 cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from ganbench.atomic import atomic_write
from ganbench.report import workers

PLOT_VERSION = 3  # bump when a figure's look changes, so cached PNGs are redrawn
CELL, GAP, PER_ROW = 64, 3, 10  # sample grid: CIFAR-10 images at 2x (nearest), 10 images per class row


class Figures:
    """Writes figures into `img_dir`, reusing same-named PNGs from `reuse_dir` (the previous site's img/).

    `make` returns the figure's file name at once. Cheap figures (copies, the PIL grid) are written then;
    matplotlib ones (`defer=True`, a module-level draw function over already-validated data) are queued
    until `finish()`, which must run before the site is published.
    """

    def __init__(self, img_dir: Path, reuse_dir: Path | None = None) -> None:
        self.img_dir, self.reuse_dir = img_dir, reuse_dir
        self.drawn = self.reused = 0
        self.failed: list[str] = []  # "name: error" of deferred figures that could not be drawn
        self.workers = 0  # worker processes the last finish() used
        self._queued: dict[str, workers.Job] = {}
        img_dir.mkdir(parents=True, exist_ok=True)

    def make(self, kind: str, content: object, draw: Callable, *args: object, defer: bool = False) -> str:
        """File name (relative to img_dir) of the figure for `content`, drawn as draw(*args, file) into a binary file object unless
        cached. The name hashes `content`, which must determine the picture."""
        blob = json.dumps([PLOT_VERSION, kind, content], sort_keys=True, default=str).encode()
        name = f"{kind}-{hashlib.sha256(blob).hexdigest()[:16]}.png"
        dest = self.img_dir / name
        if dest.exists() or name in self._queued:
            return name
        old = self.reuse_dir / name if self.reuse_dir else None
        if old is not None and old.is_file():
            try:
                os.link(old, dest)  # the old site is deleted after the swap; the link keeps the bytes
            except OSError:
                shutil.copy2(old, dest)
            self.reused += 1
            return name
        if defer:
            self._queued[name] = (name, draw, args, dest)
            return name
        atomic_write(dest, lambda f: draw(*args, f))
        self.drawn += 1
        return name

    def finish(self) -> None:
        """Draw every queued figure; a figure that fails gets a placeholder PNG and a line in `failed`."""
        jobs, self._queued = list(self._queued.values()), {}
        if not jobs:
            return
        self.workers = min(workers.cpus() - 1, len(jobs) // workers.PARALLEL_MIN, 7)
        if self.workers < 1:
            results = workers.draw_jobs(jobs)
        else:
            results = workers.draw_parallel(jobs, self.workers)
        for name, error in results:
            if error is None:
                self.drawn += 1
            else:
                self.failed.append(f"figure {name}: {error}")
                placeholder(self.img_dir / name, "figure could not be drawn")


def placeholder(path: Path, text: str) -> None:
    """A small grey PNG saying why a figure is missing (keeps the page free of broken images)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (360, 60), (235, 235, 235))
    ImageDraw.Draw(im).text((10, 22), text, fill=(90, 90, 90))
    atomic_write(path, lambda f: im.save(f, format="PNG"))


def _figure(width: float, height: float, **margins: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))  # fixed margins: constrained layout doubles the drawing time
    fig.subplots_adjust(
        **({"left": 0.08, "right": 0.98, "bottom": 0.17, "top": 0.9, "wspace": 0.25} | margins)
    )
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path | BinaryIO) -> None:
    fig.savefig(path, format="png", dpi=90, pil_kwargs={"compress_level": 3})


def _styled():
    import seaborn as sns

    # context managers, not set_theme: the style must not leak into other matplotlib users in the process
    return sns.axes_style("whitegrid"), sns.plotting_context("paper")


def per_class_bars(
    classes: Sequence[str], series: dict[str, Sequence[float | None]], path: Path | BinaryIO
) -> None:
    """A panel per series (e.g. accuracy, IFID, diversity), a horizontal bar per class; missing values blank.

    Panels share the class axis, so the class names are drawn once (text is most of matplotlib's time).
    """
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    style, context = _styled()
    with style, context:
        fig = _figure(
            2.6 * len(series) + 0.9,
            0.24 * len(classes) + 0.9,
            left=1.0 / (2.6 * len(series) + 0.9),
            bottom=0.12,
            top=0.86,
            wspace=0.12,
        )
        axes = fig.subplots(1, len(series), squeeze=False, sharey=True)[0]
        colors = sns.color_palette("deep", len(classes))
        for ax, (label, values) in zip(axes, series.items(), strict=True):
            vals = [float("nan") if v is None else float(v) for v in values]
            ax.barh(range(len(classes)), vals, color=colors)
            ax.set_title(label, y=1.0)  # a fixed y skips matplotlib's costly title auto-placement
            ax.xaxis.set_major_locator(MaxNLocator(3))  # each tick is a handful of artists to draw
        axes[0].set_yticks(range(len(classes)), classes)
        axes[0].invert_yaxis()  # first class on top, like the sample grid
        _save(fig, path)


def check_confusion(matrix: Sequence[Sequence[float]], classes: Sequence[str]):
    """The matrix as a square integer-valued array matching `classes`; ValueError otherwise."""
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"confusion matrix of shape {m.shape} does not match {len(classes)} classes")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("confusion matrix has negative or non-finite counts")
    return m


def confusion_heatmap(
    matrix: Sequence[Sequence[float]], classes: Sequence[str], path: Path | BinaryIO, title: str = ""
) -> None:
    """Counts annotated, coloured by the fraction of their row (rows: the class asked for, columns: what
    the classifier saw). The same picture beside a record and on its report page."""
    import numpy as np
    import seaborn as sns

    m = check_confusion(matrix, classes)
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    counts = m.astype(np.int64)
    style, context = _styled()
    with style, context:
        fig = _figure(5.2, 4.8, left=0.2, bottom=0.2, top=0.93 if title else 0.97, right=0.97)
        ax = fig.subplots()
        sns.heatmap(frac, ax=ax, vmin=0, vmax=1, cmap="rocket_r", annot=counts, fmt="d", annot_kws={"size": 6},
                    xticklabels=classes, yticklabels=classes, cbar=False, square=True)  # fmt: skip
        ax.set_xlabel("classified as (surrogate classifier)")
        ax.set_ylabel("generated as (conditioning label)")
        ax.tick_params(labelsize=7)
        if title:
            ax.set_title(title, fontsize=7, y=1.0)
        _save(fig, path)


Curves = list[tuple[str, list[tuple[str, list[float]]]]]  # panel title -> (column, values)


def read_curves(log_csv: Path) -> tuple[list[float], Curves]:
    """The trainer's log.csv as (steps, panels: losses, D outputs, accuracies, FID where present).

    Parsed before drawing so a bad file is reported on the page, not lost in a worker process."""
    import pandas as pd

    df = pd.read_csv(log_csv)
    if "step" not in df.columns or df.empty:
        raise ValueError(f"{log_csv} has no step column or no rows")
    df = df.apply(pd.to_numeric, errors="coerce")
    cols = [c for c in df.columns if c != "step" and df[c].notna().any()]
    panels = [
        ("losses", [c for c in cols if c.startswith("loss") or c in ("gp", "w_dist")]),
        ("D outputs", [c for c in cols if c in ("D_x", "D_G_z")]),
        ("accuracy", [c for c in cols if c.startswith("acc")]),
        ("FID", [c for c in cols if c == "fid"]),
    ]
    panels = [(t, cs) for t, cs in panels if cs]
    if not panels:
        raise ValueError(f"{log_csv} has no loss, D-output, accuracy or FID columns")
    steps = [float(v) for v in df["step"]]
    return steps, [(t, [(c, [float(v) for v in df[c]]) for c in cs]) for t, cs in panels]


def learning_curves(steps: Sequence[float], panels: Curves, path: Path | BinaryIO) -> None:
    """A panel per group of read_curves' columns against the step."""
    import seaborn as sns

    style, context = _styled()
    with style, context:
        fig = _figure(3.6 * len(panels), 2.6, left=0.09 if len(panels) > 1 else 0.16)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        colors = sns.color_palette("deep", max(len(cs) for _, cs in panels))
        for ax, (title, cs) in zip(axes, panels, strict=True):
            for color, (c, values) in zip(colors, cs, strict=False):  # plain lines: sns.lineplot is 4x slower
                ax.plot(steps, values, color=color, linewidth=1, label=c)
            ax.set_title(title, y=1.0)  # a fixed y skips matplotlib's costly title auto-placement
            ax.set_xlabel("step")
            ax.legend(fontsize=7, loc="upper right")  # "best" searches every point for a free spot
        _save(fig, path)


def fid_vs_step(
    lines: dict[str, list[tuple[int, float, float | None, float | None]]], path: Path | BinaryIO
) -> None:
    """FID against the checkpoint step, a line per setup, with the bootstrap interval where recorded."""
    import seaborn as sns

    style, context = _styled()
    with style, context:
        fig = _figure(5.0, 2.8, left=0.12, bottom=0.17)
        ax = fig.subplots()
        for color, (label, pts) in zip(sns.color_palette("deep", len(lines)), lines.items(), strict=False):
            pts = sorted(pts)
            steps, fids = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(steps, fids, marker="o", markersize=3, linewidth=1, color=color, label=label)
            ci = [(s, lo, hi) for s, _, lo, hi in pts if lo is not None and hi is not None]
            if ci:
                ax.fill_between(
                    [c[0] for c in ci],
                    [c[1] for c in ci],
                    [c[2] for c in ci],
                    color=color,
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set_xlabel("step")
        ax.set_ylabel("FID")
        if len(lines) > 1:
            ax.legend(fontsize=6, loc="upper right")
        _save(fig, path)


def quality_vs_compute(
    curves: dict[str, list[tuple[float, float, float]]],
    xlabel: str,
    accuracy: dict[str, list[tuple[float, float, float]]] | None,
    path: Path | BinaryIO,
) -> None:
    """FID against training minutes and against steps, a line per model: which model is best for the time
    one has. curves: label -> [(step, minutes, fid)]; accuracy (the conditional models', or empty): label ->
    [(step, minutes, classifier accuracy)], a second row of panels in the same colours."""
    import seaborn as sns

    style, context = _styled()
    rows = [("FID", curves)] + ([("classifier accuracy", accuracy)] if accuracy else [])
    colors = dict(zip(curves, sns.color_palette("deep", len(curves)), strict=False))
    with style, context:
        fig = _figure(8.0, 3.0 * len(rows), left=0.08, bottom=0.17 / len(rows), right=0.83, wspace=0.22,
                      hspace=0.3)  # fmt: skip
        axes = fig.subplots(len(rows), 2, squeeze=False)
        for (ylabel, lines), row in zip(rows, axes, strict=True):
            for label, pts in lines.items():
                pts = sorted(pts)
                for ax, x in zip(row, (1, 0), strict=True):
                    ax.plot([q[x] for q in pts], [q[2] for q in pts], marker="o", markersize=3, linewidth=1.2,
                            color=colors.get(label), label=label)  # fmt: skip
            row[0].set_xlabel(xlabel)
            row[1].set_xlabel("step")
            row[0].set_ylabel(ylabel)
            row[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        _save(fig, path)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith((".", "__")))


def _first_images(folder: Path, k: int) -> list[Path]:
    exts = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts)[:k]


def can_grid(folder: Path) -> bool:
    return folder.is_dir() and (bool(_class_dirs(folder)) or bool(_first_images(folder, 1)))


def sample_grid(folder: Path, path: Path | BinaryIO) -> None:
    """The first 10 images of each class folder, a labelled row per class (or 10 x 10 of a flat folder)."""
    from PIL import Image, ImageDraw, ImageFont

    dirs = _class_dirs(folder)
    rows = [(d.name, _first_images(d, PER_ROW)) for d in dirs] if dirs else []
    if not rows:
        flat = _first_images(folder, PER_ROW * PER_ROW)
        rows = [("", flat[i : i + PER_ROW]) for i in range(0, len(flat), PER_ROW)]
    rows = [r for r in rows if r[1]]
    if not rows:
        raise ValueError(f"no images in {folder}")
    font = ImageFont.load_default(size=18)
    label_w = max((int(font.getlength(name)) for name, _ in rows), default=0) + (8 if dirs else 0)
    step = CELL + GAP
    sheet = Image.new("RGB", (label_w + PER_ROW * step, len(rows) * step), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, files) in enumerate(rows):
        draw.text((4, r * step + CELL // 2), name, fill="black", font=font, anchor="lm")
        for c, f in enumerate(files):
            with Image.open(f) as im:
                tile = im.convert("RGB")
                if tile.size != (CELL, CELL):
                    tile = tile.resize((CELL, CELL), Image.Resampling.NEAREST)  # crisp pixels, no smoothing
                sheet.paste(tile, (label_w + c * step, r * step))
    sheet.save(path, format="PNG")
