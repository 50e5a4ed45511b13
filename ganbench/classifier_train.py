"""`ganbench classifier train`: train your own surrogate CIFAR ResNet on any labelled CIFAR-like source.

The recipe of He et al. (2016, sec. 4.2) scaled to an epoch budget: SGD with momentum 0.9, weight decay
1e-4, learning rate 0.1 divided by 10 at 50% and 75% of the epochs, batch 128, 4-pixel padding + random
32x32 crop + horizontal flip. The checkpoint describes itself (arch, data, recipe, validation accuracy), so
`--classifier-weights PATH` accepts it and every result names it by its sha256.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.atomic import atomic_write
from ganbench.errors import UserError, note
from ganbench.extractors.classifier import ARCH_DEPTH, CUSTOM_KEY
from ganbench.extractors.classifier_net import MEAN, STD, CifarResNet, normalise
from ganbench.inputs.sources import load_source


@dataclass(frozen=True)
class TrainConfig:
    data: str  # labelled source: class folders, npz with y, labels.csv folder, cifar10-train
    out: str  # checkpoint path (written atomically)
    arch: str = "resnet20"  # resnet20 | resnet56
    epochs: int = 30  # He et al. train ~180 epochs; 30 reaches ~90% of that accuracy in a sixth of the time
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 1e-4
    seed: int = 0
    val: str | None = (
        None  # labelled source for the accuracy printed each epoch and stored (e.g. cifar10-test)
    )
    data_dir: str | None = None  # where cifar10-* come from
    device: str | None = None  # default: cuda when present


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the 4-pixel zero-padded image and a horizontal flip, per image (uint8 in, uint8 out)."""
    n, ar = len(x), torch.arange(32)
    padded = F.pad(x, (4, 4, 4, 4))
    dy, dx = torch.randint(0, 9, (2, n), generator=gen)
    out = padded.gather(2, (dy[:, None] + ar)[:, None, :, None].expand(n, 3, 32, 40))
    out = out.gather(3, (dx[:, None] + ar)[:, None, None, :].expand(n, 3, 32, 32))
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def accuracy(
    net: CifarResNet, images: np.ndarray, labels: np.ndarray, device: str, batch: int = 500
) -> float:
    net.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(images[s : s + batch]).to(device)
            correct += int((net(normalise(x)).argmax(1).cpu().numpy() == labels[s : s + batch]).sum())
    return correct / len(images)


def train(cfg: TrainConfig, log=print) -> Path:
    """Train, then write the self-describing checkpoint to cfg.out; returns its path."""
    if cfg.arch not in ARCH_DEPTH:
        raise UserError(f"unknown classifier {cfg.arch!r}; choose one of {', '.join(ARCH_DEPTH)}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise UserError("epochs and batch size must be at least 1")
    data = load_source(cfg.data, data_dir=cfg.data_dir)
    if data.labels is None:
        raise UserError(f"{cfg.data} has no labels; use class folders, an npz with y, or a labels.csv")
    counts = np.bincount(data.labels, minlength=10)
    if (counts == 0).any():
        log(f"warning: {cfg.data} has no images of class(es) {np.flatnonzero(counts == 0).tolist()}")
    val = load_source(cfg.val, data_dir=cfg.data_dir) if cfg.val else None
    if val is not None and val.labels is None:
        raise UserError(f"validation source {cfg.val} has no labels")
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = CifarResNet(ARCH_DEPTH[cfg.arch]).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [cfg.epochs // 2, cfg.epochs * 3 // 4], 0.1)
    x_all, y_all = torch.from_numpy(data.images), torch.from_numpy(data.labels)
    val_acc = None
    for epoch in range(cfg.epochs):
        net.train()
        t0, total, seen = time.time(), 0.0, 0
        for idx in torch.randperm(len(x_all), generator=gen).split(cfg.batch_size):
            x = augment(x_all[idx], gen).to(device)
            loss = F.cross_entropy(net(normalise(x)), y_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        sched.step()
        if val is not None:
            val_acc = accuracy(net, val.images, val.labels, device)
        shown = f", val accuracy {val_acc:.4f}" if val_acc is not None else ""
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / seen:.4f}{shown} ({time.time() - t0:.0f} s)")
    meta = {
        "arch": cfg.arch,
        "config": asdict(cfg),
        "trained_on": {"source": data.source, "n": len(data), "content_sha256": data.content_hash()},
        "val_accuracy": val_acc,
        "normalisation": {"mean": list(MEAN), "std": list(STD)},
    }
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {CUSTOM_KEY: meta, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}
    atomic_write(out, lambda f: torch.save(payload, f))
    note(f"wrote {out}")
    return out
