"""`ganbench benchmark`: every bundled arch trained on one budget per training seed, scored under one protocol,
aggregated over the seeds and published.

A unit is (arch, training seed): train with its preset (cpu on a CPU, paper on CUDA) -> generate --n samples
from the final checkpoint (EMA weights when present, labels cycling over the classes) -> score them against a
seeded --ref-n subset of cifar10-train (its seed, --ref-seed, is the same for every training seed) with every
metric -> one record naming both seeds, with the final sample grid beside it. Then the leaderboard site and
OUT/results/benchmark.md: one row per arch, mean ± sd over its seeds, rows ranked only where the seeds' spread
says so.

The budget is the preset's step count (reproducible on any machine) unless --minutes caps the training time.
Everything survives interruption: OUT/benchmark.json pins the protocol, OUT/<arch>/seed<k>/state.json says how
far each unit got, and checkpoints carry the training seconds spent, so running the same command again
continues unfinished units with what remains of their budget, skips trained ones and does not rescore.

Files: protocol (what is pinned, bad input), units (train and score one unit), runner (the loop), publish
(aggregation into benchmark.md and the site).
"""

from trainers.benchmark.protocol import (
    ARCHS,
    MANIFEST,
    WRITE_UPS,
    Protocol,
    Request,
    calibration,
    check_request,
    parse_seeds,
)
from trainers.benchmark.publish import benchmark_markdown, calibrate_curves, publish, scored_records
from trainers.benchmark.runner import run
from trainers.benchmark.units import code_version, machine, read_state

__all__ = ["ARCHS", "MANIFEST", "WRITE_UPS", "Protocol", "Request", "benchmark_markdown", "calibrate_curves",
           "calibration", "check_request",
           "code_version", "machine", "parse_seeds", "publish", "read_state", "run", "scored_records"]  # fmt: skip
