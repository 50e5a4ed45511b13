"""The fixed cost of a small `ganbench score` run: 2,000 samples against 1,000 reference images with every
feature already cached, so the network has nothing to do (issue target: <= 5 s wall on 2 cores).

    python benchmarks/bench_rescore.py [--n 2000] [--ref-n 1000] [--repeats 3] [--data DIR]

A first run fills the feature cache (the samples are a seeded cifar10-test subset, the reference a seeded
cifar10-train subset, i.e. the JPEG copy in GANBENCH_DATA); it is not counted. Then `ganbench score ... --json
--no-store` runs --repeats times in a fresh process each, as CI gates and --score-every do; the table gives the
wall time and the record's stage_seconds (the rest of the wall time is interpreter start-up and imports).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

GANBENCH = [str(Path(sys.executable).with_name("ganbench"))]


def run(args: list[str]) -> tuple[float, dict]:
    t = time.perf_counter()
    out = subprocess.run(GANBENCH + args, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode:
        sys.exit(f"ganbench failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout[out.stdout.index("{") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2_000)
    ap.add_argument("--ref-n", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    args = ["score", "cifar10-test", "--n", str(a.n), "--ref", "cifar10-train", "--ref-n", str(a.ref_n),
            "--json", "--no-store"] + (["--data", a.data] if a.data else [])  # fmt: skip
    wall, rec = run(args)
    print(f"warm-up (fills the cache): {wall:.1f} s, samples cached before: {rec['cache']['samples_hit']}")
    rows = []
    for _ in range(a.repeats):
        wall, rec = run(args)
        assert rec["cache"]["samples_hit"] and rec["cache"]["reference_hit"], rec["cache"]
        rows.append((wall, rec.get("stage_seconds", {}), rec["metrics"]["fid"]))
    stages = sorted({k for _, s, _ in rows for k in s})
    print(
        f"{'run':<5} {'wall s':>7} "
        + " ".join(f"{k:>15}" for k in stages)
        + f" {'start-up+rest':>14} {'fid':>10}"
    )
    for i, (wall, s, fid) in enumerate(rows, 1):
        rest = wall - sum(
            v for k, v in s.items() if not k.startswith("metric:")
        )  # metric:* are inside metrics
        print(
            f"{i:<5} {wall:>7.2f} "
            + " ".join(f"{s.get(k, 0):>15.2f}" for k in stages)
            + f" {rest:>14.2f} {fid:>10.4f}"
        )
    best = min(w for w, _, _ in rows)
    print(f"best {best:.2f} s; target <= 5 s: {'met' if best <= 5 else 'missed'}")


if __name__ == "__main__":
    main()
