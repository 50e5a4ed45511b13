"""Writing uint8 images: PNG folders (per class or flat), grids, and the progress GIF."""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ganbench.atomic import atomic_write, replace_dir, temp_dir_beside, writing


def write_pngs(
    images: np.ndarray,
    folder: Path,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """uint8 [N, 3, H, W] -> folder/<class>/<i>.png (i counting within each class) when labelled,
    else folder/<i>.png. Names are zero-padded to 5 digits so that they sort."""
    folder = Path(folder)
    counts: dict[int, int] = {}
    made: set[Path] = set()
    for k, img in enumerate(images):
        if labels is None:
            dest, index = folder, k
        else:
            label = int(labels[k])
            index = counts.get(label, 0)
            counts[label] = index + 1
            dest = folder / (class_names[label] if class_names else str(label))
        if dest not in made:
            dest.mkdir(parents=True, exist_ok=True)
            made.add(dest)
        Image.fromarray(img.transpose(1, 2, 0)).save(dest / f"{index:05d}.png")


def replace_folder(
    images: np.ndarray,
    dest: Path,
    labels: np.ndarray | None,
    class_names: Sequence[str] | None,
    flat: bool = False,
) -> None:
    """A sample folder: dest/<class>/<i>.png, or dest/all/<i>.png for unlabelled images (dest/<i>.png when
    `flat`).

    Written into a temp folder that is then swapped in, so `dest` is always complete or absent (a full disk
    included: then a WriteRefused naming `dest`).
    """
    tmp = temp_dir_beside(dest)
    try:
        with writing(dest):
            write_pngs(images, tmp if labels is not None or flat else tmp / "all", labels, class_names)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, dest)


def grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """uint8 [rows*cols, 3, H, W] -> one uint8 [H', W', 3] picture, images laid out row by row on white."""
    n, c, h, w = images.shape
    assert n >= rows * cols, f"grid needs {rows * cols} images, got {n}"
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for k in range(rows * cols):
        r, q = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y : y + h, x : x + w] = images[k].transpose(1, 2, 0)
    return out


def save_png(picture: np.ndarray, path: Path) -> None:
    """uint8 [H, W, 3] -> PNG, atomically."""
    atomic_write(path, lambda f: Image.fromarray(picture).save(f, format="PNG"))


def save_gif(frames: Sequence[Path], path: Path, ms_per_frame: int = 400) -> None:
    """PNG files -> an animated GIF (looping), atomically."""
    if not frames:
        return
    pictures = [
        Image.open(io.BytesIO(Path(p).read_bytes()))
        .convert("RGB")
        .quantize(256, method=Image.Quantize.FASTOCTREE)
        for p in frames
    ]  # fast octree: PIL's default median cut costs ~0.5 s per frame

    def write(f: io.BufferedWriter) -> None:
        pictures[0].save(
            f, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame, loop=0
        )

    atomic_write(path, write)
