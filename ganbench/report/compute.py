"""Quality against compute: the benchmark's curve files (FID of a fixed sample count at evenly spaced
checkpoints of one training seed, with the training minutes spent) -> one figure per scoring setup."""

from __future__ import annotations

import json
from pathlib import Path

CURVES = "curves"  # a store's subfolder of curve files (the records' loader reads only the store's top level)
KIND = "ganbench-quality-curve"


def load_curves(store: Path) -> tuple[list[dict], list[str]]:
    """The readable curve files of STORE/curves, and a 'file: reason' line for each one left out."""
    curves, skipped = [], []
    for path in sorted((store / CURVES).glob("*.json")):
        try:
            c = json.loads(path.read_text())
            if c.get("kind") != KIND or not c.get("points"):
                raise ValueError("not a quality curve")
            pts = [(int(p["step"]), float(p["train_minutes"]), float(p["fid"])) for p in c["points"]]
            acc = [(int(p["step"]), float(p["train_minutes"]), float(p["classifier_accuracy"]))
                   for p in c["points"] if p.get("classifier_accuracy") is not None]  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            skipped.append(f"{CURVES}/{path.name}: {type(e).__name__}: {e}")
            continue
        curves.append({**c, "_points": pts, "_accuracy": acc, "_file": str(path)})
    return curves, skipped


def _setup(c: dict) -> tuple:
    ref, ext = c.get("reference") or {}, c.get("extractor") or {}
    return (
        c.get("n"),
        ref.get("source"),
        ref.get("content_sha256"),
        ext.get("weights_sha256"),
        ext.get("resize"),
    )


def figures(curves: list[dict]) -> list[dict]:
    """One figure's data per scoring setup (curves of different setups are never drawn on one axis):
    {'lines': label -> [(step, minutes, fid)], 'accuracy': label -> [(step, minutes, classifier accuracy)]
    for the curves that measured it (conditional archs), 'caption': text, 'xlabel': the minutes' axis}, the
    largest setup first. The minutes are the reference machine's when every curve of the setup is calibrated."""
    by: dict[tuple, list[dict]] = {}
    for c in curves:
        by.setdefault(_setup(c), []).append(c)
    out = []
    for group in sorted(by.values(), key=len, reverse=True):
        # one compute axis for curves measured on machines of different speeds: the reference machine's minutes
        # for the steps taken, when every curve carries its calibration; else the minutes each run measured
        cals = [_seconds_per_step(c) for c in group]
        calibrated = all(x is not None for x in cals)
        lines, accuracy = {}, {}
        for c, sps in sorted(zip(group, cals, strict=True), key=lambda cs: str(cs[0].get("name"))):
            label = str(c.get("name", "?")) + (
                f" (seed {c['seed']})" if c.get("seed") not in (0, None) else ""
            )
            per_step = sps if calibrated else None
            lines[label] = _on_axis(c["_points"], per_step)
            if c.get("_accuracy"):
                accuracy[label] = _on_axis(c["_accuracy"], per_step)
        first = group[0]
        ref = first.get("reference") or {}
        sub = ref.get("subset") or {}
        machines = sorted({" ".join(filter(None, [(c.get("machine") or {}).get(k) for k in ("gpu", "cpu", "simd")]))
                           for c in group} - {""})  # fmt: skip
        head = (
            f"FID of {first.get('n'):,} samples against {ref.get('source')} ({ref.get('n')} images, subset seed "
            f"{sub.get('seed')}) at {len(first['_points'])} checkpoints of training seed {first.get('seed')}"
        )
        where = f"measured on {', '.join(machines)}" if machines else ""
        if calibrated:
            cal = first["calibration"]
            xlabel = "minutes on the reference machine"
            caption = (
                f"{head}, against the minutes their steps take on the reference machine ({cal.get('machine')}, "
                f"each arch's img/s from {cal.get('source')}, {cal.get('date')}; left) and against steps (right)"
                + (f"; {where}, where the minutes differ with the machine's speed" if where else "")
                + "."
            )
        else:
            xlabel = "training minutes"
            caption = (
                f"{head}, against the training minutes (left) and steps (right) they took"
                + (f"; {where}" if where else "")
                + ". Minutes depend on the machine; steps do not."
            )
        if accuracy:
            caption += (
                f" Below: the surrogate classifier's accuracy on the same samples (does the image show the class "
                f"asked for), for the conditional archs whose curve measured it ({', '.join(accuracy)})."
            )
        out.append({"lines": lines, "accuracy": accuracy, "caption": caption, "xlabel": xlabel})
    return out


def _on_axis(points: list[tuple], seconds_per_step: float | None) -> list[tuple]:
    """(step, measured minutes, value) -> (step, reference-machine minutes, value); None keeps the measured."""
    if seconds_per_step is None:
        return list(points)
    return [(s, s * seconds_per_step / 60, v) for s, _, v in points]


def _seconds_per_step(c: dict) -> float | None:
    """A step's cost on the reference machine, from the curve's calibration (None: the curve has none)."""
    try:
        sps = float((c.get("calibration") or {})["seconds_per_step"])
    except (KeyError, TypeError, ValueError):
        return None
    return sps if sps > 0 else None
