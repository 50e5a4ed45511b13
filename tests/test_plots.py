"""Report figures: the parallel drawing path gives the same PNGs as drawing in-process, survives a failing
figure or a dead worker, and works from a script without a `__main__` guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from ganbench.report import plots, workers

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _queue(figures: plots.Figures, k: int, bad: bool = False) -> list[str]:
    names = []
    for i in range(k):
        series = {
            "accuracy": [((i + c) % 10) / 10 for c in range(10)],
            "IFID": [float(i + c) for c in range(10)],
        }
        names.append(figures.make("classes", [i, series], plots.per_class_bars, CLASSES, series, defer=True))
    if bad:  # a matrix that does not match its classes: the draw function raises in whichever process
        names.append(figures.make("confusion", "bad", plots.confusion_heatmap, [[1, 2]], CLASSES, defer=True))
    return names


def test_parallel_figures_equal_serial_ones_and_a_failure_is_named(tmp_path, monkeypatch):
    serial = plots.Figures(tmp_path / "serial")
    monkeypatch.setattr(workers, "PARALLEL_MIN", 10**6)  # in-process only
    names = _queue(serial, 6)
    serial.finish()
    assert serial.workers == 0 and serial.drawn == 6 and not serial.failed

    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    monkeypatch.setattr(workers, "cpus", lambda: 3)  # two workers beside this process, even on one core
    par = plots.Figures(tmp_path / "par")
    assert _queue(par, 6, bad=True)[:6] == names
    par.finish()
    assert par.workers == 2 and par.drawn == 6
    assert len(par.failed) == 1 and "does not match 10 classes" in par.failed[0]
    for name in names:
        assert (tmp_path / "par" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    bad = tmp_path / "par" / next(n for n in par.img_dir.iterdir() if n.name.startswith("confusion")).name
    with Image.open(bad) as im:  # the page shows a placeholder, never a broken image
        assert im.format == "PNG"
    assert not list(par.img_dir.glob(".*.tmp"))


def _no_subprocess(*args, **kwargs):
    raise OSError("no processes left")


def _dying_worker(cmd, **kwargs):  # a worker that exits at once: its pipe closes mid-protocol
    return _REAL_POPEN([sys.executable, "-c", "pass"], **kwargs)


def _dead_worker(cmd, **kwargs):  # gone before the first chunk is sent: the write itself breaks the pipe
    proc = _REAL_POPEN([sys.executable, "-c", "pass"], **kwargs)
    proc.wait()
    return proc


_REAL_POPEN = subprocess.Popen


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # nothing left in a thread
@pytest.mark.parametrize(
    ("popen", "k"),
    [(_no_subprocess, 5), (_dying_worker, 9), (_dead_worker, 9)],
    ids=["no-start", "dies", "dead"],
)
def test_broken_workers_leave_the_work_to_this_process(tmp_path, monkeypatch, popen, k):
    """A worker that cannot start, dies holding a chunk or is dead before its first: every figure is still
    drawn, here, and no exception is left unhandled in a feeder thread."""
    monkeypatch.setattr(workers, "PARALLEL_MIN", 1)
    monkeypatch.setattr(workers, "cpus", lambda: 2)
    monkeypatch.setattr(workers.subprocess, "Popen", popen)
    figures = plots.Figures(tmp_path)
    names = _queue(figures, k)
    figures.finish()
    assert figures.workers == 1 and figures.drawn == k and not figures.failed
    assert all((tmp_path / n).is_file() for n in names)


@pytest.mark.skipif(sys.platform != "linux", reason="sched_getaffinity")
def test_report_from_a_script_without_a_main_guard(tmp_path):
    """multiprocessing's spawn would re-run this script in each worker; the figure workers must not."""
    script = tmp_path / "build.py"
    script.write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        from ganbench.report import plots, workers
        workers.PARALLEL_MIN = 1
        workers.cpus = lambda: 2
        Path({str(tmp_path / "ran")!r}).open("a").write("x")  # counts how often this script runs
        f = plots.Figures(Path({str(tmp_path / "img")!r}))
        for i in range(6):
            s = {{"accuracy": [i / 10] * 10}}
            f.make("classes", [i], plots.per_class_bars, {CLASSES!r}, s, defer=True)
        f.finish()
        print(f.drawn, f.workers, len(f.failed))
    """)
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"}, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "1", "0"]
    assert (tmp_path / "ran").read_text() == "x"
