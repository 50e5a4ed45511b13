"""Listing and layout of a file tree (a folder or a zip's members): which files are images, whether the
top-level folders are classes, labels.csv, and the decode of the chosen files into an ImageSet. Folder and
zip loaders share it, so a zip and the folder it was made from load identically."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from ganbench.errors import UserError, warn
from ganbench.inputs.decode import decode_many, reason, resize_array
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet, check_count, choose_subset, class_index
from ganbench.inputs.labels_csv import parse_labels_csv

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LABELS_CSV = "labels.csv"  # at a folder's top level: file,label lines give the labels of a flat folder

# Directories that are never part of a data set: macOS zip resource forks and hidden folders
# (.ipynb_checkpoints, .git, ...). They are not descended into, in folders and zips alike.
_IGNORED_DIRS = ("__MACOSX",)


def is_image_name(name: str) -> bool:
    """True for a file name with an image extension that is not hidden (e.g. macOS "._x.png" forks)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def is_ignored_dir(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


def walk_folder(root: str) -> list[str]:
    """All files under root as sorted posix relative paths, skipping ignored dirs; follows symlinks once."""
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        st = os.stat(abs_dir)
        if (st.st_dev, st.st_ino) in seen:  # symlink loop
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = list(os.scandir(abs_dir))
        except OSError as e:
            raise UserError(f"cannot list {abs_dir} ({reason(e)}); check its permissions") from e
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            # is_dir/is_file use the d_type from the directory listing: no stat per file.
            if entry.is_dir():
                if not is_ignored_dir(entry.name):
                    stack.append((rel + "/", entry.path))
            elif entry.is_file():
                out.append(rel)
    out.sort()
    return out


@dataclass
class Plan:
    images: list[str]  # posix paths relative to the source root, sorted
    labels: list[int] | None
    non_images: list[str]

    @property
    def labelled(self) -> bool:
        return self.labels is not None


def plan_layout(files: Sequence[str], where: str, unwrap: bool = False) -> Plan:
    """Split sorted relative file paths into images/non-images and decide whether top-level dirs are classes.

    unwrap (zips only): look through a single wrapping folder ("samples/cat/1.png" from `zip -r samples.zip
    samples`) when deciding the layout; names keep the full member path.
    """
    images = [f for f in files if is_image_name(f)]
    non_images = [f for f in files if not is_image_name(f)]
    rel = list(files)
    while unwrap:
        tops = {r.split("/", 1)[0] for r in rel}
        if len(tops) != 1 or not all("/" in r for r in rel) or class_index(next(iter(tops))) is not None:
            break
        rel = [r.split("/", 1)[1] for r in rel]
    strip = len(files[0]) - len(rel[0]) if files else 0  # length of the wrapper prefix removed above

    # Class folders only when every top-level folder is a class name and no image sits at the top level;
    # anything else is a plain recursive folder without labels.
    top_dirs = sorted({r.split("/", 1)[0] for r in rel if "/" in r})
    loose_image = any("/" not in r and is_image_name(r) for r in rel)
    if not top_dirs or loose_image or any(class_index(d) is None for d in top_dirs):
        unknown = [d for d in top_dirs if class_index(d) is None]
        if not loose_image and len(unknown) < len(top_dirs):  # some class folders: likely a typo
            warn(
                f"{where}: folder(s) {', '.join(unknown[:3])} are not CIFAR-10 class names or digits 0-9, so the "
                f"whole source is read without labels; rename them to one of {', '.join(CIFAR10_CLASSES)}"
            )
        return Plan(images, None, non_images)
    by_label: dict[int, str] = {}
    for d in top_dirs:
        label = class_index(d)
        assert label is not None
        other = by_label.setdefault(label, d)
        if other != d:
            raise UserError(
                f"{where}: class folders '{other}' and '{d}' both mean class {label}; merge or rename one"
            )
    labels = [class_index(f[strip:].split("/", 1)[0]) for f in images]
    return Plan(images, labels, non_images)  # type: ignore[arg-type]


def apply_labels_csv(plan: Plan, read: Callable[[str], bytes], csv_name: str, shown: str, where: str) -> Plan:
    """The plan with labels from its labels.csv member `csv_name` (see ganbench/labels_csv.py), whose file
    names are relative to the csv's folder; class folders must agree. `shown` names the csv in errors."""

    prefix = csv_name[: -len(LABELS_CSV)]  # "" or a wrapping folder "samples/"
    labels = parse_labels_csv(read(csv_name), shown, [f[len(prefix) :] for f in plan.images], where)
    if plan.labels is not None and labels != plan.labels:
        bad = next(n for n, a, b in zip(plan.images, labels, plan.labels, strict=True) if a != b)
        raise UserError(f"{shown} disagrees with the class folder of {bad}; fix one of them")
    return Plan(plan.images, labels, [f for f in plan.non_images if f != csv_name])


def labels_csv_member(plan: Plan) -> str | None:
    """The labels.csv that covers every image: at the top, or in the one folder wrapping all of them."""
    for name in sorted((f for f in plan.non_images if f.rsplit("/", 1)[-1] == LABELS_CSV), key=len):
        if all(f.startswith(name[: -len(LABELS_CSV)]) for f in plan.images):
            return name
    return None


def resized_copy(result: ImageSet, image_size: int) -> ImageSet:
    notes = dict(result.notes)
    images = resize_array(result.images, image_size, notes, result.source)
    return ImageSet(
        images, result.labels, result.names, result.source, result.kind, notes, result.origin, result.subset
    )


def _handle_non_images(
    non_images: list[str], where: str, strict: bool, notes: dict[str, int], sep: str = "/"
) -> None:
    if not non_images:
        return
    if strict:
        raise UserError(
            f"{where}{sep}{non_images[0]} is not an image ({'/'.join(IMAGE_EXTENSIONS)} expected); "
            "remove it or run without strict mode"
        )
    notes["skipped_non_image"] = len(non_images)
    examples = ", ".join(non_images[:3]) + (", ..." if len(non_images) > 3 else "")
    warn(
        f"skipped {len(non_images)} non-image file{'s' if len(non_images) != 1 else ''} in {where} ({examples}); "
        f"only {', '.join(IMAGE_EXTENSIONS)} are read"
    )


def decode_plan(
    plan: Plan,
    where: str,
    open_ref: Callable[[str], str | IO[bytes]],
    display: Callable[[str], str],
    *,
    kind: str,
    source: str,
    origin: dict[str, str],
    n: int | None,
    seed: int,
    strict: bool,
    image_size: int,
    min_images: int,
    sep: str = "/",
) -> ImageSet:
    if not plan.images:
        extra = f" (only {len(plan.non_images)} non-image files)" if plan.non_images else ""
        raise UserError(
            f"no images found in {where}{extra}; expected {', '.join(IMAGE_EXTENSIONS)} files (searched recursively)"
        )
    notes: dict[str, int] = {}
    _handle_non_images(plan.non_images, where, strict, notes, sep)
    check_count(len(plan.images), min_images, where)
    idx, subset = choose_subset(len(plan.images), n, seed, where)
    names = plan.images if idx is None else [plan.images[i] for i in idx]
    labels = None
    if plan.labels is not None:
        all_labels = np.asarray(plan.labels, dtype=np.int64)
        labels = np.ascontiguousarray(all_labels if idx is None else all_labels[idx])
    check_count(len(names), min_images, f"the subset of {where}")
    images = decode_many(names, open_ref, display, image_size, notes, where)
    return ImageSet(images, labels, list(names), source, kind, notes, origin, subset)
