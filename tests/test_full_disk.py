"""A full disk at every kind of write site (results store, feature cache, run folder, checkpoint, site, log):
one line naming the place, exit code 2 (a UserError in the API), and nothing partial left behind."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganbench.atomic import WriteRefused, atomic_copy, atomic_write_text
from ganbench.cli import cli
from ganbench.errors import UserError
from tests.conftest import write_fake_cifar

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")

Fill = Callable[..., None]


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Fill:
    """fill(root, pattern="*"): from then on, a file under `root` whose name matches `pattern`, opened for
    writing, is created as on a real full disk, but every write to it fails with ENOSPC (its descriptor is
    /dev/full's). Covers os.open (atomic_write) and open()/Path.open (PIL, csv, shutil)."""
    rules: list[tuple[Path, str]] = []
    real_os_open, real_open = os.open, io.open

    def full(path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        p = Path(os.path.abspath(path))
        return any(p.is_relative_to(root) and fnmatch(p.name, pattern) for root, pattern in rules)

    def os_open(path, flags, mode=0o777, *, dir_fd=None):
        fd = real_os_open(path, flags, mode, dir_fd=dir_fd)
        if flags & (os.O_WRONLY | os.O_RDWR) and dir_fd is None and full(path):
            dev = real_os_open("/dev/full", os.O_WRONLY)
            os.dup2(dev, fd)
            os.close(dev)
        return fd

    def open_(file, mode="r", *args, **kwargs):
        if set(mode) & set("wax+") and len(args) < 6 and "opener" not in kwargs and full(file):
            kwargs["opener"] = lambda path, flags: os_open(path, flags, 0o666)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    return lambda root, pattern="*": rules.append((Path(os.path.abspath(root)), pattern))


def test_the_emulated_full_disk_is_one(tmp_path, full_disk):
    full_disk(tmp_path / "full")
    (tmp_path / "full").mkdir()
    with pytest.raises(OSError) as e:
        (tmp_path / "full" / "x.txt").write_text("x" * 10_000)
    assert e.value.errno == errno.ENOSPC
    (tmp_path / "free.txt").write_text("y")  # elsewhere the disk has room


def one_error_line(result, *needles: str) -> str:
    """The CLI ended with exit 2 and exactly one line, an error naming each needle; no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    error = [line for line in lines if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in error[0], error[0]
    return error[0]


def leftovers(root: Path) -> list[str]:
    """Temp files or folders of an interrupted write (atomic_write's and temp_dir_beside's)."""
    return [str(p) for p in root.rglob("*") if ".tmp" in p.name or p.name.endswith(".old")]


@pytest.fixture
def labelled(tmp_path: Path) -> dict[str, Path]:
    """Tiny inputs with a confusion heatmap: 20 class-folder noise images, 10 reference images."""
    rng = np.random.default_rng(7)
    for i in range(20):
        d = tmp_path / "samples" / ["airplane", "cat"][i % 2]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    (tmp_path / "ref").mkdir()
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "ref" / f"{i}.png")
    return {"samples": tmp_path / "samples", "ref": tmp_path / "ref"}


def score_cli(inputs: dict[str, Path], store: Path):
    args = ["score", str(inputs["samples"]), "--ref", str(inputs["ref"]), "--results", str(store),
            "--calibration-n", "0"]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_a_full_results_store_is_one_line_and_keeps_the_last_record(labelled, tmp_path, full_disk):
    store = tmp_path / "store"
    first = score_cli(labelled, store)
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    assert any(n.endswith("-confusion.png") for n in before)  # the heatmap, written first, is exercised
    full_disk(store)
    one_error_line(score_cli(labelled, store), f"the results store {store}", "no space left")
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before  # the last record intact, nothing new


def test_a_full_feature_cache_is_one_line(tmp_path, full_disk):
    from ganbench import cache

    rng = np.random.default_rng(11)  # images no other test scores: their features are not cached yet
    for name, n in (("s", 6), ("r", 6)):
        (tmp_path / name).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / name / f"{i}.png"
            )
    full_disk(cache.features_dir())
    result = score_cli({"samples": tmp_path / "s", "ref": tmp_path / "r"}, tmp_path / "store")
    one_error_line(result, "the feature cache", str(cache.features_dir()), "GANBENCH_CACHE")
    assert leftovers(cache.features_dir()) == [] and not (tmp_path / "store").exists()


def test_the_api_raises_a_user_error(tmp_path, full_disk):
    from ganbench import cache

    full_disk(tmp_path)
    full_disk(cache.features_dir())
    with pytest.raises(UserError, match="no space left") as e:
        atomic_write_text(tmp_path / "r.json", "{}" * 5000)
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC  # still an OSError to old callers
    with pytest.raises(WriteRefused, match="the feature cache"):
        cache.put("ab" * 32, {"x": np.zeros(4096)}, {})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("pattern", "place"),
    [("*.pt*", "ckpt-1.pt"), ("*.png", "samples/1")],
    ids=["checkpoint", "samples"],
)
def test_a_full_run_folder_is_one_line_and_leaves_nothing_half_written(tmp_path, full_disk, pattern, place):
    data = write_fake_cifar(tmp_path / "cifar")
    out = tmp_path / "runs"
    full_disk(out, pattern)
    args = ["train", "dcgan", "--preset", "smoke", "--data", str(data), "--out", str(out),
            "--steps", "1", "--sample-every", "1", "--ckpt-every", "1"]  # fmt: skip
    one_error_line(CliRunner().invoke(cli, args), place, "no space left")
    (run,) = out.iterdir()
    assert leftovers(out) == [] and not list(run.glob("*.pt"))
    if pattern == "*.png":  # the sample folder is whole or absent
        assert not (run / "samples" / "1").exists()


def test_a_log_row_is_whole_or_absent(tmp_path, monkeypatch):
    from trainers.runlog import CsvLog

    log = CsvLog(tmp_path / "log.csv")
    log.append({"step": 1, "loss": 0.5})
    whole = (tmp_path / "log.csv").read_bytes()
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills up part-way through the row
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(WriteRefused, match=f"cannot write {tmp_path / 'log.csv'}: no space left"):
        log.append({"step": 2, "loss": 0.25})
    assert (tmp_path / "log.csv").read_bytes() == whole


def test_a_full_site_folder_is_one_line_and_keeps_the_old_site(tmp_path, full_disk):
    from tests.test_report import make_record, store_of

    store = store_of(tmp_path, [make_record("a", 20.0)])
    site = tmp_path / "site"
    args = ["report", "--results", str(store), "--out", str(site)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    old = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    full_disk(tmp_path, "index.html")
    one_error_line(CliRunner().invoke(cli, args), f"cannot write {site}", "no space left")
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == old
    assert leftovers(tmp_path) == [] and not list(tmp_path.glob(".site*"))


def test_a_refused_read_is_not_blamed_on_the_write(tmp_path, monkeypatch):
    """EACCES also comes from reads: atomic_copy's unreadable source is not 'cannot write dest'."""
    src = tmp_path / "in" / "src.bin"
    src.parent.mkdir()
    src.write_bytes(b"x")
    real_open = builtins.open

    def refuse_src(file, *args, **kwargs):
        if Path(file) == src:
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse_src)
    with pytest.raises(PermissionError) as e:
        atomic_copy(src, tmp_path / "dest.bin")
    assert not isinstance(e.value, WriteRefused) and not (tmp_path / "dest.bin").exists()


@pytest.mark.parametrize(
    ("code", "reason"), [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission")]
)
def test_a_read_only_store_is_one_line(labelled, tmp_path, monkeypatch, code, reason):
    store = tmp_path / "store"
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self == store:
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    one_error_line(score_cli(labelled, store), f"the results store {store}", reason)


def test_files_placed_beside_a_record_leave_with_it(tmp_path, full_disk):
    """write_record's `beside` files (a benchmark's sample grid) are written first and named in the record;
    when the record cannot be written they are removed too, so no picture is left without its numbers."""
    from ganbench.results import write_record

    def record() -> dict:
        return {"samples": {"source": "s", "content_sha256": "0" * 64}, "metrics": {}}

    def grid_beside(rec: dict) -> Callable[[Path], list[Path]]:
        def place(path: Path) -> list[Path]:
            png = path.with_name(f"{path.stem}-grid.png")
            png.write_bytes(b"not really a png")
            rec["grid"] = png.name
            return [png]

        return place

    rec = record()
    path = write_record(rec, tmp_path / "room", beside=grid_beside(rec))
    assert (path.parent / json.loads(path.read_text())["grid"]).read_bytes() == b"not really a png"

    full = tmp_path / "full"
    full.mkdir()
    full_disk(full, "*.json*")  # the record (and its temp file) only: the grid itself finds room
    rec = record()
    with pytest.raises(WriteRefused):
        write_record(rec, full, beside=grid_beside(rec))
    assert list(full.iterdir()) == []
