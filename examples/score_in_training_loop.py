"""Score a GAN from inside its own training loop with a ganbench.Evaluator.

A tiny conditional DCGAN-style G and D are trained on CIFAR-10 for a few hundred steps on the CPU; every
--every steps the Evaluator scores --n fresh samples of G against a seeded --ref-n subset of cifar10-train.
The Evaluator loads the networks and the reference once, so each evaluation costs only the samples' pass.

    GANBENCH_DATA=../shared/data/cifar10 python examples/score_in_training_loop.py
    python examples/score_in_training_loop.py --steps 2000 --every 500 --n 2000 --ref-n 2000

About 75 s on 2 idle CPU cores with the defaults and an empty feature cache (most of it Inception passes).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

import ganbench
from ganbench.inputs.datasets import load_cifar10

Z_DIM, CLASSES, WIDTH = 64, 10, 32


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(CLASSES, 16)
        self.fc = nn.Linear(Z_DIM + 16, WIDTH * 4 * 4 * 4)
        self.net = nn.Sequential(
            nn.BatchNorm2d(WIDTH * 4), nn.ReLU(),
            nn.ConvTranspose2d(WIDTH * 4, WIDTH * 2, 4, 2, 1), nn.BatchNorm2d(WIDTH * 2), nn.ReLU(),
            nn.ConvTranspose2d(WIDTH * 2, WIDTH, 4, 2, 1), nn.BatchNorm2d(WIDTH), nn.ReLU(),
            nn.ConvTranspose2d(WIDTH, 3, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, self.embed(y)], 1))
        return self.net(h.view(-1, WIDTH * 4, 4, 4))


class Discriminator(nn.Module):
    """Projection discriminator (Miyato & Koyama): logit = w.h + <embed(y), h>."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, WIDTH, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(WIDTH, WIDTH * 2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(WIDTH * 2, WIDTH * 4, 4, 2, 1), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.out = nn.Linear(WIDTH * 4, 1)
        self.embed = nn.Embedding(CLASSES, WIDTH * 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.net(x).sum((2, 3))
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=100, help="evaluate every N steps (and at step 0)")
    ap.add_argument("--n", type=int, default=150, help="samples per evaluation")
    ap.add_argument("--ref-n", type=int, default=200, help="seeded cifar10-train subset of the reference")
    ap.add_argument("--data", default=None, help="CIFAR-10 folder (else GANBENCH_DATA, else torchvision)")
    args = ap.parse_args()
    torch.manual_seed(0)

    train = load_cifar10("train", data_dir=args.data, n=5_000, seed=1)
    x_all = torch.from_numpy(train.images).float() / 127.5 - 1
    y_all = torch.from_numpy(train.labels)
    G, D = Generator(), Discriminator()
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.9))

    # Once: the Inception network, the surrogate classifier and the reference's features.
    ev = ganbench.Evaluator("cifar10-train", ref_n=args.ref_n, data_dir=args.data, calibration_n=0)
    print(ev)

    def evaluate(step: int) -> None:
        t = time.time()
        # G(z, y) with labels cycling over the 10 classes; G's tanh output is in (-1, 1)
        result = ev.score(G, z_dim=Z_DIM, n=args.n, num_classes=CLASSES, value_range=(-1, 1), seed=step)
        m = result.metrics
        print(f"step {step:>5}: FID {m['fid']:.1f}  KID {m['kid_mean']:.4f}  classifier accuracy "
              f"{m['classifier_accuracy']:.2f}  ({time.time() - t:.1f} s)", flush=True)  # fmt: skip

    evaluate(0)
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(x_all), (64,))
        x, y = x_all[idx], y_all[idx]
        z, y_fake = torch.randn(64, Z_DIM), torch.randint(0, CLASSES, (64,))
        fake = G(z, y_fake)
        loss_d = F.relu(1 - D(x, y)).mean() + F.relu(1 + D(fake.detach(), y_fake)).mean()  # hinge
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -D(fake, y_fake).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if step % args.every == 0:
            evaluate(step)


if __name__ == "__main__":
    main()
