"""Conditional GAN (Mirza & Osindero 2014) with a DCGAN backbone at 32x32.

The paper conditions both networks by feeding the label y into their input layers (it used MLPs on MNIST).
Here: G gets [z, E_G(y)] (a learned label embedding concatenated to the noise), and with g_cond="cbn" also a
gain and bias per class in each of its BN layers. D gets y as the paper does, one extra input plane E_D(y) (a
learned 32x32 map per class; d_cond="input", the default), or through a projection (Miyato & Koyama 2018: a
per-class embedding dotted with D's pooled features, added to the logit; d_cond="projection"), or both. Loss
and optimiser as DCGAN by default; spectral norm, hinge loss, a minibatch-std feature in D (ProGAN), real
images with wrong labels as fakes (d_mismatch, GAN-CLS) and an EMA generator are options. The cpu preset adds
the minibatch-std feature to the paper's recipe and draws G's label embedding small (g_embed_std), so that G
uses z; the other options did worse there (figures at PRESETS).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainers import losses
from trainers.diffaug import diff_augment
from trainers.gan import Batches, Nets, autocast, descend, frozen, random_labels
from trainers.layers import (
    ClassBatchNorm,
    ClassStd,
    MinibatchStd,
    add_spectral_norm,
    dc_discriminator,
    dc_generator,
    dcgan_init,
)

CONDITIONAL = True
D_CONDS = ("input", "projection", "both")
G_CONDS = ("input", "cbn")
LOSSES = losses.LOSSES


@dataclass(frozen=True)
class Config:
    z_dim: int = 100  # noise size
    n_classes: int = 10  # number of labels
    embed_dim: int = 50  # size of G's label embedding, concatenated to z
    g_ch: int = 64  # G width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    d_ch: int = 64  # D width: channels at 16x16 (x2 at 8x8, x4 at 4x4)
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    n_dis: int = 1  # D updates per G update
    # how G gets y: "input" ([z, E_G(y)] only, the paper) or "cbn" (also a gain and bias per class in every BN
    # layer of G, Miyato & Koyama's categorical conditional BN, so the label acts at every resolution)
    g_cond: str = "input"
    d_cond: str = "input"  # how D gets y: "input" (a label plane), "projection" (Miyato & Koyama) or "both"
    d_norm: str = "batch"  # D normalisation: "batch" (DCGAN) or "spectral" (no BN; Miyato et al.)
    loss: str = "bce"  # "bce" (non-saturating, as DCGAN) or "hinge" (Lim & Ye; SNGAN, BigGAN)
    ema_decay: float = 0.0  # decay of an EMA copy of G that samples are drawn from (0: no EMA)
    ema_start: int = 0  # before this step the EMA copy just tracks G
    d_mbstd: int = 0  # ProGAN minibatch std feature before D's head, over groups of this size (0: off)
    # matching-aware D (Reed et al. 2016, GAN-CLS): this share of D's "fake" side is real images paired with a
    # wrong label, so D must check that image and label agree rather than only that the image looks real
    d_mismatch: float = 0.0
    # a second std feature beside d_mbstd's: each sample's spread over the batch's samples with its label
    # (layers.ClassStd), so a G that ignores the label shows too much variety within a label
    d_class_std: bool = False
    diffaug: bool = False  # DiffAugment (color, translation, cutout) on all D sees (trainers/diffaug.py)
    # init std of D's label plane (nn.Embedding's default N(0, 1) draws a 32x32 noise pattern per class)
    d_plane_std: float = 1.0
    # init std of G's label embedding: at N(0, 1) its 50 numbers weigh half as much as z's 100 in G's input,
    # enough for G to draw each class from the label alone and ignore z (acgan's one-hot label weighs 1/10)
    g_embed_std: float = 1.0

    def __post_init__(self) -> None:
        if self.g_cond not in G_CONDS:
            raise ValueError(f"g_cond must be one of {', '.join(G_CONDS)}, not {self.g_cond!r}")
        if self.d_cond not in D_CONDS:
            raise ValueError(f"d_cond must be one of {', '.join(D_CONDS)}, not {self.d_cond!r}")
        losses.check_d_options(self)
        if not 0.0 <= self.d_mismatch <= 1.0:
            raise ValueError(f"d_mismatch must be between 0 and 1, not {self.d_mismatch}")
        for name in ("d_plane_std", "g_embed_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")


# The "cpu" preset: an hour on 2 CPU cores. minutes=60 ends it there on a slower or busier machine; the step
# cap keeps a faster one from training longer than the runs measured here.
# - Width 64 (g_ch = d_ch = 64, DCGAN's usual width; 0.43 GFLOP per real image for a whole step, 3.7x width
#   32). Measured on an idle 2-core VM (log.csv img_per_s): ~320 real img/s, so 18,000 steps x 64 = 1.15M real
#   images (~23 epochs) fill the hour. Width 32 runs ~830 img/s (~58 epochs an hour) but learns less: FIDs of
#   the 1,000-image sample folders vs 10k cifar10-train (JPEG copy): width 32 134.4 at 47 min, width 64 116.3
#   at 60 min (width 64 173.9 at step 6,000, ~20 min; width 32 195.5 at step 14,000, ~18 min). With 10k
#   samples, width 32 scored 116.1 at 47 min.
# - Batch 64: small enough for many updates per epoch, large enough for stable BN statistics and to keep
#   per-op overhead (which dominates tiny convs on CPU) low.
# - With 10k samples vs the same 10k reference: width 64 FID 94.1 at 60 min (step 17,258), width 32 116.1 at
#   47 min. Both collapse within classes (near-duplicate rate 0.38 / 0.66, recall ~0): the FID < 90
#   in an hour is not reached without the minibatch-std feature (below).
# - The options, tried on this preset (1k-sample FIDs as above; screens ran 20 min, two at once on 1 thread
#   each): at step 2,000 projection 170.0 vs label plane 242.1 (plane + projection 232.7); at step 3,000 EMA
#   0.999 277.1 and spectral-norm D + hinge 281.1 vs 217.1. A full hour with d_cond="projection" (18,000 steps
#   in 57 min, ~350 img/s) led early (141.1 at step 4,000) but collapsed: 135.5 at 10,000, 151.3 at 18,000,
#   and FID 134.5 with 10k samples (near-duplicate rate 0.97). So the preset keeps the label plane.
# - Late changes, screened by resuming the width-64 run above from step 14,000 to 17,258 (1k-sample FID 116.3
#   there): a linear LR decay to 0 (--lr-decay-from 14000) 127.8, an EMA of G (0.999) from step 14,000 177.7
#   (161.3 with batch BN statistics). Both did worse (the decay: precision 0.54 and recall 0.007 vs 0.48 and
#   0.03, i.e. sharper but more collapsed), so neither is in the preset; --lr-decay-from stays a loop option.
# - d_mbstd=4 (ProGAN's minibatch-std feature in D, which lets D see a batch of look-alikes) is what made the
#   target: a fresh hour (`ganbench train cgan --preset cpu --set d_mbstd=4`, the only job) stopped at
#   `minutes` at step 15,443 (~270-320 img/s on that day's VM) and scored FID 83.8 with 10k samples vs the
#   same 10k reference (KID 0.062, near-duplicate rate 0.24, classifier accuracy 0.38, IFID 158.5), against
#   94.1 / 0.38 / 0.29 / 178.3 without it. One seed each.
# - Class-fidelity screens (this preset + the option, 3,000 steps, 1k samples vs the seeded 10k subset, 1 seed,
#   AVX-512 2-core VM, one job at a time):
#     option                                       | 1k FID | classifier acc | near-dup
#     none (this preset)                           | 196.0  | 0.291          | 0.54
#     g_cond=cbn                                   | 231.7  | 0.183          | 0.44
#     d_cond=projection                            | 141.1  | 0.224          | 0.50
#     g_cond=cbn, d_cond=projection                | 135.6  | 0.206          | 0.58
#     d_mismatch=0.5                               | 247.2  | 0.283          | 0.68
#     d_cond=projection, d_mismatch=0.5            | 186.8  | 0.357          | 0.94 (collapsed)
#     d_cond=projection, d_mismatch=0.25           | 161.6  | 0.292          | 0.74 (collapsed)
#     g_cond=cbn, d_cond=projection, d_mismatch=0.5 | 162.1 | 0.282          | 0.95 (collapsed)
#     d_cond=projection, d_mismatch=0.5, hinge     | 198.1  | 0.295          | 0.93 (collapsed)
#   So the preset stays as it is: with this BN discriminator every projection + d_mismatch variant collapsed
#   by step 3,000 (the last three: recall 0, all 10 classes flagged), and the best accuracy gain was 0.07.
#   Later screens, same protocol (benchmarks/screen.py, AVX-512 2-core VMs, 2026-12-07), with SNGAN's recipe for
#   D (spectral norm instead of BN, hinge loss, projection; d_mbstd kept):
#     option                                       | 1k FID | classifier acc | near-dup
#     d_class_std=true                             | 203.7  | 0.228          | 0.34
#     d_cond=projection, d_norm=spectral, hinge    | 263.9  | 0.143          | 1.00 (one image per class)
#       + Adam beta1 0, beta2 0.9 (SNGAN's)        | 138.4  | 0.166          | 0.54 (at step 2,000: 168.9, 0.255)
#   Projection buys FID early with either normalisation but not label use: no option in either table beat the
#   label plane's accuracy at 3,000 steps, so the benchmark's cgan row kept the label plane.
# - The first seeded unit (8,250 steps, d_mbstd=4 only) ended collapsed within its classes: FID 144.12,
#   recall 0.001, near-duplicate rate 0.40, most grid rows one or two images (dcgan, the same nets without
#   labels, had 2k-sample FID 88.6 at step 3,800 where cgan had 209.8 at 3,300). G ignored z: its label
#   embedding, drawn N(0, 1) by nn.Embedding, carries half the weight of z in G's input. Screens of
#   2026-12-08 (same protocol, scored at steps 1,500 and 3,000; AVX-512 2-core VM):
#     option                                       | 1k FID        | classifier acc | near-dup    | recall
#     none (this preset before, table above)       | 196.0         | 0.291          | 0.54        | -
#     d_plane_std=0.02 (D's label plane near 0)    | 201.7 / 167.8 | 0.183 / 0.133  | 0.77 / 0.63 | 0.000
#     diffaug=true                                 | 255.5 / 262.9 | 0.143 / 0.163  | 0.72 / 0.79 | 0.000
#     g_embed_std=0.1 (G's label embedding small)  | 254.8 / 159.1 | 0.167 / 0.184  | 0.32 / 0.07 | 0.040
#   g_embed_std=0.1 is the only option in three tables that ended the within-class collapse (grid rows of
#   different images, recall 0.04 where every other run had ~0), at 0.1 less accuracy at step 3,000: the
#   preset takes it (one seed screened; the seeded row is its test).
# - The benchmark's hour (`ganbench benchmark --archs cgan --minutes 60`, AMD EPYC AVX-512 2-core VM, ~274
#   img/s, stopped at step 15,394): FID 92.73 [92.1, 93.4], classifier accuracy 0.352, near-duplicate rate
#   0.23, 6 classes flagged; the earlier hour's 83.8 at step 15,443 (same recipe, another VM) was not reproduced.
PRESETS: dict[str, dict[str, object]] = {
    "smoke": dict(g_ch=8, d_ch=8, steps=2, batch_size=8, sample_every=2, ckpt_every=2, log_every=1),
    "cpu": dict(
        g_ch=64,
        d_ch=64,
        d_mbstd=4,
        g_embed_std=0.1,
        steps=8_250,  # ~60 min at bench_train.py's 147 real img/s (README: Benchmark)
        minutes=60,
        batch_size=64,
        sample_every=1_000,
        ckpt_every=1_650,  # steps / 5: the quality curve's five checkpoints
        log_every=50,
    ),
    "paper": dict(steps=100_000, batch_size=128, sample_every=5_000, ckpt_every=10_000, log_every=100),
}


class Generator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)
        if cfg.g_embed_std != 1.0:  # redrawn only when set, so the default keeps its random stream
            nn.init.normal_(self.embed.weight, 0.0, cfg.g_embed_std)
        self.net = dc_generator(cfg.z_dim + cfg.embed_dim, cfg.g_ch)
        dcgan_init(self.net)
        if cfg.g_cond == "cbn":
            for i, layer in enumerate(self.net):
                if isinstance(layer, nn.BatchNorm2d):
                    self.net[i] = ClassBatchNorm(layer.num_features, cfg.n_classes)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)[:, :, None, None]
        for layer in self.net:
            h = layer(h, y) if isinstance(layer, ClassBatchNorm) else layer(h)
        return h


class Discriminator(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.input_label = cfg.d_cond in ("input", "both")
        if self.input_label:
            self.label_plane = nn.Embedding(cfg.n_classes, 32 * 32)
            if cfg.d_plane_std != 1.0:  # redrawn only when set, so the default keeps its random stream
                nn.init.normal_(self.label_plane.weight, 0.0, cfg.d_plane_std)
        spectral = cfg.d_norm == "spectral"
        self.features = dc_discriminator(3 + self.input_label, cfg.d_ch, norm="none" if spectral else "batch")
        self.mbstd = MinibatchStd(cfg.d_mbstd) if cfg.d_mbstd else None
        self.class_std = ClassStd(cfg.n_classes) if cfg.d_class_std else None
        extra = (self.mbstd is not None) + (self.class_std is not None)
        self.head = nn.Conv2d(cfg.d_ch * 4 + extra, 1, 4, 1, 0)
        dcgan_init(self.features)
        dcgan_init(self.head)
        self.project = None
        if cfg.d_cond in ("projection", "both"):
            # Miyato & Koyama 2018: logit += <E(y), phi(x)>, phi = D's features averaged over the 4x4 positions
            self.project = nn.Embedding(cfg.n_classes, cfg.d_ch * 4)
            nn.init.normal_(self.project.weight, 0.0, 0.02)
        if spectral:
            add_spectral_norm(self.features)
            add_spectral_norm(self.head)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if self.input_label:
            x = torch.cat([x, self.label_plane(y).view(-1, 1, 32, 32).to(x.dtype)], dim=1)
        h = self.features(x)
        top = h if self.mbstd is None else self.mbstd(h)
        if self.class_std is not None:
            top = torch.cat([top, self.class_std(h, y)], dim=1)
        out = self.head(top).flatten()
        if self.project is not None:
            out = out + (self.project(y).to(h.dtype) * h.mean(dim=(2, 3))).sum(dim=1)
        return out


def step(nets: Nets, cfg: Config, batches: Batches, it: int) -> dict[str, float]:
    loss_fn_d, loss_fn_g = LOSSES[cfg.loss]

    def d_input(images: Tensor) -> Tensor:
        return diff_augment(images) if cfg.diffaug else images

    for _ in range(cfg.n_dis):
        x, y = batches()
        z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
        y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
        with autocast(x.device, nets.precision):
            with torch.no_grad():
                fake = nets.G(z, y_fake)
            x = d_input(x)  # the same augmented reals for the mismatch term
            d_real, d_fake = nets.D(x, y), nets.D(d_input(fake), y_fake)
        loss_d = loss_fn_d(d_real, d_fake)
        if cfg.d_mismatch:
            # a label guaranteed wrong; drawn only when on, so runs without it keep their random stream
            y_wrong = (y + torch.randint_like(y, 1, cfg.n_classes)) % cfg.n_classes
            with autocast(x.device, nets.precision):
                d_wrong = nets.D(x, y_wrong)
            # both losses are a real term plus a fake term: this keeps the real term and splits the fake one
            loss_d = (1 - cfg.d_mismatch) * loss_d + cfg.d_mismatch * loss_fn_d(d_real, d_wrong)
        descend(nets.opt_D, loss_d, nets.scaler_D)

    z = torch.randn(x.shape[0], cfg.z_dim, device=x.device)
    y_fake = random_labels(x.shape[0], cfg.n_classes, x.device)
    with autocast(x.device, nets.precision), frozen(nets.D):
        d_gen = nets.D(d_input(nets.G(z, y_fake)), y_fake)
    loss_g = loss_fn_g(d_gen)
    descend(nets.opt_G, loss_g, nets.scaler_G)
    return {
        "loss_D": loss_d.item(),
        "loss_G": loss_g.item(),
        "D_x": torch.sigmoid(d_real.float()).mean().item(),
        "D_G_z": torch.sigmoid(d_fake.float()).mean().item(),
    }
