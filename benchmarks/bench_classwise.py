"""What the class-aware part adds to `ganbench score` on N labelled samples (issue target: < 15%).

Measured here, each on its own:
  inception   FID Inception forward pass (the default backend) per image, on --probe images
  classifier  the surrogate ResNet's pass per image, on --probe-classifier images
  metrics     classaware.evaluate on synthetic pool3 features of the full size (N samples, --ref-n labelled
              reference rows, 10 classes), the classifier's probabilities already cached: per-class
              reference statistics (first run, then cached), IFID, diversity/memorisation
The score's own wall time is at least N x the Inception per-image time (reference features cached, core
metrics not counted), so the printed share is an upper bound. No image is read from disk: random pixels.

  python benchmarks/bench_classwise.py --n 10000 --ref-n 50000

--real DIR instead scores a real labelled image folder end to end, the way a user's first run does: a fresh
feature cache, the reference (cifar10-train, --ref-n) built beforehand and not timed, then one timed
`score` with every metric. The class-aware part (classifier pass on the samples, its calibration on
cifar10-test, per-class statistics, IFID, diversity) is timed inside score() and stored in the record as
classwise.wall_seconds; its share of the score's wall time is printed.

  python benchmarks/bench_classwise.py --real samples/ --ref-n 2000 [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganbench import classaware
from ganbench.extractors.inception import InceptionExtractor
from ganbench.inputs.imageset import ImageSet
from ganbench.references import Reference
from ganbench.weights import resolve


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--ref-n", type=int, default=50_000)
    ap.add_argument("--probe", type=int, default=128, help="images through Inception to time it")
    ap.add_argument("--probe-classifier", type=int, default=2000)
    ap.add_argument("--classifier", default="resnet56")
    ap.add_argument("--real", default=None, help="score this labelled image folder for real (see above)")
    ap.add_argument("--data", default=None, help="CIFAR-10 copy (else GANBENCH_DATA)")
    args = ap.parse_args()
    # A throwaway feature cache (the per-class statistics must be built once, then hit); weights and the
    # exported ONNX model come from the real cache, as in tests/conftest.py.
    real_cache = Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")
    tmp = Path(tempfile.mkdtemp(prefix="bench-classwise-"))
    for sub in ("weights", "onnx"):
        (real_cache / sub).mkdir(parents=True, exist_ok=True)
        (tmp / sub).symlink_to(real_cache / sub, target_is_directory=True)
    os.environ["GANBENCH_CACHE"] = str(tmp)
    if args.real:
        return real_run(args)
    rng = np.random.default_rng(0)

    inception = InceptionExtractor(resolve(), backend="auto")
    warm = rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    inception(warm)  # export/load outside the timing
    probe = rng.integers(0, 256, (args.probe, 3, 32, 32), dtype=np.uint8)
    _, t_inc = timed(inception, probe)
    per_inc = t_inc / args.probe

    clf = classaware.make_classifier(args.classifier, None)
    clf(warm)
    probe = rng.integers(0, 256, (args.probe_classifier, 3, 32, 32), dtype=np.uint8)
    _, t_clf = timed(clf, probe)
    per_clf = t_clf / args.probe_classifier

    # Full-size synthetic features: per-class clusters in a non-negative 2048-d space, like pool3.
    centres = np.abs(rng.normal(size=(10, 2048))).astype(np.float32)
    ref_y = np.arange(args.ref_n) % 10
    ref_f = np.abs(centres[ref_y] + rng.normal(size=(args.ref_n, 2048)).astype(np.float32) * 0.5)
    y = (np.arange(args.n) % 10).astype(np.int64)
    fake = np.abs(centres[y] + rng.normal(size=(args.n, 2048)).astype(np.float32) * 0.5)
    ref = Reference({"source": "synthetic", "content_sha256": "bench"}, ref_f.mean(0), np.eye(2048), ref_f,
                    ref_y.astype(np.int64), {"names": [f"r{i}" for i in range(args.ref_n)]})  # fmt: skip
    images = np.zeros((args.n, 3, 1, 1), np.uint8)  # the stub below never looks at pixels
    samples = ImageSet(images, y, [f"s{i}" for i in range(args.n)], "synthetic", "npz")
    probs = np.eye(10, dtype=np.float32)[y] * 0.9 + 0.01

    def cached_probs(images, extractor, desc=""):
        return {"probs": probs}, True

    kw = {"identity": {"extractor": "bench"}, "seed": 0, "data_dir": None, "calibration_n": 0}
    evaluate = classaware.evaluate
    (_, _, cw1, _), t_first = timed(evaluate, samples, fake, ref, clf, cached_probs, **kw)
    (_, _, cw2, _), t_again = timed(evaluate, samples, fake, ref, clf, cached_probs, **kw)

    score_floor = args.n * per_inc
    rows = [
        ("Inception pass, per image", f"{per_inc * 1e3:.1f} ms", f"{score_floor:.0f} s for {args.n}"),
        ("classifier pass, per image", f"{per_clf * 1e3:.2f} ms", f"{args.n * per_clf:.0f} s for {args.n}"),
        ("class metrics, first run (per-class ref stats built)", f"{t_first:.1f} s", ""),
        ("class metrics, later runs (per-class ref stats cached)", f"{t_again:.1f} s", ""),
    ]
    for name, a, b in rows:
        print(f"{name:<56} {a:>10}  {b}")
    for label, t in (("first run", t_first), ("later runs", t_again)):
        added = args.n * per_clf + t
        print(f"class-aware share of score, {label}: {added:.0f} s / {score_floor + added:.0f} s = "
              f"{added / (score_floor + added):.1%} (target < 15%)")  # fmt: skip
    print(
        f"threads: torch {torch.get_num_threads()}, device {clf.device}, inception backend {inception.backend}"
    )


def real_run(args: argparse.Namespace) -> None:
    import warnings

    from ganbench.scoring import ScoreConfig, load_reference, score

    load = os.getloadavg()
    extractor = InceptionExtractor(resolve(), backend="auto")
    cfg = ScoreConfig(samples=args.real, ref="cifar10-train", ref_n=args.ref_n, data_dir=args.data,
                      classifier=args.classifier)  # fmt: skip
    _, t_ref = timed(load_reference, cfg, extractor)  # built once, as `ganbench reference build` would
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec, t_score = timed(score, cfg, extractor)
    cw = rec["classwise"]
    t_class = cw["wall_seconds"]
    cal = (cw.get("classifier") or {}).get("calibration") or {}
    n = rec["samples"]["n"]
    print(f"samples {args.real}: {n} images, labels {rec['samples']['labels']}; reference cifar10-train "
          f"{args.ref_n} (built first, not timed: {t_ref:.0f} s); load average at start {load[0]:.2f}")  # fmt: skip
    print("part | seconds | share of score")
    print("--- | --- | ---")
    print(f"score, all metrics | {t_score:.1f} | 100%")
    print(f"class-aware part (classifier {args.classifier} on {n} + calibration on {cal.get('n')} test "
          f"images, per-class stats, IFID, diversity) | {t_class:.1f} | {t_class / t_score:.1%}")  # fmt: skip
    print(f"everything else (decode, Inception pass, FID/KID/PR/DC) | {t_score - t_class:.1f} | "
          f"{(t_score - t_class) / t_score:.1%}")  # fmt: skip
    print(f"class-aware part added to the rest: {t_class / (t_score - t_class):.1%} (target < 15%)")
    m = rec["metrics"]
    print(f"FID {m['fid']:.2f}, classifier accuracy {m['classifier_accuracy']:.4f}, IFID {m['ifid']:.2f}, "
          f"calibration accuracy {cal.get('accuracy')}")  # fmt: skip


if __name__ == "__main__":
    main()
