"""Load an image source (folder, class folders, .zip, .npz or a named CIFAR-10 split) into one uint8 array.

Every entry point returns an `ImageSet` of uint8 [N, 3, S, S] images so that the extractors never see file
formats, colour modes or odd sizes. What had to be changed to get there is counted in `ImageSet.notes`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from ganbench.decode import decode_many, reason, resize_array
from ganbench.errors import UserError, warn

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LABELS_CSV = "labels.csv"  # at a folder's top level: file,label lines give the labels of a flat folder
NAMED_SOURCES = ("cifar10-train", "cifar10-test")

# Directories that are never part of a data set: macOS zip resource forks and hidden folders
# (.ipynb_checkpoints, .git, ...). They are not descended into, in folders and zips alike.
_IGNORED_DIRS = ("__MACOSX",)


@dataclass(eq=False, repr=False)
class ImageSet:
    """Decoded images plus where they came from. Treat it as immutable: content_hash() is cached."""

    images: np.ndarray  # uint8 [N, 3, H, W], C-contiguous
    labels: np.ndarray | None  # int64 [N] in 0..9, or None when the source has no labels
    names: list[str]  # per image: path relative to the source root, "x[i]" for npz
    source: str  # the spec as given
    kind: str  # "folder" | "class-folders" | "zip" | "npz" | "cifar10"
    notes: dict[str, int] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    subset: dict | None = None
    _hash: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Cheap invariant checks: every consumer relies on this exact layout.
        im = self.images
        if im.dtype != np.uint8 or im.ndim != 4 or im.shape[1] != 3 or not im.flags.c_contiguous:
            raise ValueError(
                f"ImageSet.images must be C-contiguous uint8 [N,3,H,W], got {im.dtype} {im.shape}"
            )
        if self.labels is not None and (self.labels.dtype != np.int64 or self.labels.shape != (len(im),)):
            raise ValueError(
                f"ImageSet.labels must be int64 [{len(im)}], got {self.labels.dtype} {self.labels.shape}"
            )
        if len(self.names) != len(im):
            raise ValueError(f"ImageSet.names has {len(self.names)} entries for {len(im)} images")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        labelled = "labelled" if self.labels is not None else "unlabelled"
        return (
            f"ImageSet({self.source!r}, kind={self.kind!r}, {n} x 3x{h}x{w} {labelled}, notes={self.notes})"
        )

    def content_hash(self) -> str:
        """sha256 hex of the shape string (e.g. "(10, 3, 32, 32)") followed by the raw image bytes.

        Labels and names are left out: they do not change the extracted features, so a cache keyed on
        this hash stays valid when the same pixels arrive from a folder, a zip or an npz.
        """
        if self._hash is None:
            h = hashlib.sha256(repr(tuple(int(d) for d in self.images.shape)).encode())
            h.update(memoryview(self.images).cast("B"))
            self._hash = h.hexdigest()
        return self._hash


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
        from ganbench.datasets import load_cifar10  # lazy: datasets imports this module

        split = spec.casefold().split("-", 1)[1]
        result = load_cifar10(split, data_dir=data_dir, n=n, seed=seed)
        if result.images.shape[-1] != image_size or result.images.shape[-2] != image_size:
            result = resized_copy(result, image_size)
        check_count(len(result), min_images, spec)
        return result

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
        files = _walk_folder(path)
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

    from ganbench import containers  # lazy: it builds on this module's layout and decoding helpers

    lower = path.lower()
    if lower.endswith(".zip"):
        return containers.load_zip(path, spec, origin, n, seed, strict, image_size, min_images)
    if lower.endswith(".npz"):
        return containers.load_npz(path, spec, origin, n, seed, image_size, min_images)
    if lower.endswith(".pt"):
        return containers.load_checkpoint(path, spec, n, seed, image_size, min_images)
    raise UserError(
        f"{spec} is a file but not a .zip, .npz or trainer checkpoint .pt; pass a folder of images, a .zip of "
        f"one, a .npz with x=uint8 [N,H,W,3], a `ganbench train` ckpt-<step>.pt, or one of {', '.join(NAMED_SOURCES)}"
    )


# ----------------------------------------------------------------------------------------------- listing


def is_image_name(name: str) -> bool:
    """True for a file name with an image extension that is not hidden (e.g. macOS "._x.png" forks)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def is_ignored_dir(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


def _walk_folder(root: str) -> list[str]:
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


def class_index(name: str) -> int | None:
    """Label for a class-folder name: a CIFAR-10 class name (any case) or a single digit 0-9."""
    if len(name) == 1 and "0" <= name <= "9":
        return int(name)
    low = name.lower()
    return CIFAR10_CLASSES.index(low) if low in CIFAR10_CLASSES else None


@dataclass
class _Plan:
    images: list[str]  # posix paths relative to the source root, sorted
    labels: list[int] | None
    non_images: list[str]

    @property
    def labelled(self) -> bool:
        return self.labels is not None


def plan_layout(files: Sequence[str], where: str, unwrap: bool = False) -> _Plan:
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
        return _Plan(images, None, non_images)
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
    return _Plan(images, labels, non_images)  # type: ignore[arg-type]


def apply_labels_csv(
    plan: _Plan, read: Callable[[str], bytes], csv_name: str, shown: str, where: str
) -> _Plan:
    """The plan with labels from its labels.csv member `csv_name` (see ganbench/labels_csv.py), whose file
    names are relative to the csv's folder; class folders must agree. `shown` names the csv in errors."""
    from ganbench.labels_csv import parse_labels_csv

    prefix = csv_name[: -len(LABELS_CSV)]  # "" or a wrapping folder "samples/"
    labels = parse_labels_csv(read(csv_name), shown, [f[len(prefix) :] for f in plan.images], where)
    if plan.labels is not None and labels != plan.labels:
        bad = next(n for n, a, b in zip(plan.images, labels, plan.labels, strict=True) if a != b)
        raise UserError(f"{shown} disagrees with the class folder of {bad}; fix one of them")
    return _Plan(plan.images, labels, [f for f in plan.non_images if f != csv_name])


def labels_csv_member(plan: _Plan) -> str | None:
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


# ----------------------------------------------------------------------------------------------- helpers


def choose_subset(total: int, n: int | None, seed: int, where: str) -> tuple[np.ndarray | None, dict | None]:
    """Sorted indices of a seeded subset of n out of total (None when n is None or covers everything)."""
    if n is None or n == total:
        return None, None
    if n > total:
        raise UserError(f"asked for {n} images but {where} has only {total}; lower the number of images")
    idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    return idx, {"n": int(n), "of": int(total), "seed": int(seed)}


def check_count(count: int, min_images: int, where: str) -> None:
    if count < min_images:
        raise UserError(
            f"need at least {min_images} images (FID needs 2 or more); {where} has {count}; add images or check the path"
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
    plan: _Plan,
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
