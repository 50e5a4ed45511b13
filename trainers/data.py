"""CIFAR-10 for training: the whole set in memory as uint8, batches made on the device.

Loading is ganbench's (`ganbench.inputs.datasets.load_cifar10`): the image-folder copy or torchvision's
pickles, the same copy and order that `ganbench score --ref cifar10-train` reads.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

from ganbench.errors import UserError
from ganbench.inputs.datasets import load_cifar10
from ganbench.inputs.imageset import CIFAR10_CLASSES

__all__ = ["CIFAR10_CLASSES", "BatchSampler", "load_training_set", "resolve_data_dir"]


def resolve_data_dir(data: str | None) -> str | None:
    """--data, else $GANBENCH_DATA, else None (ganbench.inputs.datasets' own default)."""
    return data or os.environ.get("GANBENCH_DATA") or None


def load_training_set(data_dir: str | None, concat_test: bool = False) -> tuple[Tensor, Tensor]:
    """-> images uint8 [N, 3, 32, 32], labels int64 [N] (CIFAR-10 train, plus test with concat_test)."""
    parts = [_load_split("train", data_dir)]
    if concat_test:
        parts.append(_load_split("test", data_dir))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _load_split(split: str, data_dir: str | None) -> tuple[Tensor, Tensor]:
    s = load_cifar10(split, data_dir=data_dir)
    return torch.as_tensor(np.asarray(s.images)), torch.as_tensor(np.asarray(s.labels), dtype=torch.int64)


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
