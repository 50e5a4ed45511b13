"""Shared fixtures. The FID network is slow on CPU (~10 img/s), so image sets are tiny and built once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10"
_REAL_CACHE = Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")
SHARED_WEIGHTS = REPO.parent / "shared" / "weights"
# The surrogate classifiers beside the project (as the Makefile exports them), so plain `pytest` stays offline.
# A folder, not one file: it serves --classifier resnet56 and resnet20 alike.
if not os.environ.get("GANBENCH_CLASSIFIER_WEIGHTS") and (SHARED_WEIGHTS / "resnet56-4bfd9763.th").is_file():
    os.environ["GANBENCH_CLASSIFIER_WEIGHTS"] = str(SHARED_WEIGHTS)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh feature cache and results store per session; weights and exported models are shared."""
    tmp = tmp_path_factory.mktemp("ganbench-cache")
    for sub in ("weights", "onnx"):
        (_REAL_CACHE / sub).mkdir(parents=True, exist_ok=True)
        (tmp / sub).symlink_to(_REAL_CACHE / sub, target_is_directory=True)
    os.environ["GANBENCH_CACHE"] = str(tmp)
    os.environ["GANBENCH_RESULTS"] = str(tmp / "results")
    return tmp


@pytest.fixture(scope="session")
def resolved_weights():
    from ganbench import weights
    from ganbench.errors import UserError

    try:
        return weights.resolve()
    except UserError as e:
        pytest.fail(f"FID Inception weights unavailable ({e}); run `make setup` first")


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    path = Path(os.environ.get("GANBENCH_DATA") or SHARED_CIFAR)
    if not (path / "train").is_dir():
        pytest.skip(f"no CIFAR-10 image-folder copy at {path}; set GANBENCH_DATA")
    return path


def write_class_folders(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """uint8 [N,3,H,W] + labels -> root/<class>/<i>.png (lossless, so every tool reads the same pixels)."""
    from ganbench.inputs.imageset import CIFAR10_CLASSES

    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        d = root / CIFAR10_CLASSES[int(y)]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.transpose(1, 2, 0)).save(d / f"{i:04d}.png")
    return root


def write_fake_cifar(root: Path) -> Path:
    """root/train/<class>/<i>.png: 4 random 32x32 images per class, enough for a smoke training run."""
    from ganbench.inputs.imageset import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (root / "train" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                root / "train" / name / f"{i}.png"
            )
    return root


@pytest.fixture(scope="session")
def small_sets(cifar_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """'samples': 40 CIFAR-10 test images, 'ref': 60 train images, both as PNG class folders."""
    from ganbench.inputs.datasets import load_cifar10

    root = tmp_path_factory.mktemp("sets")
    test = load_cifar10("test", data_dir=str(cifar_dir), n=40, seed=1)
    train = load_cifar10("train", data_dir=str(cifar_dir), n=60, seed=2)
    return {
        "samples": write_class_folders(root / "samples", test.images, test.labels),
        "ref": write_class_folders(root / "ref", train.images, train.labels),
    }


@pytest.fixture(scope="session")
def ort_extractor(resolved_weights):
    from ganbench.extractors.inception import InceptionExtractor

    return InceptionExtractor(resolved_weights, backend="onnxruntime")


@pytest.fixture(scope="session")
def torch_extractor(resolved_weights):
    from ganbench.extractors.inception import InceptionExtractor

    return InceptionExtractor(resolved_weights, backend="torch", device="cpu")


@pytest.fixture(scope="session")
def head_weights(resolved_weights, tmp_path_factory: pytest.TempPathFactory):
    """A torch-fidelity-layout file with a random 1008-way head on the real network, for exercising the IS path
    end to end here, where torch-fidelity's canonical file (with the real head) cannot be downloaded."""
    import torch

    from ganbench import weights as W

    sd = W.load_state_dict(resolved_weights)
    gen = torch.Generator().manual_seed(0)
    sd["fc.weight"] = torch.randn(1008, 2048, generator=gen) * 0.05
    sd["fc.bias"] = torch.randn(1008, generator=gen) * 0.05
    path = tmp_path_factory.mktemp("head") / "inception-with-random-head.pth"
    torch.save(sd, path)
    sha256, _ = W.file_hashes(path)
    return W.ResolvedWeights(path, W.TORCH_FIDELITY, sha256)
