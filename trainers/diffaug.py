"""DiffAugment (Zhao et al. 2020), policy "color,translation,cutout".

Differentiable augmentations applied to every image D sees, real and fake, in both the D and the G update,
so that G is not pushed towards producing augmented images. A fresh draw per sample, from torch's RNG.
"""

from __future__ import annotations

import torch
from torch import Tensor


def diff_augment(x: Tensor) -> Tensor:
    return cutout(translation(color(x)))


def _uniform(x: Tensor) -> Tensor:
    """One U(0, 1) number per sample, shaped to broadcast over [C, H, W]."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def color(x: Tensor) -> Tensor:
    """Random brightness (+[-0.5, 0.5]), saturation (x[0, 2]) and contrast (x[0.5, 1.5])."""
    x = x + (_uniform(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ratio * size pixels in x and y, filling with zeros."""
    b, _, h, w = x.shape
    s = int(h * ratio + 0.5)
    dy = torch.randint(-s, s + 1, (b, 1), device=x.device)
    dx = torch.randint(-s, s + 1, (b, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None] + dy + s  # [B, H] indices into the padded image
    cols = torch.arange(w, device=x.device)[None] + dx + s  # [B, W]
    padded = torch.nn.functional.pad(x, [s, s, s, s])
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # [B,H,W,C] -> [B,C,H,W]


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ratio * size per image, centred anywhere (it may be clipped by the border)."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - sh % 2), (b, 1), device=x.device)
    cx = torch.randint(0, w + (1 - sw % 2), (b, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None]
    xs = torch.arange(w, device=x.device)[None]
    in_y = (ys >= cy - sh // 2) & (ys < cy - sh // 2 + sh)  # [B, H]
    in_x = (xs >= cx - sw // 2) & (xs < cx - sw // 2 + sw)  # [B, W]
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)
