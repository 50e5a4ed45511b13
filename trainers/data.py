"""CIFAR-10 for training: the whole set in memory as uint8, batches made on the device.

Loading goes through `ganbench.datasets.load_cifar10` when that module exists (it also reads torchvision's
pickles); otherwise a small loader reads the image-folder layout `<DIR>/<split>/<class>/*.jpg|png`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganbench.errors import UserError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
EXPECTED_LAYOUT = (
    "expected DIR/train/<class>/*.jpg (or .png; DIR/test/<class>/ too for --concat-test) with the 10 class "
    f"folders {' '.join(CIFAR10_CLASSES)}, or torchvision's DIR/cifar-10-batches-py"
)


def resolve_data_dir(data: str | None) -> str | None:
    """--data, else $GANBENCH_DATA, else None (ganbench.datasets' own default, if it has one)."""
    return data or os.environ.get("GANBENCH_DATA") or None


def load_training_set(data_dir: str | None, concat_test: bool = False) -> tuple[Tensor, Tensor]:
    """-> images uint8 [N, 3, 32, 32], labels int64 [N] (CIFAR-10 train, plus test with concat_test)."""
    parts = [_load_split("train", data_dir)]
    if concat_test:
        parts.append(_load_split("test", data_dir))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _load_split(split: str, data_dir: str | None) -> tuple[Tensor, Tensor]:
    if data_dir is not None:
        _check_layout(Path(data_dir))
    load_cifar10 = _ganbench_loader()
    if load_cifar10 is not None:
        s = load_cifar10(split, data_dir=data_dir)
        return torch.as_tensor(np.asarray(s.images)), torch.as_tensor(np.asarray(s.labels), dtype=torch.int64)
    if data_dir is None:
        raise UserError(
            "no CIFAR-10 copy given: pass --data DIR or set GANBENCH_DATA=DIR; " + EXPECTED_LAYOUT
        )
    return load_image_folder(Path(data_dir) / split)


def _ganbench_loader() -> Callable | None:
    """ganbench.datasets.load_cifar10, or None while that module does not exist."""
    try:
        from ganbench.datasets import load_cifar10
    except ImportError as e:
        if e.name in ("ganbench.datasets", "ganbench"):
            return None
        raise
    return load_cifar10


def _check_layout(root: Path) -> None:
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist; " + EXPECTED_LAYOUT)
    pickles = (root / "cifar-10-batches-py").is_dir() or (root / "data_batch_1").is_file()
    if not (root / "train").is_dir() and not pickles:
        raise UserError(f"data folder {root} has the wrong layout: " + EXPECTED_LAYOUT)


def load_image_folder(split_dir: Path) -> tuple[Tensor, Tensor]:
    """<split_dir>/<class>/*.jpg|png for the 10 CIFAR-10 classes -> (uint8 [N,3,32,32], int64 labels [N])."""
    missing = [c for c in CIFAR10_CLASSES if not (split_dir / c).is_dir()]
    if missing:
        raise UserError(f"{split_dir} lacks class folder(s) {' '.join(missing)}: " + EXPECTED_LAYOUT)
    images, labels = [], []
    for label, name in enumerate(CIFAR10_CLASSES):
        files = sorted(p for p in (split_dir / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{split_dir / name} has no .jpg/.png images: " + EXPECTED_LAYOUT)
        for path in files:
            try:
                with Image.open(path) as im:
                    arr = np.asarray(im.convert("RGB"))
            except OSError as e:
                raise UserError(f"{path} is not a readable image ({e}); remove or replace it") from None
            if arr.shape != (32, 32, 3):
                raise UserError(f"{path} is {arr.shape[1]}x{arr.shape[0]}, expected a 32x32 CIFAR-10 image")
            images.append(arr)
            labels.append(label)
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels)


def _generator(seed: int, stream: int, index: int) -> torch.Generator:
    """A CPU generator for (seed, stream, index), well mixed by numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)


class BatchSampler:
    """Shuffled epochs over an in-memory uint8 set, the last partial batch of each epoch dropped.

    Batch k's order and flips are functions of (seed, k) alone, so the whole sampler state is `drawn`,
    the number of batches drawn so far: a resumed run sets it and gets the same batches.

    Data-parallel (world > 1): batch k is the world x batch_size images a single process would draw, and
    rank r takes the r-th slice of it, so the ranks see distinct images of the same epoch. world = 1 is the
    single-process sampler exactly.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        seed: int,
        flip: bool = True,
        drawn: int = 0,
        device: torch.device | None = None,
        channels_last: bool = False,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if batch_size * world > images.shape[0]:
            processes = f" x {world} processes" if world > 1 else ""
            raise UserError(
                f"--batch-size {batch_size}{processes} is larger than the dataset ({images.shape[0]} images)"
            )
        self.device = device or torch.device("cpu")
        self.images, self.labels = images.to(self.device), labels.to(self.device)
        self.batch_size, self.seed, self.flip, self.drawn = batch_size, seed, flip, drawn
        self.channels_last = channels_last
        self.rank, self.world = rank, world
        self.per_epoch = images.shape[0] // (batch_size * world)
        self._perm_epoch, self._perm = -1, torch.empty(0)

    @property
    def epoch(self) -> float:
        """Epochs done, fractional."""
        return self.drawn / self.per_epoch

    def __call__(self) -> tuple[Tensor, Tensor]:
        """-> (images float [B, 3, 32, 32] in [-1, 1], labels int64 [B]) on the device."""
        epoch, k = divmod(self.drawn, self.per_epoch)
        if epoch != self._perm_epoch:
            perm = torch.randperm(self.images.shape[0], generator=_generator(self.seed, 0, epoch))
            self._perm, self._perm_epoch = perm.to(self.device), epoch
        lo = (k * self.world + self.rank) * self.batch_size
        idx = self._perm[lo : lo + self.batch_size]
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        if self.flip:
            coins = torch.rand(self.batch_size * self.world, generator=_generator(self.seed, 1, self.drawn))
            mirror = coins[self.rank * self.batch_size : (self.rank + 1) * self.batch_size] < 0.5
            x = torch.where(mirror.to(self.device)[:, None, None, None], x.flip(3), x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self.drawn += 1
        return x, self.labels[idx]
