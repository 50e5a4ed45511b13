"""Sampling from a checkpoint alone: G is rebuilt from the checkpoint's arch and model_args."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganbench.errors import UserError
from ganbench.inputs.imageset import CIFAR10_CLASSES, ImageSet
from trainers import checkpoint
from trainers.images import replace_folder
from trainers.loop import pick_device, render
from trainers.registry import ARCHS, arch_module
from trainers.settings import make_config


def load_generator(ckpt_path: str | Path, device: str = "auto") -> tuple[nn.Module, dict]:
    """-> (G in eval mode with the EMA weights when the checkpoint has them, the checkpoint dict)."""
    ckpt = checkpoint.load(ckpt_path)
    if ckpt["arch"] not in ARCHS:
        raise UserError(f"{ckpt_path}: unknown arch {ckpt['arch']!r} (this version knows {', '.join(ARCHS)})")
    arch = arch_module(ckpt["arch"])
    G = arch.Generator(make_config(arch.Config, ckpt["model_args"]))
    G.load_state_dict(ckpt["G_ema"] if ckpt.get("G_ema") is not None else ckpt["G"])
    return G.to(pick_device(device)).eval(), ckpt


def generate(
    ckpt_path: str | Path,
    n: int,
    per_class: bool = False,
    seed: int = 0,
    batch_size: int = 500,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images from a checkpoint (file or run folder): (uint8 [N, 3, 32, 32], int64 labels [N] or None).

    Conditional models: labels cycle 0..9 (N = n), or with per_class, n images of each class in class order
    (N = 10 n). Unconditional models: N = n, labels None. The latents come from `seed` alone.
    """
    G, ckpt = load_generator(ckpt_path, device)
    return _draw(G, ckpt, n, per_class, seed, batch_size)


def checkpoint_images(
    ckpt_path: str | Path, n: int, seed: int = 0, batch_size: int = 500, device: str = "auto"
) -> tuple[np.ndarray, np.ndarray | None, dict[str, str]]:
    """`ganbench score CKPT`: n images from a checkpoint file, their labels, and where they came from.

    Conditional models: labels cycle through the classes (n / 10 of each). The latents come from `seed` alone,
    so the same (checkpoint, n, seed) gives the same images, and the feature cache hits.
    """
    path = checkpoint.resolve(ckpt_path)
    G, ckpt = load_generator(path, device)
    images, labels = _draw(G, ckpt, n, False, seed, batch_size)
    origin = {
        "path": str(path.resolve()),  # the leaderboard finds the run folder (config.json, log.csv) above it
        "checkpoint": path.name,
        "arch": str(ckpt["arch"]),
        "step": str(ckpt["step"]),
        "generator": "G_ema" if ckpt.get("G_ema") is not None else "G",
        "latent_seed": str(seed),
        "device": str(next(G.parameters()).device),
    }
    return images, labels, origin


CHECKPOINT_N = 10_000  # images generated from a checkpoint when no --n is given (FID-10k)


def checkpoint_source(path: str, spec: str, n: int | None, seed: int, device: str = "auto") -> ImageSet:
    """ganbench's loader for `.pt` (the `ganbench.loaders` entry point): n images generated with seed."""
    images, labels, origin = checkpoint_images(path, n or CHECKPOINT_N, seed, device=device)
    names = [f"G[{i}]" for i in range(len(images))]
    return ImageSet(np.ascontiguousarray(images), labels, names, spec, "checkpoint", {}, origin)


def _draw(
    G: nn.Module, ckpt: dict, n: int, per_class: bool, seed: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    arch = arch_module(ckpt["arch"])
    cfg = make_config(arch.Config, ckpt["model_args"])
    if arch.CONDITIONAL:
        k = cfg.n_classes
        labels = torch.arange(k).repeat_interleave(n) if per_class else torch.arange(n) % k
    elif per_class:
        raise UserError(f"--per-class: {ckpt['arch']} is unconditional, it has no classes to sample")
    else:
        labels = None
    count = n if labels is None else labels.shape[0]
    z = torch.randn(count, cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    images = render(G, z, labels, batch_size)
    return images, None if labels is None else labels.numpy()


def write_samples(
    ckpt_path: str | Path,
    out: Path,
    n: int,
    per_class: bool = False,
    seed: int = 0,
    batch_size: int = 500,
    device: str = "auto",
) -> int:
    """`ganbench sample`: PNGs into out/<class>/<i>.png (conditional) or out/<i>.png. Returns the count."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out} is not empty; give a new folder so samples of two runs never mix")
    G, ckpt = load_generator(ckpt_path, device)
    images, labels = _draw(G, ckpt, n, per_class, seed, batch_size)
    names = ckpt.get("class_names") or list(CIFAR10_CLASSES)
    replace_folder(images, out, labels, names if labels is not None else None, flat=True)
    return images.shape[0]
