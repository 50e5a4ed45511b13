"""Layers shared by the models: DCGAN conv stacks, spectral-normalised layers, conditional BN, self-attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

# --- DCGAN family (Radford et al. 2015): used by dcgan, cgan and wgan-gp -------------------------------------


def dc_generator(in_dim: int, ch: int) -> nn.Sequential:
    """[B, in_dim, 1, 1] -> [B, 3, 32, 32] in [-1, 1]: transposed convs 4x4 -> 8 -> 16 -> 32, BN + ReLU, tanh."""

    def up(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    return nn.Sequential(
        nn.ConvTranspose2d(in_dim, ch * 4, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ch * 4),
        nn.ReLU(inplace=True),
        *up(ch * 4, ch * 2),
        *up(ch * 2, ch),
        nn.ConvTranspose2d(ch, 3, 4, 2, 1),
        nn.Tanh(),
    )


def dc_discriminator(in_ch: int, ch: int, norm: str) -> nn.Sequential:
    """[B, in_ch, 32, 32] -> features [B, 4ch, 4, 4]: strided convs, LeakyReLU(0.2), no norm on the first layer.

    norm: "batch" (DCGAN), "layer" (WGAN-GP's critic, where batch norm would couple the per-sample gradients
    the penalty constrains; Gulrajani et al. suggest layer norm instead) or "none" (for spectral norm, which
    the caller adds after its init with `add_spectral_norm`).
    """

    def make_norm(c: int) -> nn.Module:
        if norm == "batch":
            return nn.BatchNorm2d(c)
        return nn.GroupNorm(1, c) if norm == "layer" else nn.Identity()

    bias = norm == "none"  # a norm layer's shift makes a conv bias redundant
    return nn.Sequential(
        nn.Conv2d(in_ch, ch, 4, 2, 1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=bias),
        make_norm(ch * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ch * 2, ch * 4, 4, 2, 1, bias=bias),
        make_norm(ch * 4),
        nn.LeakyReLU(0.2, inplace=True),
    )


class MinibatchStd(nn.Module):
    """Karras et al. 2018 (ProGAN): append one feature map, the features' standard deviation across groups of
    `group` samples, averaged over channels and positions. A batch of near-identical fakes shows a small value
    that D can learn to reject, which pushes G towards variety within a batch (and so within a class)."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, h: Tensor) -> Tensor:
        b, c, height, width = h.shape
        g = min(self.group, b)
        while b % g:  # a last batch smaller than, or not a multiple of, the group size
            g -= 1
        y = h.float().view(g, -1, c, height, width)  # sample i is in group i % (b // g)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [b // g]
        y = y.to(h.dtype).view(1, -1, 1, 1, 1).expand(g, -1, 1, height, width).reshape(b, 1, height, width)
        return torch.cat([h, y], dim=1)


class ClassStd(nn.Module):
    """A feature map to append: for each sample, the features' standard deviation over the batch's samples
    that share its label, averaged over channels and positions (0 for a label drawn once). MinibatchStd lets D
    see too little variety; this lets it see too much within a label: fakes whose label does not decide their
    class spread like the whole data set, real images like one class, so G is pushed to draw the class it is
    asked for (D still only conditions on the label; no classifier is trained)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.n_classes = n_classes

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        b, c, height, width = h.shape
        f = h.float().reshape(b, -1)
        onehot = nn.functional.one_hot(y, self.n_classes).to(f.dtype)  # [b, K]
        n = onehot.sum(dim=0)  # samples per label
        mean = onehot.T @ f / n.clamp(min=1)[:, None]  # [K, c*h*w]
        var = onehot.T @ (f - mean[y]).square() / n.clamp(min=1)[:, None]  # two-pass: no cancellation
        std = torch.where(n > 1, (var + 1e-8).sqrt().mean(dim=1), torch.zeros_like(n))
        return std[y].to(h.dtype).view(b, 1, 1, 1).expand(b, 1, height, width)  # the map to append to h


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's init: conv/linear weights ~ N(0, 0.02), norm gains ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# --- Spectral norm (Miyato et al. 2018) with BigGAN's orthogonal init -----------------------------------------


def _ortho_sn(layer: nn.Module) -> nn.Module:
    nn.init.orthogonal_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return spectral_norm(layer)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral norm on every conv and linear layer of `module`, in place. Call it after the weight init: SN
    reparametrises the weights, so an init written to `layer.weight` afterwards would land in a temporary."""
    for layer in [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.Linear)]:
        spectral_norm(layer)
    return module


def sn_conv(cin: int, cout: int, kernel: int = 3, bias: bool = True) -> nn.Module:
    """Conv2d ('same' padding) with orthogonal init and spectral norm."""
    return _ortho_sn(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias))


def sn_linear(cin: int, cout: int, bias: bool = True) -> nn.Module:
    return _ortho_sn(nn.Linear(cin, cout, bias=bias))


def sn_embedding(n: int, dim: int) -> nn.Module:
    return _ortho_sn(nn.Embedding(n, dim))


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose gain and bias are linear functions of a condition vector (de Vries et al.; BigGAN).

    out = BN(x) * (1 + gain(c)) + bias(c), with spectral-normalised, bias-free projections.
    """

    def __init__(self, ch: int, cond_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.gain = sn_linear(cond_dim, ch, bias=False)
        self.bias = sn_linear(cond_dim, ch, bias=False)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gain = 1.0 + self.gain(cond)[:, :, None, None]
        return self.bn(x) * gain + self.bias(cond)[:, :, None, None]


class ClassBatchNorm(nn.Module):
    """BatchNorm with a learned gain and bias per class (categorical conditional BN, Miyato & Koyama 2018).

    ConditionalBatchNorm's twin for a bare label: free per-class parameters, no spectral norm on them.
    """

    def __init__(self, ch: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.gain = nn.Embedding(n_classes, ch)
        self.bias = nn.Embedding(n_classes, ch)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)  # DCGAN's init of a BN gain, per class
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.bn(x)
        return h * self.gain(y).to(h.dtype)[:, :, None, None] + self.bias(y).to(h.dtype)[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019): x + gamma * attention(x), gamma starting at 0.

    Keys and values are max-pooled 2x2 (as in BigGAN) to cut the attention map by 4.
    """

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.query = sn_conv(ch, max(ch // 8, 1), 1, bias=False)
        self.key = sn_conv(ch, max(ch // 8, 1), 1, bias=False)
        self.value = sn_conv(ch, max(ch // 2, 1), 1, bias=False)
        self.out = sn_conv(max(ch // 2, 1), ch, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        q = self.query(x).flatten(2)  # [B, C/8, HW]
        k = F.max_pool2d(self.key(x), 2).flatten(2)  # [B, C/8, HW/4]
        v = F.max_pool2d(self.value(x), 2).flatten(2)  # [B, C/2, HW/4]
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # [B, HW, HW/4]
        o = (v @ attn.transpose(1, 2)).view(b, -1, h, w)
        return x + self.gamma * self.out(o)
