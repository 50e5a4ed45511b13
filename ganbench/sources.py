"""Load an image source (folder, class folders, .zip, .npz or a named CIFAR-10 split) into one uint8 array.

Every entry point returns an `ImageSet` of uint8 [N, 3, S, S] images so that the extractors never see file
formats, colour modes or odd sizes. What had to be changed to get there is counted in `ImageSet.notes`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

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
            result = _resized_copy(result, image_size)
        _check_count(len(result), min_images, spec)
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
        plan = _plan_layout(files, path)
        kind = "class-folders" if plan.labelled else "folder"
        return _decode_plan(
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
        return _load_zip(path, spec, origin, n, seed, strict, image_size, min_images)
    if lower.endswith(".npz"):
        return _load_npz(path, spec, origin, n, seed, image_size, min_images)
    raise UserError(
        f"{spec} is a file but not a .zip or .npz; pass a folder of images, a .zip of one, "
        f"a .npz with x=uint8 [N,H,W,3], or one of {', '.join(NAMED_SOURCES)}"
    )


# ----------------------------------------------------------------------------------------------- listing


def is_image_name(name: str) -> bool:
    """True for a file name with an image extension that is not hidden (e.g. macOS "._x.png" forks)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _is_ignored_dir(name: str) -> bool:
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
            raise UserError(f"cannot list {abs_dir} ({_reason(e)}); check its permissions") from e
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            # is_dir/is_file use the d_type from the directory listing: no stat per file.
            if entry.is_dir():
                if not _is_ignored_dir(entry.name):
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


def _plan_layout(files: Sequence[str], where: str, unwrap: bool = False) -> _Plan:
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


# ----------------------------------------------------------------------------------------------- decoding


@contextmanager
def _truncated_images_fail() -> Iterator[None]:
    # Other libraries often set LOAD_TRUNCATED_IMAGES=True globally; a truncated file must be an error
    # here (it would silently become grey pixels and bias every metric), so force False while decoding.
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def _reason(e: BaseException) -> str:
    if isinstance(e, UnidentifiedImageError):
        return "not a recognised image format"
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def _count(notes: dict[str, int], key: str) -> None:
    notes[key] = notes.get(key, 0) + 1


def _scale_16_to_8(a: np.ndarray) -> np.ndarray:
    """Map 0..65535 to 0..255 by rounding (65535 -> 255, 257*k -> k): scaled, never clipped at 255."""
    return ((np.clip(a.astype(np.int64), 0, 65535) + 128) // 257).astype(np.uint8)


def _to_rgb(img: Image.Image, sixteen_bit: bool, notes: dict[str, int]) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, counting each kind of conversion in notes.

    An image can count under several keys: a 16-bit grayscale PNG is both converted_16bit and
    converted_grayscale. Alpha is DROPPED (RGB kept as stored), the same as PIL's convert("RGB") used by
    torch-fidelity and clean-fid, so scores stay comparable with theirs; it is not composited on black.
    """
    mode = img.mode
    if sixteen_bit:
        _count(notes, "converted_16bit")
    if mode == "RGB":
        # 16-bit RGB(A) PNGs arrive as RGB(A) already: PIL keeps the high byte (v >> 8).
        return img
    if mode in ("RGBA", "RGBa", "RGBX"):
        if mode != "RGBX":
            _count(notes, "converted_rgba")
        return img.convert("RGB")
    if mode in ("LA", "La", "PA"):
        _count(notes, "converted_rgba")
        _count(notes, "converted_palette" if mode == "PA" else "converted_grayscale")
        return img.convert("RGBA").convert("RGB")
    if mode == "P":
        _count(notes, "converted_palette")
        if "transparency" in img.info:
            # Through RGBA so PIL applies the transparency index instead of warning; alpha then dropped.
            _count(notes, "converted_rgba")
            return img.convert("RGBA").convert("RGB")
        return img.convert("RGB")
    if mode in ("L", "1"):
        _count(notes, "converted_grayscale")
        return img.convert("RGB")
    if mode.startswith("I") or mode == "F":
        _count(notes, "converted_grayscale")
        a = np.asarray(img)
        if mode == "F":
            a = a.astype(np.float64)
            # Floats in 0..1 are scaled; anything else is taken as already 0..255.
            a = a * 255.0 if np.nanmax(a, initial=0.0) <= 1.0 else a
            gray = np.clip(np.nan_to_num(a).round(), 0, 255).astype(np.uint8)
        elif mode.startswith("I;16") or a.max(initial=0) > 255:
            if not sixteen_bit:  # "I" holding 16-bit values, or an I;16 from a non-PNG decoder
                _count(notes, "converted_16bit")
            gray = _scale_16_to_8(a)
        else:  # 32-bit "I" that only holds 0..255
            gray = np.clip(a, 0, 255).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2)))
    if mode == "CMYK":
        _count(notes, "converted_cmyk")
    else:
        _count(notes, "converted_other")
    return img.convert("RGB")


def decode_image(fp: str | IO[bytes], display: str, notes: dict[str, int]) -> Image.Image:
    """Open, fully decode and convert one image to 8-bit RGB (not resized). Corrupt/truncated -> UserError."""
    try:
        with Image.open(fp) as img:
            # The PNG tile's raw mode is the only place the 16-bit depth is still visible before load().
            sixteen = img.format == "PNG" and any(";16" in str(t.args) for t in img.tile)
            img.load()
            rgb = _to_rgb(img, sixteen, notes)
            # An RGB input comes back as the opened image itself: copy it so nothing depends on the file
            # handle that the with-block closes.
            return img.copy() if rgb is img else rgb
    except UserError:
        raise
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise UserError(
            f"cannot decode {display} ({_reason(e)}); the file is truncated or corrupt: delete or re-export it"
        ) from e


def _size_warning(odd: Counter, image_size: int, where: str) -> None:
    total = sum(odd.values())
    sizes = ", ".join(f"{w}x{h}" for (w, h), _ in odd.most_common(5)) + (", ..." if len(odd) > 5 else "")
    warn(
        f"{total} image{'s are' if total != 1 else ' is'} not {image_size}x{image_size} in {where} "
        f"(sizes seen: {sizes}); resized to {image_size}x{image_size} with PIL bicubic"
    )


def decode_many(
    refs: Sequence[str],
    open_ref: Callable[[str], str | IO[bytes]],
    display: Callable[[str], str],
    image_size: int,
    notes: dict[str, int],
    where: str,
) -> np.ndarray:
    """Decode refs into uint8 [N, 3, S, S], resizing odd sizes with PIL bicubic (counted + one warning)."""
    from tqdm import tqdm

    out = np.empty((len(refs), 3, image_size, image_size), dtype=np.uint8)
    odd: Counter = Counter()
    with _truncated_images_fail():
        # Progress bar only for big loads on a terminal (disable=None turns it off when not a TTY).
        for i, ref in enumerate(
            tqdm(refs, desc="decoding", unit="img", leave=False, disable=None if len(refs) >= 2000 else True)
        ):
            rgb = decode_image(open_ref(ref), display(ref), notes)
            if rgb.size != (image_size, image_size):
                odd[rgb.size] += 1
                rgb = rgb.resize((image_size, image_size), Image.Resampling.BICUBIC)
            out[i] = np.asarray(rgb).transpose(2, 0, 1)
    if odd:
        notes["resized"] = notes.get("resized", 0) + sum(odd.values())
        _size_warning(odd, image_size, where)
    return out


def resize_array(images: np.ndarray, image_size: int, notes: dict[str, int], where: str) -> np.ndarray:
    """Resize uint8 [N, 3, H, W] to image_size with PIL bicubic (same path as decoded files)."""
    n, _, h, w = images.shape
    if (h, w) == (image_size, image_size):
        return images
    out = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    for i in range(n):
        img = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)))
        out[i] = np.asarray(img.resize((image_size, image_size), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    if n:
        notes["resized"] = notes.get("resized", 0) + n
        _size_warning(Counter({(w, h): n}), image_size, where)
    return out


def _resized_copy(result: ImageSet, image_size: int) -> ImageSet:
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


def _check_count(count: int, min_images: int, where: str) -> None:
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


def _decode_plan(
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
    _check_count(len(plan.images), min_images, where)
    idx, subset = choose_subset(len(plan.images), n, seed, where)
    names = plan.images if idx is None else [plan.images[i] for i in idx]
    labels = None
    if plan.labels is not None:
        all_labels = np.asarray(plan.labels, dtype=np.int64)
        labels = np.ascontiguousarray(all_labels if idx is None else all_labels[idx])
    _check_count(len(names), min_images, f"the subset of {where}")
    images = decode_many(names, open_ref, display, image_size, notes, where)
    return ImageSet(images, labels, list(names), source, kind, notes, origin, subset)


# ----------------------------------------------------------------------------------------------- zip / npz

_DRIVE = re.compile(r"^[A-Za-z]:")


def _load_zip(
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
        raise UserError(f"cannot open {spec} as a zip ({_reason(e)}); re-create the archive") from e
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
            if any(_is_ignored_dir(part) for part in name.split("/")[:-1]):
                continue
            members[name] = raw
        plan = _plan_layout(sorted(members), spec, unwrap=True)

        def open_member(name: str) -> IO[bytes]:
            try:
                return io.BytesIO(zf.read(members[name]))
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as e:
                raise UserError(
                    f"cannot read {name} in {spec} ({_reason(e)}); re-create the zip (encrypted or damaged member)"
                ) from e

        return _decode_plan(
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


def _load_npz(
    path: str, spec: str, origin: dict[str, str], n: int | None, seed: int, image_size: int, min_images: int
) -> ImageSet:
    expected = "expected uint8 x as [N,H,W,3] or [N,3,H,W] (and optional integer y in 0..9)"
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:  # BadZipFile, ValueError (pickled objects), OSError, EOFError
        raise UserError(
            f"cannot read {spec} as .npz ({_reason(e)}); re-save it with numpy.savez(path, x=..., y=...)"
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
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"cannot read arrays from {spec} ({_reason(e)}); re-save it with numpy.savez") from e

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

    _check_count(total, min_images, spec)
    idx, subset = choose_subset(total, n, seed, spec)
    if idx is not None:
        x = x[idx]
        labels = None if labels is None else np.ascontiguousarray(labels[idx])
        names = [f"x[{i}]" for i in idx]
    else:
        names = [f"x[{i}]" for i in range(total)]
    _check_count(len(names), min_images, f"the subset of {spec}")
    images = np.ascontiguousarray(x if nchw else x.transpose(0, 3, 1, 2))
    notes: dict[str, int] = {}
    images = resize_array(images, image_size, notes, spec)
    return ImageSet(images, labels, names, spec, "npz", notes, origin, subset)
