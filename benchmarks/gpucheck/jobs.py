"""Commands under a deadline: each in its own process, killed with all its descendants when its time is up (a
torchrun's workers run in sessions of their own, so a process group is not enough), its output appended to
the log. And the stage record: figures written to a JSON file after every change, so a killed stage still
leaves what it found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

POLL_S = 0.2
TAIL = 20_000  # characters of a job's output kept for the stage (the whole output goes to the log)


@dataclass(frozen=True)
class Job:
    key: str  # a short name for the log and the record, e.g. "train dcgan"
    cmd: list[str]
    timeout: float  # seconds, at most (the stage's deadline may cut it shorter)
    env: dict[str, str] | None = None  # the whole environment (None: this process's)


@dataclass
class Done:
    key: str
    cmd: list[str]
    rc: int | None  # None: killed at its timeout
    seconds: float
    timed_out: bool
    output: str = field(repr=False, default="")  # the last TAIL characters of stdout + stderr

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def error(self) -> str | None:
        """One line: why it failed (None when it did not)."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.rc == 0:
            return None
        return f"exit {self.rc}: {last_line(self.output)}"


def last_line(text: str) -> str:
    """The last line that says something (a traceback's exception, a UserError's one line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "(no output)"


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (Linux); [] where /proc cannot tell."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])  # the command name may hold spaces and ')'
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(pid: int, grace: float = 5.0) -> None:
    """SIGTERM `pid` and its descendants (torchrun passes it on to its workers), then SIGKILL what is left."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        _signal(p, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and any(_alive(p) for p in tree):
        time.sleep(0.1)
    for p in [*tree, *descendants(pid)]:
        _signal(p, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def run_jobs(
    jobs: Sequence[Job], parallel: int = 1, deadline: float | None = None, log: IO[str] | None = None
) -> dict[str, Done]:
    """Run `jobs`, `parallel` at a time, each killed at its timeout or at `deadline` (time.time()). Each job's
    output is appended to `log` (default stdout) when it ends. -> key -> Done."""
    log = log or sys.stdout
    pending = list(jobs)
    running: dict[str, tuple[Job, subprocess.Popen, float, float, IO[str]]] = {}
    done: dict[str, Done] = {}
    while pending or running:
        while pending and len(running) < max(1, parallel):
            job = pending.pop(0)
            limit = job.timeout if deadline is None else min(job.timeout, deadline - time.time())
            if limit <= 1:
                done[job.key] = Done(job.key, job.cmd, None, 0.0, True, "no time left before the deadline")
                _write(log, done[job.key])
                continue
            out = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            proc = subprocess.Popen(job.cmd, stdout=out, stderr=subprocess.STDOUT, env=job.env,
                                    stdin=subprocess.DEVNULL, text=True)  # fmt: skip
            running[job.key] = (job, proc, time.monotonic(), limit, out)
        time.sleep(POLL_S)
        for key in list(running):
            job, proc, t0, limit, out = running[key]
            rc = proc.poll()
            timed_out = rc is None and time.monotonic() - t0 > limit
            if rc is None and not timed_out:
                continue
            if timed_out:
                kill_tree(proc.pid)
                proc.wait()
            out.seek(0)
            text = out.read()
            out.close()
            done[key] = Done(key, job.cmd, None if timed_out else rc, time.monotonic() - t0, timed_out,
                             text[-TAIL:])  # fmt: skip
            del running[key]
            _write(log, done[key], text)
    return done


def _write(log: IO[str], d: Done, text: str | None = None) -> None:
    status = "ok" if d.ok else d.error()
    log.write(f"\n----- {d.key}: {status} ({d.seconds:.1f} s)\n$ {' '.join(d.cmd)}\n")
    log.write((text if text is not None else d.output).rstrip() + "\n")
    log.flush()


class Record:
    """One stage's figures and checks, rewritten (atomically) to its JSON file after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"checks": {}}
        self.flush()

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def set(self, key: str, value: Any) -> Any:
        self.data[key] = value
        self.flush()
        return value

    def check(self, name: str, ok: bool | None, detail: str | None = None) -> bool | None:
        """A named check: True / False, or None for skipped (detail says why)."""
        self.data["checks"][name] = {"ok": ok, "detail": detail}
        self.flush()
        return ok

    def flush(self) -> None:
        write_json(self.path, self.data)


def guarded(rec: Record, name: str, fn: Callable[[], Any], default: Any = None) -> Any:
    """fn(), or on an exception a failed check `name` (and `default`): one odd result hides no other."""
    try:
        return fn()
    except Exception as e:  # recorded; the stage goes on with the rest
        traceback.print_exc()
        rec.check(name, False, f"{type(e).__name__}: {e}".splitlines()[0][:400])
        return default


def write_json(path: Path, data: Any) -> None:
    """JSON through a temp file and os.replace: a reader (or a kill) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, allow_nan=True) + "\n")
    os.replace(tmp, path)
