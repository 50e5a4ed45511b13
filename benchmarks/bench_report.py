"""How long `ganbench report` takes on a large results store (synthetic records; no network pass).

    python benchmarks/bench_report.py [--records 500] [--runs 50] [--work DIR]

Scenarios (each prints one table row):
  plain        N records of N different models, today's record fields only: index + N run pages, no figures
  runs, cold   N records = R trainer runs x N/R checkpoints with class-aware sections (10 classes, confusion
               PNG beside each record) and a run folder (log.csv, grids): every figure drawn
  runs, warm   the same store rebuilt over the previous site: figures reused by content hash
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ganbench.report.site import build_site  # noqa: E402
from tests.test_report import make_record  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def classwise(rng: np.random.Generator, heatmap: str) -> dict:
    rows = [
        {
            "label": i,
            "class": c,
            "recall": float(rng.uniform(0.3, 0.9)),
            "fid": float(rng.uniform(40, 120)),
            "diversity_ratio": float(rng.uniform(0.5, 1.1)),
            "flag": "ok" if rng.random() > 0.1 else "collapsed",
        }
        for i, c in enumerate(CLASSES)
    ]
    conf = rng.integers(0, 100, (10, 10)) + np.eye(10, dtype=int) * 400
    return {"classes": CLASSES, "per_class": rows, "confusion_matrix": conf.tolist(), "heatmap": heatmap}


def write(store: Path, i: int, rec: dict) -> None:
    (store / f"rec-{i:05d}.json").write_text(json.dumps(rec))  # the bench writes plain files: no PNG drawing


def plain_store(root: Path, n: int) -> Path:
    store = root / "plain"
    store.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        fid = float(rng.uniform(5, 150))
        write(store, i, make_record(f"model-{i:04d}", fid, ci=(fid - 1, fid + 1), step=None))
    return store


def runs_store(root: Path, n: int, runs: int) -> Path:
    store = root / "runs-results"
    store.mkdir(parents=True)
    rng = np.random.default_rng(1)
    ckpts = max(1, n // runs)
    png = root / "confusion.png"
    Image.fromarray(rng.integers(0, 255, (520, 600, 3), dtype=np.uint8)).save(png)
    i = 0
    for r in range(runs):
        run = root / "runs" / f"{r:05d}-cgan"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"arch": "cgan", "preset": "cpu", "steps": ckpts * 1000}))
        steps = np.arange(50, ckpts * 1000 + 1, 50)
        cols = {
            "loss_D": rng.uniform(0.3, 1.5, len(steps)),
            "loss_G": rng.uniform(0.5, 3, len(steps)),
            "D_x": rng.uniform(0.4, 0.9, len(steps)),
            "D_G_z": rng.uniform(0.1, 0.5, len(steps)),
        }
        lines = ["step," + ",".join(cols)] + [
            f"{s}," + ",".join(f"{cols[k][j]:.4f}" for k in cols) for j, s in enumerate(steps)
        ]
        (run / "log.csv").write_text("\n".join(lines) + "\n")
        for c in range(ckpts):
            step = (c + 1) * 1000
            samples = run / "samples" / str(step)
            samples.mkdir(parents=True)
            Image.fromarray(rng.integers(0, 255, (342, 342, 3), dtype=np.uint8)).save(
                run / f"grid-{step}.png"
            )
            fid = float(80 - 40 * c / ckpts + rng.normal(0, 2))
            rec = make_record(
                "ignored",
                fid,
                ci=(fid - 1.5, fid + 1.5),
                samples_path=str(samples),
                created=f"2026-01-01T00:{r % 60:02d}:{c % 60:02d}",
            )
            rec["classwise"] = classwise(rng, f"rec-{i:05d}-confusion.png")
            rec["metrics"] |= {"ifid": fid * 1.3, "classifier_accuracy": float(rng.uniform(0.3, 0.9))}
            shutil.copyfile(png, store / f"rec-{i:05d}-confusion.png")
            write(store, i, rec)
            i += 1
    return store


def timed(store: Path, out: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    built = build_site(store, out)
    return time.perf_counter() - t0, built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    args = ap.parse_args()
    root = args.work or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        rows = []
        t, b = timed(plain_store(root, args.records), root / "site-plain")
        rows.append(
            (
                "plain",
                b.records,
                len(list((root / "site-plain" / "runs").iterdir())),
                b.figures_drawn,
                b.figures_reused,
                t,
            )
        )
        store = runs_store(root, args.records, args.runs)
        for label in ("runs, cold", "runs, warm"):
            t, b = timed(store, root / "site-runs")
            pages = len(list((root / "site-runs" / "runs").iterdir()))
            rows.append((label, b.records, pages, b.figures_drawn, b.figures_reused, t))
        head = ("scenario", "records", "pages", "figures drawn", "reused", "seconds")
        print(" | ".join(head))
        print(" | ".join("---" for _ in head))
        for r in rows:
            print(" | ".join([r[0], *(str(v) for v in r[1:5]), f"{r[5]:.2f}"]))
    finally:
        if args.work is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
