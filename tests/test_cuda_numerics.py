"""CUDA numerics and options, shown on the CPU: scoring in full fp32 inside a trainer's TF32/autocast context,
the training precision per GPU, --compile, the generator's device, benchmark --device, CUDA RNG on resume.

A CPU cannot run TF32 or a GPU, but the flags are process-global and the decisions are code: the tests set the
flags as trainers/loop.py sets them, turn on CPU autocast where a trainer would turn on CUDA autocast, and
monkeypatch torch.cuda's capability functions where a decision reads them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.extractors import backends
from tests.conftest import write_fake_cifar
from trainers import checkpoint
from trainers.cli import train_command

from .test_trainers import _one_thread, invoke, newest  # noqa: F401 (_one_thread: autouse fixture)


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory: pytest.TempPathFactory):
    return write_fake_cifar(tmp_path_factory.mktemp("cifar"))


def run_train(*args: object):
    """A CLI training run that must succeed (args include --out); returns its run folder."""
    result = invoke(train_command, list(args))
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return newest(Path(str(args[args.index("--out") + 1])))


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


# --- the training precision: bf16 where native, fp16 with loss scaling on older GPUs, fp32 on the CPU ------


@pytest.mark.parametrize(
    ("capability", "expected"),
    [
        ((6, 0), "fp16"),
        ((7, 0), "fp16"),
        ((7, 5), "fp16"),
        ((8, 0), "bf16"),
        ((8, 9), "bf16"),
        ((9, 0), "bf16"),
    ],
)
@pytest.mark.parametrize("torch_api", ["including_emulation", "older torch"])
def test_bf16_only_on_gpus_that_have_it_natively(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], expected: str, torch_api: str
) -> None:
    from trainers import gan

    native = capability >= (8, 0)
    if torch_api == "including_emulation":
        # as torch does it: bf16 is "supported" everywhere when emulation counts (a T4 says yes)
        def is_bf16_supported(including_emulation: bool = True) -> bool:
            return native or including_emulation
    else:  # an older torch without the argument answers yes under emulation too

        def is_bf16_supported() -> bool:
            return True

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    assert gan.train_precision(torch.device("cuda")) == expected
    assert gan.train_precision(torch.device("cpu")) == "fp32"


ARCH_NAMES = ["dcgan", "cgan", "acgan", "biggan", "wgan-gp"]


@pytest.mark.parametrize("name", ARCH_NAMES)
def test_every_arch_steps_in_fp16_with_loss_scaling(name: str) -> None:
    """The fp16 path of a T4 or V100, on the CPU (CPU autocast runs fp16 too; GradScaler takes "cpu")."""
    from trainers import gan
    from trainers.registry import arch_module
    from trainers.settings import fresh

    arch = arch_module(name)
    cfg, _ = fresh(arch, "smoke", {}, {"data": "unused"})
    torch.manual_seed(0)
    nets = gan.make_nets(arch, cfg, torch.device("cpu"), precision="fp16")
    assert nets.scaler_G is not None and nets.scaler_D is not None
    steps: list[str] = []
    for which in ("G", "D"):
        scaler = getattr(nets, f"scaler_{which}")
        scaler.step = lambda opt, real=scaler.step, which=which: (steps.append(which), real(opt))[1]
    dtypes: list[torch.dtype] = []
    first = next(m for m in nets.D.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    first.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))

    def batches() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(8, 3, 32, 32) * 2 - 1, torch.randint(0, 10, (8,))

    metrics = arch.step(nets, cfg, batches, 0)
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    assert torch.float16 in dtypes  # D's forward ran under fp16 autocast
    n_dis = getattr(cfg, "n_dis", 1)
    assert steps == ["D"] * n_dis + ["G"]  # every update went through its own scaler


def test_fp16_runs_record_it_and_resume_their_loss_scale(
    monkeypatch: pytest.MonkeyPatch, tmp_path, fake_cifar
) -> None:
    """A run on a pre-Ampere GPU, its precision forced on the CPU: config.json, the log and the checkpoint say
    fp16, and a resumed run continues bit for bit, loss scale included."""
    from trainers import gan

    monkeypatch.setattr(gan, "train_precision", lambda device: "fp16")
    args = ["dcgan", "--preset", "smoke", "--data", fake_cifar, "--ckpt-every", 2]
    straight = run_train(*args, "--steps", 4, "--out", tmp_path / "a")
    half = run_train(*args, "--steps", 2, "--out", tmp_path / "b")
    assert json.loads((half / "config.json").read_text())["precision"] == "fp16"
    ckpt2 = checkpoint.load(half / "ckpt-2.pt")
    assert ckpt2["precision"] == "fp16" and ckpt2["scaler_G"]["scale"] > 0 and ckpt2["scaler_D"] is not None
    result = invoke(train_command, ["dcgan", "--resume", half, "--steps", 4])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "fp16 autocast with loss scaling" in result.output
    a, b = checkpoint.load(straight / "ckpt-4.pt"), checkpoint.load(half / "ckpt-4.pt")
    assert a["scaler_D"] == b["scaler_D"] and a["scaler_G"] == b["scaler_G"]
    for k in a["G"]:
        assert torch.equal(a["G"][k], b["G"][k]), k


# --- --compile: G and D compiled, but not D of a gradient penalty (torch.compile has no double backward) ---


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp"])
def test_compile_trains(monkeypatch: pytest.MonkeyPatch, tmp_path, fake_cifar, name: str) -> None:
    """Smoke steps with --compile. The backend is aot_eager: dynamo's capture and AOTAutograd (which refuses
    the double backward) without inductor's C++ build, which takes minutes per net on 2 shared cores."""
    compiled: list[str] = []
    real = nn.Module.compile

    def compile_(self: nn.Module, *args: object, **kwargs: object) -> None:
        compiled.append(type(self).__name__)
        real(self, backend="aot_eager")

    monkeypatch.setattr(nn.Module, "compile", compile_)
    run = run_train(name, "--preset", "smoke", "--data", fake_cifar, "--out", tmp_path, "--compile")
    assert compiled == (["Generator"] if name == "wgan-gp" else ["Generator", "Discriminator"])
    assert checkpoint.load(run / "ckpt-2.pt")["step"] == 2


# --- a generator on another device than the one scoring asks for ----------------------------------------


class DeviceProbe(nn.Module):
    """Records where its input and weights are; returns zeros on the CPU wherever it runs (so its output
    converts even on the meta device, which stands in for a GPU here: it holds no data)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((3,), 0.5))
        self.register_buffer("b", torch.ones(2))
        self.seen: list[tuple[str, str, str]] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.seen.append((z.device.type, self.w.device.type, self.b.device.type))
        return torch.zeros(len(z), 3, 4, 4)


def test_a_generator_runs_on_the_device_asked_for_and_stays_where_it_was() -> None:
    from ganbench.inputs.arrays import from_generator

    G = DeviceProbe()
    images = from_generator(G, z_dim=2, n=3, value_range=(-1, 1), device="meta")
    assert G.seen == [("meta", "meta", "meta")]  # its weights went with the latents
    assert images.images.shape == (3, 3, 4, 4)
    assert G.w.device.type == "cpu" and torch.equal(G.w.detach(), torch.full((3,), 0.5))  # untouched
    assert G.b.device.type == "cpu" and G.training
    from_generator(G, z_dim=2, n=3, value_range=(-1, 1))  # no device: where its weights are
    assert G.seen[-1] == ("cpu", "cpu", "cpu")


# --- benchmark --device reaches sampling and scoring ------------------------------------------------------


def test_benchmark_device_reaches_sampling_and_scoring(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import ganbench.results
    import ganbench.scoring
    import trainers.sample
    from trainers import benchmark as B
    from trainers.benchmark import units

    seen: dict[str, object] = {}

    def checkpoint_images(path, n, seed=0, batch_size=500, device="auto"):
        seen["sample"] = device
        return np.zeros((n, 3, 32, 32), np.uint8), None, {"path": str(path)}

    def setup(cfg, extractor=None, classifier=None, device=None):
        seen["networks"] = device
        return "setup"

    monkeypatch.setattr(trainers.sample, "checkpoint_images", checkpoint_images)
    monkeypatch.setattr(ganbench.scoring, "setup", setup)
    record = {"metrics": {"fid": 1.0}, "reference": {}, "extractor": {}}
    monkeypatch.setattr(ganbench.scoring, "score_images", lambda run, samples, **kw: dict(record))
    monkeypatch.setattr(
        ganbench.results, "write_record", lambda record, where, **kw: tmp_path / "record.json"
    )
    monkeypatch.setattr(units.checkpoint, "load", lambda path: {"step": 2, "train_seconds": 1.0})
    (tmp_path / "ckpt-2.pt").touch()  # read by the stand-ins above only
    protocol = B.Protocol(preset="smoke", minutes=None, n=4, ref_n=4, fid_ci=0)
    trained = {"checkpoint": str(tmp_path / "ckpt-2.pt"), "arch": "dcgan", "model_settings": {}, "steps": 2,
               "steps_budget": 2, "train_seconds": 1.0, "img_per_s": 1.0, "generator": "G", "seed": 0}  # fmt: skip
    req = B.Request(("dcgan",), protocol, tmp_path, device="cpu")
    units.score_unit(req, "dcgan", trained, echo=lambda s: None)
    assert seen == {"sample": "cpu", "networks": "cpu"}
    seen.clear()
    units.curve_unit(req, "dcgan", trained, echo=lambda s: None)  # the quality curve's samples too
    assert seen == {"sample": "cpu", "networks": "cpu"}


# --- resume: CUDA RNG states that cannot be restored are named -----------------------------------------


@pytest.mark.parametrize("gpus_here", [1, 2, 0])
def test_resume_warns_when_the_cuda_rng_states_are_not_restored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, gpus_here: int
) -> None:
    from trainers import loop
    from trainers.distributed import Dist

    restored: list[list] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus_here > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus_here)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [])
    rng = checkpoint.capture_rng() | {"cuda": [torch.zeros(8, dtype=torch.uint8)] * 2}  # written on 2 GPUs
    loop._restore_rng({"rng": rng, "step": 2}, Dist(0, 1, torch.device("cpu")), seed=0)
    err = capsys.readouterr().err
    if gpus_here == 2:
        assert restored == [rng["cuda"]] and err == ""
    else:
        assert restored == [] and f"CUDA RNG states of 2 GPU(s), this machine has {gpus_here}" in err
        assert "not restored" in err and err.count("\n") == 1
