"""Proof that the class-aware numbers mean something: score sets whose answer is known and check it.

  real        cifar10-test, PER images per class, as PNG class folders (labels from the folders)
  swapped     the same pixels with the cat and dog labels exchanged (npz y; features are a cache hit)
  collapsed   per class, 5 test images each repeated PER/5 times
  memorising  per class, PER images copied from the reference (training) images

Reference: a seeded subset of cifar10-train (--ref-n). Usage:
  python scripts/prove_classwise.py --per-class 50 --ref-n 2000 [--data DIR] [--out DIR]
Prints one table per set and PASS/FAIL per expectation; exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ganbench.classaware import class_table, make_classifier
from ganbench.extractors.inception import InceptionExtractor
from ganbench.inputs.imageset import CIFAR10_CLASSES
from ganbench.inputs.sources import load_source
from ganbench.results import write_record
from ganbench.scoring import ScoreConfig, score
from ganbench.weights import resolve

CAT, DOG = CIFAR10_CLASSES.index("cat"), CIFAR10_CLASSES.index("dog")


def per_class_pick(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [np.sort(rng.choice(np.flatnonzero(labels == c), k, replace=False)) for c in range(10)]
    )


def write_folders(root: Path, images: np.ndarray, labels: np.ndarray) -> str:
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        d = root / CIFAR10_CLASSES[int(y)]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.transpose(1, 2, 0)).save(d / f"{i:05d}.png")
    return str(root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--ref-n", type=int, default=2000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--classifier", default="resnet56")
    ap.add_argument("--out", default=None, help="where the sets and records go (default: a temp folder)")
    args = ap.parse_args()
    k = args.per_class
    out = Path(args.out or tempfile.mkdtemp(prefix="prove-classwise-"))
    test = load_source("cifar10-test", data_dir=args.data)
    ref = load_source("cifar10-train", data_dir=args.data, n=args.ref_n, seed=0)
    real_idx = per_class_pick(test.labels, k, seed=1)
    sets = {"real": write_folders(out / "real", test.images[real_idx], test.labels[real_idx])}
    loaded = load_source(sets["real"])  # the folder's order, so the npz below has the same content hash
    swapped = loaded.labels.copy()
    swapped[loaded.labels == CAT], swapped[loaded.labels == DOG] = DOG, CAT
    np.savez(out / "swapped.npz", x=loaded.images, y=swapped)
    sets["swapped"] = str(out / "swapped.npz")
    base = per_class_pick(test.labels, 5, seed=2)  # 5 per class, class-major
    rep = np.repeat(base, k // 5)
    sets["collapsed"] = write_folders(out / "collapsed", test.images[rep], test.labels[rep])
    mem = per_class_pick(ref.labels, k, seed=3)
    sets["memorising"] = write_folders(out / "memorising", ref.images[mem], ref.labels[mem])

    extractor = InceptionExtractor(resolve(), backend="auto")
    clf = make_classifier(args.classifier, None)
    records = {}
    for name, path in sets.items():
        cfg = ScoreConfig(samples=path, ref="cifar10-train", ref_n=args.ref_n, data_dir=args.data,
                          classifier=args.classifier)  # fmt: skip
        t0 = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = score(cfg, extractor, clf)
        stored = write_record(rec, out / "records")
        records[name] = rec
        m = rec["metrics"]
        print(f"\n=== {name}: {path} ({rec['samples']['n']} images, {time.time() - t0:.0f} s; "
              f"class-aware part {rec['classwise']['wall_seconds']:.1f} s) -> {stored.name}")  # fmt: skip
        keys = ("fid", "classifier_accuracy", "macro_f1", "classifier_score", "pred_kl_uniform", "ifid",
                "diversity_ratio", "near_duplicate_rate", "memorisation_rate", "classes_flagged")  # fmt: skip
        print("  " + "  ".join(f"{key}={'n/a' if m[key] is None else format(m[key], '.4g')}" for key in keys))
        for line in class_table(rec):
            print("  " + line)
        if rec["classwise"].get("memorised"):
            worst = rec["classwise"]["memorised"][:3]
            print("  worst memorised: " + "; ".join(f"{o['sample']} ~ {o['reference']} ({o['distance']:.2f})"
                                                   for o in worst))  # fmt: skip
    cal = records["real"]["classwise"]["classifier"].get("calibration")
    if cal:
        print(f"\nclassifier {args.classifier} on {cal['split']} ({cal['copy']}, {cal['n']} images): "
              f"accuracy {cal['accuracy']:.4f}")  # fmt: skip

    def flags(name: str) -> list[str]:
        return [r.get("flag") for r in records[name]["classwise"]["per_class"]]

    r, s, c, mm = (records[n]["metrics"] for n in ("real", "swapped", "collapsed", "memorising"))
    cm = np.asarray(records["swapped"]["classwise"]["confusion_matrix"])
    checks = [
        ("real: classifier accuracy within 0.08 of its cifar10-test accuracy",
         cal is None or abs(r["classifier_accuracy"] - cal["accuracy"]) < 0.08),
        ("real: no class flagged", flags("real") == ["ok"] * 10),
        ("real: overall diversity ratio in [0.9, 1.1]", 0.9 <= r["diversity_ratio"] <= 1.1),
        ("real: IFID below collapsed and swapped IFID", r["ifid"] < min(s["ifid"], c["ifid"])),
        ("collapsed: every class flagged collapsed", flags("collapsed") == ["collapsed"] * 10),
        ("collapsed: near-duplicate rate >= 0.95", c["near_duplicate_rate"] >= 0.95),
        ("memorising: every class flagged memorising", flags("memorising") == ["memorising"] * 10),
        ("memorising: memorisation rate >= 0.95", mm["memorisation_rate"] >= 0.95),
        ("swapped: cat row peaks at dog and dog row at cat", cm[CAT].argmax() == DOG and cm[DOG].argmax() == CAT),
        ("swapped: accuracy drops by the cat+dog share", s["classifier_accuracy"] < r["classifier_accuracy"] - 0.05),
    ]  # fmt: skip
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print(f"\nsets and records in {out}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
