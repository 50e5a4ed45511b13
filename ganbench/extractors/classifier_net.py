"""The surrogate classifier's network: He et al.'s CIFAR ResNet ("option A"), written from the paper (see
ganbench.extractors.classifier, which resolves its weights, and imports this module only to run it).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import UserError

# Normalisation the pretrained weights were trained with (akamaster, ImageNet's constants), on x / 255.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        # Option A: no parameters in the shortcut; subsample by 2 and zero-pad the extra channels evenly.
        self.pad = (planes - in_planes) // 2 if (stride != 1 or in_planes != planes) else None

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is None:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """depth = 6n + 2 (20: n=3, 56: n=9). Input: normalised float [N, 3, 32, 32]; output: logits [N, 10]."""

    def __init__(self, depth: int = 56, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, n, 1)
        self.layer2 = self._stage(16, 32, n, 2)
        self.layer3 = self._stage(32, 64, n, 2)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():  # He init for training from scratch; pretrained weights overwrite it
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    @staticmethod
    def _stage(in_planes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(in_planes, planes, stride)]
        layers += [BasicBlock(planes, planes, 1) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = out.mean(dim=(2, 3))  # global average pooling over the 8x8 map
        return self.linear(out)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,3,32,32] -> float, scaled to [0,1] then standardised as the weights expect."""
    x = images.float() / 255.0
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def clean_state_dict(sd: dict) -> dict:
    """Strip DataParallel's `module.` prefix (akamaster saved through it)."""
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def build(path: Path, depth: int) -> CifarResNet:
    """The depth-`depth` network with the weights in `path`, in eval mode. Missing BN step counters are the only
    tolerated gap."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    net = CifarResNet(depth)
    missing, unexpected = net.load_state_dict(clean_state_dict(ckpt["state_dict"]), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # 2018 files predate the buffer
    if missing or unexpected:
        raise UserError(
            f"classifier weights {path} do not fit a resnet{depth} (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); pass the matching --classifier"
        )
    return net.eval()
