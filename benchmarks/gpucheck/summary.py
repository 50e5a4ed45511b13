"""The table printed at the end of a check: one line per stage, its result and the figures that matter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _train(s: dict[str, Any]) -> str:
    archs = s.get("archs", {})
    ok = sum(1 for a in archs.values() if a.get("ok"))
    resumed = [a["resume"] for a in archs.values() if "resume" in a]
    exact = sum(1 for r in resumed if r.get("bitwise"))
    parts = [f"{ok}/{len(archs)} archs trained", f"resume bit for bit {exact}/{len(resumed)}"]
    for arch, c in s.get("compile", {}).items():
        what = (
            "refused"
            if c.get("refused")
            else f"{c.get('speedup_vs_eager', '?')}x"
            if c.get("ok")
            else "FAILED"
        )
        parts.append(f"compile {arch} {what}")
    return "; ".join(parts)


def _ddp(s: dict[str, Any]) -> str:
    parts = [
        f"{a} {'wrapped' if r.get('ddp_wrapped') else 'NOT wrapped'}" for a, r in s.get("archs", {}).items()
    ]
    checks = {k: v for k, v in s.get("checks", {}).items() if k.startswith("collectives")}
    parts.append(f"collectives {sum(1 for v in checks.values() if v['ok'])}/{len(checks)} ok")
    return "; ".join(parts)


def _parity(s: dict[str, Any]) -> str:
    feats = s.get("features", {})
    if not feats:
        return ""
    worst = max(v["max_rel"] for v in feats.values())
    parts = [f"features max rel {worst:.1e}"]
    fid = s.get("metrics_samples", {}).get("fid")
    if fid:
        parts.append(f"FID {fid['torch']:.4f} vs {fid['onnxruntime']:.4f} (rel {fid['rel_diff']:.1e})")
    agree = s.get("classifier_top1_agreement", {}).get("samples")
    if agree is not None:
        parts.append(f"top-1 agreement {agree:.4f}")
    return "; ".join(parts)


def _throughput(s: dict[str, Any]) -> str:
    rows = s.get("train_batch64", {})
    parts = [" ".join(f"{a} {r['real_img_per_s']:.0f}" for a, r in rows.items() if "real_img_per_s" in r)
             + " real img/s"]  # fmt: skip
    inc = s.get("inception", {}).get("img_per_s", {})
    if inc:
        parts.append("Inception " + ", ".join(f"b{b} {v:.0f}" for b, v in inc.items()) + " img/s")
    tf = s.get("torch_fidelity", {})
    if tf.get("installed"):
        parts.append(
            f"torch-fidelity {tf['torch_fidelity_img_per_s']:.0f} vs ganbench {tf['ganbench_img_per_s']:.0f}"
        )
    elif tf:
        parts.append(tf.get("reason") or "torch-fidelity: no result")
    return "; ".join(parts)


def _benchmark(s: dict[str, Any]) -> str:
    r = s.get("result", {})
    parts = [f"{s['minutes']} min" if "minutes" in s else ""]
    if r:
        fid = r.get("fid")
        parts.append(
            f"{r.get('steps')} steps, FID {fid:.2f}" if fid is not None else f"{r.get('steps')} steps"
        )
    g = s.get("generator")
    if g:
        parts.append(f"generator {g['file']}" + (f" in {len(g['parts'])} parts" if g.get("parts") else ""))
    return "; ".join(p for p in parts if p)


NOTES: dict[str, Callable[[dict[str, Any]], str]] = {
    "train": _train, "ddp": _ddp, "parity": _parity, "throughput": _throughput, "benchmark": _benchmark,
}  # fmt: skip


def table(report: dict[str, Any]) -> str:
    gpu = report.get("gpu") or {}
    head = (
        f"gpu_check on {gpu.get('name') or report['device']} (torch {report['torch']}), {report['started']}"
    )
    lines = [head, f"{'stage':<11} {'result':<7} {'seconds':>8}  notes"]
    for name, s in report["stages"].items():
        try:
            note = NOTES[name](s)
        except (KeyError, TypeError, ValueError) as e:  # a partial record: say so, keep the table
            note = f"(figures incomplete: {e!r})"
        lines.append(f"{name:<11} {'ok' if s['ok'] else 'FAILED':<7} {s['seconds']:>8.1f}  {note}")
        if s.get("error"):
            lines.append(f"{'':<29}error: {s['error'][:300]}")
        for check, why in (s.get("skipped") or {}).items():
            lines.append(f"{'':<29}skipped {check}: {why}")
    lines.append(f"report: {report.get('suggested_name')} (copy of OUT/gpu_check.json)")
    return "\n".join(lines)
