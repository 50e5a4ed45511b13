"""CUDA numerics and options, shown on the CPU: scoring in full fp32 inside a trainer's TF32/autocast context,
the training precision per GPU, --compile, the generator's device, benchmark --device, CUDA RNG on resume.

A CPU cannot run TF32 or a GPU, but the flags are process-global and the decisions are code: the tests set the
flags as trainers/loop.py sets them, turn on CPU autocast where a trainer would turn on CUDA autocast, and
monkeypatch torch.cuda's capability functions where a decision reads them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.extractors import backends

# The per-op precision settings of torch >= 2.9 (reading the legacy flags while these are set raises).
KNOBS = {
    "cuda.matmul": lambda: torch.backends.cuda.matmul,
    "cudnn.conv": lambda: torch.backends.cudnn.conv,
    "mkldnn.matmul": lambda: torch.backends.mkldnn.matmul,
    "mkldnn.conv": lambda: torch.backends.mkldnn.conv,
}


def precisions() -> dict[str, str]:
    return {name: knob().fp32_precision for name, knob in KNOBS.items()}


@pytest.fixture
def trainer_flags() -> Iterator[None]:
    """The process-wide settings trainers/loop.py makes on CUDA (and a user's medium matmul precision); every
    setting is put back after the test."""
    saved, benchmark = precisions(), torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("medium")  # oneDNN matmuls in bf16 on a CPU that has it
        yield
    finally:
        for name, value in saved.items():
            KNOBS[name]().fp32_precision = value
        torch.backends.cudnn.benchmark = benchmark


class Probe(nn.Module):
    """Records the precision settings and autocast state its forward runs under."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        self.seen.append(precisions() | {"autocast": torch.is_autocast_enabled("cpu")})
        return (x.flatten(1)[:, :4],)


def test_the_scoring_forward_runs_in_full_fp32_and_restores_the_flags(trainer_flags: None) -> None:
    before = precisions()
    assert before["cuda.matmul"] == "tf32" and before["mkldnn.matmul"] == "bf16"  # the context took effect
    probe = Probe()
    runner = backends.TorchRunner(probe, "cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):  # CUDA autocast, as trainers/gan.py turns it on
        runner(torch.zeros(2, 3, 4, 4))
        assert torch.is_autocast_enabled("cpu")  # the caller's autocast is back after the forward
    assert probe.seen == [dict.fromkeys(KNOBS, "ieee") | {"autocast": False}]
    assert precisions() == before
    assert torch.backends.cudnn.benchmark  # left as the trainer set it (it picks among fp32 algorithms)
    # the legacy flags read as the trainer set them (mixing the two APIs would make this read raise)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32


def test_features_inside_a_trainers_context_equal_those_outside(torch_extractor, trainer_flags) -> None:
    from ganbench.extractors.classifier import ClassifierExtractor, resolve_classifier

    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    classifier = ClassifierExtractor(resolve_classifier("resnet20"), device="cpu")
    outside = torch_extractor(images)["pool3"], classifier(images)["probs"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = torch_extractor(images)["pool3"], classifier(images)["probs"]
    for a, b in zip(outside, inside, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
