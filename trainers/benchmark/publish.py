"""A benchmark folder's records -> the leaderboard site (OUT/site) and OUT/results/benchmark.md: one row per
arch, mean ± standard deviation over its training seeds, ranked by mean FID with the between-seed test beside it.
The table sits beside the records, grids and curves it links to, so OUT/results is whole when committed."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from ganbench.atomic import atomic_write_text
from ganbench.report import cells as C
from ganbench.report import leaderboard as L
from ganbench.report import seeds as S
from ganbench.results import get_path, load_records
from ganbench.version import __version__
from trainers.benchmark.protocol import ARCHS, WRITE_UPS, Protocol, Request, calibration, command_line
from trainers.benchmark.units import CURVES, machine
from trainers.registry import arch_module

# benchmark.md's metric columns after FID: (result key, format), shown as the leaderboard's cells show them
MD_METRICS = (("fid_inf", ".2f"), ("kid_mean", ".4f"), ("precision", ".3f"), ("recall", ".3f"),
              ("density", ".3f"), ("coverage", ".3f"), ("classifier_accuracy", ".3f"), ("ifid", ".1f"))  # fmt: skip
CLASS_METRICS = ("classifier_accuracy", "ifid")  # need the labels an unconditional arch does not have


def scored_records(store: Path, protocol: Protocol) -> tuple[dict[str, list[dict]], list[str]]:
    """Row label -> the records in STORE scored under `protocol`, one per training seed (by seed), and a note
    on each thing left out. STORE gathers units run by different commands and sessions (the committed store
    is the only place all of them meet), so rows come from the records, not from OUT's unit states.

    A row is an arch's records that differ only in the training seed (seeds.group_key); an arch whose recipe or
    steps changed between seeds gets a row per recipe, labelled. Of two records for one seed the newer counts."""
    want = dataclasses.asdict(protocol)
    groups: dict[tuple[str, str], dict[int, dict]] = {}
    other: dict[str, int] = {}
    records, skipped = load_records(store)
    notes = [f"unreadable {line}" for line in skipped]
    for rec in records:
        b = rec.get("benchmark")
        seed, key = S.training_seed(rec), S.group_key(rec)
        if not isinstance(b, dict) or b.get("name") not in ARCHS or seed is None or key is None:
            continue  # not a benchmark unit's record
        if b.get("protocol") != want:
            other[b["name"]] = other.get(b["name"], 0) + 1
            continue
        seeds = groups.setdefault((b["name"], key), {})
        older = seeds.get(seed)
        if older is not None:
            keep, drop = sorted([older, rec], key=lambda r: str(r.get("created")), reverse=True)
            notes.append(
                f"{b['name']} seed {seed}: the record of {drop.get('created')} replaced by the newer one"
            )
            rec = keep
        seeds[seed] = rec
    if other:
        notes.append(
            f"{sum(other.values())} record(s) scored under another protocol "
            f"({', '.join(f'{k} {v}' for k, v in sorted(other.items()))})"
        )
    per_arch = Counter(name for name, _ in groups)
    rows: dict[str, list[dict]] = {}
    for (name, _), seeds in sorted(groups.items()):
        recs = [seeds[s] for s in sorted(seeds)]
        label = name
        if per_arch[name] > 1:
            b = recs[0]["benchmark"]
            label = (
                f"{name} ({b.get('steps'):,} steps, recipe {(b.get('recipe') or {}).get('sha256_12', '?')})"
            )
        rows[label] = recs
    return rows, notes


def publish(req: Request, echo: Callable[[str], None], store: Path | None = None) -> Path:
    """The leaderboard site (OUT/site) and STORE/benchmark.md (STORE: OUT/results unless given) from every
    benchmark record in STORE scored under the request's protocol, whichever command or session stored it."""
    from ganbench.report.site import build_site

    store = req.out / "results" if store is None else store
    calibrate_curves(store, echo)
    site = build_site(store, req.out / "site")
    figure = compute_figure(store)
    path = store / TABLE
    rows, notes = scored_records(store, req.protocol)
    text = benchmark_markdown(req, rows, notes)
    if figure is not None:
        fig_path, caption = figure
        text += (f"\n![quality against compute]({CURVES}/{fig_path.name})\n\nQuality against compute: {caption} "
                 f"Points in `{CURVES}/*.json`.\n")  # fmt: skip
    atomic_write_text(path, text)
    echo(f"leaderboard: {site.index}")
    echo(f"table: {path}")
    return path


TABLE, FIGURE = "benchmark.md", "quality-vs-compute.png"


def calibrate_curves(store: Path, echo: Callable[[str], None]) -> None:
    """Give a curve file written before curves carried their calibration (what a step costs on the reference
    machine, from its name, preset and recipe) that calibration, so it shares the figure's compute axis."""
    from ganbench.report.compute import KIND

    for path in sorted((store / CURVES).glob("*.json")):
        try:
            c = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # the figure's loader reports it
        if not isinstance(c, dict) or c.get("kind") != KIND or c.get("calibration") is not None:
            continue
        cal = calibration(str(c.get("name")), (c.get("protocol") or {}).get("preset"), c.get("recipe"))
        if cal is not None:
            atomic_write_text(path, json.dumps({**c, "calibration": cal}, indent=2, sort_keys=True) + "\n")
            echo(
                f"{path.name}: the reference machine's calibration added ({cal['seconds_per_step']:.3f} s a step)"
            )


def compute_figure(store: Path) -> tuple[Path, str] | None:
    """STORE/curves/quality-vs-compute.png from the curve files there (the largest scoring setup) and its
    caption, or None."""
    from ganbench.atomic import atomic_write
    from ganbench.report import plots
    from ganbench.report.compute import figures, load_curves

    curves, _ = load_curves(store)
    figs = figures(curves)
    if not figs:
        return None
    path = store / CURVES / FIGURE
    fig = figs[0]
    atomic_write(path, lambda f: plots.quality_vs_compute(fig["lines"], fig["xlabel"], fig["accuracy"], f))
    return path, fig["caption"]


def _mean_sd(sp: S.Spread, spec: str) -> str:
    if sp.n == 0:
        return "n/a"
    return format(sp.mean, spec) + ("" if sp.sd is None else f" ± {format(sp.sd, spec)}")


def mark(upper: dict[str, S.Spread] | None, lower: dict[str, S.Spread]) -> str:
    """The 'vs ↑' cell: '≈' when the seeds do not separate the two rows' FID, 'ranked' when they do; a row of
    one seed says it cannot be ranked, the top one included, and so does the row below it."""
    one_seed = lower["fid"].n < 2
    if upper is None:
        return S.ONE_SEED if one_seed else ""
    a, b = list(upper["fid"].values.values()), list(lower["fid"].values.values())
    verdict = S.differ(a, b)
    return S.below_mark(S.ONE_SEED if verdict is None else ("ranked" if verdict else "≈"), one_seed)


def benchmark_markdown(req: Request, records: dict[str, list[dict]], notes: Sequence[str] = ()) -> str:
    """One row per arch (mean ± sd over seeds, ranked by mean FID), each seed's FID, the protocol, the
    machines and dates the records came from, the command that reproduces them, the write-ups' numbers."""
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
            arch = ARCHS[recs[0]["benchmark"]["name"]][0]
            if key in CLASS_METRICS and not arch_module(arch).CONDITIONAL:
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
    every = [rec for recs in records.values() for rec in recs]
    seeds = sorted({S.training_seed(r) for r in every if S.training_seed(r) is not None})
    names = [n for n in ARCHS if any(r["benchmark"]["name"] == n for r in every)]
    where: dict[str, list[str]] = {}  # machine -> "arch seed k" measured on it
    for rec in every:
        where.setdefault(_machine_text(rec["benchmark"].get("machine") or {}), []).append(
            f"{rec['benchmark']['name']} seed {S.training_seed(rec)}"
        )
    dates = sorted(str(r.get("created", ""))[:10] for r in every if r.get("created"))
    refs = sorted({str(get_path(r, "reference", "origin", "copy") or "?") for r in every})
    lines += [
        "",
        "Command (each unit resumes alone, so one command or several give the same records): "
        f"`{command_line(p, tuple(names) or req.archs, tuple(seeds) or req.seeds)}`",
        "Machines: "
        + ("; ".join(f"{m} ({', '.join(units)})" for m, units in where.items()) or _machine_text(machine())),
        f"Reference copy: {', '.join(refs) or '?'}. "
        f"Scored: {dates[0] + (' to ' + dates[-1] if dates[-1] != dates[0] else '') if dates else 'nothing yet'}. "
        f"Table written by ganbench {__version__}.",
    ]
    if notes:
        lines += ["", "Left out: " + "; ".join(notes) + "."]
    lines.append("")
    return "\n".join(lines)


def _machine_text(m: dict) -> str:
    gpu = f"GPU {m['gpu']}" if m.get("gpu") else "no GPU"
    return (
        f"{m.get('cpu', '?')} {m.get('simd') or ''}".strip()
        + f", {m.get('cores', '?')} cores, {gpu}, torch {m.get('torch', '?')}"
    )
