"""Resize policies: uint8 [N,3,H,W] -> float32 [N,3,299,299] in 0..255, the FID Inception's input.

- `legacy-tf`: TensorFlow 1.x bilinear (align_corners=False, no half-pixel centres), the resize inside the
  original TF FID graph and torch-fidelity. Computed exactly as torch-fidelity's "slow" method, which it
  states is bit-exact to TF on CPU.
- `clean`: clean-fid's "clean" mode, PIL bicubic per channel in float mode, clipped to 0..255.
- `torch-bilinear`: F.interpolate(bilinear, align_corners=False) on the 0..255 floats, clipped: pytorch-fid's
  resize and clean-fid's `legacy_pytorch` mode.
- `pil-bilinear`: PIL bilinear on the uint8 RGB image to 299x299, quantised to uint8 as PIL returns it: what
  torchvision's transforms.Resize(299) does to a PIL image (the AC-BigGAN write-up's protocol).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.extractors import RESIZE_POLICIES as POLICIES

SIZE = 299


def _legacy_tf(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape

    def grid(size_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.arange(0, SIZE, 1, dtype=torch.float32, device=x.device)
        g = g * torch.tensor(size_in / SIZE, dtype=torch.float32)
        lo = g.long()
        hi = (lo + 1).clamp_max(size_in - 1)
        return lo, hi, g - lo.float()

    xl, xh, dx = grid(w)
    yl, yh, dy = grid(h)
    top, bottom = x[:, :, yl, :], x[:, :, yh, :]
    in_0 = top[:, :, :, xl] + (top[:, :, :, xh] - top[:, :, :, xl]) * dx.view(1, 1, 1, SIZE)
    in_1 = bottom[:, :, :, xl] + (bottom[:, :, :, xh] - bottom[:, :, :, xl]) * dx.view(1, 1, 1, SIZE)
    return in_0 + (in_1 - in_0) * dy.view(1, 1, SIZE, 1)


def _clean(x: torch.Tensor) -> torch.Tensor:
    arr = x.cpu().numpy()
    out = np.empty((arr.shape[0], 3, SIZE, SIZE), dtype=np.float32)
    for i, img in enumerate(arr):
        for ch in range(3):
            # float32 arrays open in PIL mode "F", so the bicubic filter runs on unquantised values
            resized = Image.fromarray(img[ch]).resize((SIZE, SIZE), resample=Image.BICUBIC)
            out[i, ch] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out).to(x.device)


def _torch_bilinear(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 255)


def _pil_bilinear(x: torch.Tensor) -> torch.Tensor:
    arr = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty((arr.shape[0], SIZE, SIZE, 3), dtype=np.uint8)
    for i, img in enumerate(arr):
        out[i] = np.asarray(Image.fromarray(img).resize((SIZE, SIZE), resample=Image.BILINEAR))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(torch.float32).contiguous().to(x.device)


def resize(images: torch.Tensor, policy: str) -> torch.Tensor:
    """uint8 (or float) [N,3,H,W] -> float32 [N,3,299,299], values in 0..255."""
    x = images.to(torch.float32)
    if policy == "legacy-tf":
        return _legacy_tf(x)
    if policy == "clean":
        return _clean(x)
    if policy == "torch-bilinear":
        return _torch_bilinear(x)
    if policy == "pil-bilinear":
        return _pil_bilinear(x)
    raise ValueError(f"unknown resize policy {policy!r}; choose one of {', '.join(POLICIES)}")
