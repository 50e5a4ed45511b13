"""A benchmark folder's records -> the leaderboard site (OUT/site) and OUT/results/benchmark.md: one row per
arch, mean ± standard deviation over its training seeds, ranked by mean FID with the between-seed test beside it.
The table sits beside the records, grids and curves it links to, so OUT/results is whole when committed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ganbench.atomic import atomic_write_text
from ganbench.report import cells as C
from ganbench.report import leaderboard as L
from ganbench.report import seeds as S
from ganbench.version import __version__
from trainers.benchmark.protocol import ARCHS, WRITE_UPS, Request
from trainers.benchmark.units import CURVE_N, CURVE_POINTS, CURVES, machine, read_state
from trainers.registry import arch_module

# benchmark.md's metric columns after FID: (result key, format), shown as the leaderboard's cells show them
MD_METRICS = (("fid_inf", ".2f"), ("kid_mean", ".4f"), ("precision", ".3f"), ("recall", ".3f"),
              ("density", ".3f"), ("coverage", ".3f"), ("classifier_accuracy", ".3f"), ("ifid", ".1f"))  # fmt: skip
CLASS_METRICS = ("classifier_accuracy", "ifid")  # need the labels an unconditional arch does not have


def scored_records(out: Path, names: list[str]) -> dict[str, list[dict]]:
    """arch -> the records of its scored units in OUT, by seed (seeds added by earlier commands included)."""
    found: dict[str, list[dict]] = {}
    for name in names:
        for unit in sorted((out / name).glob("seed*")):
            if not unit.name[4:].isdigit():
                continue
            state = read_state(out, name, int(unit.name[4:]))
            if state.get("status") == "scored" and Path(state["record"]).is_file():
                found.setdefault(name, []).append(json.loads(Path(state["record"]).read_text()))
    return found


def publish(req: Request, echo: Callable[[str], None]) -> Path:
    """The leaderboard site (OUT/site) and OUT/results/benchmark.md, from the stored records of every arch in
    OUT (those of earlier commands with other --archs too)."""
    from ganbench.report.site import build_site

    site = build_site(req.out / "results", req.out / "site")
    figure = compute_figure(req.out / "results")
    path = req.out / "results" / TABLE
    text = benchmark_markdown(req, scored_records(req.out, list(ARCHS)))
    if figure is not None:
        text += f"\n![quality against compute]({CURVES}/{figure.name})\n\n{FIGURE_NOTE}\n"
    atomic_write_text(path, text)
    echo(f"leaderboard: {site.index}")
    echo(f"table: {path}")
    return path


TABLE, FIGURE = "benchmark.md", "quality-vs-compute.png"
FIGURE_NOTE = (
    f"Quality against compute: FID of {CURVE_N:,} samples at {CURVE_POINTS} checkpoints of training seed 0, "
    f"against training minutes and steps (points in `{CURVES}/*.json`)."
)


def compute_figure(store: Path) -> Path | None:
    """STORE/curves/quality-vs-compute.png from the curve files there (the largest scoring setup), or None."""
    from ganbench.atomic import atomic_write
    from ganbench.report import plots
    from ganbench.report.compute import figures, load_curves

    curves, _ = load_curves(store)
    figs = figures(curves)
    if not figs:
        return None
    path = store / CURVES / FIGURE
    atomic_write(path, lambda f: plots.quality_vs_compute(figs[0]["lines"], f))
    return path


def _mean_sd(sp: S.Spread, spec: str) -> str:
    if sp.n == 0:
        return "n/a"
    return format(sp.mean, spec) + ("" if sp.sd is None else f" ± {format(sp.sd, spec)}")


def mark(upper: dict[str, S.Spread] | None, lower: dict[str, S.Spread]) -> str:
    """The 'vs ↑' cell: '≈' when the seeds do not separate the two rows' FID, 'ranked' when they do."""
    if upper is None:
        return ""
    a, b = list(upper["fid"].values.values()), list(lower["fid"].values.values())
    verdict = S.differ(a, b)
    return S.ONE_SEED if verdict is None else ("ranked" if verdict else "≈")


def benchmark_markdown(req: Request, records: dict[str, list[dict]]) -> str:
    """One row per arch (mean ± sd over seeds, ranked by mean FID), each seed's FID, the protocol, the
    machines and the write-ups' numbers."""
    p = req.protocol
    budget = f"{p.minutes:g} training minutes per unit" if p.minutes else f"the `{p.preset}` preset's steps"
    lines = [
        "# ganbench benchmark",
        "",
        f"Protocol: `{p.preset}` presets, budget {budget}; each arch trained once per training seed; "
        f"{p.n:,} samples per unit (EMA generator when there is one, labels cycling over the classes) against "
        f"a seeded {p.ref_n:,}-image subset of {p.ref} (subset seed {p.ref_seed}, the same for every training "
        f"seed); FID 95% interval from {p.fid_ci} bootstrap resamples; FID∞ (Chong & Forsyth 2020) fitted over "
        f"{p.fid_inf} subset sizes; classifier {p.classifier}. Cells: mean ± standard deviation over the seeds; "
        f"vs ↑: Welch's t-test (α = {S.ALPHA}) of the seeds' FIDs against the row above ('≈': not separated).",
        "",
        "| arch | seeds | FID | vs ↑ | FID∞ | KID | precision | recall | density | coverage | classifier acc. "
        "| IFID | steps | minutes | img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    missing: list[str] = []  # "arch metric: reason", below the table (a reason does not fit in a cell)
    rows = []
    for name, recs in records.items():
        spreads = {key: S.spread(recs, key) for key in ("fid", *(k for k, _ in MD_METRICS))}
        rows.append((name, recs, spreads))
    rows.sort(key=lambda r: (r[2]["fid"].mean is None, r[2]["fid"].mean or 0.0, r[0]))

    def cell(name: str, recs: list[dict], key: str, spec: str, sp: S.Spread) -> str:
        if sp.n == 0:
            if key in CLASS_METRICS and not arch_module(ARCHS[name][0]).CONDITIONAL:
                return "n/a (unconditional)"  # not the scorer's reason, which suggests adding labels
            why = {r.get("unavailable", {}).get(key, "not computed") for r in recs}
            missing.append(f"{name} {key}: {'; '.join(sorted(why))}")
            return "n/a"
        return _mean_sd(sp, spec)

    above = None
    for name, recs, sp in rows:
        b = [r["benchmark"] for r in recs]
        steps = sorted({(x["steps"], x["steps_budget"]) for x in b})
        minutes = [x["train_seconds"] / 60 for x in b]
        speeds = [x["img_per_s"] for x in b if x.get("img_per_s")]
        row = [
            name,
            str(len(recs)),
            cell(name, recs, "fid", ".2f", sp["fid"]),
            mark(above, sp),
            *(cell(name, recs, key, spec, sp[key]) for key, spec in MD_METRICS),
            ", ".join(f"{s:,} / {t:,}" for s, t in steps),
            f"{sum(minutes) / len(minutes):.1f}",
            f"{sum(speeds) / len(speeds):.0f}" if speeds else "n/a",
        ]
        lines.append("| " + " | ".join(row) + " |")
        above = sp
    if missing:
        lines += ["", "n/a: " + "; ".join(missing) + "."]
    lines += [
        "",
        "Each seed (FID with its 95% bootstrap interval over samples; diversity flags; machine):",
        "",
    ]
    for name, recs, _ in rows:
        parts = []
        for rec in recs:
            ci = L.ci_of(rec)
            fid = C.metric_cell(rec, "fid", ".2f")["text"] + (
                "" if ci is None else f" [{ci[0]:.1f}, {ci[1]:.1f}]"
            )
            flags = C.flags_cell(L.class_view(rec).flags)["text"]
            m = rec["benchmark"].get("machine") or {}
            where = " ".join(filter(None, [m.get("gpu") or m.get("cpu"), m.get("simd")]))
            parts.append(f"seed {S.training_seed(rec)}: {fid}, flags {flags}, {where or '?'}")
        lines.append(f"- {name}: " + "; ".join(parts))
    grids = [(name, rec["benchmark"]["grid"]) for name, recs, _ in rows for rec in recs[:1]
             if S.training_seed(rec) == 0 and rec["benchmark"].get("grid")]  # fmt: skip
    if grids:
        lines += [
            "",
            "Seed 0's final sample grids (conditional archs: a row per class, airplane to truck):",
            "",
        ]
        lines += [f"![{name}]({file})" for name, file in grids]
    lines += ["", "Reported elsewhere (their own protocols; orientation, not equals) and the targets (mean over "
              "3 seeds):", "", "| arch | write-up | target |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {WRITE_UPS[name][0]} | {WRITE_UPS[name][1]} |" for name in ARCHS]
    first = next((recs[0] for recs in records.values() if recs), None)
    mach = (first or {}).get("benchmark", {}).get("machine") or machine()
    ref = (first or {}).get("reference", {})
    lines += [
        "",
        f"Command: `{req.command or 'ganbench benchmark'}`",
        f"Machine: {mach['cpu']} {mach.get('simd') or ''}, {mach['cores']} cores, GPU "
        f"{mach['gpu'] or 'none'}; torch {mach['torch']}.",
        f"Reference copy: {(ref.get('origin') or {}).get('copy', '?')}. Date: {time.strftime('%Y-%m-%d')}. "
        f"ganbench {__version__}.",
        "",
    ]
    return "\n".join(lines)
