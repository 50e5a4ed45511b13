"""Decode one image file into 8-bit RGB: colour modes, bit depth, odd sizes, truncated files.

What had to be changed is counted in the caller's `notes` dict, so the result record can say so.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ganbench.errors import UserError, warn

# What PIL documents (and does) raise on a truncated, corrupt or hostile file. Anything else is our bug and
# must traceback, not be reported as a bad file.
PIL_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


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


def reason(e: BaseException) -> str:
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
    except PIL_DECODE_ERRORS as e:
        raise UserError(
            f"cannot decode {display} ({reason(e)}); the file is truncated or corrupt: delete or re-export it"
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
