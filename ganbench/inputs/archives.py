"""Image sources that are one archive file: a .zip of images (either layout) and an .npz of uint8 arrays.
A zip shares layout.py's listing and decoding with folders, so a zip and the folder it was made from load
identically.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from typing import IO

import numpy as np

from ganbench.errors import UserError
from ganbench.inputs.decode import reason, resize_array
from ganbench.inputs.imageset import ImageSet, check_count, choose_subset
from ganbench.inputs.layout import (
    apply_labels_csv,
    decode_plan,
    is_ignored_dir,
    labels_csv_member,
    plan_layout,
)

_DRIVE = re.compile(r"^[A-Za-z]:")
# What numpy raises on a damaged or foreign .npz: a bad zip, pickled objects (allow_pickle=False), a short
# or compressed-wrong member. Anything else is our bug.
NPZ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error)


def load_zip(
    path: str,
    spec: str,
    origin: dict[str, str],
    n: int | None,
    seed: int,
    strict: bool,
    image_size: int,
    min_images: int,
) -> ImageSet:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"cannot open {spec} as a zip ({reason(e)}); re-create the archive") from e
    with zf:
        members: dict[str, str] = {}  # normalised posix name -> member name in the archive
        for info in zf.infolist():
            raw = info.filename
            name = raw.replace("\\", "/")
            # Checked on every member (even ones we would ignore): an archive with such entries is hostile or broken.
            if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
                raise UserError(
                    f"{spec} contains unsafe member '{raw}' (absolute path or '..'); re-create the zip with relative paths"
                )
            if info.is_dir() or name.endswith("/"):
                continue
            if any(is_ignored_dir(part) for part in name.split("/")[:-1]):
                continue
            members[name] = raw
        plan = plan_layout(sorted(members), spec, unwrap=True)

        def open_member(name: str) -> IO[bytes]:
            try:
                return io.BytesIO(zf.read(members[name]))
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as e:
                raise UserError(
                    f"cannot read {name} in {spec} ({reason(e)}); re-create the zip (encrypted or damaged member)"
                ) from e

        csv_name = labels_csv_member(plan)
        if csv_name is not None:
            shown = f"{csv_name} in {spec}"
            plan = apply_labels_csv(plan, lambda m: open_member(m).read(), csv_name, shown, spec)
            origin = {**origin, "labels": csv_name}

        return decode_plan(
            plan,
            spec,
            open_member,
            lambda name: f"{name} in {spec}",
            kind="zip",
            source=spec,
            origin=origin,
            n=n,
            seed=seed,
            strict=strict,
            image_size=image_size,
            min_images=min_images,
            sep=":",
        )


def load_npz(
    path: str, spec: str, origin: dict[str, str], n: int | None, seed: int, image_size: int, min_images: int
) -> ImageSet:
    expected = "expected uint8 x as [N,H,W,3] or [N,3,H,W] (and optional integer y in 0..9)"
    try:
        z = np.load(path, allow_pickle=False)
    except NPZ_ERRORS as e:
        raise UserError(
            f"cannot read {spec} as .npz ({reason(e)}); re-save it with numpy.savez(path, x=..., y=...)"
        ) from e
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise UserError(
            f"{spec} holds a single array, not an .npz archive; save it with numpy.savez(path, x=images)"
        )
    try:
        with z:
            if "x" not in z.files:
                raise UserError(
                    f"{spec} has no array 'x' (found: {', '.join(z.files) or 'none'}); {expected}"
                )
            x = z["x"]
            y = z["y"] if "y" in z.files else None
    except NPZ_ERRORS as e:
        raise UserError(f"cannot read arrays from {spec} ({reason(e)}); re-save it with numpy.savez") from e

    if x.dtype != np.uint8:
        raise UserError(f"{spec}: x has dtype {x.dtype}; {expected} (convert to uint8 0..255 before saving)")
    if x.ndim == 4 and x.shape[-1] == 3:
        nchw = False
    elif x.ndim == 4 and x.shape[1] == 3:
        nchw = True
    else:
        raise UserError(f"{spec}: x has shape {list(x.shape)}; {expected}")
    total = x.shape[0]
    if x.shape[2] == 0 or x.shape[1 if not nchw else 3] == 0:
        raise UserError(f"{spec}: x has shape {list(x.shape)} (empty images); {expected}")

    labels = None
    if y is not None:
        if not np.issubdtype(y.dtype, np.integer):
            raise UserError(f"{spec}: y has dtype {y.dtype}; expected integer class labels 0..9")
        if y.shape not in ((total,), (total, 1)):
            raise UserError(f"{spec}: y has shape {list(y.shape)}; expected [{total}] to match x")
        labels = y.reshape(total).astype(np.int64)
        if total and (labels.min() < 0 or labels.max() > 9):
            raise UserError(
                f"{spec}: y holds labels {labels.min()}..{labels.max()}; expected CIFAR-10 class indices 0..9"
            )

    check_count(total, min_images, spec)
    idx, subset = choose_subset(total, n, seed, spec)
    if idx is not None:
        x = x[idx]
        labels = None if labels is None else np.ascontiguousarray(labels[idx])
        names = [f"x[{i}]" for i in idx]
    else:
        names = [f"x[{i}]" for i in range(total)]
    check_count(len(names), min_images, f"the subset of {spec}")
    images = np.ascontiguousarray(x if nchw else x.transpose(0, 3, 1, 2))
    notes: dict[str, int] = {}
    images = resize_array(images, image_size, notes, spec)
    return ImageSet(images, labels, names, spec, "npz", notes, origin, subset)
