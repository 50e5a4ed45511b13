"""BigGAN (Brock, Donahue & Simonyan 2019) at 32x32, following StudioGAN's CIFAR-10 recipe.

G: z split into 4 chunks (skip-z / hierarchical latent): chunk 0 -> SN-linear to 4x4x(4 g_ch); three residual
up-blocks (4 -> 8 -> 16 -> 32), each with conditional BN driven by [shared class embedding, its own z chunk];
self-attention at 16x16; BN, ReLU, SN-conv to RGB, tanh.
D: four residual down-blocks (32 -> 16 -> 8 -> 8 -> 8, width 2 d_ch), self-attention at 16x16, ReLU, global sum
pooling, SN-linear + projection <embed(y), h> (Miyato & Koyama 2018). Hinge loss, orthogonal init, spectral
norm in G and D, Adam 2e-4 (0.5, 0.999), 5 D steps per G step, EMA of G (0.9999 from step 1,000).

aux=True (AC-BigGAN): D's projection is replaced by an auxiliary classifier head (as StudioGAN's "AC"
conditioning), trained with label-smoothed cross-entropy on real labels beside the hinge loss; G is trained to
make its samples classified as their intended class.
diffaug=True: DiffAugment (color, translation, cutout) on everything D sees (trainers/diffaug.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainers import losses
from trainers.diffaug import diff_augment
from trainers.gan import Batches, Nets, autocast, descend, frozen, random_labels
from trainers.layers import ConditionalBatchNorm, SelfAttention, sn_conv, sn_embedding, sn_linear

CONDITIONAL = True
N_G_BLOCKS = 3  # 4x4 -> 32x32


@dataclass(frozen=True)
class Config:
    z_dim: int = 80  # latent size, split evenly between the input layer and the 3 G blocks (20 each)
    shared_dim: int = 128  # size of the class embedding shared by all conditional BNs of G
    n_classes: int = 10  # number of labels
    g_ch: int = 96  # G width: every G block has 4 * g_ch channels
    d_ch: int = 96  # D width: every D block has 2 * d_ch channels
    attention: bool = True  # one self-attention block at 16x16 in G and one in D
    aux: bool = False  # AC-BigGAN: auxiliary classifier head instead of the projection
    aux_weight: float = 1.0  # weight of the classification loss (aux=True)
    label_smoothing: float = 0.1  # label smoothing of the classification loss (aux=True)
    diffaug: bool = False  # DiffAugment (color, translation, cutout) on D's inputs
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    n_dis: int = 5  # D updates per G update
    ema_decay: float = 0.9999  # decay of the EMA copy of G that samples are drawn from (0: no EMA)
    ema_start: int = 1_000  # before this step the EMA copy just tracks G

    def __post_init__(self) -> None:
        if self.z_dim % (N_G_BLOCKS + 1):
            raise ValueError(f"z_dim must be divisible by {N_G_BLOCKS + 1} (one chunk per G block + input)")


# The "cpu" preset: an hour on 2 CPU cores. BigGAN is the costliest arch per image (paper widths: 20 GFLOP
# per real image for a whole step, G 9.4M / D 2.4M parameters), and every D update also runs G to make its
# fakes, so G is cut to g_ch = 16 (64-channel blocks; G fwd+bwd at batch 64 takes ~0.3 s on 2 AVX-512 cores,
# 3.8x that at g_ch = 32) and n_dis to 2. D is cheap beside G but runs 5 times a step: d_ch = 32 (64-channel
# blocks) halves the steps an hour and still won the 10-minute screens below; steps = 3,000 took 48 training
# minutes on an idle AVX-512 2-core VM (the benchmark's row: FID 39.7, FID∞ 36.7 with 10k samples vs the 10k
# subset); minutes=60 ends it earlier on a slower machine. The EMA horizon is scaled to the short run (decay
# 0.995 from step 500). Screens: 10 training minutes each from the old preset with one change,
# FID of the final 1,000-sample folder vs a seeded 10k cifar10-train subset (JPEG copy), 1 seed, one job:
#     change                                         | steps | 1k FID | classifier acc.
#     none (g_ch = d_ch = 16)                        | 1,074 | 139.3  | 0.201
#     n_dis 1, lr D 4e-4 / G 1e-4, beta1 0 (TTUR)    | 1,255 | 156.2  | 0.211
#     d_ch 32 (this preset)                          |   523 | 131.3  | 0.209
#     d_ch 32, n_dis 1                               |   704 | 173.1  | 0.183
#     g_ch = d_ch = 32, TTUR as above                | 23 real img/s (~230 steps in 10 min); stopped at 30
#     aux=True (AC-BigGAN), aux_weight 1             |   680 | 124.3  | 0.342
#     aux=True, aux_weight 1.5 (--steps 680)         |   680 | 135.3  | 0.440 (near-dup 0.21, 7 classes flagged)
#     aux=True, aux_weight 2 (--steps 680)           |   680 | 161.5  | 0.481 (near-dup 0.40, 8 classes flagged)
#   (The VM's speed drifts: the benchmark's hour of this preset went from 104 to 146 img/s, so the screens'
#   step counts are not a pure measure of cost.) The paper preset is the full recipe, for a GPU.
# - AC-BigGAN's hours (`ganbench benchmark --archs biggan-aux --minutes 60`, 10k samples vs the seeded 10k
#   subset, AMD EPYC AVX-512 2-core VM; targets FID < 80, accuracy >= 0.61, moonshot FID < 45):
#     aux_weight   | img/s | steps (60 min) | FID (95% CI)       | FID-inf | classifier acc | recall | flags
#     1            | 81    | 2,287 / 3,000  | 47.56 [47.2, 47.9] | 44.73   | 0.528          | 0.111  | 2
#     1.5 (preset) | 76    | 2,128 / 3,000  | 53.55 [53.1, 54.2] | 50.73   | 0.587          | 0.059  | 3
#   FID stays far inside its target, so the preset spends some of it on class fidelity. Neither hour reached
#   the preset's 3,000 steps; D's accuracy on real images was still rising at the end (0.48 at step 720, 0.58
#   at 2,128); the surrogate accuracy at the full 3,000 steps is unmeasured.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=2, d_ch=2, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    "cpu": dict(
        g_ch=16,
        d_ch=32,
        n_dis=2,
        aux_weight=1.5,  # used only with aux=True (AC-BigGAN)
        ema_decay=0.995,
        ema_start=500,
        steps=1_250,  # ~60 min at bench_train.py's 45 real img/s (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=250,
        ckpt_every=250,  # steps / 5: the quality curve's five checkpoints
        log_every=10,
    ),
    # StudioGAN's CIFAR-10 BigGAN: batch 64, 100k G steps.
    "paper": dict(steps=100_000, batch_size=64, sample_every=2_500, ckpt_every=10_000, log_every=100),
}


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    """CBN -> ReLU -> up -> conv3x3 -> CBN -> ReLU -> conv3x3, plus up -> conv1x1 shortcut."""

    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = ConditionalBatchNorm(cin, cond_dim), sn_conv(cin, cout)
        self.bn2, self.conv2 = ConditionalBatchNorm(cout, cond_dim), sn_conv(cout, cout)
        self.skip = sn_conv(cin, cout, 1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = self.conv1(_up(F.relu(self.bn1(x, cond))))
        h = self.conv2(F.relu(self.bn2(h, cond)))
        return h + self.skip(_up(x))


class DBlock(nn.Module):
    """(ReLU) -> conv3x3 -> ReLU -> conv3x3 -> (avgpool), plus a conv1x1 shortcut when shape changes.

    The first block sees the image: no leading ReLU and its shortcut pools before the 1x1 conv (BigGAN's
    "optimized" block).
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = sn_conv(cin, cout), sn_conv(cout, cout)
        self.skip = sn_conv(cin, cout, 1) if (cin != cout or down) else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.skip(F.avg_pool2d(s, 2))
        elif self.skip is not None:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class Generator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = 4 * cfg.g_ch
        self.chunk = cfg.z_dim // (N_G_BLOCKS + 1)
        self.shared = nn.Embedding(cfg.n_classes, cfg.shared_dim)
        nn.init.orthogonal_(self.shared.weight)
        self.linear = sn_linear(self.chunk, c * 4 * 4)
        cond_dim = cfg.shared_dim + self.chunk
        self.blocks = nn.ModuleList([GBlock(c, c, cond_dim) for _ in range(N_G_BLOCKS)])
        self.attn = SelfAttention(c) if cfg.attention else nn.Identity()  # after block 2, at 16x16
        self.out_bn = nn.BatchNorm2d(c)
        self.out_conv = sn_conv(c, 3)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        zs = z.split(self.chunk, dim=1)
        shared = self.shared(y).to(z.dtype)
        h = self.linear(zs[0]).view(z.shape[0], -1, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h, torch.cat([shared, zs[i + 1]], dim=1))
            if i == 1:
                h = self.attn(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class Discriminator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = 2 * cfg.d_ch
        self.blocks = nn.ModuleList(
            [
                DBlock(3, c, down=True, first=True),
                DBlock(c, c, down=True),
                DBlock(c, c, False),
                DBlock(c, c, False),
            ]
        )
        self.attn = SelfAttention(c) if cfg.attention else nn.Identity()  # after block 1, at 16x16
        self.linear = sn_linear(c, 1)
        self.aux = cfg.aux
        if cfg.aux:
            self.classifier = sn_linear(c, cfg.n_classes)
        else:
            self.embed = sn_embedding(cfg.n_classes, c)

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """-> (adversarial logit [B], class logits [B, n_classes] when aux else None)."""
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == 0:
                h = self.attn(h)
        h = F.relu(h).sum(dim=(2, 3))
        out = self.linear(h).flatten()
        if self.aux:
            return out, self.classifier(h)
        return out + (self.embed(y) * h).sum(dim=1), None


def step(nets: Nets, cfg: Config, batches: Batches, it: int) -> dict[str, float]:
    def d_input(images: Tensor) -> Tensor:
        return diff_augment(images) if cfg.diffaug else images

    def cls_loss(logits: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)

    out: dict[str, float] = {}
    for _ in range(cfg.n_dis):
        x, y = batches()
        z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
        y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
        with autocast(x.device, nets.precision):
            with torch.no_grad():
                fake = nets.G(z, y_fake)
            d_real, cls_real = nets.D(d_input(x), y)
            d_fake, _ = nets.D(d_input(fake), y_fake)
        loss_d = losses.hinge_d(d_real, d_fake)
        if cfg.aux:
            loss_cls = cls_loss(cls_real, y)
            loss_d = loss_d + cfg.aux_weight * loss_cls
            out |= {"loss_cls": loss_cls.item(), "acc_real": losses.accuracy(cls_real, y)}
        descend(nets.opt_D, loss_d, nets.scaler_D)

    z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
    y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
    with autocast(x.device, nets.precision), frozen(nets.D):
        d_gen, cls_gen = nets.D(d_input(nets.G(z, y_fake)), y_fake)
    loss_g = losses.hinge_g(d_gen)
    if cfg.aux:
        loss_g = loss_g + cfg.aux_weight * cls_loss(cls_gen, y_fake)
        out["acc_fake"] = losses.accuracy(cls_gen, y_fake)
    descend(nets.opt_G, loss_g, nets.scaler_G)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D_x": d_real.float().mean().item(),
        "D_G_z": d_fake.float().mean().item(),
    } | out
