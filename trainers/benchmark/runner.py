"""The benchmark loop: every (arch, seed) unit trained, scored and stored in turn, then published."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainers.benchmark.protocol import ARCHS, Request, check_request, pin_protocol
from trainers.benchmark.publish import publish
from trainers.benchmark.units import (
    CURVE_N,
    CURVE_POINTS,
    curve_unit,
    read_state,
    score_unit,
    train_unit,
    write_state,
)
from trainers.registry import arch_module

SCORE_IMG_PER_S = 9.0  # Inception on these 2 CPU cores, for the ETA only
CURVE_SEED = 0  # the training seed whose checkpoints draw the quality-against-compute figure


def units(req: Request) -> list[tuple[str, int]]:
    """(arch, seed) in the order they run: an arch's seeds together, so a finished arch is a finished row."""
    return [(name, seed) for name in req.archs for seed in req.seeds]


def _eta(req: Request, todo: list[tuple[str, int]]) -> str:
    """Rough time left: each unfinished unit's training budget (its preset's `minutes`, the hour its steps were
    calibrated to, or --minutes) plus the scoring passes."""
    left = 0.0
    for name, seed in todo:
        state = read_state(req.out, name, seed)
        if state.get("status") == "scored":
            continue
        if state.get("status") != "trained":
            preset = arch_module(ARCHS[name][0]).PRESETS[req.protocol.preset]
            budget = req.protocol.minutes or preset.get("minutes")
            if budget is None:
                return "unknown"
            left += float(budget) * 60
        left += (req.protocol.n + (CURVE_N * CURVE_POINTS if seed == CURVE_SEED else 0)) / SCORE_IMG_PER_S
    return _hms(left)


def _hms(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{int(seconds % 60):02d}s"


def run(req: Request, echo: Callable[[str], None] = print) -> Path:
    """The whole benchmark; returns OUT/results/benchmark.md."""
    from ganbench.inputs.datasets import resolve_cifar10

    p = req.protocol
    check_request(req.archs, p.minutes, p.n, p.ref_n, p.fid_ci)
    resolve_cifar10(req.data)  # no data: a one-line error before anything is written
    pin_protocol(req.out, p)
    todo = units(req)
    for i, (name, seed) in enumerate(todo, 1):
        state = read_state(req.out, name, seed)
        head = f"[{i}/{len(todo)}] {name} seed {seed}"
        if state.get("status") not in ("trained", "scored"):
            echo(f"{head}: training; benchmark ETA {_eta(req, todo[i - 1 :])}")
            state = train_unit(req, name, seed, echo)
            write_state(req.out, name, seed, state)
        else:
            echo(f"{head}: trained already ({state['steps']} steps), not trained again")
        if state.get("status") == "scored" and Path(state["record"]).is_file():
            echo(f"{head}: scored already ({Path(state['record']).name}), not scored again")
        else:
            echo(f"{head}: sampling and scoring; benchmark ETA {_eta(req, todo[i - 1 :])}")
            state = {**state, "status": "scored", "record": str(score_unit(req, name, state, echo))}
            write_state(req.out, name, seed, state)
        if seed == CURVE_SEED and not (state.get("curve") and Path(state["curve"]).is_file()):
            state = {**state, "curve": str(curve_unit(req, name, state, echo))}
            write_state(req.out, name, seed, state)
    return publish(req, echo)
