"""The fixed cost of a small `ganbench score` run: 2,000 samples against 1,000 reference images with every
feature already cached, so the network has nothing to do (issue target: <= 5 s wall on 2 cores).

    python benchmarks/bench_rescore.py [--n 2000] [--ref-n 1000] [--repeats 3] [--data DIR] [--tree NAME=DIR ...]

A first run fills the feature cache (the samples are a seeded cifar10-test subset, the reference a seeded
cifar10-train subset, i.e. the JPEG copy in GANBENCH_DATA); it is not counted. Then `ganbench score ... --json
--no-store` runs --repeats times in a fresh process each, as CI gates and --score-every do; the table gives the
wall time and the record's stage_seconds (the rest of the wall time is interpreter start-up and imports).
--tree NAME=DIR (repeatable) runs another checkout's code (e.g. a `git worktree` of an older commit) with this
environment, interleaved with the others, so before and after are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GANBENCH = [str(Path(sys.executable).with_name("ganbench"))]


def run(args: list[str], tree: str | None = None) -> tuple[float, dict]:
    env = os.environ | ({"PYTHONPATH": tree} if tree else {})
    t = time.perf_counter()
    # cwd outside any checkout, so PYTHONPATH (not the current folder) decides which code runs
    out = subprocess.run(GANBENCH + args, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
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
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                    help="also time the code of another checkout (repeatable)")  # fmt: skip
    a = ap.parse_args()
    trees: list[tuple[str, str | None]] = [("this", None)] + [tuple(t.split("=", 1)) for t in a.tree]  # type: ignore[misc]
    args = ["score", "cifar10-test", "--n", str(a.n), "--ref", "cifar10-train", "--ref-n", str(a.ref_n),
            "--json", "--no-store"] + (["--data", str(Path(a.data).resolve())] if a.data else [])  # fmt: skip
    wall, rec = run(args)
    print(f"warm-up (fills the cache): {wall:.1f} s, samples cached before: {rec['cache']['samples_hit']}")
    rows = []
    for _ in range(a.repeats):
        for name, tree in trees:
            wall, rec = run(args, tree)
            assert rec["cache"]["samples_hit"] and rec["cache"]["reference_hit"], rec["cache"]
            rows.append((name, wall, rec.get("stage_seconds", {}), rec["metrics"]))
    stages = sorted({k for _, _, s, _ in rows for k in s})
    print(
        f"{'code':<8} {'wall s':>7} "
        + " ".join(f"{k:>15}" for k in stages)
        + f" {'start-up+rest':>14} {'fid':>12}"
    )
    for name, wall, s, metrics in rows:
        rest = wall - sum(
            v for k, v in s.items() if not k.startswith("metric:")
        )  # metric:* are inside metrics
        print(f"{name:<8} {wall:>7.2f} " + " ".join(f"{s.get(k, 0):>15.2f}" for k in stages)
              + f" {rest:>14.2f} {metrics['fid']:>12.6f}")  # fmt: skip
    base = rows[0][3]
    for name, _ in trees:
        best = min(w for n, w, _, _ in rows if n == name)
        metrics = next(m for n, _, _, m in rows if n == name)
        diffs = {k: abs(metrics[k] - v) / max(abs(v), 1e-300) for k, v in base.items()
                 if isinstance(v, float) and isinstance(metrics.get(k), float)}  # fmt: skip
        worst = max(diffs, key=diffs.get, default=None)
        moved = f"{diffs[worst]:.1e} ({worst})" if worst else "none"
        print(
            f"{name}: best {best:.2f} s; target <= 5 s: {'met' if best <= 5 else 'missed'}; "
            f"largest relative metric difference from '{trees[0][0]}': {moved}"
        )


if __name__ == "__main__":
    main()
