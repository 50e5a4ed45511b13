"""ganbench.atomic: the one atomic write. Two processes writing the same target at once both succeed and
leave one whole file (or folder), at every kind of site that collided when temp names were fixed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.atomic import atomic_write, atomic_write_text, replace_dir, temp_dir_beside

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 40

# Each writer waits for the go file, then writes the same target ROUNDS times with its own content.
WRITERS = {
    "atomic_write": """
        from ganbench.atomic import atomic_write
        for i in range(ROUNDS):
            atomic_write(target, lambda f: f.write(payload * 20000))
    """,
    "placeholder": """
        from ganbench.report import plots
        for i in range(ROUNDS):
            plots.placeholder(target, payload.decode())
    """,
    "figure": """
        from ganbench.report import plots
        for i in range(ROUNDS):  # a fresh Figures per round: the figure is drawn, not found
            img = target / str(i)
            plots.Figures(img).make("grid", ["same"], plots.sample_grid, grid_src)
    """,
    "sample_folder": """
        import numpy as np
        from trainers.images import replace_folder
        images = np.full((20, 3, 8, 8), payload[0], np.uint8)
        labels = np.arange(20) % 10
        for i in range(ROUNDS):
            replace_folder(images, target, labels, [f"c{k}" for k in range(10)])
    """,
}


def _run_two(tmp_path: Path, site: str, target: Path, grid_src: Path | None = None) -> None:
    go = tmp_path / "go"
    procs = []
    for name in ("A", "B"):
        head = f"""
            import os, sys, time
            from pathlib import Path
            target, go, ROUNDS = Path({str(target)!r}), Path({str(go)!r}), {ROUNDS}
            grid_src = Path({str(grid_src)!r})
            payload = {name!r}.encode()
            while not go.exists():
                time.sleep(0.005)
        """
        script = textwrap.dedent(head) + textwrap.dedent(WRITERS[site])
        procs.append(subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))  # fmt: skip
    time.sleep(1.5)  # both interpreters up and waiting
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".ganbench-site")


def test_two_processes_atomic_write(tmp_path):
    target = tmp_path / "ckpt.pt"
    _run_two(tmp_path, "atomic_write", target)
    data = target.read_bytes()
    assert data in (b"A" * 20000, b"B" * 20000)
    assert _leftovers(tmp_path) == []


def test_two_processes_placeholder_png(tmp_path):
    target = tmp_path / "missing.png"
    _run_two(tmp_path, "placeholder", target)
    with Image.open(target) as im:
        im.verify()
    assert _leftovers(tmp_path) == []


def test_two_processes_report_figure(tmp_path):
    src = tmp_path / "samples"
    for c in ("cat", "dog"):
        (src / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(src / c / f"{i}.png")
    target = tmp_path / "img"
    _run_two(tmp_path, "figure", target, grid_src=src)
    for i in range(ROUNDS):
        (png,) = [p for p in (target / str(i)).iterdir() if not p.name.startswith(".")]
        with Image.open(png) as im:
            im.verify()
        assert _leftovers(target / str(i)) == []


def test_two_processes_sample_folder(tmp_path):
    target = tmp_path / "samples" / "1000"
    target.parent.mkdir()
    _run_two(tmp_path, "sample_folder", target)
    files = sorted(target.rglob("*.png"))
    assert len(files) == 20  # one writer's whole folder, never a mix or a half
    values = {int(np.asarray(Image.open(f))[0, 0, 0]) for f in files}
    assert values in ({ord("A")}, {ord("B")})
    assert _leftovers(target.parent) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "record.json"
    atomic_write_text(target, "old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_written_files_and_folders_get_the_umask_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.json", "{}")
        tmp = temp_dir_beside(tmp_path / "site")
        replace_dir(tmp, tmp_path / "site")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "site").stat().st_mode & 0o777 == 0o755


def test_a_folder_that_cannot_go_in_leaves_the_old_one_in_place(tmp_path, monkeypatch):
    import errno
    import os

    dest = tmp_path / "site"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    tmp = temp_dir_beside(dest)
    (tmp / "index.html").write_text("new")
    real_rename = os.rename

    def refuse_the_new_one(src, dst):
        if Path(src) == tmp:
            raise OSError(errno.EACCES, "permission denied")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", refuse_the_new_one)
    with pytest.raises(OSError, match="permission denied"):
        replace_dir(tmp, dest)
    assert (dest / "index.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".old")] == []
