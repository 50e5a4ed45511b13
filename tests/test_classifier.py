"""The surrogate CIFAR ResNet: architecture, pretrained weights, resolution order, accuracy, caching."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.errors import UserError
from ganbench.extractors import classifier as C
from ganbench.extractors import classifier_net as N

torch.set_num_threads(1)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "weights"


@pytest.fixture(scope="session")
def weight_files() -> dict[str, Path]:
    files = {arch: SHARED / spec.filename for arch, spec in C.KNOWN_CLASSIFIERS.items()}
    if not all(p.is_file() for p in files.values()):
        pytest.skip(f"pretrained CIFAR ResNets not in {SHARED}")
    return files


@pytest.mark.parametrize(("depth", "params"), [(20, 0.27e6), (56, 0.85e6)])
def test_architecture_matches_the_paper(depth, params):
    """He et al. table 6: ResNet-20 has 0.27M parameters, ResNet-56 0.85M; option A shortcuts add none."""
    net = N.CifarResNet(depth)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(params, rel=0.01)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="6n"):
        N.CifarResNet(21)


def test_pretrained_weights_load_and_classify(weight_files, cifar_dir):
    from ganbench.inputs.datasets import load_cifar10

    test = load_cifar10("test", data_dir=str(cifar_dir), n=100, seed=3)
    for arch, path in weight_files.items():
        resolved = C.identify(path)
        assert resolved.arch == arch and resolved.source == "akamaster"
        probs = C.ClassifierExtractor(resolved, batch_size=32, device="cpu")(test.images)["probs"]
        assert probs.shape == (100, 10) and probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
        # ~81% / 83% on the JPEG copy (README); 100 images: allow the binomial spread
        assert (probs.argmax(1) == test.labels).mean() >= 0.7


def test_batch_size_independence(weight_files):
    resolved = C.identify(weight_files["resnet20"])
    x = np.random.default_rng(0).integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    a = C.ClassifierExtractor(resolved, batch_size=3, device="cpu")(x)["probs"]
    b = C.ClassifierExtractor(resolved, batch_size=10, device="cpu")(x)["probs"]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_resolution_order(weight_files, tmp_path, monkeypatch):
    monkeypatch.delenv("GANBENCH_CLASSIFIER_WEIGHTS", raising=False)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    with pytest.raises(UserError, match="GANBENCH_OFFLINE"):  # nothing local, offline: one clear line
        C.resolve_classifier("resnet56")
    (tmp_path / "cache" / "weights").mkdir(parents=True)
    shutil.copy(weight_files["resnet56"], tmp_path / "cache" / "weights")
    assert C.resolve_classifier("resnet56").path.parent == tmp_path / "cache" / "weights"  # the cache
    monkeypatch.setenv("GANBENCH_CLASSIFIER_WEIGHTS", str(SHARED))  # a folder: the file named by the arch
    assert C.resolve_classifier("resnet20").path == weight_files["resnet20"]
    monkeypatch.setenv("GANBENCH_CLASSIFIER_WEIGHTS", str(weight_files["resnet56"]))
    assert C.resolve_classifier("resnet56").path == weight_files["resnet56"]
    with pytest.raises(UserError, match="is a resnet56, but resnet20"):
        C.resolve_classifier("resnet20")
    # an explicit path wins and decides the architecture
    assert C.resolve_classifier("resnet56", weight_files["resnet20"]).arch == "resnet20"
    with pytest.raises(UserError, match="unknown classifier"):
        C.resolve_classifier("resnet110")


def test_unknown_or_tampered_file_is_refused(weight_files, tmp_path):
    bad = tmp_path / "resnet56-4bfd9763.th"
    data = bytearray(weight_files["resnet56"].read_bytes())
    data[-100] ^= 0xFF  # one flipped byte: the name still claims the hash
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError, match="matches no known file"):
        C.identify(bad)
    with pytest.raises(UserError, match="does not exist"):
        C.identify(tmp_path / "missing.th")


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x85",
        b"\x80\x02}q\x00",
        b"PK\x03\x04 not a zip",
        bytes(np.random.default_rng(0).integers(0, 256, 256)),
    ],
    ids=["empty", "tuple1-on-empty-stack", "truncated-pickle", "bad-zip", "random"],
)
def test_junk_of_any_kind_is_one_user_error(tmp_path, junk):
    """Whatever the unpickler raises on bytes that are not a checkpoint (b"\\x85": IndexError), it is the
    one 'matches no known file' error, never a traceback."""
    path = tmp_path / "junk.pt"
    path.write_bytes(junk)
    with pytest.raises(UserError, match="matches no known file"):
        C.identify(path)


def test_own_checkpoint_is_accepted(tmp_path):
    net = N.CifarResNet(20)
    path = tmp_path / "mine.pt"
    torch.save({C.CUSTOM_KEY: {"arch": "resnet20"}, "state_dict": net.state_dict()}, path)
    resolved = C.identify(path)
    assert resolved.arch == "resnet20" and resolved.source == "ganbench classifier train"
    assert C.build(resolved) is not None
    torch.save({C.CUSTOM_KEY: {"arch": "resnet56"}, "state_dict": net.state_dict()}, path)
    with pytest.raises(UserError, match="do not fit a resnet56"):
        C.build(C.identify(path))


def test_classifier_train_cli_writes_a_usable_checkpoint(tmp_path):
    """Two epochs on 40 labelled noise images: the point is the plumbing, not the accuracy."""
    from click.testing import CliRunner

    from ganbench.cli import cli

    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz", x=rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), y=np.arange(40) % 10
    )
    out = tmp_path / "mine.pt"
    args = ["classifier", "train", str(tmp_path / "d.npz"), "--out", str(out), "--epochs", "2",
            "--batch-size", "16", "--val", str(tmp_path / "d.npz"), "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "epoch 2/2" in result.stderr and "val accuracy" in result.stderr
    resolved = C.resolve_classifier("resnet56", out)  # the file decides: a resnet20
    assert resolved.arch == "resnet20" and resolved.source == "ganbench classifier train"
    probs = C.ClassifierExtractor(resolved, device="cpu")(np.zeros((2, 3, 32, 32), np.uint8))["probs"]
    assert probs.shape == (2, 10)
    np.savez(tmp_path / "u.npz", x=np.zeros((4, 32, 32, 3), np.uint8))
    bad = CliRunner().invoke(cli, ["classifier", "train", str(tmp_path / "u.npz"), "--out", str(out)])
    assert bad.exit_code == 2 and "has no labels" in bad.stderr
