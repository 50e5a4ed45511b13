"""The seam through which other packages teach ganbench a file kind (the trainers' `.pt` checkpoints),
and errors that stay where they belong: a bad user file is a UserError, a bug of ours tracebacks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganbench.errors import UserError
from ganbench.inputs import decode, generators
from ganbench.inputs.imageset import ImageSet
from ganbench.inputs.sources import load_source


@pytest.fixture
def clean_registry():
    saved = dict(generators._registered)
    yield
    generators._registered.clear()
    generators._registered.update(saved)


def test_a_registered_loader_serves_its_suffix(tmp_path, clean_registry):
    seen = []

    def loader(path: str, spec: str, n: int | None, seed: int) -> ImageSet:
        seen.append((n, seed))
        images = np.full((n or 4, 3, 16, 16), seed, np.uint8)  # not 32x32: the dispatcher resizes
        return ImageSet(images, None, [f"g[{i}]" for i in range(len(images))], spec, "toy", {}, {})

    generators.register_loader(".TOY", loader)
    (tmp_path / "model.toy").write_bytes(b"")
    got = load_source(str(tmp_path / "model.toy"), n=3, seed=7)
    assert seen == [(3, 7)] and got.images.shape == (3, 3, 32, 32) and got.kind == "toy"
    with pytest.raises(UserError, match="need at least 5 images"):
        load_source(str(tmp_path / "model.toy"), n=3, min_images=5)


def test_the_trainers_checkpoint_loader_comes_by_entry_point(clean_registry):
    generators._registered.clear()
    loader = generators.path_loader("runs/x/ckpt-100.PT")
    from trainers.sample import checkpoint_source

    assert loader is checkpoint_source
    assert generators.path_loader("samples.unknown") is None


def test_an_unregistered_file_kind_is_a_user_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\0")
    with pytest.raises(UserError, match="not a .zip, .npz or trainer checkpoint"):
        load_source(str(tmp_path / "x.bin"))


def test_a_corrupt_image_is_a_user_error_but_our_bug_tracebacks(tmp_path, monkeypatch):
    good = tmp_path / "good"
    good.mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(good / f"{i}.png")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (bad / "1.png").write_bytes((good / "1.png").read_bytes())
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_source(str(bad))

    def buggy(*args, **kwargs):
        raise TypeError("a bug in ganbench")

    monkeypatch.setattr(decode, "_to_rgb", buggy)
    with pytest.raises(TypeError, match="a bug in ganbench"):
        load_source(str(good))


def test_a_damaged_npz_is_a_user_error_but_our_bug_tracebacks(tmp_path, monkeypatch):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UserError, match="cannot read"):
        load_source(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "ok.npz", x=np.zeros((3, 32, 32, 3), np.uint8))
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        load_source(str(tmp_path / "ok.npz"))
