"""The Python API (ganbench.score, Evaluator, Result): every input kind against the CLI on the same pixels,
the Evaluator's one reference pass, and bad input as ganbench.UserError with nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ganbench
from ganbench.cli import cli
from ganbench.inputs.arrays import to_uint8
from tests.conftest import write_fake_cifar

N = 40  # 4 per class, in cycling label order (0, 1, ..., 9, 0, 1, ...) as a conditional generator draws them
OPTIONS = dict(calibration_n=0, kid_subset_size=20)


@pytest.fixture(scope="module")
def pixels(cifar_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from ganbench.inputs.datasets import load_cifar10

    test = load_cifar10("test", data_dir=str(cifar_dir), n=400, seed=3)
    order = np.concatenate([np.flatnonzero(test.labels == c)[:4] for c in range(10)]).reshape(10, 4).T.ravel()
    images, labels = test.images[order], test.labels[order]
    assert labels.tolist() == [i % 10 for i in range(N)]
    return np.ascontiguousarray(images), labels


@pytest.fixture(scope="module")
def npz(pixels, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "samples.npz"
    images, labels = pixels
    np.savez(path, x=images.transpose(0, 2, 3, 1), y=labels)
    return path


@pytest.fixture(scope="module")
def ref(small_sets) -> str:
    return str(small_sets["ref"])


@pytest.fixture(scope="module")
def evaluator(ref: str) -> ganbench.Evaluator:
    return ganbench.Evaluator(ref, **OPTIONS)


def cli_record(*args: object) -> dict:
    result = CliRunner().invoke(
        cli, ["score", *map(str, args), "--calibration-n", "0", "--json", "--no-store"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def same_numbers(api: ganbench.Result, record: dict) -> None:
    """The same record keys and, for the same pixels, the same metrics (exactly)."""
    assert set(api.record) == set(record)
    assert api["samples"]["content_sha256"] == record["samples"]["content_sha256"]
    assert api.metrics.keys() == record["metrics"].keys()
    for key, value in record["metrics"].items():
        assert api.metrics[key] == value, key
    assert api.unavailable == record["unavailable"]


@pytest.fixture(scope="module")
def npz_record(npz: Path, ref: str) -> dict:
    return cli_record(npz, "--ref", ref)


@pytest.fixture(scope="module")
def api_evaluator(ref: str) -> ganbench.Evaluator:
    return ganbench.Evaluator(ref, calibration_n=0)  # the CLI's defaults otherwise


def test_arrays_and_tensors_match_the_cli(
    pixels, npz_record: dict, api_evaluator: ganbench.Evaluator
) -> None:
    images, labels = pixels
    ev = api_evaluator
    fresh = ev.score(images, labels=labels)  # uint8 NCHW, features computed afresh (in-memory: not cached)
    assert fresh["cache"]["samples_hit"] is False
    same_numbers(fresh, npz_record)
    variants = {
        "uint8 NHWC tensor": dict(samples=torch.from_numpy(images.transpose(0, 2, 3, 1).copy())),
        "float (0, 1) array": dict(samples=images.astype(np.float32) / 255, value_range=(0, 1)),
        "float (-1, 1) tensor": dict(
            samples=torch.from_numpy(images).float() / 127.5 - 1, value_range=(-1, 1)
        ),
        "float64 NHWC (0, 1)": dict(samples=images.transpose(0, 2, 3, 1) / 255.0, value_range=(0, 1)),
    }
    for what, kw in variants.items():
        result = ev.score(labels=labels, cache=True, **kw)
        assert result["samples"]["content_sha256"] == npz_record["samples"]["content_sha256"], what
        same_numbers(result, npz_record)


def test_path_and_loader_match_the_cli(pixels, npz: Path, npz_record: dict, api_evaluator) -> None:
    images, labels = pixels
    same_numbers(api_evaluator.score(npz), npz_record)
    same_numbers(api_evaluator.score(str(npz)), npz_record)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(images).float() / 255, torch.from_numpy(labels)),
        batch_size=16,
    )
    same_numbers(api_evaluator.score(loader, value_range=(0, 1), cache=True), npz_record)
    unlabelled = [torch.from_numpy(images[i : i + 7]) for i in range(0, N, 7)]  # a list of bare batches
    same_numbers(api_evaluator.score(unlabelled, labels=labels.tolist(), cache=True), npz_record)


class Replay(torch.nn.Module):
    """A "generator" that returns the stored images in order, checking it is asked for their labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("images", torch.from_numpy(images).float() / 127.5 - 1)
        self.labels = torch.from_numpy(labels)
        self.at = 0

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        assert not self.training and not torch.is_grad_enabled()
        b = z.shape[0]
        assert torch.equal(y, self.labels[self.at : self.at + b])
        out = self.images[self.at : self.at + b]
        self.at += b
        return out


def test_generator_module_matches_the_cli(pixels, npz_record: dict, api_evaluator) -> None:
    G = Replay(*pixels).train()
    result = api_evaluator.score(
        G, z_dim=8, n=N, num_classes=10, value_range=(-1, 1), batch_size=16, cache=True
    )
    same_numbers(result, npz_record)
    assert G.training  # the mode is restored
    assert result["samples"]["kind"] == "generator" and result["samples"]["origin"]["latent_seed"] == "0"


def _tiny_generator() -> torch.nn.Module:
    torch.manual_seed(0)

    class G(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(8 + 10, 3 * 32 * 32)

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            onehot = torch.nn.functional.one_hot(y, 10).float()
            return torch.tanh(self.fc(torch.cat([z, onehot], 1))).view(-1, 3, 32, 32)

    return G().eval()


def test_torchscript_and_onnx_files_give_the_modules_pixels(tmp_path: Path, api_evaluator) -> None:
    G = _tiny_generator()
    kw = dict(z_dim=8, n=30, num_classes=10, value_range=(-1, 1), cache=True)
    module = api_evaluator.score(G, **kw)
    ts = tmp_path / "g.pt"
    torch.jit.save(torch.jit.trace(G, (torch.randn(2, 8), torch.arange(2))), ts)
    scripted = api_evaluator.score(ts, **kw)
    assert scripted["samples"]["origin"]["format"] == "torchscript"
    assert scripted["samples"]["content_sha256"] == module["samples"]["content_sha256"]
    assert scripted.metrics == module.metrics
    onnx = tmp_path / "g.onnx"
    torch.onnx.export(
        G, (torch.randn(2, 8), torch.arange(2)), onnx, input_names=["z", "y"], output_names=["x"],
        dynamic_axes={"z": {0: "b"}, "y": {0: "b"}, "x": {0: "b"}}, dynamo=False,
    )  # fmt: skip
    kw.pop("z_dim")  # read from the ONNX file's z input
    exported = api_evaluator.score(onnx, **kw)
    assert exported["samples"]["origin"]["format"] == "onnx" and exported["samples"]["n"] == 30
    # onnxruntime's matmul may differ from torch's in the last float bits: compare the pixels, not the hash
    from ganbench.inputs.arrays import from_generator
    from ganbench.inputs.generators import generator_file

    onnx_g, _ = generator_file(str(onnx))
    a = from_generator(G, z_dim=8, n=30, num_classes=10, value_range=(-1, 1)).images.astype(int)
    b = from_generator(onnx_g, z_dim=8, n=30, num_classes=10, value_range=(-1, 1)).images.astype(int)
    assert np.abs(a - b).max() <= 1 and (a != b).mean() < 0.001


def test_generator_matches_scoring_a_trainer_checkpoint(tmp_path: Path, ref: str) -> None:
    from trainers.cli import train_command
    from trainers.sample import load_generator

    data = write_fake_cifar(tmp_path / "cifar")
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        train_command, ["cgan", "--preset", "smoke", "--data", str(data), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    ckpt = next(out.glob("*/ckpt-2.pt"))
    record = cli_record(ckpt, "--n", 30, "--ref", ref)
    G, _ = load_generator(ckpt, "cpu")
    api = ganbench.score(
        G, ref, z_dim=100, n=30, num_classes=10, value_range=(-1, 1), calibration_n=0, cache=True
    )
    assert api["samples"]["content_sha256"] == record["samples"]["content_sha256"]
    assert api.metrics == record["metrics"]


def test_a_second_score_runs_no_reference_pass(ref: str, pixels) -> None:
    calls: list[tuple[str, int]] = []
    ev = ganbench.Evaluator(ref, classifier="none")
    inner = ev._setup.extractor.__class__.__call__

    def counting(self, images, *, desc="inception"):
        calls.append((desc, len(images)))
        return inner(self, images, desc=desc)

    images, _ = pixels
    ev._setup.extractor.__class__.__call__ = counting
    try:
        first = ev.score(images[:10])
        second = ev.score(images[10:20])
    finally:
        ev._setup.extractor.__class__.__call__ = inner
    assert calls == [("samples", 10), ("samples", 10)]  # the reference's features were loaded at construction
    assert "reference" not in second["stage_seconds"] and second["cache"]["reference_hit"] is True
    assert first["reference"] == second["reference"]
    for key in ("load_samples", "sample_features", "metrics", "classaware"):
        assert second["stage_seconds"][key] >= 0


def test_result_repr_json_and_save(api_evaluator, pixels, tmp_path: Path) -> None:
    images, labels = pixels
    result = api_evaluator.score(images, labels=labels, cache=True, name="my-gan")
    shown = repr(result)
    assert shown.startswith(f"Result(fid={result.metrics['fid']:.4g}, ") and "'my-gan'" in shown
    assert f"kid_mean={result.metrics['kid_mean']:.4g}" in shown and "40 samples" in shown
    if result.metrics["is_mean"] is None:  # no IS head here: shown as n/a, never as a number
        assert "is_mean=n/a" in shown
    assert json.loads(result.to_json())["metrics"] == result.metrics
    assert not (tmp_path / "store").exists()  # nothing stored unless asked
    saved = result.save(tmp_path / "store")
    assert (
        saved.parent == tmp_path / "store" and json.loads(saved.read_text())["samples"]["source"] == "my-gan"
    )
    assert isinstance(ganbench.UserError("x"), ValueError)


def test_to_uint8_is_the_one_conversion() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, -1 + 2 / 255, -1 + 1 / 255])
    assert to_uint8(x, (-1, 1)).tolist() == [0, 128, 255, 1, 0]  # 127.5 and 0.5 round half to even
    assert to_uint8(np.array([0.0, 0.5, 1.0], np.float32), (0, 1)).tolist() == [0, 128, 255]


# --- bad input: a UserError, nothing written -------------------------------------------------------------


def _bad_generators() -> dict[str, tuple[object, str]]:
    def nan_on_batch_1(z, y):
        out = torch.zeros(z.shape[0], 3, 32, 32)
        if nan_on_batch_1.calls == 1:
            out[0, 0, 0, 0] = float("nan")
        nan_on_batch_1.calls += 1
        return out

    nan_on_batch_1.calls = 0

    def raises(z, y):
        raise RuntimeError("CUDA out of memory (pretend)")

    return {
        "nan": (nan_on_batch_1, r"batch 1.*NaN"),
        "shape": (
            lambda z, y: torch.zeros(z.shape[0], 32, 32),
            r"shape \[10, 32, 32\] on batch 0.*\[10,3,H,W\]",
        ),
        "grey": (lambda z, y: torch.zeros(z.shape[0], 1, 32, 32), r"expected \[10,3,H,W\]"),
        "range": (
            lambda z, y: torch.full((z.shape[0], 3, 32, 32), 2.0),
            r"\[2, 2\], outside value_range \(-1, 1\)",
        ),
        "raises": (raises, r"raised RuntimeError on batch 0: CUDA out of memory"),
        "not a tensor": (lambda z, y: "x", r"returned str on batch 0"),
    }


@pytest.mark.parametrize("case", list(_bad_generators()))
def test_bad_generator_is_a_user_error(
    case: str, evaluator: ganbench.Evaluator, isolated_cache: Path
) -> None:
    G, match = _bad_generators()[case]
    before = _stored(isolated_cache)
    with pytest.raises(ganbench.UserError, match=match):
        evaluator.score(G, z_dim=4, n=20, num_classes=10, value_range=(-1, 1), batch_size=10)
    assert _stored(isolated_cache) == before


def test_bad_arrays_and_labels(evaluator: ganbench.Evaluator, pixels, isolated_cache: Path) -> None:
    images, labels = pixels
    floats = images.astype(np.float32) / 255
    before = _stored(isolated_cache)
    cases = [
        (dict(samples=floats), r"floating point: pass value_range=\(-1, 1\) or \(0, 1\)"),
        (dict(samples=floats * 2 - 0.5, value_range=(0, 1)), r"values in \[-0.5, 1.5\], outside value_range \(0, 1\)"),
        (dict(samples=images, labels=labels + 1), r"labels must be in 0..9; got values 1..10"),
        (dict(samples=images, labels=labels[:-1]), r"labels has 39 entries for 40 images"),
        (dict(samples=images[:, :2]), r"expected \[N,3,H,W\] or \[N,H,W,3\]"),
        (dict(samples=images.astype(np.int32)), r"dtype int32"),
        (dict(samples=images, value_range=(-1, 1)), r"uint8.*drop value_range"),
        (dict(samples=images, z_dim=4), r"z_dim apply to generators"),
        (dict(samples=_tiny_generator(), n=20, value_range=(-1, 1)), r"needs z_dim="),
        (dict(samples=_tiny_generator(), z_dim=8, value_range=(-1, 1)), r"needs n="),
        (dict(samples=_tiny_generator(), z_dim=8, n=20), r"value_range="),
        (dict(samples=_tiny_generator(), z_dim=8, n=20, num_classes=10, value_range=(-1, 1), labels=labels[:20]),
         r"drop labels="),
        (dict(samples=[]), r"yielded no batches"),
        (dict(samples=3.5), r"cannot score a float"),
    ]  # fmt: skip
    for kw, match in cases:
        with pytest.raises(ganbench.UserError, match=match):
            evaluator.score(**kw)
    with pytest.raises(ganbench.UserError, match="unknown option kid_size"):
        ganbench.Evaluator("cifar10-train", kid_size=3)
    assert _stored(isolated_cache) == before


def _stored(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "weights" not in p.parts
                  and "onnx" not in p.parts)  # fmt: skip


def test_importing_ganbench_stays_light() -> None:
    # the API is imported on first use: `import ganbench` (and the CLI's --help) must not import torch
    import subprocess
    import sys

    code = "import ganbench, sys; assert 'torch' not in sys.modules; print(ganbench.UserError.__mro__[1].__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ValueError"
