"""ImageSet: decoded uint8 images + labels + provenance, the one shape every input becomes; the CIFAR-10
class names; seeded subsets. The base of the inputs package: it imports nothing else of ours but errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ganbench.errors import UserError

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


def class_index(name: str) -> int | None:
    """Label for a class-folder name: a CIFAR-10 class name (any case) or a single digit 0-9."""
    if len(name) == 1 and "0" <= name <= "9":
        return int(name)
    low = name.lower()
    return CIFAR10_CLASSES.index(low) if low in CIFAR10_CLASSES else None


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
