"""The figure-worker pool: matplotlib figures queued by plots.Figures are drawn here and in worker
subprocesses (`serve`), each into its file through atomic_write. Jobs travel pickled: the draw functions
are module-level functions of plots.py, imported by the worker when it unpickles them."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganbench.atomic import atomic_write

PARALLEL_MIN = 24  # queued figures below which a worker process (~1.3 s of imports) does not pay off
CHUNK = 4  # figures per task handed to a worker
Job = tuple[str, Callable, tuple, Path]  # name, draw function (its last argument: the file), arguments, file


def draw_jobs(jobs: list[Job]) -> list[tuple[str, str | None]]:
    """Draw each job into its file, atomically. Returns (name, error or None) per job."""
    done = []
    for name, draw, args, dest in jobs:
        try:
            atomic_write(dest, lambda f, draw=draw, args=args: draw(*args, f))
            done.append((name, None))
        except Exception as e:  # noqa: BLE001 - one bad figure must not cost the others; reported by name
            done.append((name, f"{type(e).__name__}: {e}"))
    return done


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def draw_parallel(jobs: list[Job], workers: int) -> list[tuple[str, str | None]]:
    """Draw `jobs` here and in `workers` worker processes; (name, error or None) per job."""
    # Worker processes take chunks from the front of the queue while this process draws from the back,
    # so no core idles while a worker imports matplotlib. Plain subprocesses, not multiprocessing:
    # spawn re-runs the caller's main script, fork is unsafe beside torch/onnxruntime threads.
    chunks = deque(jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK))
    lock = threading.Lock()
    results: list[tuple[str, str | None]] = []

    def take(front: bool) -> list[Job] | None:
        with lock:
            return (chunks.popleft() if front else chunks.pop()) if chunks else None

    threads = [threading.Thread(target=_feed_worker, args=(take, chunks, lock, results), daemon=True)
               for _ in range(workers)]  # fmt: skip
    for t in threads:
        t.start()
    while (chunk := take(front=False)) is not None:
        done = draw_jobs(chunk)
        with lock:
            results += done
    for t in threads:
        t.join()
    while (chunk := take(front=False)) is not None:  # handed back by a worker that died
        results += draw_jobs(chunk)
    return results


def _feed_worker(take, chunks: deque, lock: threading.Lock, results: list) -> None:
    """Runs one `serve()` subprocess and feeds it chunks until none are left. A worker that cannot start or
    dies hands its chunk back to the queue: the caller draws it, so a broken worker only costs speed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")])
    )
    try:
        proc = subprocess.Popen([sys.executable, "-c", "from ganbench.report.workers import serve; serve()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)  # fmt: skip
    except OSError:
        return
    assert proc.stdin is not None and proc.stdout is not None
    try:
        while (chunk := take(True)) is not None:
            try:
                _send(proc.stdin, chunk)
                done = _receive(proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError):
                with lock:
                    chunks.appendleft(chunk)
                return
            with lock:
                results += done
    finally:
        try:
            proc.stdin.close()
        except OSError:  # a dead worker: the bytes a failed send left in the buffer have nowhere to go
            pass
        proc.wait()


def _send(f, obj: object) -> None:
    blob = pickle.dumps(obj)
    f.write(len(blob).to_bytes(8, "little") + blob)
    f.flush()


def _receive(f) -> Any:
    head = f.read(8)
    if len(head) < 8:
        raise EOFError("figure worker closed its pipe")
    return pickle.loads(f.read(int.from_bytes(head, "little")))


def serve() -> None:
    """A figure worker (a subprocess of Figures.finish): job chunks in on stdin, results out on stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, never into the protocol
    while True:
        try:
            chunk = _receive(sys.stdin.buffer)
        except EOFError:
            return
        _send(out, draw_jobs(chunk))
