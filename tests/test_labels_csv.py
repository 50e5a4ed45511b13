"""Labels of a flat folder from labels.csv (file,label), and the bad-input messages around class labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.errors import UserError
from ganbench.inputs.sources import load_source


def folder(root: Path, n: int = 4) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


def test_labels_csv_gives_labels(tmp_path):
    root = folder(tmp_path / "s")
    (root / "labels.csv").write_text("file,label\n0.png,cat\n./1.png,3\n2.png,Airplane\n\n3.png,9\n")
    s = load_source(str(root))
    assert s.labels.tolist() == [3, 3, 0, 9] and s.names == ["0.png", "1.png", "2.png", "3.png"]
    assert s.origin["labels"] == "labels.csv" and "skipped_non_image" not in s.notes
    sub = load_source(str(root), n=2, seed=1)  # a subset keeps each image's own label
    assert dict(zip(sub.names, sub.labels.tolist(), strict=True)).items() <= {
        "0.png": 3, "1.png": 3, "2.png": 0, "3.png": 9}.items()  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.png,cat\n1.png,10\n2.png,1\n3.png,1\n", "line 2: label '10' is neither 0-9"),
        ("0.png,cat\n1.png,dgo\n2.png,1\n3.png,1\n", "label 'dgo'"),
        ("0.png,-1\n1.png,1\n2.png,1\n3.png,1\n", "label '-1'"),
        ("0.png,1\n1.png,1\n2.png,1\n3.png,1\n9.png,2\n", "names 1 file(s) that are not images"),
        ("0.png,1\n1.png,1\n2.png,1\n", "1 image(s) in"),
        ("0.png,1\n0.png,2\n1.png,1\n2.png,1\n3.png,1\n", "two labels"),
        ("0.png,1,x\n", "3 fields"),
    ],
)
def test_bad_labels_csv_is_one_clear_error(tmp_path, text, message):
    root = folder(tmp_path / "s")
    (root / "labels.csv").write_text(text)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_source(str(root))


def test_misspelt_class_folder_warns(tmp_path, capsys):
    folder(tmp_path / "s" / "cat", 2)
    folder(tmp_path / "s" / "dgo", 2)
    assert load_source(str(tmp_path / "s")).labels is None
    assert "dgo are not CIFAR-10 class names" in capsys.readouterr().err


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _png_bytes(seed: int) -> bytes:
    import io

    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("wrapper", ["", "samples/"])  # `zip -r samples.zip samples` adds a wrapping folder
def test_labels_csv_inside_a_zip(tmp_path, wrapper):
    members = {f"{wrapper}{i}.png": _png_bytes(i) for i in range(4)}
    members[f"{wrapper}labels.csv"] = b"file,label\n0.png,dog\n1.png,5\n2.png,truck\n3.png,0\n"
    z = load_source(str(_zip(tmp_path / "s.zip", members)))
    assert z.labels.tolist() == [5, 5, 9, 0] and z.kind == "zip"
    assert z.origin["labels"] == f"{wrapper}labels.csv" and "skipped_non_image" not in z.notes
    # the same pixels and labels from a folder give the same content hash (the feature cache is shared)
    root = tmp_path / "f"
    root.mkdir()
    for name, data in members.items():
        (root / name.removeprefix(wrapper)).write_bytes(data)
    f = load_source(str(root))
    assert f.labels.tolist() == z.labels.tolist() and f.content_hash() == z.content_hash()


def test_bad_labels_csv_inside_a_zip_names_the_member(tmp_path):
    members = {f"samples/{i}.png": _png_bytes(i) for i in range(3)}
    members["samples/labels.csv"] = b"0.png,cat\n1.png,horse\n"
    with pytest.raises(UserError, match=r"1 image\(s\) in .*s.zip have no line in labels.csv \(e.g. 2.png\)"):
        load_source(str(_zip(tmp_path / "s.zip", members)))
    members["samples/labels.csv"] = b"0.png,cat\n1.png,horse\n2.png,zebra\n"
    with pytest.raises(UserError, match=r"samples/labels.csv in .*t.zip line 3: label 'zebra'"):
        load_source(str(_zip(tmp_path / "t.zip", members)))
    members["samples/labels.csv"] = b"\xff\xfe\x00bad"
    with pytest.raises(UserError, match=r"cannot read samples/labels.csv in .*u.zip"):
        load_source(str(_zip(tmp_path / "u.zip", members)))


def test_labels_csv_in_a_subfolder_of_a_zip_is_not_applied_to_the_rest(tmp_path, capsys):
    members = {"a/0.png": _png_bytes(0), "b/1.png": _png_bytes(1), "a/labels.csv": b"0.png,cat\n"}
    z = load_source(str(_zip(tmp_path / "s.zip", members)))
    assert z.labels is None and z.notes.get("skipped_non_image") == 1
