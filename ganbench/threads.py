"""CPU threads of the networks we run: how many (OMP_NUM_THREADS, or --threads, which sets it) and how idle
ones wait (they soon sleep, instead of spinning).

A `ganbench score` beside a `ganbench train` on the same cores is the common case on a laptop or a small
VM. Both processes run thread pools whose idle threads spin by default (OpenMP's for torch, onnxruntime's
own): each pool then burns the cores the other one is waiting for, and a training step, which waits for its
slowest thread at every operation, ran ~9x slower on 2 cores. benchmarks/bench_contention.py measures it.
"""

from __future__ import annotations

import os
import sys

# libgomp (torch's OpenMP on Linux) spins this many times (~0.1 ms) before an idle thread sleeps; its default,
# 300,000 (~3 ms), keeps the threads spinning between a training step's operations. Measured on 2 cores,
# acgan cpu preset: alone 132 img/s (136 with the default, 118 with OMP_WAIT_POLICY=PASSIVE); beside two busy
# processes 0.45 of that (0.34 with the default, 0.55 with PASSIVE, which costs more alone than it gains).
SPIN_COUNT = "10000"


def prefer_short_spins() -> None:
    """OpenMP threads (torch's pool) spin only briefly when idle, unless the user chose a wait policy or spin
    count. OpenMP reads these once, when torch loads it: call before torch is imported (the CLI does, first
    thing)."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT


def cpu_threads() -> int:
    """Threads for a network on the CPU: OMP_NUM_THREADS when set (as torch does), else the cores this
    process may use."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        n = 0
    if n >= 1:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(n: int) -> None:
    """Use `n` CPU threads in this process: torch's pool (now, or when it loads) and onnxruntime's."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:  # already loaded: its pool read OMP_NUM_THREADS then
        import torch

        torch.set_num_threads(n)
