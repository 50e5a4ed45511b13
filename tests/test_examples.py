"""The examples run as a user runs them (a subprocess), on a small budget."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_score_in_training_loop(cifar_dir: Path) -> None:
    args = ["--steps", "20", "--every", "10", "--n", "20", "--ref-n", "30", "--data", str(cifar_dir)]
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_in_training_loop.py"), *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = re.findall(
        r"step\s+(\d+): FID ([\d.]+)\s+KID (-?[\d.]+)\s+classifier accuracy ([\d.]+)", out.stdout
    )
    assert [int(r[0]) for r in rows] == [0, 10, 20], out.stdout
    assert all(math.isfinite(float(r[1])) and float(r[1]) > 0 for r in rows)
    assert out.stdout.startswith("Evaluator(ref='cifar10-train', 30 images")
