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
- `step(nets, cfg, batches, it) -> dict[str, float]`: one training iteration (n_dis D updates + one G update);
  forward passes under `autocast(device, nets.precision)`, updates through `descend(opt, loss, scaler)`.
- `DOUBLE_BACKWARD` (optional, default False): the step differentiates through D's gradient (a gradient
  penalty), which torch.compile does not support: --compile then leaves D uncompiled.
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
    precision: str = (
        "fp32"  # of the forward passes: "fp32", or "bf16" / "fp16" autocast (see train_precision)
    )
    scaler_G: torch.amp.GradScaler | None = None  # loss scaling of G's fp16 updates (None: not fp16)
    scaler_D: torch.amp.GradScaler | None = None


PRECISIONS = ("fp32", "bf16", "fp16")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16() -> bool:
    """Whether the current CUDA device has native bf16 (compute capability 8.0+: A100, L4, H100, ...).

    torch.cuda.is_bf16_supported() alone also says yes for T4s and V100s, which only emulate bf16 (and cuDNN
    has no bf16 convolutions below 8.0: slow fallbacks, or an error)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # an older torch has no including_emulation: compute capability 8.0 is its rule too
        return torch.cuda.get_device_capability()[0] >= 8


def train_precision(device: torch.device) -> str:
    """The training precision on `device`: bf16 autocast on GPUs with native bf16; fp16 autocast with loss
    scaling on older GPUs (T4, V100: their tensor cores take fp16; fp32 runs at a fraction of their speed);
    fp32 on the CPU (bit-exact runs, which the resume test checks)."""
    if device.type != "cuda":
        return "fp32"
    return "bf16" if native_bf16() else "fp16"


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3, any device
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()


def make_nets(
    arch: ModuleType,
    cfg: Any,
    device: torch.device,
    channels_last: bool = False,
    precision: str | None = None,
) -> Nets:
    """Build G, D, their Adam optimisers and (when the Config asks for one) the EMA copy of G.

    precision: of the training step (None: train_precision(device)); fp16 comes with a loss scaler per net."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = arch.Generator(cfg).to(device, memory_format=fmt)
    D = arch.Discriminator(cfg).to(device, memory_format=fmt)
    betas = (cfg.beta1, cfg.beta2)
    nets = Nets(
        G=G,
        D=D,
        opt_G=torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas),
        opt_D=torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas),
        precision=precision or train_precision(device),
    )
    if nets.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {nets.precision!r}; one of {', '.join(PRECISIONS)}")
    if nets.precision == "fp16":  # fp16's narrow range: small gradients would flush to zero unscaled
        nets.scaler_G, nets.scaler_D = grad_scaler(device), grad_scaler(device)
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


def compile_nets(nets: Nets, arch: ModuleType) -> str | None:
    """torch.compile G, and D unless the arch differentiates through D's gradient (torch.compile refuses the
    double backward of a gradient penalty at the first step). -> a note when D stays uncompiled."""
    nets.G.compile()
    if getattr(arch, "DOUBLE_BACKWARD", False):
        return "G compiled, D not (its gradient penalty needs a double backward, which torch.compile lacks)"
    nets.D.compile()
    return None


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to `precision` ("bf16" / "fp16") on `device`; nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[precision])


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


def descend(opt: torch.optim.Optimizer, loss: Tensor, scaler: torch.amp.GradScaler | None = None) -> None:
    """One optimiser step on `loss` (gradients cleared first, to None: no stale zeros kept).

    scaler: fp16's loss scaling; a step whose scaled gradients overflowed is skipped and the scale lowered."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
