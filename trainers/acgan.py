"""ACGAN (Odena, Olah & Shlens 2017), the CIFAR-10 architecture of the paper's appendix.

D predicts both the source (real/fake) and the class. With L_S = log-likelihood of the correct source and
L_C = log-likelihood of the correct class, D maximises L_S + L_C and G maximises L_C - L_S (we use the
non-saturating form of -L_S for G, as the paper's code does).
G: [z, one-hot(y)] -> linear to 4x4 -> transposed convs 4ch -> 2ch -> ch -> 3 (192 -> 96 -> 48 -> 3 at ch=48).
D: 6 conv layers 3x3 (ch, 2ch, ... 32ch; strides 2,1,2,1,2,1), LeakyReLU(0.2), dropout 0.5, two linear heads.
Options (defaults: the paper's): DCGAN's 4-layer nets (g_arch/d_arch), spectral norm, hinge source loss, a
class-loss weight, ProGAN's minibatch-std feature before the source head, an EMA of G, D's class loss on real
images only. The cpu preset uses the DCGAN nets with the minibatch std, the real-only class loss and class-loss
weight 2 (figures at PRESETS).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainers import losses
from trainers.gan import Batches, Nets, autocast, descend, frozen, random_labels
from trainers.layers import MinibatchStd, add_spectral_norm, dc_discriminator, dc_generator, dcgan_init

CONDITIONAL = True
ARCHS = ("paper", "dcgan")
LOSSES = losses.LOSSES


@dataclass(frozen=True)
class Config:
    z_dim: int = 100  # noise size; G's input is [z, one-hot(y)] (110-d in the paper)
    n_classes: int = 10  # number of labels
    g_ch: int = 48  # G width: channels at 16x16 (x2 at 8x8, x4 at 4x4): 48 -> 192/96/48 as in the paper
    d_ch: int = (
        16  # D width: first conv's channels, doubling per layer to 32 * d_ch (16 -> 512 as in the paper)
    )
    dropout: float = 0.5  # dropout after every D conv layer
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    n_dis: int = 1  # D updates per G update
    # "paper": the paper's nets (above); "dcgan": DCGAN's 4-layer nets of trainers.layers at width g_ch / d_ch
    # (channels at 16x16), G fed [z, one-hot(y)], D's source head a 4x4 conv and its class head a linear layer
    # on the same 4x4 features (no dropout in the DCGAN D)
    g_arch: str = "paper"
    d_arch: str = "paper"
    d_norm: str = "batch"  # D normalisation: "batch" or "spectral" (no BN; SN on every D conv/linear layer)
    loss: str = "bce"  # source loss: "bce" (non-saturating, as the paper) or "hinge" (Lim & Ye)
    cls_weight: float = 1.0  # weight of the class log-likelihood in both losses (the paper: 1)
    # D's class loss also on fakes (the paper). False: on real images only, so D's classifier cannot be taught
    # the class cues G invents, and G must make images a real-trained classifier recognises
    d_cls_fake: bool = True
    d_mbstd: int = 0  # ProGAN minibatch std feature before D's source head, over groups of this size (0: off)
    ema_decay: float = 0.0  # decay of an EMA copy of G that samples are drawn from (0: no EMA)
    ema_start: int = 0  # before this step the EMA copy just tracks G

    def __post_init__(self) -> None:
        for name in ("g_arch", "d_arch"):
            if getattr(self, name) not in ARCHS:
                raise ValueError(f"{name} must be one of {', '.join(ARCHS)}, not {getattr(self, name)!r}")
        losses.check_d_options(self)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.cls_weight < 0:
            raise ValueError(f"cls_weight must be 0 or more, not {self.cls_weight}")


# The "cpu" preset (~1 hour on 2 CPU cores; minutes=60 ends it there on a slower or busier machine).
# - History: the paper's nets at half width (g_ch 32, d_ch 8, dropout 0.5; 28,000 steps x 64 at ~500 img/s)
#   ended the hour at FID 187.3 (10k samples vs a seeded 10k cifar10-train subset), classifier accuracy 0.24:
#   that D classified fakes at 0.99 and reals at 0.46, so G learnt class-obvious adversarial features.
# - Now: cgan's recipe with both ACGAN heads: DCGAN's 4-layer G and D at width 64 (G fed [z, one-hot(y)]),
#   BN, BCE, ProGAN's minibatch std (groups of 4) before the source head, and D's class loss on real images
#   only (d_cls_fake=False; the paper also trains it on fakes, which let G and D agree on class cues of
#   their own: the fakes were classified at 0.99 by D and at 0.2 by the surrogate). G keeps the paper's
#   class loss on its fakes; both class losses weigh 2 (cls_weight; the paper 1). ~240 real img/s idle on the
#   2-core VM (log.csv): 14,000 steps x 64 fill the hour.
# - Screens (1k-sample folders vs a seeded 10k cifar10-train subset, 1 seed; the VM was shared, so compared
#   at equal steps):
#     recipe                                            | step  | 1k FID | classifier acc
#     dcgan g64/d64, d_mbstd=4, class loss real+fake    | 2,000 | 143.0  | 0.22
#                                                       | 3,000 | 121.0  | 0.20
#     same, class loss on reals only                    | 3,000 | 110.8  | 0.42 (0.416 on a 2nd VM, same FID)
#     same, cls_weight=2 (this preset)                  | 3,000 | 98.2   | 0.469
#     same, cls_weight=4                                | 3,000 | 127.4  | 0.471
#     paper g32/d16, dropout 0.2, d_mbstd=4             | 350   | stopped early: acc_real 0.34, fake 0.17
#   Not yet screened: hinge, spectral norm, TTUR, EMA (all options, off).
# - Hours (`ganbench benchmark --archs acgan --minutes 60`, 10k samples vs the seeded 10k subset; targets FID
#   < 93.1, accuracy >= 0.61):
#     cls_weight | VM, img/s          | steps           | FID (95% CI)        | classifier acc | IFID
#     1          | EPYC AVX2, 181     | 10,178 (60 min) | 50.98 [50.3, 51.6]  | 0.572          | 106.6
#     2 (preset) | EPYC AVX-512, 302  | 14,000 (50 min) | 35.69 [35.1, 36.2]  | 0.646          | 87.4
#   The second hour also ran 38% more steps (a faster VM); the screens above compare the weights at equal steps.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=8, d_ch=4, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    "cpu": dict(
        g_arch="dcgan",
        d_arch="dcgan",
        g_ch=64,
        d_ch=64,
        d_mbstd=4,
        d_cls_fake=False,
        cls_weight=2.0,
        steps=9_000,  # ~60 min at bench_train.py's 159 real img/s (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=1_000,
        ckpt_every=1_800,  # steps / 5: the quality curve's five checkpoints
        log_every=50,
    ),
    # The paper's batch 100 and learning rate; 50k steps is ~100 epochs (the paper does not state a length).
    "paper": dict(steps=50_000, batch_size=100, sample_every=2_500, ckpt_every=5_000, log_every=100),
}


class Generator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.g_ch
        self.n_classes = cfg.n_classes
        self.dc = None
        if cfg.g_arch == "dcgan":
            self.dc = dc_generator(cfg.z_dim + cfg.n_classes, c)
            dcgan_init(self)
            return
        self.fc = nn.Linear(cfg.z_dim + cfg.n_classes, c * 4 * 4 * 4)

        def up(cin: int, cout: int) -> nn.ConvTranspose2d:  # 5x5 kernels, exact 2x upsampling
            return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1, bias=False)

        self.net = nn.Sequential(
            nn.BatchNorm2d(c * 4),
            nn.ReLU(inplace=True),
            up(c * 4, c * 2),
            nn.BatchNorm2d(c * 2),
            nn.ReLU(inplace=True),
            up(c * 2, c),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c, 3, 5, 2, 2, output_padding=1),
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], dim=1)
        if self.dc is not None:
            return self.dc(h[:, :, None, None])
        return self.net(self.fc(h).view(z.shape[0], -1, 4, 4))


class Discriminator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        spectral = cfg.d_norm == "spectral"
        self.mbstd = MinibatchStd(cfg.d_mbstd) if cfg.d_mbstd else None
        extra = self.mbstd is not None  # the minibatch-std map goes to the source head only
        self.conv_source = cfg.d_arch == "dcgan"
        if self.conv_source:
            self.features = dc_discriminator(3, cfg.d_ch, norm="none" if spectral else "batch")  # -> 4x4
            self.source: nn.Module = nn.Conv2d(cfg.d_ch * 4 + extra, 1, 4, 1, 0)
            self.classes = nn.Linear(cfg.d_ch * 4 * 4 * 4, cfg.n_classes)
        else:
            widths = [3] + [cfg.d_ch * 2**i for i in range(6)]
            layers: list[nn.Module] = []
            for i in range(6):
                layers.append(
                    nn.Conv2d(widths[i], widths[i + 1], 3, 2 if i % 2 == 0 else 1, 1, bias=i == 0 or spectral)
                )
                if i > 0 and not spectral:
                    layers.append(nn.BatchNorm2d(widths[i + 1]))
                layers += [nn.LeakyReLU(0.2, inplace=True), nn.Dropout(cfg.dropout)]
            self.features = nn.Sequential(*layers)  # 32x32 -> 4x4
            self.source = nn.Linear((widths[-1] + extra) * 4 * 4, 1)
            self.classes = nn.Linear(widths[-1] * 4 * 4, cfg.n_classes)
        dcgan_init(self)
        if spectral:
            add_spectral_norm(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x)
        hs = h if self.mbstd is None else self.mbstd(h)
        s = self.source(hs if self.conv_source else hs.flatten(1))
        return s.flatten(), self.classes(h.flatten(1))


def step(nets: Nets, cfg: Config, batches: Batches, it: int) -> dict[str, float]:
    loss_fn_d, loss_fn_g = LOSSES[cfg.loss]
    for _ in range(cfg.n_dis):
        x, y = batches()
        z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
        y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
        with autocast(x.device, nets.precision):
            with torch.no_grad():
                fake = nets.G(z, y_fake)
            s_real, c_real = nets.D(x)
            s_fake, c_fake = nets.D(fake)
        # minimise -(L_S + L_C)
        loss_c = F.cross_entropy(c_real.float(), y)
        if cfg.d_cls_fake:
            loss_c = loss_c + F.cross_entropy(c_fake.float(), y_fake)
        loss_d = loss_fn_d(s_real, s_fake) + cfg.cls_weight * loss_c
        descend(nets.opt_D, loss_d, nets.scaler_D)

    z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
    y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
    with autocast(x.device, nets.precision), frozen(nets.D):
        s_gen, c_gen = nets.D(nets.G(z, y_fake))
    # minimise -(L_C - L_S), with the non-saturating source term
    loss_g = loss_fn_g(s_gen) + cfg.cls_weight * F.cross_entropy(c_gen.float(), y_fake)
    descend(nets.opt_G, loss_g, nets.scaler_G)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "loss_cls": loss_c.item(),
        "D_x": torch.sigmoid(s_real.float()).mean().item(),
        "D_G_z": torch.sigmoid(s_fake.float()).mean().item(),
        "acc_real": losses.accuracy(c_real, y),
        "acc_fake": losses.accuracy(c_gen, y_fake),
    }
