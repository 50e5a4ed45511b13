"""Find and read CIFAR-10: an image-folder copy (train/<class>/*.jpg) or the genuine python pickles.

Resolution order: the data_dir argument (--data), then $GANBENCH_DATA, then torchvision's genuine
`cifar-10-batches-py` under $GANBENCH_CACHE/torchvision (default ~/.cache/ganbench), downloaded there when
allowed. Which copy was used is recorded in ImageSet.origin["copy"], because scores against the JPEG copy
are not comparable with scores against the genuine images.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import pickle

import numpy as np

from ganbench.errors import UserError, warn
from ganbench.inputs.decode import decode_many
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet, choose_subset, class_index
from ganbench.inputs.layout import is_image_name

GENUINE_DIR = "cifar-10-batches-py"
_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_SPLIT_SIZE = {"train": 50_000, "test": 10_000}
_WHERE_TO_GET = (
    "set GANBENCH_DATA=/path/to/cifar10 (folder with train/<class>/ images) or pass --data, "
    "or go online to download it"
)


def cache_dir() -> str:
    """$GANBENCH_CACHE, or ~/.cache/ganbench."""
    return os.environ.get("GANBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ganbench")


def resolve_cifar10(data_dir: str | None = None, *, download: bool = True) -> tuple[str, str]:
    """Return (kind, absolute path) of the CIFAR-10 copy to use.

    kind is "cifar10-jpeg-folder" / "cifar10-image-folder" (path = folder holding train/ and test/) or
    "cifar10-genuine" (path = the cifar-10-batches-py folder).
    """
    if data_dir:
        return _detect(data_dir, "data_dir/--data")
    env = os.environ.get("GANBENCH_DATA")
    if env:
        return _detect(env, "GANBENCH_DATA")
    root = os.path.join(cache_dir(), "torchvision")
    batches = os.path.abspath(os.path.join(root, GENUINE_DIR))
    if not _has_genuine(batches):
        if not download:
            raise UserError(f"no CIFAR-10 found (not in {batches}, download disabled); {_WHERE_TO_GET}")
        _download_genuine(root)
        if not _has_genuine(batches):
            raise UserError(
                f"no CIFAR-10 found: download finished but {batches} is incomplete; {_WHERE_TO_GET}"
            )
    return "cifar10-genuine", batches


def load_cifar10(
    split: str, *, data_dir: str | None = None, n: int | None = None, seed: int = 0, download: bool = True
) -> ImageSet:
    """Load CIFAR-10 `split` ("train" or "test") as uint8 [N, 3, 32, 32] with labels.

    n: a seeded subset (np.sort(default_rng(seed).choice(N, n, replace=False))), taken before decoding.
    Order: genuine pickles keep CIFAR-10's order; image-folder copies are class-major (airplane first), files
    within a class in natural name order, so the same seed picks different images from the two copies.
    """
    if split not in _BATCHES:
        raise UserError(f"unknown CIFAR-10 split '{split}'; use train or test")
    kind, path = resolve_cifar10(data_dir, download=download)
    if kind == "cifar10-genuine":
        images, labels, names, subset = _load_genuine(path, split, n, seed)
        notes: dict[str, int] = {}
    else:
        images, labels, names, subset, notes = _load_folder_copy(path, split, n, seed)
    origin = {"copy": kind, "path": path, "split": split}
    return ImageSet(images, labels, names, f"cifar10-{split}", "cifar10", notes, origin, subset)


def split_fingerprint(split: str, data_dir: str | None = None) -> tuple[str, str]:
    """(copy kind, sha256 of the split's file names, sizes and mtimes): who-is-this-copy without decoding.

    Cheap (one stat per file) so a result derived from a whole split, like the classifier's calibration
    accuracy, can be looked up without reading 10,000 images; any replaced, added or touched file changes it.
    Never downloads: a missing copy is a UserError.
    """
    kind, path = resolve_cifar10(data_dir, download=False)
    if kind == "cifar10-genuine":
        files = [(b, os.path.join(path, b)) for b in _BATCHES[split]]
    else:
        root = os.path.join(path, split)
        files = sorted(
            (os.path.relpath(os.path.join(d, f), root), os.path.join(d, f))
            for d, _, names in os.walk(root)
            for f in names
        )
    h = hashlib.sha256(f"{kind}\0{split}\n".encode())
    for rel, full in files:
        st = os.stat(full)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return kind, h.hexdigest()


# ----------------------------------------------------------------------------------------------- resolution


def _has_genuine(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, b)) for names in _BATCHES.values() for b in names)


def _detect(folder: str, told_by: str) -> tuple[str, str]:
    path = os.path.abspath(os.path.expanduser(folder))
    if not os.path.isdir(path):
        raise UserError(
            f"CIFAR-10 folder {folder} (from {told_by}) does not exist or is not a folder; fix the path"
        )
    if os.path.isdir(os.path.join(path, "train")) or os.path.isdir(os.path.join(path, "test")):
        ext = _first_image_extension(path)
        return ("cifar10-jpeg-folder" if ext in (".jpg", ".jpeg") else "cifar10-image-folder"), path
    if os.path.isdir(os.path.join(path, GENUINE_DIR)):
        return "cifar10-genuine", os.path.join(path, GENUINE_DIR)
    if any(os.path.isfile(os.path.join(path, b)) for names in _BATCHES.values() for b in names):
        return "cifar10-genuine", path
    raise UserError(
        f"{folder} (from {told_by}) is not a CIFAR-10 folder: expected train/<class>/ and test/<class>/ images "
        f"(class folders {' '.join(CIFAR10_CLASSES)}) or {GENUINE_DIR}/; fix the path"
    )


def _first_image_extension(root: str) -> str | None:
    """Extension of the first image found in any class folder: enough to tell a JPEG copy from a lossless one."""
    for split in ("train", "test"):
        split_dir = os.path.join(root, split)
        if not os.path.isdir(split_dir):
            continue
        for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
            if not entry.is_dir() or class_index(entry.name) is None:
                continue
            with os.scandir(entry.path) as files:
                for f in files:
                    if is_image_name(f.name):
                        return os.path.splitext(f.name)[1].lower()
    return None


def _download_genuine(root: str) -> None:
    try:
        os.makedirs(root, exist_ok=True)
        from torchvision.datasets import CIFAR10

        CIFAR10(root, train=True, download=True)  # fetches and unpacks both splits
    except Exception as e:  # offline (URLError), no torchvision, checksum failure, disk full...
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise UserError(
            f"no CIFAR-10 found and downloading it to {root} failed ({reason}); {_WHERE_TO_GET}"
        ) from e


# ----------------------------------------------------------------------------------------------- genuine pickles

try:  # numpy >= 2 moved the array reconstructor that the 2009 pickles name as numpy.core.multiarray
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

# Everything a CIFAR-10 batch pickle references; anything else is refused, so a planted file in a data
# folder cannot run code through pickle. _codecs.encode is how Python 3 protocol-2 pickles write bytes
# (re-pickled copies); the 2009 originals use only the numpy names.
_PICKLE_GLOBALS = {
    ("_codecs", "encode"): codecs.encode,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR-10 batch") from None


def read_batch(file: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one genuine batch file: (uint8 [N, 3072] rows of R,G,B planes, int64 [N] labels)."""
    fix = f"re-download CIFAR-10 (delete {os.path.dirname(file)} to fetch it again)"
    if not os.path.isfile(file):
        raise UserError(f"{file} is missing; {fix}")
    try:
        with open(file, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as e:  # UnpicklingError, EOFError, ValueError, ...
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise UserError(f"cannot read {file} as a CIFAR-10 python batch ({reason}); {fix}") from e
    if not isinstance(batch, dict):
        raise UserError(f"{file} is not a CIFAR-10 python batch (no data/labels dict); {fix}")
    # Keys are bytes in the original Python 2 pickles; accept str keys from re-pickled copies too.
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise UserError(f"{file} has no data/labels entries, so it is not a CIFAR-10 python batch; {fix}")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise UserError(f"{file}: data is {data.dtype} {list(data.shape)}, expected uint8 [N, 3072]; {fix}")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(
            f"{file}: labels are {labels.dtype} {list(labels.shape)}, expected {len(data)} integers; {fix}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise UserError(f"{file}: labels span {labels.min()}..{labels.max()}, expected 0..9; {fix}")
    return data, labels.astype(np.int64)


def _load_genuine(
    folder: str, split: str, n: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray, list[str], dict | None]:
    datas, labels, names = [], [], []
    for batch in _BATCHES[split]:
        data, lab = read_batch(os.path.join(folder, batch))
        datas.append(data)
        labels.append(lab)
        names += [f"{batch}[{j}]" for j in range(len(data))]
    data = np.concatenate(datas)
    label = np.concatenate(labels)
    if len(data) != _SPLIT_SIZE[split]:
        warn(
            f"{folder} holds {len(data)} {split} images, CIFAR-10 has {_SPLIT_SIZE[split]}; is the copy complete?"
        )
    idx, subset = choose_subset(len(data), n, seed, folder)
    if idx is not None:
        data, label, names = data[idx], label[idx], [names[i] for i in idx]
    # Each 3072-byte row is the 32x32 R plane, then G, then B: exactly [3, 32, 32] in C order.
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32))
    return images, np.ascontiguousarray(label), names, subset


# ----------------------------------------------------------------------------------------------- image-folder copy


def _natural_key(name: str) -> tuple:
    # "2.png" before "10.png": keeps CIFAR-10's within-class order for copies whose names are not zero-padded.
    # isdecimal() is re's \d+ (Unicode Nd), without a regex per file: 60,000 keys per cifar10 score.
    stem = os.path.splitext(name)[0]
    return (0, int(stem), name) if stem.isdecimal() else (1, 0, name)


def _load_folder_copy(
    root: str, split: str, n: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray, list[str], dict | None, dict[str, int]]:
    split_dir = os.path.join(root, split)
    if not os.path.isdir(split_dir):
        raise UserError(
            f"{split_dir} is missing; the CIFAR-10 copy at {root} needs train/ and test/ class folders"
        )
    class_dirs: dict[int, str] = {}
    for entry in os.scandir(split_dir):
        label = class_index(entry.name) if entry.is_dir() else None
        if label is None:
            continue
        if label in class_dirs:
            raise UserError(
                f"{split_dir}: folders '{class_dirs[label]}' and '{entry.name}' both mean class {label}; remove one"
            )
        class_dirs[label] = entry.name
    missing = [c for i, c in enumerate(CIFAR10_CLASSES) if i not in class_dirs]
    if missing:
        raise UserError(
            f"{split_dir} has no folder for {', '.join(missing)}; the CIFAR-10 copy is incomplete"
        )

    rels: list[str] = []
    labels: list[int] = []
    skipped: list[str] = []
    for label in range(len(CIFAR10_CLASSES)):
        sub = class_dirs[label]
        # One scandir per class and no per-file stat: the 50,000-file train split lists in well under a second.
        with os.scandir(os.path.join(split_dir, sub)) as it:
            files = [e.name for e in it if e.is_file()]
        images = sorted((f for f in files if is_image_name(f)), key=_natural_key)
        rels += [f"{split}/{sub}/{f}" for f in images]
        labels += [label] * len(images)
        skipped += [f"{split}/{sub}/{f}" for f in files if not is_image_name(f)]
    if not rels:
        raise UserError(
            f"no images found in the class folders of {split_dir}; the CIFAR-10 copy is incomplete"
        )

    notes: dict[str, int] = {}
    if skipped:
        notes["skipped_non_image"] = len(skipped)
        warn(
            f"skipped {len(skipped)} non-image files in {split_dir} ({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})"
        )
    if len(rels) != _SPLIT_SIZE[split]:
        warn(
            f"{split_dir} holds {len(rels)} images, CIFAR-10 {split} has {_SPLIT_SIZE[split]}; is the copy complete?"
        )
    idx, subset = choose_subset(len(rels), n, seed, split_dir)
    label_arr = np.asarray(labels, dtype=np.int64)
    if idx is not None:
        rels, label_arr = [rels[i] for i in idx], label_arr[idx]
    images = decode_many(
        rels, lambda r: os.path.join(root, r), lambda r: os.path.join(root, r), 32, notes, split_dir
    )
    return images, np.ascontiguousarray(label_arr), rels, subset, notes
