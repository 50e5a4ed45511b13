"""The dispatcher: a source spec (folder, class folders, .zip, .npz, a named CIFAR-10 split, or a file kind
another package registered, e.g. the trainers' checkpoints) -> one ImageSet.

Every loader returns an `ImageSet` of uint8 [N, 3, S, S] images so that the extractors never see file
formats, colour modes or odd sizes. What had to be changed to get there is counted in `ImageSet.notes`.
"""

from __future__ import annotations

import os

from ganbench.errors import UserError
from ganbench.inputs import archives, generators
from ganbench.inputs.datasets import load_cifar10
from ganbench.inputs.decode import reason
from ganbench.inputs.imageset import ImageSet, check_count
from ganbench.inputs.layout import (
    LABELS_CSV,
    apply_labels_csv,
    decode_plan,
    plan_layout,
    resized_copy,
    walk_folder,
)

NAMED_SOURCES = ("cifar10-train", "cifar10-test")


def load_source(
    spec: str,
    *,
    data_dir: str | None = None,
    n: int | None = None,
    seed: int = 0,
    strict: bool = False,
    image_size: int = 32,
    min_images: int = 2,
) -> ImageSet:
    """Load `spec` (folder, .zip, .npz, or cifar10-train / cifar10-test) as uint8 [N, 3, S, S] with S = image_size.

    n: take a seeded subset of n items (chosen before decoding). strict: a non-image file is an error instead
    of being skipped. Raises UserError for anything the user can fix.
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise UserError(f"image size must be a positive integer, got {image_size!r}")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise UserError(f"number of images to take must be a positive integer, got {n!r}")

    spec = os.fspath(spec)  # tolerate pathlib.Path
    if spec.casefold() in NAMED_SOURCES:
        split = spec.casefold().split("-", 1)[1]
        return sized(load_cifar10(split, data_dir=data_dir, n=n, seed=seed), image_size, min_images, spec)

    path = os.path.expanduser(spec)
    if not os.path.exists(path):
        if os.sep not in spec and "/" not in spec and not spec.lower().endswith((".zip", ".npz")):
            raise UserError(
                f"'{spec}' is neither an existing path nor a known reference; "
                f"valid references: {', '.join(NAMED_SOURCES)} (or give a folder, .zip or .npz)"
            )
        raise UserError(f"{spec} does not exist; check the path")
    origin = {"path": os.path.abspath(path)}

    if os.path.isdir(path):
        files = walk_folder(path)
        plan = plan_layout(files, path)
        kind = "class-folders" if plan.labelled else "folder"
        if LABELS_CSV in plan.non_images:

            def read(rel: str) -> bytes:
                with open(os.path.join(path, rel), "rb") as f:
                    return f.read()

            shown = os.path.join(path, LABELS_CSV)
            try:
                plan = apply_labels_csv(plan, read, LABELS_CSV, shown, spec)
            except OSError as e:
                raise UserError(f"cannot read {shown} ({reason(e)}); fix or remove it") from e
            origin["labels"] = LABELS_CSV
        return decode_plan(
            plan,
            spec,
            lambda rel: os.path.join(path, rel),
            lambda rel: os.path.join(spec, rel),
            kind=kind,
            source=spec,
            origin=origin,
            n=n,
            seed=seed,
            strict=strict,
            image_size=image_size,
            min_images=min_images,
        )

    lower = path.lower()
    if lower.endswith(".zip"):
        return archives.load_zip(path, spec, origin, n, seed, strict, image_size, min_images)
    if lower.endswith(".npz"):
        return archives.load_npz(path, spec, origin, n, seed, image_size, min_images)
    loader = generators.path_loader(path)
    if loader is not None:
        return sized(loader(path, spec, n, seed), image_size, min_images, spec)
    raise UserError(
        f"{spec} is a file but not a .zip, .npz or trainer checkpoint .pt; pass a folder of images, a .zip of "
        f"one, a .npz with x=uint8 [N,H,W,3], a `ganbench train` ckpt-<step>.pt, or one of {', '.join(NAMED_SOURCES)}"
    )


def sized(result: ImageSet, image_size: int, min_images: int, spec: str) -> ImageSet:
    """A loaded set (CIFAR-10, a registered file kind) at image_size, with at least min_images images."""
    if result.images.shape[-1] != image_size or result.images.shape[-2] != image_size:
        result = resized_copy(result, image_size)
    check_count(len(result), min_images, spec)
    return result
