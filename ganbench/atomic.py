"""The one atomic file write of the project: a unique temp file beside the target, fsync, os.replace.

A run killed mid-write leaves the previous version of the file (or none), never half a file; two writers of
the same target at once both succeed (each has its own temp name) and the last replace wins whole. Imports
nothing else of ganbench, so every layer (trainers included) can use it.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(
    path: str | os.PathLike, write: Callable[[BinaryIO], object], *, suffix: str = ".tmp"
) -> None:
    """Call write(f) on a fresh temp file next to `path`, fsync it, then move it over `path` in one step.

    suffix: the temp file's ending, for writers that choose a format by extension (e.g. ".png").
    """
    path = Path(path)
    tmp = _unique(path, suffix)
    # O_EXCL: the name is this writer's alone; mode 0o666 less the umask, as open() would (mkstemp's 0600
    # would make every record, figure and checkpoint private).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _unique(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}{suffix}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_copy(src: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Copy src's bytes to dest atomically (streamed, so a large file is never all in memory)."""

    def write(f: BinaryIO) -> None:
        with open(src, "rb") as s:
            shutil.copyfileobj(s, f, 1 << 20)

    atomic_write(dest, write)


def temp_dir_beside(dest: str | os.PathLike) -> Path:
    """A fresh, uniquely named folder beside `dest` to build a replacement of it in."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _unique(dest, ".tmp")
    tmp.mkdir()  # the umask's permissions, like any folder (mkdtemp's 0700 would make the site private)
    return tmp


def replace_dir(tmp: str | os.PathLike, dest: str | os.PathLike, attempts: int = 20) -> None:
    """Put the folder `tmp` in the place of `dest`: the old one is renamed aside, the new one renamed in,
    the old one deleted. `dest` is always a whole folder (the old or the new) or briefly absent, never a
    mix; of two writers at once, each install is whole and the last one stays. If the new folder cannot go
    in for any other reason (permissions, another file system), the old one is put back and the error
    raised."""
    tmp, dest = Path(tmp), Path(dest)
    for _ in range(attempts):
        aside = None
        if dest.exists():
            aside = _unique(dest, ".old")
            try:
                os.rename(dest, aside)
            except FileNotFoundError:  # another writer moved it first
                aside = None
        try:
            os.rename(tmp, dest)
        except OSError as e:
            raced = e.errno in (errno.ENOTEMPTY, errno.EEXIST)  # another writer installed its folder
            if aside is not None:
                if raced:  # ours and the old one are both superseded by that writer's
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    os.rename(aside, dest)
            if raced:
                continue
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return
    shutil.rmtree(tmp, ignore_errors=True)
    raise OSError(f"could not replace {dest}: other writers kept replacing it")
