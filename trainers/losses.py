"""GAN losses as tiny pure functions of discriminator outputs (computed in float32)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def bce_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Original GAN discriminator loss: -log D(x) - log(1 - D(G(z)))."""
    real, fake = real_logits.float(), fake_logits.float()
    return F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def bce_g(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: -log D(G(z))."""
    fake = fake_logits.float()
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def hinge_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge discriminator loss (Lim & Ye 2017; used by SAGAN and BigGAN)."""
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def hinge_g(fake_logits: Tensor) -> Tensor:
    return -fake_logits.float().mean()


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP: E[(||grad_x D(x_hat)||_2 - 1)^2] on random points between real and fake (Gulrajani et al.)."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).float().sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def accuracy(class_logits: Tensor, labels: Tensor) -> float:
    return (class_logits.argmax(dim=1) == labels).float().mean().item()


# The source losses a D with a real/fake logit can use: name -> (D's loss, G's loss).
LOSSES = {"bce": (bce_d, bce_g), "hinge": (hinge_d, hinge_g)}


def check_d_options(cfg: Any) -> None:
    """The D options cgan and acgan share (d_norm, loss, d_mbstd): a ValueError naming a bad value."""
    if cfg.d_norm not in ("batch", "spectral"):
        raise ValueError(f"d_norm must be 'batch' or 'spectral', not {cfg.d_norm!r}")
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {cfg.loss!r}")
    if cfg.d_mbstd < 0:
        raise ValueError(f"d_mbstd must be 0 (off) or a group size of 1 or more, not {cfg.d_mbstd}")
