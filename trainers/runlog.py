"""The training log: log.csv (one row per log step), its TensorBoard twin, and curves.png drawn from it."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from ganbench.atomic import atomic_write, atomic_write_text, writing
from ganbench.errors import UserError


class CsvLog:
    """Appends rows to log.csv; on resume, rows past the checkpoint's step are dropped first.

    extra_fields: columns filled later than their row (fid, by --score-every via set_last). They are in the
    header from the start, so every line has every column and pandas/csv read the file as it grows.
    """

    def __init__(self, path: Path, keep_until: int | None = None, extra_fields: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []  # parsed, for curves.png
        self.fields: list[str] | None = None
        self.extra = list(extra_fields)
        if keep_until is not None and self.path.is_file():
            lines = self.path.read_bytes().decode().splitlines(keepends=True)  # no newline translation
            kept = [line for line in lines[1:] if float(line.split(",", 1)[0]) <= keep_until]
            header = lines[:1]
            missing = [f for f in self.extra if header and f not in header[0].rstrip("\r\n").split(",")]
            if missing:  # a run resumed with --score-every: new empty trailing columns on every line
                pad = "," * len(missing)
                header = [header[0].rstrip("\r\n") + "," + ",".join(missing) + "\r\n"]
                kept = [line.rstrip("\r\n") + pad + "\r\n" for line in kept]
            atomic_write_text(self.path, "".join(header + kept))  # the kept cells stay byte for byte
            reader = csv.DictReader(io.StringIO("".join(header + kept)))
            self.fields = list(reader.fieldnames or [])
            self.rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in reader]
        elif self.path.exists():
            self.path.unlink()

    def append(self, row: dict[str, float]) -> None:
        if self.fields is None:
            self.fields = list(row) + [f for f in self.extra if f not in row]
            buf = io.StringIO()
            csv.DictWriter(buf, self.fields).writeheader()
            atomic_write_text(self.path, buf.getvalue())
        self.rows.append(row)
        buf = io.StringIO()
        csv.DictWriter(buf, self.fields, restval="", extrasaction="ignore").writerow(row)
        with writing(self.path):
            _append_whole(self.path, buf.getvalue().encode())

    def set_last(self, key: str, value: float) -> None:
        """Fill `key` (an extra field) in the last row, rewriting log.csv atomically (it is small)."""
        assert self.fields is not None and key in self.fields and self.rows, f"no row or no {key} column"
        self.rows[-1][key] = value
        buf = io.StringIO()
        csv.DictWriter(buf, self.fields, restval="", extrasaction="ignore").writerow(self.rows[-1])
        lines = self.path.read_bytes().decode().splitlines(keepends=True)
        atomic_write_text(self.path, "".join(lines[:-1]) + buf.getvalue())


def _append_whole(path: Path, data: bytes) -> None:
    """Append `data` to `path` whole or not at all: a write that fails part-way (a full disk) is cut off, so
    the log never ends in half a row."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def require_tensorboard() -> type:
    """torch's SummaryWriter, or a one-line UserError when the tensorboard package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError(
            "--tensorboard needs the tensorboard package: pip install tensorboard "
            "(or pip install 'ganbench[tensorboard]'), or drop --tensorboard"
        ) from None
    return SummaryWriter


class TbLog:
    """The scalars of log.csv as TensorBoard events in `folder` (<run>/tb/).

    purge_step: on resume, events at or after this step from the interrupted run are discarded, as the rows
    past the checkpoint are in log.csv.
    """

    def __init__(self, folder: Path, purge_step: int | None = None) -> None:
        self.writer = require_tensorboard()(log_dir=str(folder), purge_step=purge_step)

    def add(self, row: dict[str, float], step: int) -> None:
        for key, value in row.items():
            if key != "step":
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    """Losses, D outputs and (when logged) classification accuracy against the step, as one PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))  # fid is only in the scored rows
    panels = [
        ("losses", [k for k in keys if k.startswith("loss") or k in ("gp", "w_dist")]),
        ("D outputs (D(x), D(G(z)))", [k for k in keys if k in ("D_x", "D_G_z")]),
        ("classification accuracy", [k for k in keys if k.startswith("acc")]),
        ("FID (--score-every)", [k for k in keys if k == "fid"]),
    ]
    panels = [(title, ks) for title, ks in panels if ks]
    fig = Figure(figsize=(5 * len(panels), 3.5))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    FigureCanvasAgg(fig)
    for i, (title, ks) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in ks:
            have = [r for r in rows if k in r]  # rows without the key would break the line into dots
            marker = "o" if k == "fid" else None  # a few scored steps: show the points
            ax.plot([r["step"] for r in have], [r[k] for r in have], label=k, linewidth=1, marker=marker)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
