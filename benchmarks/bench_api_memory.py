"""Peak memory of the Python API scoring a generator's 50,000 images (issue target: < 2 GB above the
extractor itself).

    python benchmarks/bench_api_memory.py [--n 50000] [--ref-n 10000] [--network stub|real] [--data DIR]

The "extractor itself" is the process after the Inception network and the surrogate classifier are built
and have run one batch (the network's own weights, sessions and per-batch buffers). What is measured above
it is everything a large run adds: the generator's batches, the uint8 images, the resize of each batch,
the features, the classifier's probabilities and every metric on 50,000 x 2048 features.

--network stub (the default here) replaces only the Inception forward pass by a fixed random projection of
the resized batch to 2048 features, so 50,000 images take minutes on a CPU instead of ~80 (~10 img/s); the
batches it receives, everything around it and every metric are the real code. --network real runs the
real network (a GPU, or an hour and a half on 2 CPU cores). Either way a throwaway feature cache is used, so
stub features never reach the real one. Peak RSS is the kernel's high-water mark (ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class TinyG(torch.nn.Module):
    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(z_dim + 10, 3 * 32 * 32)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, torch.nn.functional.one_hot(y, 10).float()], 1)
        return torch.tanh(self.fc(h)).view(-1, 3, 32, 32)


def stub_runner(extractor) -> None:
    """Swap the network's forward pass for a projection of the same output shape (see the docstring)."""
    proj = torch.randn(3 * 16 * 16, 2048, generator=torch.Generator().manual_seed(0)) / 28

    def run(batch: torch.Tensor) -> list[np.ndarray]:
        pooled = torch.nn.functional.adaptive_avg_pool2d(batch.float(), 16).flatten(1)
        return [(pooled @ proj).numpy().astype(np.float32)]

    assert extractor.outputs == ["pool3"], "the stub stands in for pool3 only (no IS head here)"
    extractor.runner = lambda: run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--ref-n", type=int, default=10_000)
    ap.add_argument("--network", choices=("stub", "real"), default="stub")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()

    real_cache = Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")
    tmp = Path(tempfile.mkdtemp(prefix="ganbench-mem-"))
    for sub in ("weights", "onnx"):  # the weights are shared; features go to the throwaway cache
        (real_cache / sub).mkdir(parents=True, exist_ok=True)
        (tmp / sub).symlink_to(real_cache / sub, target_is_directory=True)
    os.environ["GANBENCH_CACHE"] = str(tmp)

    import ganbench
    from ganbench.scoring import setup

    rows: list[tuple[str, float, float]] = []
    t0 = time.time()
    ev = ganbench.Evaluator.__new__(ganbench.Evaluator)  # built step by step, to measure between the steps
    from ganbench.scoring import ScoreConfig

    # the stub runs with the torch-bilinear resize (F.interpolate: the same [B,3,299,299] batches, much faster
    # on a CPU than legacy-tf's, which would take most of an hour for 50,000 images)
    resize = "torch-bilinear" if args.network == "stub" else "legacy-tf"
    ev.cfg = ScoreConfig(samples="", ref="cifar10-train", ref_n=args.ref_n, data_dir=args.data, calibration_n=0,
                         resize=resize)  # fmt: skip
    ev._setup = setup(ev.cfg)
    if args.network == "stub":
        stub_runner(ev._setup.extractor)
    warm = np.zeros((64, 3, 32, 32), np.uint8)
    ev._setup.extractor(warm)
    ev._setup.classifier(warm)
    base = peak_mb()
    rows.append(("networks built, one batch each (the extractor itself)", base, 0.0))
    ev._setup.load_reference()
    rows.append((f"+ reference: cifar10-train, {args.ref_n:,} images", peak_mb(), peak_mb() - base))
    G = TinyG(64)
    t1 = time.time()
    result = ev.score(G, z_dim=64, n=args.n, num_classes=10, value_range=(-1, 1), batch_size=500)
    rows.append((f"+ score: {args.n:,} generated images, every metric", peak_mb(), peak_mb() - base))

    print(
        f"network: {args.network}; torch {torch.__version__}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}"
    )
    print(f"{'stage':<58} {'peak RSS MB':>12} {'above extractor MB':>19}")
    for name, mb, above in rows:
        print(f"{name:<58} {mb:>12,.0f} {above:>19,.0f}")
    above = rows[-1][2]
    print(f"\nscored {result['samples']['n']:,} images in {time.time() - t1:.0f} s (all {time.time() - t0:.0f} s); "
          f"stages {result['stage_seconds']}")  # fmt: skip
    print(f"target < 2,048 MB above the extractor: {'met' if above < 2048 else 'MISSED'} ({above:,.0f} MB)")


if __name__ == "__main__":
    main()
