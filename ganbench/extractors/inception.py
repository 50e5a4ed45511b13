"""The FID Inception extractor: resize policy + network -> {"pool3": [N,2048], "logits": [N,1008]?} in one pass."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from ganbench import weights as W
from ganbench.extractors import RESIZE_POLICIES, backends

if TYPE_CHECKING:
    from ganbench.extractors.inception_net import FIDInceptionV3

# Bump when anything that changes the numbers for the same weights and resize changes (cache keys use it).
EXTRACTOR_VERSION = 1
PROGRESS_MIN = 256  # show a progress bar on passes over more images than this


class InceptionExtractor:
    def __init__(
        self,
        resolved: W.ResolvedWeights,
        *,
        backend: str = "auto",
        resize_policy: str = "legacy-tf",
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        if resize_policy not in RESIZE_POLICIES:
            raise ValueError(
                f"unknown resize policy {resize_policy!r}; choose one of {', '.join(RESIZE_POLICIES)}"
            )
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.weights = resolved
        self.resize_policy = resize_policy
        self.batch_size = batch_size
        self.has_logits = resolved.spec.has_logits
        self.backend = backends.pick(backend)
        self.device = device or backends.default_device()
        self._runner: backends.Runner | None = None  # built on first use: a cache hit needs no network

    def identity(self) -> dict:
        """Everything that changes the features (the cache key and the record use it); not the backend."""
        return {
            "extractor": "inception-v3-fid",
            "version": EXTRACTOR_VERSION,
            "weights_sha256": self.weights.sha256,
            "resize": self.resize_policy,
        }

    @property
    def outputs(self) -> list[str]:
        return ["pool3", "logits"] if self.has_logits else ["pool3"]

    def _module(self) -> FIDInceptionV3:
        from ganbench.extractors.inception_net import FIDInceptionV3

        net = FIDInceptionV3(with_logits=self.has_logits)
        net.load_state_dict(W.load_state_dict(self.weights), strict=True)
        return net.eval()

    def runner(self) -> backends.Runner:
        if self._runner is None:
            if self.backend == "onnxruntime":
                heads = "pool3-logits" if self.has_logits else "pool3"
                path = (
                    W.cache_root()
                    / "onnx"
                    / f"inception-{self.weights.sha256[:16]}-{heads}-v{EXTRACTOR_VERSION}.onnx"
                )
                if not path.is_file():
                    backends.export_onnx(self._module(), path, self.outputs)
                self._runner = backends.OrtRunner(path)
            else:
                self._runner = backends.TorchRunner(self._module(), self.device)
        return self._runner

    @property
    def backend_name(self) -> str:
        return self.runner().name

    def __call__(self, images: np.ndarray, *, desc: str = "inception") -> dict[str, np.ndarray]:
        """uint8 [N,3,H,W] -> float32 features, computed batch by batch (memory stays flat)."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 [N,3,H,W], got {images.dtype} {images.shape}")
        import torch
        from tqdm import tqdm

        from ganbench.extractors.resize import resize

        run = self.runner()
        n = len(images)
        out = {name: np.empty((n, 2048 if name == "pool3" else 1008), np.float32) for name in self.outputs}
        bar = tqdm(
            total=n, desc=desc, unit="img", file=sys.stderr, disable=n <= PROGRESS_MIN, dynamic_ncols=True
        )
        for start in range(0, n, self.batch_size):
            chunk = torch.from_numpy(images[start : start + self.batch_size])
            if self.backend == "torch":
                chunk = chunk.to(self.device)
            results = run(resize(chunk, self.resize_policy))
            for name, arr in zip(self.outputs, results, strict=True):
                out[name][start : start + len(chunk)] = arr
            bar.update(len(chunk))
        bar.close()
        return out
