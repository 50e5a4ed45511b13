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


# "cpu" (~1 hour on 2 CPU cores): width 32 as DCGAN's cpu preset (G 0.43M, critic 0.17M parameters), 2 critic
# updates per G step, each with the penalty's double backward. minutes=60 ends it on a much slower machine.
# - The pre-seeds hour (n_dis 5, 8,500 steps in 45 min on an AVX-512 VM, `--minutes 60`): FID 93.14 [92.4, 94.4]
#   with 10k samples vs a seeded 10k cifar10-train subset, recall 0.05.
# - Screens at a third of the budget (`benchmarks/screen.py wgan-gp`, AVX-512 2-core VM, 2026-12-07, seed 0;
#   1k-sample FID vs the 10k subset; minutes in the training steps): at equal minutes, 2 critic updates beat 5
#   and an EMA generator (decay 0.998 from step 300) did not help at this length. A G step with n_dis 2 costs
#   1/2.27 of one with n_dis 5 (0.177 vs 0.40 s), so the n_dis 5 preset's 4,200 steps become 9,500.
#     option                 | steps | train min | 1k FID | near-dup | recall
#     n_dis 5 (old preset)   | 1,400 |  9.4 *   | 209.5  | 0.40     | 0.007
#     n_dis 5, EMA 0.998     | 1,400 |  9.4     | 242.4  | 0.58     | 0.000
#     n_dis 2 (this preset)  | 3,300 | 10.0     | 196.7  | 0.29     | 0.001
#     n_dis 2                | 4,400 | 13.0     | 174.4  | 0.11     | 0.007
#   * its clock ran on through a pause of the job; the EMA run's minutes (same cost per step) stand in.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=8, d_ch=8, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    "cpu": dict(
        g_ch=32,
        d_ch=32,
        n_dis=2,
        steps=9_500,  # ~60 min at the reference machine's ~340 real img/s at n_dis 2 (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=500,
        ckpt_every=1_900,  # steps / 5: the quality curve's five checkpoints
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
