"""The contract between the shared loop and a model file (the files are listed in trainers/registry.py).

A model file (`trainers/dcgan.py`, ...) provides:

- `Config`: a frozen dataclass of the model's recipe (widths, z size, learning rates, loss options). Every
  Config has `z_dim`, `lr_g`, `lr_d`, `beta1`, `beta2`; conditional ones have `n_classes`; one with an EMA
  generator has `ema_decay` (> 0 turns it on) and `ema_start` (before it the copy tracks G); the loop
  updates the copy after each `step()`.
- `CONDITIONAL`: whether G and D take class labels.
- `PRESETS`: {"smoke" | "cpu" | "paper": {setting: value}}; keys are Config fields or `TrainSettings` fields.
- `Generator(cfg)`: `G(z, y)` -> images in [-1, 1], [B, 3, 32, 32] (`y` is None for unconditional models).
- `Discriminator(cfg)`: used only by the model's own `step()`.
- `step(nets, cfg, batches, it) -> dict[str, float]`: one training iteration (n_dis D updates + one G update).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

# A batch source: each call returns the next real batch (images float in [-1, 1], labels int64).
Batches = Callable[[], tuple[Tensor, Tensor]]


@dataclass
class Nets:
    """Everything a training step updates."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    G_ema: nn.Module | None = None  # an exponential moving average of G's weights, sampled from when present


def make_nets(arch: ModuleType, cfg: Any, device: torch.device, channels_last: bool = False) -> Nets:
    """Build G, D, their Adam optimisers and (when the Config asks for one) the EMA copy of G."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = arch.Generator(cfg).to(device, memory_format=fmt)
    D = arch.Discriminator(cfg).to(device, memory_format=fmt)
    betas = (cfg.beta1, cfg.beta2)
    nets = Nets(
        G=G,
        D=D,
        opt_G=torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas),
        opt_D=torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas),
    )
    if getattr(cfg, "ema_decay", 0.0) > 0:
        nets.G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    return nets


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BN statistics, SN vectors) are copied.

    decay = 0 copies the weights, which is what BigGAN does before the EMA start step.
    """
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, nothing on CPU (bit-exact CPU runs are what the resume test checks)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No weight gradients for `module` inside the block (D during the G update: saves a third of D's backward).

    Under DDP the forward also runs in no_sync(): otherwise D's reducer would wait for gradients that a frozen
    D never produces, and fail at its next forward.
    """
    module.requires_grad_(False)
    try:
        with module.no_sync() if isinstance(module, DistributedDataParallel) else contextlib.nullcontext():
            yield
    finally:
        module.requires_grad_(True)


def random_labels(n: int, n_classes: int, device: torch.device) -> Tensor:
    """Uniform class labels for fake batches."""
    return torch.randint(0, n_classes, (n,), device=device)


def descend(opt: torch.optim.Optimizer, loss: Tensor) -> None:
    """One optimiser step on `loss` (gradients cleared first, to None: no stale zeros kept)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
