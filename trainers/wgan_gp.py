"""WGAN-GP (Gulrajani et al. 2017), unconditional, with the DCGAN-style architecture of the paper's experiments.

The critic D estimates the Wasserstein-1 distance: D minimises E[D(G(z))] - E[D(x)] + lambda * GP, G minimises
-E[D(G(z))]. The critic has no batch norm (it would couple the per-sample gradients that the penalty
constrains); we use layer norm as the paper suggests. Algorithm 1's defaults: lambda 10, n_critic 5,
Adam 1e-4 with betas (0, 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainers import losses
from trainers.dcgan import Generator as Generator  # re-exported: WGAN-GP uses DCGAN's generator as is
from trainers.gan import Batches, Nets, autocast, descend, frozen
from trainers.layers import dc_discriminator

CONDITIONAL = False
# The gradient penalty differentiates through D's input gradient: --compile leaves D uncompiled.
DOUBLE_BACKWARD = True


@dataclass(frozen=True)
class Config:
    z_dim: int = 128  # latent size (128 in the paper's CIFAR-10 code)
    g_ch: int = 64  # G width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    d_ch: int = 64  # critic width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    gp_weight: float = 10.0  # lambda, the gradient penalty weight
    lr_g: float = 1e-4  # Adam learning rate of G
    lr_d: float = 1e-4  # Adam learning rate of the critic
    beta1: float = 0.0  # Adam beta1
    beta2: float = 0.9  # Adam beta2
    n_dis: int = 5  # critic updates per G update (n_critic)
    ema_decay: float = 0.0  # decay of an EMA copy of G that samples are drawn from (0: no EMA, as the paper)
    ema_start: int = 0  # before this step the EMA copy just tracks G


# "cpu" (~1 hour on 2 CPU cores): width 32 as DCGAN's cpu preset (G 0.43M, critic 0.17M parameters). Each G
# step costs 5 critic batches, each with the penalty's double backward: ~770 real img/s (~2.4 G steps/s)
# measured by benchmarks/bench_train.py on 2 cores. 8,500 steps x 5 x 64 = 2.7M real images (~54 epochs),
# ~60 min; minutes=60 ends it there on a slower machine.
# - The hour (`ganbench benchmark --archs wgan-gp --minutes 60`, AVX-512 2-core VM, ~1,007 img/s, all 8,500
#   steps in 45 min): FID 93.14 [92.4, 94.4] with 10k samples vs a seeded 10k cifar10-train subset (target
#   < 138.3 met, moonshot < 80 missed), precision 0.44, recall 0.05, near-duplicate rate 0.019. Not yet
#   screened: the paper's width 64, two learning rates.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=8, d_ch=8, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    "cpu": dict(
        g_ch=32,
        d_ch=32,
        steps=4_200,  # ~60 min at bench_train.py's 374 real img/s (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=500,
        ckpt_every=840,  # steps / 5: the quality curve's five checkpoints
        log_every=25,
    ),
    # The paper's CIFAR-10 setting: batch 64, 100k generator iterations.
    "paper": dict(steps=100_000, batch_size=64, sample_every=5_000, ckpt_every=10_000, log_every=100),
}


class Discriminator(nn.Module):
    """The critic: DCGAN's D with layer norm instead of batch norm and a linear (unbounded) output."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.features = dc_discriminator(3, cfg.d_ch, norm="layer")
        self.head = nn.Conv2d(cfg.d_ch * 4, 1, 4, 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).flatten()


def step(nets: Nets, cfg: Config, batches: Batches, it: int) -> dict[str, float]:
    for _ in range(cfg.n_dis):
        x, _ = batches()
        z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
        with autocast(x.device, nets.precision):
            with torch.no_grad():
                fake = nets.G(z)
            d_real, d_fake = nets.D(x).float(), nets.D(fake).float()
        gp = losses.gradient_penalty(nets.D, x, fake.float())  # in float32, outside autocast
        loss_d = d_fake.mean() - d_real.mean() + cfg.gp_weight * gp
        descend(nets.opt_D, loss_d, nets.scaler_D)

    z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
    with autocast(x.device, nets.precision), frozen(nets.D):
        loss_g = -nets.D(nets.G(z)).float().mean()
    descend(nets.opt_G, loss_g, nets.scaler_G)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D_x": d_real.mean().item(),
        "D_G_z": d_fake.mean().item(),
        "gp": gp.item(),
        "w_dist": (d_real.mean() - d_fake.mean()).item(),
    }
