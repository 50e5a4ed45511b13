"""Content-addressed feature cache.

Key = sha256 of (image content hash + extractor identity: network, weights hash, resize policy, version).
Entries are .npz files written to a temp name and moved into place with os.replace, so concurrent writers of
the same key both succeed and leave one valid entry, and a killed run leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from ganbench import parallel
from ganbench.atomic import atomic_write, writing
from ganbench.weights import cache_root

META = "__meta__"


def features_dir() -> Path:
    return cache_root() / "features"


def make_key(content_hash: str, extractor_identity: dict) -> str:
    blob = json.dumps({"images": content_hash, **extractor_identity}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _path(key: str) -> Path:
    return features_dir() / key[:2] / f"{key}.npz"


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into a temp file beside `path`, then os.replace: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **arrays), suffix=".tmp.npz")


def get(key: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None on a miss. An unreadable entry counts as a miss and is removed."""
    path = _path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files if k != META}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        path.unlink(missing_ok=True)
        return None


def put(key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Store arrays under key; in a process group only rank 0 writes (every rank holds the same arrays)."""
    if not parallel.is_main():
        return
    payload = dict(arrays)
    payload[META] = np.array(json.dumps(meta, sort_keys=True))
    with writing(features_dir(), "set GANBENCH_CACHE to a folder on another disk", what="the feature cache"):
        atomic_save_npz(_path(key), payload)


def info() -> dict:
    files = list(features_dir().glob("*/*.npz")) if features_dir().is_dir() else []
    return {
        "root": str(cache_root()),
        "feature_entries": len(files),
        "feature_bytes": sum(f.stat().st_size for f in files),
        "entries": [_describe(f) for f in sorted(files, key=lambda f: f.stat().st_mtime)],
    }


def _describe(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z[META])) if META in z.files else {}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        meta = {"unreadable": True}
    return {"key": path.stem, "bytes": path.stat().st_size, **meta}


def clear() -> int:
    """Remove every cached feature entry (weights and exported models stay). Returns the count removed."""
    root = features_dir()
    count = len(list(root.glob("*/*.npz"))) if root.is_dir() else 0
    shutil.rmtree(root, ignore_errors=True)
    return count
