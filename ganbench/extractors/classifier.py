"""The CIFAR-10 surrogate classifier: He et al.'s CIFAR ResNet ("option A") -> {"probs": [N, 10]} in one pass.

Written here from the paper (He et al. 2016, sec. 4.2): a 3x3 conv to 16 channels, three stages of n basic
blocks at 16/32/64 channels (32x32, 16x16, 8x8), global average pooling and a 10-way linear layer; depth =
6n + 2. Shortcuts are parameter-free ("option A"): identity, or, where a stage halves the resolution and
doubles the channels, stride-2 subsampling with the new channels zero-padded. The pretrained weights are
akamaster/pytorch_resnet_cifar10's (BSD-2-Clause), whose parameter names this module's layout matches.

Weights: --classifier-weights PATH, else GANBENCH_CLASSIFIER_WEIGHTS (a file, or a folder holding the file),
else $GANBENCH_CACHE/weights/<file>, else the canonical URL (not with GANBENCH_OFFLINE=1). Every file is
verified by the sha256 prefix in its published name; a classifier trained by `ganbench classifier train`
is accepted by its self-description and recorded by its full sha256.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ganbench.atomic import atomic_copy
from ganbench.errors import UserError, note
from ganbench.extractors.backends import default_device, full_fp32
from ganbench.weights import file_hashes, offline, weights_dir

if TYPE_CHECKING:
    from ganbench.extractors.classifier_net import CifarResNet

# Bump when anything that changes the probabilities for the same weights changes (cache keys use it).
CLASSIFIER_VERSION = 1
CUSTOM_KEY = "ganbench_classifier"  # marks a checkpoint written by `ganbench classifier train`
_URL = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"


@dataclass(frozen=True)
class ClassifierSpec:
    arch: str  # "resnet20" | "resnet56"
    depth: int
    filename: str
    sha256_prefix: str
    stated_accuracy: float  # on the genuine CIFAR-10 test set, as published


KNOWN_CLASSIFIERS = {
    "resnet20": ClassifierSpec("resnet20", 20, "resnet20-12fca82f.th", "12fca82f", 0.9178),
    "resnet56": ClassifierSpec("resnet56", 56, "resnet56-4bfd9763.th", "4bfd9763", 0.9339),
}
ARCH_DEPTH = {arch: spec.depth for arch, spec in KNOWN_CLASSIFIERS.items()}


@dataclass(frozen=True)
class ResolvedClassifier:
    path: Path
    arch: str
    sha256: str
    source: str  # "akamaster" | "ganbench classifier train"

    def identity(self) -> dict:
        """What changes the probabilities: cache keys and the record use it."""
        return {
            "extractor": "cifar10-classifier",
            "version": CLASSIFIER_VERSION,
            "arch": self.arch,
            "weights_sha256": self.sha256,
        }


# ----------------------------------------------------------------------------------------------- weights


def identify(path: Path) -> ResolvedClassifier:
    """Which classifier file this is: a known one by its sha256 prefix, or one made by `classifier train`."""
    if not path.is_file():
        raise UserError(f"classifier weights file {path} does not exist; pass an existing file or unset it")
    sha256, _ = file_hashes(path)
    for spec in KNOWN_CLASSIFIERS.values():
        if sha256.startswith(spec.sha256_prefix):
            return ResolvedClassifier(path, spec.arch, sha256, "akamaster")
    import torch  # only for a file of no published hash: a known one needs no torch

    # weights_only: an unknown file is parsed as tensors and plain containers only, never run. A file that is
    # no torch checkpoint matches nothing (the error below), whatever the unpickler raises on its bytes
    # (IndexError, KeyError, TypeError as well as UnpicklingError).
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        ckpt = None
    meta = ckpt.get(CUSTOM_KEY) if isinstance(ckpt, dict) else None
    if isinstance(meta, dict) and meta.get("arch") in ARCH_DEPTH and "state_dict" in ckpt:
        return ResolvedClassifier(path, meta["arch"], sha256, "ganbench classifier train")
    names = ", ".join(s.filename for s in KNOWN_CLASSIFIERS.values())
    raise UserError(
        f"classifier weights {path} have sha256 {sha256[:16]}…, which matches no known file ({names}) and "
        "is not a `ganbench classifier train` checkpoint; re-download it or retrain"
    )


def _download(spec: ClassifierSpec, timeout: float = 20.0) -> ResolvedClassifier:
    dest = weights_dir() / spec.filename
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / spec.filename
        with urllib.request.urlopen(_URL + spec.filename, timeout=timeout) as r, open(target, "wb") as f:
            shutil.copyfileobj(r, f)
        resolved = identify(target)
        if resolved.arch != spec.arch or resolved.source != "akamaster":
            raise UserError(f"downloaded {spec.filename} does not match its published hash; try again later")
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_copy(target, dest)
    note(f"fetched {spec.filename} -> {dest}")
    return identify(dest)


def cache_copy(resolved: ResolvedClassifier) -> ResolvedClassifier:
    """A published classifier file found elsewhere (GANBENCH_CLASSIFIER_WEIGHTS, a path), copied into the
    weights cache as the Inception file is, so every verb finds it later from a bare shell. The copy is
    checked against the published hash again."""
    spec = KNOWN_CLASSIFIERS[resolved.arch]
    dest = weights_dir() / spec.filename
    if resolved.source != "akamaster" or resolved.path.resolve() == dest.resolve():
        return resolved
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(resolved.path, dest)
    return identify(dest)


def resolve_classifier(
    arch: str = "resnet56", explicit: str | os.PathLike | None = None
) -> ResolvedClassifier:
    """Verified weights for `arch`: explicit path > GANBENCH_CLASSIFIER_WEIGHTS > cache > download."""
    if arch not in KNOWN_CLASSIFIERS:
        raise UserError(f"unknown classifier {arch!r}; choose one of {', '.join(KNOWN_CLASSIFIERS)} or none")
    spec = KNOWN_CLASSIFIERS[arch]
    if explicit:  # the file decides the architecture: a trained resnet20 given by path is a resnet20
        return identify(Path(explicit))
    env = os.environ.get("GANBENCH_CLASSIFIER_WEIGHTS")
    if env:
        p = Path(env)
        if p.is_dir():
            p = p / spec.filename
        resolved = identify(p)
        if resolved.arch != arch:
            raise UserError(
                f"GANBENCH_CLASSIFIER_WEIGHTS={env} is a {resolved.arch}, but {arch} was asked for; pass "
                f"--classifier {resolved.arch}, --classifier-weights PATH, or point it at a folder"
            )
        return resolved
    cached = weights_dir() / spec.filename
    if cached.is_file():
        return identify(cached)
    if offline():
        raise UserError(
            f"no {spec.filename} in {weights_dir()} and GANBENCH_OFFLINE is set; download {_URL}"
            f"{spec.filename} into that folder, pass --classifier-weights PATH, or use --classifier none"
        )
    try:
        return _download(spec)
    except OSError as e:  # URLError is an OSError
        raise UserError(
            f"could not download {spec.filename} ({e}); put it in {weights_dir()}, pass "
            "--classifier-weights PATH, or use --classifier none"
        ) from e


# ----------------------------------------------------------------------------------------------- extractor


def build(resolved: ResolvedClassifier) -> CifarResNet:
    """The network with `resolved`'s weights, in eval mode (imports torch)."""
    from ganbench.extractors import classifier_net

    return classifier_net.build(resolved.path, ARCH_DEPTH[resolved.arch])


class ClassifierExtractor:
    """Same calling convention as InceptionExtractor, so scoring.features_for caches its output too."""

    outputs = ["probs"]

    def __init__(
        self, resolved: ResolvedClassifier, *, batch_size: int = 256, device: str | None = None
    ) -> None:
        self.resolved = resolved
        self.batch_size = batch_size
        self.device = device or default_device()
        self._net: CifarResNet | None = None  # built on first use: a cache hit needs no network

    def identity(self) -> dict:
        return self.resolved.identity()

    def describe(self) -> dict:
        """The record's description of the classifier (which file, from where, stated accuracy)."""
        spec = KNOWN_CLASSIFIERS[self.resolved.arch]
        own = self.resolved.source == "akamaster"
        return {
            **self.identity(),
            "file": self.resolved.path.name,
            "source": self.resolved.source,
            "stated_accuracy_genuine_test": spec.stated_accuracy if own else None,
        }

    def __call__(self, images: np.ndarray, *, desc: str = "classifier") -> dict[str, np.ndarray]:
        """uint8 [N,3,32,32] -> float32 softmax probabilities [N, 10]."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (3, 32, 32):
            raise ValueError(f"expected uint8 [N,3,32,32], got {images.dtype} {images.shape}")
        import torch
        from tqdm import tqdm

        from ganbench.extractors.classifier_net import normalise

        if self._net is None:
            self._net = build(self.resolved).to(self.device)
        out = np.empty((len(images), 10), np.float32)
        bar = tqdm(total=len(images), desc=desc, unit="img", file=sys.stderr, disable=len(images) <= 2048)
        with torch.inference_mode(), full_fp32(torch.device(self.device).type):
            for start in range(0, len(images), self.batch_size):
                chunk = torch.from_numpy(images[start : start + self.batch_size]).to(self.device)
                probs = torch.softmax(self._net(normalise(chunk)).double(), dim=1)
                out[start : start + len(chunk)] = probs.cpu().numpy()
                bar.update(len(chunk))
        bar.close()
        return {"probs": out}
