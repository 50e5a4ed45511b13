"""Tests for ganbench.inputs.sources and ganbench.inputs.datasets, on tiny synthetic data built in tmp_path."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from ganbench.errors import UserError
from ganbench.inputs import datasets, decode
from ganbench.inputs.datasets import load_cifar10, resolve_cifar10
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet
from ganbench.inputs.sources import load_source

REAL_CIFAR = Path("/work/shared/data/cifar10")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    # Nothing may read the developer's real GANBENCH_DATA or write under ~/.cache.
    monkeypatch.delenv("GANBENCH_DATA", raising=False)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))


def rgb(seed: int, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def make_zip(folder: Path, zip_path: Path, prefix: str = "", extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        if prefix:
            zf.writestr(prefix, b"")  # a directory entry, as `zip -r` writes
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return zip_path


def chw(arr: np.ndarray) -> np.ndarray:
    return arr.transpose(2, 0, 1)


def png16_rgb(arr: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------------------------- layouts


def test_flat_folder_recursive_sorted_and_lossless(tmp_path):
    root = tmp_path / "samples"
    arrays = {"a.png": rgb(0), "sub/b.bmp": rgb(1), "sub/deeper/c.PNG": rgb(2), "z.webp": rgb(3)}
    for rel, arr in arrays.items():
        save(root / rel, arr, **({"lossless": True} if rel.endswith("webp") else {}))
    save(root / "sub" / "d.JPG", rgb(4))  # upper-case extension still counts
    s = load_source(str(root))
    assert isinstance(s, ImageSet)
    assert s.kind == "folder" and s.labels is None and s.source == str(root)
    assert s.names == ["a.png", "sub/b.bmp", "sub/d.JPG", "sub/deeper/c.PNG", "z.webp"]
    assert s.images.dtype == np.uint8 and s.images.shape == (5, 3, 32, 32) and s.images.flags.c_contiguous
    for i, name in enumerate(s.names):
        if name in arrays:
            np.testing.assert_array_equal(s.images[i], chw(arrays[name]))
    assert s.notes == {} and s.subset is None and s.origin == {"path": str(root)}
    again = load_source(str(root))
    assert again.names == s.names and again.content_hash() == s.content_hash()


@pytest.mark.parametrize(
    ("dirs", "labels"),
    [(("cat", "ship", "Airplane"), (3, 8, 0)), (("0", "7", "9"), (0, 7, 9))],
    ids=["names", "digits"],
)
def test_class_folders(tmp_path, dirs, labels):
    root = tmp_path / "classes"
    for j, d in enumerate(dirs):
        save(root / d / "x1.png", rgb(10 * j))
        save(root / d / "nested" / "x2.png", rgb(10 * j + 1))  # nested folders keep the top folder's label
    (root / "README.txt").write_text("loose non-image files do not break the layout")
    s = load_source(str(root))
    assert s.kind == "class-folders"
    assert s.labels is not None and s.labels.dtype == np.int64
    got = dict(zip(s.names, s.labels.tolist(), strict=True))
    for d, label in zip(dirs, labels, strict=True):
        assert got[f"{d}/x1.png"] == label and got[f"{d}/nested/x2.png"] == label
    assert s.notes == {"skipped_non_image": 1}


def test_loose_image_or_non_class_folder_means_plain_folder(tmp_path):
    root = tmp_path / "mixed"
    save(root / "cat" / "a.png", rgb(0))
    save(root / "dog" / "b.png", rgb(1))
    save(root / "top.png", rgb(2))
    assert load_source(str(root)).labels is None
    (root / "top.png").unlink()
    assert load_source(str(root)).kind == "class-folders"
    save(root / "extras" / "c.png", rgb(3))
    s = load_source(str(root))
    assert s.kind == "folder" and s.labels is None and len(s) == 3


def test_zip_layouts_match_folders(tmp_path):
    flat = tmp_path / "flat"
    for i in range(3):
        save(flat / f"d{i}" / f"{i}.png", rgb(i))
    classes = tmp_path / "classes"
    save(classes / "truck" / "a.png", rgb(0))
    save(classes / "bird" / "b.png", rgb(1))
    junk = {"__MACOSX/._a.png": b"resource fork", "__MACOSX/cls/._b.png": b"x"}

    zf = make_zip(flat, tmp_path / "flat.zip", extra=junk)
    s = load_source(str(zf))
    assert s.kind == "zip" and s.labels is None and s.names == ["d0/0.png", "d1/1.png", "d2/2.png"]
    assert s.content_hash() == load_source(str(flat)).content_hash()
    assert s.notes == {}

    # `zip -r classes.zip classes/` wraps everything in one folder: labels are still found inside it.
    zc = make_zip(classes, tmp_path / "classes.zip", prefix="classes/", extra=junk)
    c = load_source(str(zc))
    assert c.names == ["classes/bird/b.png", "classes/truck/a.png"]
    assert c.labels.tolist() == [2, 9]
    assert c.content_hash() == load_source(str(classes)).content_hash()


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("with_y", [True, False])
def test_npz(tmp_path, layout, with_y):
    x = np.stack([rgb(i) for i in range(4)])
    y = np.array([3, 1, 4, 1], dtype=np.int32)
    arrays = {"x": x if layout == "nhwc" else x.transpose(0, 3, 1, 2).copy()}
    if with_y:
        arrays["y"] = y
    np.savez(tmp_path / "s.npz", **arrays)
    s = load_source(str(tmp_path / "s.npz"))
    assert s.kind == "npz" and s.names == ["x[0]", "x[1]", "x[2]", "x[3]"]
    assert s.images.shape == (4, 3, 32, 32) and s.images.flags.c_contiguous and s.images.dtype == np.uint8
    np.testing.assert_array_equal(s.images, x.transpose(0, 3, 1, 2))
    if with_y:
        assert s.labels.dtype == np.int64 and s.labels.tolist() == y.tolist()
    else:
        assert s.labels is None


def test_same_pixels_same_hash_across_folder_zip_npz(tmp_path):
    x = np.stack([rgb(i) for i in range(3)])
    for i in range(3):
        save(tmp_path / "f" / f"{i}.png", x[i])
    make_zip(tmp_path / "f", tmp_path / "f.zip")
    np.savez(tmp_path / "a.npz", x=x, y=np.array([1, 2, 3]))
    np.savez(tmp_path / "b.npz", x=x.transpose(0, 3, 1, 2))
    hashes = {load_source(str(tmp_path / p)).content_hash() for p in ("f", "f.zip", "a.npz", "b.npz")}
    assert len(hashes) == 1
    np.savez(tmp_path / "c.npz", x=x[::-1])
    assert load_source(str(tmp_path / "c.npz")).content_hash() not in hashes


# ----------------------------------------------------------------------------------------------- conversions


def test_mode_conversions_counted(tmp_path):
    root = tmp_path / "modes"
    gray = rgb(0)[:, :, 0]
    save(root / "gray.png", gray)
    save(root / "pal.png", rgb(1))
    Image.fromarray(rgb(1)).convert("P").save(root / "pal.png")
    rgba = np.dstack([rgb(2), np.full((32, 32), 7, np.uint8)])
    save(root / "rgba.png", rgba)
    g16 = (gray.astype(np.uint16) * 257).astype(np.uint16)
    g16[0, 0] = 65535
    g16[0, 1] = 257 * 10 + 128  # rounds down to 10
    g16[0, 2] = 257 * 10 + 129  # rounds up to 11
    Image.fromarray(g16).save(root / "g16.png")
    (root / "rgb16.png").write_bytes(png16_rgb(rgb(3).astype(np.uint16) * 256 + 255))
    s = load_source(str(root))
    assert s.notes == {
        "converted_grayscale": 2,  # gray.png and g16.png
        "converted_palette": 1,
        "converted_rgba": 1,
        "converted_16bit": 2,  # g16.png and rgb16.png
    }
    by = dict(zip(s.names, s.images, strict=True))
    np.testing.assert_array_equal(by["gray.png"], np.stack([gray] * 3))
    np.testing.assert_array_equal(by["rgba.png"], chw(rgb(2)))  # alpha dropped, RGB kept as stored
    expected16 = gray.copy()
    expected16[0, :3] = [255, 10, 11]
    np.testing.assert_array_equal(by["g16.png"], np.stack([expected16] * 3))
    np.testing.assert_array_equal(by["rgb16.png"], chw(rgb(3)))  # high byte kept, not clipped


def test_resized_with_one_warning(tmp_path, capsys):
    root = tmp_path / "sizes"
    save(root / "a.png", rgb(0, (64, 64)))
    save(root / "b.png", rgb(1, (28, 28)))
    save(root / "c.png", rgb(2, (64, 64)))
    save(root / "d.png", rgb(3))
    save(root / "e.png", rgb(4, (40, 20)))
    s = load_source(str(root))
    assert s.images.shape == (5, 3, 32, 32)
    assert s.notes == {"resized": 4}
    np.testing.assert_array_equal(s.images[3], chw(rgb(3)))
    expected = np.asarray(Image.fromarray(rgb(1, (28, 28))).resize((32, 32), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(s.images[1], chw(expected))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (
        "4 images are not 32x32" in err[0] and "64x64" in err[0] and "28x28" in err[0] and "40x20" in err[0]
    )
    assert "bicubic" in err[0]


def test_image_size_option_and_npz_resize(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", x=np.stack([rgb(i, (16, 16)) for i in range(2)]))
    s = load_source(str(tmp_path / "s.npz"))
    assert s.images.shape == (2, 3, 32, 32) and s.notes == {"resized": 2}
    assert "16x16" in capsys.readouterr().err
    small = load_source(str(tmp_path / "s.npz"), image_size=16)
    assert small.notes == {} and small.images.shape == (2, 3, 16, 16)


def test_non_image_skipped_or_strict_error(tmp_path, capsys):
    root = tmp_path / "s"
    save(root / "a.png", rgb(0))
    save(root / "b.png", rgb(1))
    (root / "notes.txt").write_text("hi")
    (root / ".DS_Store").write_bytes(b"\0\0")
    s = load_source(str(root))
    assert len(s) == 2 and s.notes == {"skipped_non_image": 2}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 non-image files" in err[0]
    with pytest.raises(UserError) as e:
        load_source(str(root), strict=True)
    assert str(root) in str(e.value) and ("notes.txt" in str(e.value) or ".DS_Store" in str(e.value))


# ----------------------------------------------------------------------------------------------- errors


def _err_missing(tmp: Path) -> tuple[str, str]:
    return str(tmp / "nope"), str(tmp / "nope")


def _err_unknown_name(tmp: Path) -> tuple[str, str]:
    return "cifar10-val", "cifar10-train"


def _err_plain_file(tmp: Path) -> tuple[str, str]:
    (tmp / "x.txt").write_text("x")
    return str(tmp / "x.txt"), str(tmp / "x.txt")


def _err_empty_folder(tmp: Path) -> tuple[str, str]:
    (tmp / "empty").mkdir()
    return str(tmp / "empty"), str(tmp / "empty")


def _err_only_non_images(tmp: Path) -> tuple[str, str]:
    (tmp / "d").mkdir()
    (tmp / "d" / "notes.txt").write_text("x")
    return str(tmp / "d"), str(tmp / "d")


def _err_one_image(tmp: Path) -> tuple[str, str]:
    save(tmp / "one" / "a.png", rgb(0))
    return str(tmp / "one"), str(tmp / "one")


def _err_corrupt(tmp: Path) -> tuple[str, str]:
    save(tmp / "c" / "a.png", rgb(0))
    (tmp / "c" / "b.png").write_bytes(b"not a png at all")
    return str(tmp / "c"), str(tmp / "c" / "b.png")


def _err_truncated_png(tmp: Path) -> tuple[str, str]:
    save(tmp / "t" / "a.png", rgb(0))
    data = (tmp / "t" / "a.png").read_bytes()
    (tmp / "t" / "b.png").write_bytes(data[: len(data) // 2])
    return str(tmp / "t"), str(tmp / "t" / "b.png")


def _err_truncated_jpeg(tmp: Path) -> tuple[str, str]:
    save(tmp / "t" / "a.jpg", rgb(0))
    data = (tmp / "t" / "a.jpg").read_bytes()
    (tmp / "t" / "b.jpg").write_bytes(data[: len(data) // 2])
    return str(tmp / "t"), str(tmp / "t" / "b.jpg")


def _err_zip_traversal(tmp: Path) -> tuple[str, str]:
    with zipfile.ZipFile(tmp / "bad.zip", "w") as zf:
        zf.writestr("ok/a.png", b"")
        zf.writestr("ok/../../evil.png", b"")
    return str(tmp / "bad.zip"), "ok/../../evil.png"


def _err_zip_absolute(tmp: Path) -> tuple[str, str]:
    with zipfile.ZipFile(tmp / "abs.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("/etc/x.png"), b"")
    return str(tmp / "abs.zip"), "/etc/x.png"


def _err_zip_corrupt_member(tmp: Path) -> tuple[str, str]:
    buf = io.BytesIO()
    Image.fromarray(rgb(0)).save(buf, "PNG")
    with zipfile.ZipFile(tmp / "z.zip", "w") as zf:
        zf.writestr("a.png", buf.getvalue())
        zf.writestr("b.png", buf.getvalue()[:100])
    return str(tmp / "z.zip"), "b.png"


def _err_not_a_zip(tmp: Path) -> tuple[str, str]:
    (tmp / "fake.zip").write_bytes(b"nope")
    return str(tmp / "fake.zip"), str(tmp / "fake.zip")


def _npz_case(**arrays) -> object:
    def build(tmp: Path) -> tuple[str, str]:
        np.savez(tmp / "bad.npz", **arrays)
        return str(tmp / "bad.npz"), str(tmp / "bad.npz")

    return build


def _err_npz_garbage(tmp: Path) -> tuple[str, str]:
    (tmp / "g.npz").write_bytes(b"garbage")
    return str(tmp / "g.npz"), str(tmp / "g.npz")


def _err_class_conflict(tmp: Path) -> tuple[str, str]:
    save(tmp / "k" / "cat" / "a.png", rgb(0))
    save(tmp / "k" / "3" / "b.png", rgb(1))
    return str(tmp / "k"), str(tmp / "k")


_X = np.zeros((2, 8, 8, 3), np.uint8)
ERROR_CASES = {
    "missing": _err_missing,
    "unknown-name": _err_unknown_name,
    "plain-file": _err_plain_file,
    "empty-folder": _err_empty_folder,
    "only-non-images": _err_only_non_images,
    "one-image": _err_one_image,
    "corrupt": _err_corrupt,
    "truncated-png": _err_truncated_png,
    "truncated-jpeg": _err_truncated_jpeg,
    "zip-traversal": _err_zip_traversal,
    "zip-absolute": _err_zip_absolute,
    "zip-corrupt-member": _err_zip_corrupt_member,
    "not-a-zip": _err_not_a_zip,
    "npz-dtype": _npz_case(x=_X.astype(np.float32)),
    "npz-shape": _npz_case(x=_X[..., 0]),
    "npz-channels": _npz_case(x=np.zeros((2, 8, 8, 4), np.uint8)),
    "npz-no-x": _npz_case(images=_X),
    "npz-y-range": _npz_case(x=_X, y=np.array([0, 10])),
    "npz-y-negative": _npz_case(x=_X, y=np.array([-1, 0])),
    "npz-y-float": _npz_case(x=_X, y=np.array([0.0, 1.0])),
    "npz-y-length": _npz_case(x=_X, y=np.array([0, 1, 2])),
    "npz-one-image": _npz_case(x=_X[:1]),
    "npz-garbage": _err_npz_garbage,
    "class-conflict": _err_class_conflict,
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_user_errors_name_the_path_on_one_line(tmp_path, case):
    spec, must_mention = ERROR_CASES[case](tmp_path)
    with pytest.raises(UserError) as e:
        load_source(spec)
    msg = str(e.value)
    assert must_mention in msg
    assert "\n" not in msg


def test_messages_say_what_was_found(tmp_path):
    np.savez(tmp_path / "f.npz", x=_X.astype(np.float32))
    with pytest.raises(UserError, match="float32.*uint8"):
        load_source(str(tmp_path / "f.npz"))
    np.savez(tmp_path / "s.npz", x=_X[..., 0])
    with pytest.raises(UserError, match=r"\[2, 8, 8\].*\[N,H,W,3\]"):
        load_source(str(tmp_path / "s.npz"))
    save(tmp_path / "one" / "a.png", rgb(0))
    with pytest.raises(UserError, match="at least 2 images.*has 1"):
        load_source(str(tmp_path / "one"))


def test_truncated_fails_even_if_someone_enabled_load_truncated(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    spec, bad = _err_truncated_png(tmp_path)
    with pytest.raises(UserError, match="truncated"):
        load_source(spec)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for the caller


# ----------------------------------------------------------------------------------------------- subsets


def test_seeded_subset_is_chosen_before_decoding(tmp_path, monkeypatch):
    root = tmp_path / "many"
    for i in range(12):
        save(root / f"{i:02d}.png", rgb(i))
    full = load_source(str(root))
    decoded = []
    real = decode.decode_image
    monkeypatch.setattr(decode, "decode_image", lambda fp, *a: decoded.append(fp) or real(fp, *a))

    a = load_source(str(root), n=5, seed=1)
    assert len(decoded) == 5  # only the chosen files were opened
    idx = np.sort(np.random.default_rng(1).choice(12, 5, replace=False))
    assert a.subset == {"n": 5, "of": 12, "seed": 1}
    assert a.names == [full.names[i] for i in idx]
    np.testing.assert_array_equal(a.images, full.images[idx])
    assert load_source(str(root), n=5, seed=1).names == a.names
    assert load_source(str(root), n=5, seed=2).names != a.names
    assert load_source(str(root), n=12).subset is None
    with pytest.raises(UserError, match="only 12"):
        load_source(str(root), n=13)


def test_subset_on_npz_and_class_folders(tmp_path):
    x = np.stack([rgb(i) for i in range(10)])
    y = np.arange(10) % 10
    np.savez(tmp_path / "s.npz", x=x, y=y)
    s = load_source(str(tmp_path / "s.npz"), n=3, seed=4)
    idx = np.sort(np.random.default_rng(4).choice(10, 3, replace=False))
    assert s.names == [f"x[{i}]" for i in idx] and s.labels.tolist() == y[idx].tolist()
    np.testing.assert_array_equal(s.images, x[idx].transpose(0, 3, 1, 2))
    assert s.subset == {"n": 3, "of": 10, "seed": 4}


def test_content_hash_cached_and_ignores_labels(tmp_path):
    x = np.stack([rgb(i) for i in range(2)])
    np.savez(tmp_path / "a.npz", x=x, y=np.array([1, 2]))
    np.savez(tmp_path / "b.npz", x=x, y=np.array([5, 6]))
    a, b = load_source(str(tmp_path / "a.npz")), load_source(str(tmp_path / "b.npz"))
    assert a.content_hash() == b.content_hash() and len(a.content_hash()) == 64
    assert a._hash is not None and a.content_hash() is a.content_hash()


# ----------------------------------------------------------------------------------------------- CIFAR-10


def write_fake_genuine(folder: Path, per_batch: int = 2, per_test: int = 3) -> dict[str, tuple]:
    """cifar-10-batches-py with the real format: dict of bytes keys, uint8 data [N, 3072], list labels."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        k = per_test if name == "test_batch" else per_batch
        data = np.random.default_rng(100 + b).integers(0, 256, (k, 3072), dtype=np.uint8)
        labels = [(b + j) % 10 for j in range(k)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [b"f.png"] * k,
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        out[name] = (data, labels)
    return out


def write_fake_copy(root: Path, ext: str = ".png", per_class: int = 1) -> None:
    for split in ("train", "test"):
        for c, cls in enumerate(CIFAR10_CLASSES):
            for j in range(per_class):
                save(root / split / cls / f"{j}{ext}", rgb(1000 + 10 * c + j))


def test_genuine_reader(tmp_path, capsys):
    truth = write_fake_genuine(tmp_path / "g" / "cifar-10-batches-py")
    s = load_cifar10("train", data_dir=str(tmp_path / "g"))
    assert s.kind == "cifar10" and s.source == "cifar10-train"
    assert s.origin == {
        "copy": "cifar10-genuine",
        "path": str(tmp_path / "g" / "cifar-10-batches-py"),
        "split": "train",
    }
    data = np.concatenate([truth[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = sum((truth[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert s.images.shape == (10, 3, 32, 32) and s.images.flags.c_contiguous
    np.testing.assert_array_equal(s.images, data.reshape(10, 3, 32, 32))
    assert s.labels.dtype == np.int64 and s.labels.tolist() == labels
    assert s.names[:3] == ["data_batch_1[0]", "data_batch_1[1]", "data_batch_2[0]"]
    assert "CIFAR-10 has 50000" in capsys.readouterr().err  # a short fake set is flagged

    # data_dir may also be the batches folder itself; subsets work on the genuine copy too.
    t = load_cifar10("test", data_dir=str(tmp_path / "g" / "cifar-10-batches-py"), n=2, seed=0)
    idx = np.sort(np.random.default_rng(0).choice(3, 2, replace=False))
    np.testing.assert_array_equal(t.images, truth["test_batch"][0][idx].reshape(2, 3, 32, 32))
    assert t.subset == {"n": 2, "of": 3, "seed": 0} and t.names == [f"test_batch[{i}]" for i in idx]


def test_genuine_reader_refuses_foreign_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_fake_genuine(folder)

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(UserError, match="test_batch") as e:
        load_cifar10("test", data_dir=str(folder))
    assert "posix.getcwd" in str(e.value) or "getcwd" in str(e.value)
    # The name the original 2009 pickles use for the array reconstructor is allowed.
    up = datasets._BatchUnpickler(io.BytesIO(b""), encoding="bytes")
    assert up.find_class("numpy.core.multiarray", "_reconstruct") is not None
    (folder / "data_batch_3").unlink()
    with pytest.raises(UserError, match="data_batch_3 is missing"):
        load_cifar10("train", data_dir=str(folder))


def test_folder_copy_order_and_kind(tmp_path):
    write_fake_copy(tmp_path / "png")
    for j in (2, 10):  # natural order: 2 before 10
        save(tmp_path / "png" / "train" / "cat" / f"{j}.png", rgb(j))
    assert resolve_cifar10(str(tmp_path / "png")) == ("cifar10-image-folder", str(tmp_path / "png"))
    s = load_cifar10("train", data_dir=str(tmp_path / "png"))
    assert s.origin == {"copy": "cifar10-image-folder", "path": str(tmp_path / "png"), "split": "train"}
    assert s.labels.tolist() == [0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9]
    assert s.names[3:6] == ["train/cat/0.png", "train/cat/2.png", "train/cat/10.png"]
    write_fake_copy(tmp_path / "jpg", ext=".jpg")
    assert resolve_cifar10(str(tmp_path / "jpg"))[0] == "cifar10-jpeg-folder"
    (tmp_path / "jpg" / "test" / "frog" / "0.jpg").unlink()
    (tmp_path / "jpg" / "test" / "frog").rmdir()
    with pytest.raises(UserError, match="frog"):
        load_cifar10("test", data_dir=str(tmp_path / "jpg"))
    with pytest.raises(UserError, match="cifar10-val|split 'val'"):
        load_cifar10("val", data_dir=str(tmp_path / "png"))


def test_resolve_order(tmp_path, monkeypatch):
    write_fake_genuine(tmp_path / "genuine" / "cifar-10-batches-py")
    write_fake_copy(tmp_path / "copy")
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "copy"))
    assert resolve_cifar10(str(tmp_path / "genuine"))[0] == "cifar10-genuine"  # data_dir beats the env
    assert resolve_cifar10() == ("cifar10-image-folder", str(tmp_path / "copy"))
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="GANBENCH_DATA"):
        resolve_cifar10()
    with pytest.raises(UserError, match="not a CIFAR-10 folder"):
        resolve_cifar10(str(tmp_path / "copy" / "train" / "cat"))

    # Then the cache: $GANBENCH_CACHE/torchvision/cifar-10-batches-py (autouse fixture points it at tmp).
    monkeypatch.delenv("GANBENCH_DATA")
    cached = tmp_path / "cache" / "torchvision" / "cifar-10-batches-py"
    write_fake_genuine(cached)
    assert resolve_cifar10() == ("cifar10-genuine", str(cached))
    s = load_source("cifar10-test", image_size=16)  # named reference delegates to load_cifar10
    assert s.kind == "cifar10" and s.images.shape == (3, 3, 16, 16) and s.notes == {"resized": 3}


def test_download_failure_is_a_user_error(tmp_path, monkeypatch):
    calls = []

    def offline(root, train=True, download=False):
        calls.append(root)
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    fake_tv = types.ModuleType("torchvision")
    fake_tv.datasets = types.SimpleNamespace(CIFAR10=offline)
    monkeypatch.setitem(sys.modules, "torchvision", fake_tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_tv.datasets)
    with pytest.raises(UserError) as e:
        load_source("cifar10-train")
    msg = str(e.value)
    assert "GANBENCH_DATA" in msg and "--data" in msg and "name resolution" in msg and "\n" not in msg
    assert calls == [str(tmp_path / "cache" / "torchvision")]
    with pytest.raises(UserError, match="download disabled"):
        load_cifar10("test", download=False)
    assert len(calls) == 1


@pytest.mark.skipif(not REAL_CIFAR.is_dir(), reason="shared CIFAR-10 copy not present")
def test_real_jpeg_copy_via_env(monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(REAL_CIFAR))
    s = load_source("cifar10-test", n=20, seed=0)
    assert s.images.shape == (20, 3, 32, 32) and s.labels.min() >= 0 and s.labels.max() <= 9
    assert s.origin == {"copy": "cifar10-jpeg-folder", "path": str(REAL_CIFAR), "split": "test"}
    assert s.subset == {"n": 20, "of": 10000, "seed": 0}
    assert all(name.startswith("test/") and name.endswith(".jpg") for name in s.names)
