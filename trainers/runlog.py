"""The training log: log.csv (one row per log step) and curves.png drawn from it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from trainers.atomic import atomic_write, atomic_write_text


class CsvLog:
    """Appends rows to log.csv; on resume, rows past the checkpoint's step are dropped first."""

    def __init__(self, path: Path, keep_until: int | None = None) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []  # parsed, for curves.png
        self.fields: list[str] | None = None
        if keep_until is not None and self.path.is_file():
            lines = self.path.read_text().splitlines(keepends=True)
            kept = [line for line in lines[1:] if float(line.split(",", 1)[0]) <= keep_until]
            atomic_write_text(self.path, "".join(lines[:1] + kept))  # the kept lines stay byte for byte
            reader = csv.DictReader(io.StringIO("".join(lines[:1] + kept)))
            self.fields = list(reader.fieldnames or [])
            self.rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in reader]
        elif self.path.exists():
            self.path.unlink()

    def append(self, row: dict[str, float]) -> None:
        if self.fields is None:
            self.fields = list(row)
            buf = io.StringIO()
            csv.DictWriter(buf, self.fields).writeheader()
            atomic_write_text(self.path, buf.getvalue())
        self.rows.append(row)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    """Losses, D outputs and (when logged) classification accuracy against the step, as one PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        return
    keys = list(rows[-1])
    panels = [
        ("losses", [k for k in keys if k.startswith("loss") or k in ("gp", "w_dist")]),
        ("D outputs (D(x), D(G(z)))", [k for k in keys if k in ("D_x", "D_G_z")]),
        ("classification accuracy", [k for k in keys if k.startswith("acc")]),
    ]
    panels = [(title, ks) for title, ks in panels if ks]
    fig = Figure(figsize=(5 * len(panels), 3.5))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    FigureCanvasAgg(fig)
    steps = [r["step"] for r in rows]
    for i, (title, ks) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in ks:
            ax.plot(steps, [r.get(k, float("nan")) for r in rows], label=k, linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
