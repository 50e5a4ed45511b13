"""Recipe screens: short runs of one arch, one per option set, each scored at every --every steps on the
trainer's 1,000-sample folders (100 per class) against the seeded 10k cifar10-train subset; prints the table a
preset's comment quotes (1k FID, classifier accuracy, near-duplicate rate, recall, training minutes).

    python benchmarks/screen.py cgan --steps 3000 --out /work/bench/screens \\
        --try "" --try d_class_std=true --try "d_cond=both,d_sn=true"

"" is the preset itself: screen it beside the options on the same machine, since one recipe's numbers move
between machines (the acgan preset: FID 50.4 on an AVX2 VM, 35.7 on an AVX-512 one). Runs go one at a time
(two jobs on 2 cores starve each other) and resume: an option set whose run reached --steps is not trained
again, one cut short continues from its last checkpoint. Needs GANBENCH_DATA (and the classifier weights for
accuracy, GANBENCH_CLASSIFIER_WEIGHTS).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path


def slug(option: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", option.replace(",", "+")) or "preset"


def settings(option: str) -> list[str]:
    """'a=1,b=2' -> ['--set', 'a=1', '--set', 'b=2']; '' -> []."""
    out: list[str] = []
    for pair in filter(None, (p.strip() for p in option.split(","))):
        if "=" not in pair:
            raise SystemExit(f"--try takes KEY=VALUE pairs joined by commas, got {pair!r}")
        out += ["--set", pair]
    return out


def run_dir(folder: Path) -> Path | None:
    runs = sorted(p for p in (folder / "runs").glob("[0-9][0-9][0-9][0-9][0-9]-*") if p.is_dir())
    return runs[-1] if runs else None


def last_step(run: Path) -> int:
    steps = [int(p.stem.split("-")[1]) for p in run.glob("ckpt-*.pt") if p.stem.split("-")[1].isdigit()]
    return max(steps, default=0)


def train(args: argparse.Namespace, option: str, folder: Path) -> None:
    run = run_dir(folder)
    base = [sys.executable, "-m", "ganbench", "train", args.arch]
    common = ["--steps", str(args.steps), "--minutes", "100000"]
    if run is not None and last_step(run) >= args.steps:
        return
    if run is not None and last_step(run) > 0:
        cmd = [*base, "--resume", str(run), *common]
    else:
        cmd = [*base, "--preset", args.preset, "--seed", str(args.seed), "--out", str(folder / "runs"), *common,
               "--sample-every", str(args.every), "--ckpt-every", str(args.every), "--score-every",
               str(args.every), "--score-ref-n", str(args.ref_n), "--results", str(folder / "results"),
               *settings(option)]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    with open(folder / "train.log", "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def minutes_at(run: Path) -> dict[int, float]:
    """step -> minutes in the training steps, from the checkpoints (saved at every --every steps): the
    sampling and --score-every scoring between steps are left out (checkpoints before step_seconds existed
    only have the wall clock, train_seconds)."""
    from trainers import checkpoint

    out = {}
    for path in run.glob("ckpt-*.pt"):
        ck = checkpoint.load(path)
        out[int(ck["step"])] = float(ck.get("step_seconds", ck.get("train_seconds", 0.0))) / 60
    return out


def rows(args: argparse.Namespace, option: str, folder: Path) -> list[list[str]]:
    run = run_dir(folder)
    mins = minutes_at(run) if run else {}
    recs = {}
    for path in sorted((folder / "results").glob("*.json")):
        rec = json.loads(path.read_text())
        recs[int(rec["run"]["step"])] = rec  # the newest record of a step wins (sorted by time)
    out = []
    for step, rec in sorted(recs.items()):
        m = rec["metrics"]

        def f(key: str, spec: str, m: dict = m) -> str:
            v = m.get(key)
            return "n/a" if v is None else format(v, spec)

        near = min(mins, key=lambda s: abs(s - step), default=None)
        out.append([option or "(preset)", f"{step:,}", f("fid", ".1f"), f("classifier_accuracy", ".3f"),
                    f("near_duplicate_rate", ".2f"), f("recall", ".3f"),
                    f"{mins[near]:.1f}" if near is not None else "?"])  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch")
    ap.add_argument("--try", dest="options", action="append", required=True,
                    help='comma-joined --set pairs of one run; "" for the preset itself')  # fmt: skip
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=1000, help="sample, checkpoint and score every N steps")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--table-only", action="store_true", help="print the table of what is there, train nothing"
    )
    args = ap.parse_args()
    table = []
    for option in args.options:
        settings(option)  # bad input before any training
    for option in args.options:
        folder = args.out / f"{args.arch}-{slug(option)}"
        folder.mkdir(parents=True, exist_ok=True)
        if not args.table_only:
            train(args, option, folder)
        table += rows(args, option, folder)
    head = ["option", "step", "1k FID", "classifier acc", "near-dup", "recall", "train min"]
    print(f"\n{args.arch}, preset {args.preset}, seed {args.seed}: 1,000 samples vs the seeded "
          f"{args.ref_n:,}-image cifar10-train subset")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
