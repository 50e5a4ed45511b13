"""DCGAN (Radford, Metz & Chintala 2015), unconditional, at 32x32.

G: z -> transposed convs with BN + ReLU -> tanh. D: strided convs with BN + LeakyReLU(0.2) -> one logit.
Loss: the original GAN loss (BCE) with the non-saturating G objective. Adam 2e-4, betas (0.5, 0.999).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainers import losses
from trainers.gan import Batches, Nets, autocast, descend, frozen
from trainers.layers import MinibatchStd, dc_discriminator, dc_generator, dcgan_init

CONDITIONAL = False


@dataclass(frozen=True)
class Config:
    z_dim: int = 100  # latent size (the paper's 100-d uniform noise; we draw N(0, I))
    g_ch: int = 64  # G width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    d_ch: int = 64  # D width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1 (0.5 as in the paper; 0.9 made training unstable there)
    beta2: float = 0.999  # Adam beta2
    n_dis: int = 1  # D updates per G update
    d_mbstd: int = 0  # ProGAN minibatch std feature before D's head, over groups of this size (0: off)

    def __post_init__(self) -> None:
        if self.d_mbstd < 0:
            raise ValueError(f"d_mbstd must be 0 (off) or a group size of 1 or more, not {self.d_mbstd}")


# Keys: Config fields or TrainSettings fields (trainers/settings.py). Explicit CLI flags override them.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=8, d_ch=8, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    # ~1 hour on 2 CPU cores. cgan's recipe without its labels (same nets; its screens are in trainers/cgan.py):
    # width 64 beat width 32 there (10k-sample FID 94.1 at 60 min vs 116.1 at 47 min), and the minibatch-std
    # feature took it to 83.8 in the hour. ~320 real img/s at width 64, so 18,000 steps x 64 fill the hour;
    # minutes=60 ends it there on a slower machine. Its own hour is `ganbench benchmark --archs dcgan`.
    "cpu": dict(
        g_ch=64,
        d_ch=64,
        d_mbstd=4,
        steps=9_500,  # ~60 min at bench_train.py's 169 real img/s (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=1_000,
        ckpt_every=1_900,  # steps / 5: the quality curve's five checkpoints
        log_every=50,
    ),
    # StudioGAN's CIFAR-10 DCGAN schedule length; batch 128 as in the paper.
    "paper": dict(steps=100_000, batch_size=128, sample_every=5_000, ckpt_every=10_000, log_every=100),
}


class Generator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.net = dc_generator(cfg.z_dim, cfg.g_ch)
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.features = dc_discriminator(3, cfg.d_ch, norm="batch")
        self.mbstd = MinibatchStd(cfg.d_mbstd) if cfg.d_mbstd else None
        self.head = nn.Conv2d(cfg.d_ch * 4 + (self.mbstd is not None), 1, 4, 1, 0)  # 4x4 -> 1x1: one logit
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        return self.head(h if self.mbstd is None else self.mbstd(h)).flatten()


def step(nets: Nets, cfg: Config, batches: Batches, it: int) -> dict[str, float]:
    for _ in range(cfg.n_dis):
        x, _ = batches()
        z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
        with autocast(x.device, nets.precision):
            with torch.no_grad():
                fake = nets.G(z)
            d_real, d_fake = nets.D(x), nets.D(fake)
        loss_d = losses.bce_d(d_real, d_fake)
        descend(nets.opt_D, loss_d, nets.scaler_D)

    z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
    with autocast(x.device, nets.precision), frozen(nets.D):
        d_gen = nets.D(nets.G(z))
    loss_g = losses.bce_g(d_gen)
    descend(nets.opt_G, loss_g, nets.scaler_G)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D_x": torch.sigmoid(d_real.float()).mean().item(),
        "D_G_z": torch.sigmoid(d_fake.float()).mean().item(),
    }
