"""Runners for one network behind one call: torch (CPU or CUDA) and onnxruntime (CPU).

A runner takes float32 [N,3,299,299] and returns a tuple of float32 numpy arrays. `CALLS` counts forward
passes so tests can prove a cache hit ran no network. torch is imported only where a network runs: a fully
cached re-score never imports it (that import is most of a small run's start-up).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ganbench.atomic import atomic_write
from ganbench.threads import cpu_threads

if TYPE_CHECKING:
    import torch

BACKENDS = ("auto", "torch", "onnxruntime")
CALLS = {"forward": 0}


class Runner(Protocol):
    name: str

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, ...]: ...


class TorchRunner:
    def __init__(self, module: torch.nn.Module, device: str) -> None:
        import torch

        self.device = torch.device(device)
        self.module = module.to(self.device).eval().requires_grad_(False)
        self.name = f"torch-{self.device.type}"

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, ...]:
        import torch

        CALLS["forward"] += 1
        with torch.inference_mode(), full_fp32(self.device.type):
            outs = self.module(x.to(self.device))
        return tuple(o.float().cpu().numpy() for o in outs)


# The per-op fp32 precision knobs of torch >= 2.9 (cuBLAS, cuDNN, oneDNN): "ieee" is full fp32, "tf32"/"bf16"
# trade precision for speed. cuDNN convolutions default to "tf32"; trainers turn matmuls to "tf32" too.
_FP32_KNOBS = (("cuda", "matmul"), ("cudnn", "conv"), ("mkldnn", "matmul"), ("mkldnn", "conv"))


@contextlib.contextmanager
def full_fp32(device_type: str) -> Iterator[None]:
    """Full fp32 inside the block, whatever the caller set: no TF32 (cuBLAS, cuDNN), no reduced-precision
    oneDNN matmuls, no autocast on `device_type`; every setting is put back after.

    Scoring runs inside training loops that turn TF32 or autocast on for the whole process; TF32 alone moves
    Inception features by ~1e-3 relative, where CPU and GPU features must agree to 1e-4 to share a cache.
    cudnn.benchmark is left as it is: it only picks among full-fp32 algorithms once TF32 is off (differences
    at fp32 rounding, ~1e-6), and turning it off would slow every scoring pass.
    """
    import torch

    knobs = _fp32_knobs()
    no_autocast = (
        torch.autocast(device_type, enabled=False)
        if device_type in ("cpu", "cuda")
        else contextlib.nullcontext()
    )
    with no_autocast:
        if knobs:  # torch >= 2.9; mixing in the legacy flags below would make torch raise on the next read
            saved = [k.fp32_precision for k in knobs]
            try:
                for k in knobs:
                    k.fp32_precision = "ieee"
                yield
            finally:
                for k, value in zip(knobs, saved, strict=True):
                    k.fp32_precision = value
            return
        legacy = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        matmul = torch.get_float32_matmul_precision()
        try:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = legacy
            torch.set_float32_matmul_precision(matmul)


def _fp32_knobs() -> list:
    """torch.backends' per-op precision settings, [] on a torch that has none (before 2.9)."""
    import torch

    knobs = []
    for backend, op in _FP32_KNOBS:
        knob = getattr(getattr(torch.backends, backend, None), op, None)
        try:
            if isinstance(knob.fp32_precision, str):  # type: ignore[union-attr]
                knobs.append(knob)
        except (AttributeError, RuntimeError):  # older torch: no such setting
            pass
    return knobs


class OrtRunner:
    def __init__(self, onnx_path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or cpu_threads()
        # idle threads sleep, not spin: a spinning pool takes the cores of a job beside it (ganbench.threads)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.name = "onnxruntime-cpu"

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, ...]:
        CALLS["forward"] += 1
        return tuple(self.session.run(None, {self.input: x.cpu().numpy()}))


# A GPU's device nodes (NVIDIA, ROCm's kfd, WSL's dxg): without any of them torch.cuda.is_available() is False
# on every platform torch supports, so the answer needs no torch import; with one, torch is asked.
GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")


def cuda_available() -> bool:
    """torch.cuda.is_available(), importing torch only on a machine that has a GPU device node."""
    if "torch" not in sys.modules and not any(os.path.exists(p) for p in GPU_NODES):
        return False
    import torch

    return torch.cuda.is_available()


def default_device() -> str:
    """CUDA when present (this rank's device in a process group, see parallel.cuda_device), else the CPU."""
    if not cuda_available():
        return "cpu"
    from ganbench import parallel

    return parallel.cuda_device()


def pick(backend: str) -> str:
    """'auto' -> torch on CUDA when present, else onnxruntime when installed, else torch on CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if cuda_available():
        return "torch"
    # find_spec, not import: onnxruntime loads only when a network runs (OrtRunner)
    return "onnxruntime" if importlib.util.find_spec("onnxruntime") is not None else "torch"


def export_onnx(module: torch.nn.Module, path: Path, output_names: list[str]) -> None:
    """Export with a dynamic batch axis, atomically (a killed export leaves no half file)."""
    import warnings

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, 299, 299)
    axes = {name: {0: "n"} for name in ["images", *output_names]}

    def write(f) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(), (dummy,), f, input_names=["images"], output_names=output_names,
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip

    atomic_write(path, write, suffix=".onnx.tmp")
