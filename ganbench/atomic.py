"""The one atomic file write of the project: a unique temp file beside the target, fsync, os.replace.

A run killed mid-write leaves the previous version of the file (or none), never half a file; two writers of
the same target at once both succeed (each has its own temp name) and the last replace wins whole. A write
the file system refuses (full, over quota, read-only, not permitted) is a one-line WriteRefused naming the
place (a UserError: the user's to fix). Imports only ganbench.errors, so every layer (trainers included) can
use it.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ganbench.errors import UserError

# errno of a write the file system refused -> (what happened, the first fix; "or <write elsewhere>" follows)
REFUSED = {
    errno.ENOSPC: ("no space left on the device", "free some space there"),
    errno.EDQUOT: ("disk quota exceeded", "free some space there"),
    errno.EROFS: ("read-only file system", None),
    errno.EACCES: ("permission denied", "check its permissions"),
}


class WriteRefused(UserError, OSError):
    """A write the file system refused: one line naming the place. An OSError too, so that code which
    tolerates a failed write (an optional memo) still does; `errno` is the original one."""


def refused(
    e: BaseException, place: str | os.PathLike, elsewhere: str = "write elsewhere", what: str = ""
) -> WriteRefused | None:
    """`e` as a WriteRefused naming `place` (after `what` it is, e.g. "the feature cache") when the file system
    refused a write, else None. An inner WriteRefused is named again by the outer place (the folder the user
    chose, not a temp file in it)."""
    if not isinstance(e, OSError) or e.errno not in REFUSED:
        return None
    if e.errno == errno.EACCES and not isinstance(e, WriteRefused) and not _near(e.filename, Path(place)):
        return None  # a read in the block (e.g. atomic_copy's source) may be refused too: not a write's error
    reason, fix = REFUSED[e.errno]
    name = f"{what} {place}" if what else str(place)
    err = WriteRefused(f"cannot write {name}: {reason}; {fix + ' or ' if fix else ''}{elsewhere}")
    err.errno = e.errno
    return err


def _near(filename: object, place: Path) -> bool:
    """Whether `filename` is where writes for `place` go: the place, a folder above it (made for it), a file
    beside it (its temp file) or below it (a folder's content)."""
    if not isinstance(filename, (str, os.PathLike)):
        return False
    f = Path(os.path.abspath(filename))
    p = Path(os.path.abspath(place))
    return f == p or f in p.parents or f.parent == p.parent or f.is_relative_to(p)


@contextmanager
def writing(place: str | os.PathLike, elsewhere: str = "write elsewhere", what: str = "") -> Iterator[None]:
    """Turn a write the file system refuses in the block into a WriteRefused naming `place` (see refused);
    `elsewhere` says how to write somewhere else (e.g. "set GANBENCH_CACHE to a folder on another disk")."""
    try:
        yield
    except OSError as e:
        err = refused(e, place, elsewhere, what)
        if err is None:
            raise
        raise err from (e.__cause__ if isinstance(e, WriteRefused) else e)


def atomic_write(
    path: str | os.PathLike, write: Callable[[BinaryIO], object], *, suffix: str = ".tmp"
) -> None:
    """Call write(f) on a fresh temp file next to `path`, fsync it, then move it over `path` in one step.

    suffix: the temp file's ending, for writers that choose a format by extension (e.g. ".png").
    """
    path = Path(path)
    tmp = _unique(path, suffix)
    with writing(path):
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
    tmp = _unique(dest, ".tmp")
    with writing(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
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
            err = refused(e, dest)
            if err is not None:
                raise err from e
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return
    shutil.rmtree(tmp, ignore_errors=True)
    raise OSError(f"could not replace {dest}: other writers kept replacing it")
