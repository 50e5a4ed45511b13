"""Reference sets: any image source (features, cached) or a statistics file (mu, sigma only).

Statistics files use the layout TTUR and clean-fid use (`mu`, `sigma`), plus a `meta` JSON string that says
how they were made. Imported files live in $GANBENCH_CACHE/refs/<name>.npz and are used by name.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganbench.cache import atomic_save_npz
from ganbench.errors import UserError
from ganbench.weights import cache_root

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Reference:
    """Real-image side of every metric: features when built from images, else only FID statistics."""

    info: dict
    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None = None
    labels: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def refs_dir() -> Path:
    return cache_root() / "refs"


def is_stats_file(path: Path) -> bool:
    """An .npz with mu and sigma (and no images) is a statistics file, not an image source."""
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"mu", "sigma"} <= set(z.files) and "x" not in z.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def load_stats(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, sigma = np.asarray(z["mu"], np.float64), np.asarray(z["sigma"], np.float64)
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise UserError(
            f"cannot read statistics file {path} ({e}); it needs arrays mu [D] and sigma [D,D]"
        ) from e
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise UserError(
            f"statistics file {path} has mu {mu.shape} and sigma {sigma.shape}; expected mu [D] and sigma [D,D]"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise UserError(f"statistics file {path} holds NaN or inf; recompute it")
    return mu, sigma, meta


def save_stats(path: Path, mu: np.ndarray, sigma: np.ndarray, meta: dict) -> None:
    atomic_save_npz(path, {"mu": mu, "sigma": sigma, "meta": np.array(json.dumps(meta, sort_keys=True))})


def named_stats(name: str) -> Path | None:
    p = refs_dir() / f"{name}.npz"
    return p if NAME_RE.match(name) and p.is_file() else None


def import_stats(src: Path, name: str) -> Path:
    if not NAME_RE.match(name):
        raise UserError(f"reference name {name!r} must be letters, digits, '.', '_' or '-' (up to 64)")
    mu, sigma, meta = load_stats(src)
    meta = {"imported_from": str(src.resolve()), **meta}
    dest = refs_dir() / f"{name}.npz"
    save_stats(dest, mu, sigma, meta)
    return dest


def list_stats() -> list[dict]:
    out = []
    for p in sorted(refs_dir().glob("*.npz")) if refs_dir().is_dir() else []:
        try:
            mu, _, meta = load_stats(p)
            out.append({"name": p.stem, "dims": int(mu.shape[0]), **meta})
        except UserError as e:
            out.append({"name": p.stem, "error": str(e)})
    return out
