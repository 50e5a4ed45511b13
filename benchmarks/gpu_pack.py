"""Pack what benchmarks/gpu_check.py needs on a machine without network into one folder that travels (< 64 MiB).

    python benchmarks/gpu_pack.py DEST [--train-n 10000] [--test-n 2000] [--data DIR]
                                       [--inception-weights PATH] [--classifier-weights PATH]

DEST gets inception-float16.pt (the FID Inception weights as float16, ~42 MiB: the 87 MB file does not fit),
cifar10/{train,test}/<class>/* (the first N/10 images of each class of the CIFAR-10 folder, copied as they are)
and the surrogate classifier resnet56-4bfd9763.th (3.4 MB). It prints the size and the command to run there.
Keep DEST out of git (`.gpucheck/` is ignored) and name it in the device tool's `carry`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]

from gpucheck.weights import make_fp16  # noqa: E402

LIMIT = 64 * 2**20  # what the device tool carries, the repository included


def copy_subset(src: Path, dest: Path, n: int) -> int:
    """The first n/10 files (by name) of each class folder of src -> dest/<class>/. -> files copied."""
    copied = 0
    classes = sorted(p for p in src.iterdir() if p.is_dir())
    for c in classes:
        (dest / c.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(c.iterdir())[: max(1, n // len(classes))]:
            shutil.copy2(f, dest / c.name / f.name)
            copied += 1
    return copied


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--train-n", type=int, default=10_000, help="CIFAR-10 train images (spread over classes)")
    ap.add_argument("--test-n", type=int, default=2_000, help="CIFAR-10 test images")
    ap.add_argument("--data", default=None, help="CIFAR-10 folder [default: $GANBENCH_DATA]")
    ap.add_argument("--inception-weights", default=None, help="[default: ganbench's resolution order]")
    ap.add_argument("--classifier-weights", default=None, help="resnet56 file [default: ganbench's order]")
    args = ap.parse_args()
    data = Path(args.data or os.environ.get("GANBENCH_DATA") or "")
    if not (data / "train").is_dir() or not (data / "test").is_dir():
        ap.error(
            f"no CIFAR-10 folder with train/ and test/ at {str(data)!r}: pass --data or set GANBENCH_DATA"
        )
    from ganbench.extractors.classifier import resolve_classifier

    dest = args.dest
    dest.mkdir(parents=True, exist_ok=True)
    source = make_fp16(dest / "inception-float16.pt", args.inception_weights)
    counts = {s: copy_subset(data / s, dest / "cifar10" / s, n) for s, n in (("train", args.train_n),
                                                                            ("test", args.test_n))}  # fmt: skip
    clf = resolve_classifier("resnet56", args.classifier_weights)
    shutil.copy2(clf.path, dest / clf.path.name)
    total = size(dest)
    print(
        f"{dest}: {total / 2**20:.1f} MiB (the device tool carries {LIMIT / 2**20:.0f} MiB with the repository)"
    )
    print(f"  inception-float16.pt from {source['file']} (sha256 {source['sha256'][:12]})")
    print(f"  cifar10: {counts['train']} train, {counts['test']} test images; {clf.path.name}")
    if total > LIMIT:
        print("  TOO LARGE: lower --train-n / --test-n", file=sys.stderr)
    print(f"run there: python benchmarks/gpu_check.py $OUT --device cuda --data {dest}/cifar10 "
          f"--inception-weights {dest}/inception-float16.pt --classifier-weights {dest}/{clf.path.name}")  # fmt: skip


if __name__ == "__main__":
    main()
