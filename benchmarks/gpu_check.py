"""Everything only a GPU can show, in one prepared run of ~8 minutes that writes a JSON report and a log.

    python benchmarks/gpu_check.py OUT [--device cuda|cpu] [--quick] [--budget-s S] [--data DIR]
                                       [--inception-weights PATH] [--classifier-weights PATH] [--work DIR]
    python benchmarks/gpu_check.py /tmp/gc --device cpu --quick      # the same stages on a CPU, smoke-sized

Stages, each in its own process under its own share of --budget-s (a stage that fails or overruns is killed
with all its processes and recorded; the next one runs):
  1 train       every arch (paper preset, ~200 steps; biggan with --diffaug): finite losses, sample folders,
                a checkpoint that `ganbench sample --device cpu` reads, a resume from the middle checkpoint
                (bit for bit on a CPU), --compile on two archs (a refusal in one line counts as an answer)
  2 ddp         two archs through the DDP-wrapped path with one process (GANBENCH_FORCE_DDP=1 under torchrun:
                NCCL on CUDA), and ganbench.parallel's collectives (every dtype, empty shards, a generator)
  3 parity      the same CIFAR-10 images (and a stage-1 generator's) scored with torch on the device and with
                onnxruntime on the CPU, fresh caches: feature, FID/KID/PRDC and classifier differences vs 1e-4
  4 throughput  training img/s per arch at batch 64 (bench_train.py), Inception img/s at batch 64 and 256,
                ganbench vs torch-fidelity on one folder (when installed)
  5 benchmark   `ganbench benchmark --archs biggan` in the time the others left; its generator comes back

OUT gets gpu_check.json (rewritten after every stage, so a killed run still leaves a report), gpu_check.log
(every command and its output) and benchmark-biggan-G.pt (in parts of 15 MiB when larger; the report says how
to join them). The rest (runs, caches, samples) goes to --work, by default a temporary folder.
Weights: the device has no network, and the 87 MB Inception file does not fit in what travels: make a float16
copy with `benchmarks/gpu_pack.py` and pass it as --inception-weights (see gpucheck/weights.py).
The whole run takes --budget-s plus up to a minute (a stage's grace before it is killed, the report): give
the device tool a timeout_s of the budget + 60. Exit code 0 when every stage passed, 1 when one did not, 2 for
bad input.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]

from gpucheck import plan as P  # noqa: E402
from gpucheck.jobs import kill_tree, last_line, write_json  # noqa: E402

REPORT, LOG = "gpu_check.json", "gpu_check.log"
DEFAULT_BUDGET = {"cuda": 480.0, "cpu": 1800.0, "quick": 600.0}
MIN_STAGE_S = 10.0


def prepare_child() -> None:
    """In every process the check starts: accept the float16 weights copy; read trainer checkpoints where
    ganbench is not installed; --quick on a CPU: fewer fixed samples."""
    from gpucheck.weights import register

    register(os.environ.get(P.EXTRA_WEIGHTS_ENV))
    checkpoint_loader()
    if os.environ.get(P.N_FIXED_ENV):
        import trainers.loop as loop

        loop.N_FIXED, loop.GRID = int(os.environ[P.N_FIXED_ENV]), 2


def checkpoint_loader() -> bool:
    """`ganbench score ckpt.pt` finds the trainers' loader through an entry point, which exists only where
    ganbench is installed; the device runs the tree from PYTHONPATH, so register it here. -> registered?"""
    from importlib import metadata

    from ganbench.inputs import generators

    if any(ep.name == "pt" for ep in metadata.entry_points(group=generators.ENTRY_POINT_GROUP)):
        return False

    def load(path: str, spec: str, n: int | None, seed: int):  # trainers imported only when one is read
        from trainers.sample import checkpoint_source

        return checkpoint_source(path, spec, n, seed)

    generators.register_loader(".pt", load)
    return True


def child(argv: list[str]) -> None:
    """--ganbench ARGS (the CLI), --stage NAME CTX UNTIL, --part NAME CTX ARGS: the processes of a check."""
    prepare_child()
    kind, rest = argv[0], argv[1:]
    if kind == "--ganbench":
        from ganbench.cli import main as cli_main

        sys.argv = ["ganbench", *rest]
        cli_main()
        return
    from gpucheck import collectives, parity, throughput, training
    from gpucheck.jobs import Record

    name, ctx = rest[0], P.Ctx.load(Path(rest[1]))
    if kind == "--stage":
        stages = {"train": training.stage_train, "ddp": training.stage_ddp, "parity": parity.stage_parity,
                  "throughput": throughput.stage_throughput, "benchmark": training.stage_benchmark}  # fmt: skip
        stages[name](ctx, Record(ctx.work_dir / "stages" / f"{name}.json"), float(rest[2]))
        return
    parts = {"collectives": collectives.part_collectives, "parity-side": parity.part_parity_side,
             "inception": throughput.part_inception, "fidelity": throughput.part_fidelity}  # fmt: skip
    parts[name](ctx, *rest[2:-1], Path(rest[-1]))


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="report folder: gpu_check.json, gpu_check.log, the generator")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--quick", action="store_true", help="smoke-sized stages (seconds each), for a CPU check")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="the whole run's seconds; stage timeouts are shares of it, the benchmark gets the rest "
                    "[default: 480 on cuda, 600 with --quick, 1800 on cpu]")  # fmt: skip
    ap.add_argument("--data", default=None, help="CIFAR-10 folder (train/, test/) [default: $GANBENCH_DATA]")
    ap.add_argument(
        "--inception-weights", default=None, help="a published file or a gpu_pack.py float16 copy"
    )
    ap.add_argument("--classifier-weights", default=None, help="resnet56 file or a folder holding it")
    ap.add_argument("--archs", default=",".join(P.TRAIN_ARCHS), help="stage 1's archs [default: all]")
    ap.add_argument("--jobs", type=int, default=None, help="commands side by side (not while timing)")
    ap.add_argument("--work", type=Path, default=None, help="runs and caches [default: a temporary folder]")
    args = ap.parse_args(argv)
    archs = tuple(a.strip() for a in args.archs.split(",") if a.strip())
    unknown = sorted(set(archs) - set(P.TRAIN_ARCHS))
    if unknown or not archs:
        ap.error(f"--archs: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(P.TRAIN_ARCHS)}")
    args.archs = archs
    return args


class BadInput(Exception):
    """One line for the user, exit 2."""


def prepare(args: argparse.Namespace) -> tuple[P.Ctx, dict[str, Any]]:
    import torch
    from gpucheck.weights import resolve_for_check

    if args.device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: no CUDA device is available here; use --device cpu [--quick]")
    data = args.data or os.environ.get("GANBENCH_DATA")
    if not data or not (Path(data) / "train").is_dir():
        raise BadInput(f"no CIFAR-10 folder with train/ at {data!r}: pass --data DIR or set GANBENCH_DATA")
    data = str(Path(data).resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    work = (args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    budget = args.budget_s or DEFAULT_BUDGET["quick" if args.quick and args.device == "cpu" else args.device]
    plan = P.make_plan(args.device, args.quick)
    jobs = args.jobs or P.default_jobs(args.device)
    from ganbench import weights as W

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONUNBUFFERED": "1", "GANBENCH_DATA": data, "GANBENCH_RESULTS": str(work / "results"),
           "GANBENCH_CACHE": str(W.cache_root())}  # fmt: skip
    report_weights: dict[str, Any] = {}
    try:
        path, info, spec = resolve_for_check(args.inception_weights, work)
        env["GANBENCH_INCEPTION_WEIGHTS"] = path
        report_weights["inception"] = info
        if spec:
            env[P.EXTRA_WEIGHTS_ENV] = spec
    except Exception as e:  # noqa: BLE001 - every stage that needs them fails and says so; training still runs
        report_weights["inception"] = {"error": str(e).splitlines()[0]}
    classifier = _classifier(args.classifier_weights, env, report_weights)
    if plan.n_fixed:
        env[P.N_FIXED_ENV] = str(plan.n_fixed)
    ctx = P.Ctx(out=str(args.out.resolve()), work=str(work), device=args.device, quick=args.quick, data=data,
                plan=plan, archs=args.archs, jobs=jobs, threads=max(1, len(os.sched_getaffinity(0)) // jobs),
                budget_s=budget, deadline=time.time() + budget, env=env, classifier=classifier)  # fmt: skip
    ctx.save(work / "ctx.json")
    report = {
        "script": "benchmarks/gpu_check.py",
        "command": " ".join(sys.argv),
        "started": _now(),
        "finished": None,
        "device": args.device,
        "quick": args.quick,
        "budget_s": budget,
        "torch": str(torch.__version__),
        "ganbench": _version(),
        "ganbench_installed": not checkpoint_loader(),  # else the tree runs from PYTHONPATH
        "gpu": gpu_info() if args.device == "cuda" else None,
        "machine": {"cpu": _cpu_name(), "cores": len(os.sched_getaffinity(0))},
        "code": _git_describe(),
        "weights": report_weights,
        "data": {"dir": data, **{s: _count(Path(data) / s) for s in ("train", "test")}},
        "plan": asdict(plan),
        "work": str(work),
        "stages": {},
    }
    report["suggested_name"] = f"benchmarks/results/{_slug(report['gpu'])}-{datetime.date.today()}.json"
    return ctx, report


def _classifier(given: str | None, env: dict[str, str], report: dict[str, Any]) -> bool:
    """The surrogate classifier's weights, resolved once here (a file or a folder, as ganbench takes them)."""
    from ganbench.extractors.classifier import resolve_classifier

    if given:
        os.environ["GANBENCH_CLASSIFIER_WEIGHTS"] = str(Path(given).resolve())
    try:
        resolved = resolve_classifier("resnet56")
    except Exception as e:  # noqa: BLE001 - then the class-aware metrics are skipped, the rest runs
        report["classifier"] = {"error": str(e).splitlines()[0]}
        return False
    env["GANBENCH_CLASSIFIER_WEIGHTS"] = str(resolved.path)
    report["classifier"] = {"file": resolved.path.name, **resolved.identity(), "path": str(resolved.path)}
    return True


def gpu_info() -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    try:
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # an older torch without the argument
        bf16 = torch.cuda.is_bf16_supported()
    return {"name": props.name, "capability": list(torch.cuda.get_device_capability(0)),
            "memory_gb": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count(),
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "bf16_native": bf16,
            "tf32_defaults": {"matmul": torch.backends.cuda.matmul.allow_tf32,
                              "cudnn": torch.backends.cudnn.allow_tf32}}  # fmt: skip


def stage_timeout(name: str, budget: float, deadline: float) -> float:
    """A stage's cap: its share of the budget, never past the deadline; the benchmark takes what is left."""
    left = deadline - time.time()
    return left if name == "benchmark" else min(P.SHARES[name] * budget, left)


def run_stage(ctx: P.Ctx, name: str, log_path: Path) -> dict[str, Any]:
    timeout = stage_timeout(name, ctx.budget_s, ctx.deadline)
    if timeout < MIN_STAGE_S:
        return {"ok": False, "seconds": 0.0, "error": f"skipped: {max(timeout, 0):.0f} s left of the budget"}
    record = ctx.work_dir / "stages" / f"{name}.json"
    record.unlink(missing_ok=True)
    until = time.time() + timeout
    cmd = [ctx.python, str(P.SCRIPT), "--stage", name, str(ctx.work_dir / "ctx.json"), str(until)]
    with open(log_path, "a") as log:
        log.write(f"\n===== stage {name} (up to {timeout:.0f} s) {_now()}\n")
        log.flush()
        offset = log.tell()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=ctx.env, stdin=subprocess.DEVNULL
        )
        try:
            rc: int | None = proc.wait(timeout=timeout + 10)  # the stage watches `until` itself; then this
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            rc = None
    seconds = round(time.monotonic() - t0, 1)
    data = json.loads(record.read_text()) if record.is_file() else {"checks": {}}
    checks = data.get("checks", {})
    failed = [f"{k}: {v.get('detail')}" for k, v in checks.items() if v.get("ok") is False]
    passed = [k for k, v in checks.items() if v.get("ok")]
    if rc is None:
        error = f"timed out after {timeout:.0f} s" + (f"; {'; '.join(failed)}" if failed else "")
    elif rc != 0:
        with open(log_path, errors="replace") as f:
            f.seek(offset)
            error = f"stage crashed (exit {rc}): {last_line(f.read())}"
    elif failed:
        error = "; ".join(failed)
    elif not passed:
        error = "nothing ran: " + "; ".join(f"{k}: {v.get('detail')}" for k, v in checks.items())
    else:
        error = None
    skipped = {k: v.get("detail") for k, v in checks.items() if v.get("ok") is None}
    return {**data, "ok": error is None, "seconds": seconds, "timeout_s": round(timeout, 1), "error": error,
            "skipped": skipped}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--ganbench"], ["--stage"], ["--part"]):
        child(argv)
        return 0
    args = parse(argv)
    try:
        ctx, report = prepare(args)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(ctx.out)
    write_json(out / REPORT, report)
    for name in P.STAGES:
        print(f"[gpu_check] stage {name} ...", flush=True)
        report["stages"][name] = run_stage(ctx, name, out / LOG)
        write_json(out / REPORT, report)
        s = report["stages"][name]
        print(f"[gpu_check] stage {name}: {'ok' if s['ok'] else 'FAILED'} ({s['seconds']} s)"
              + (f" - {s['error']}" if s["error"] else ""), flush=True)  # fmt: skip
    report["finished"] = _now()
    write_json(out / REPORT, report)
    shorten(out / LOG)
    from gpucheck.summary import table

    print(table(report))
    return 0 if all(s["ok"] for s in report["stages"].values()) else 1


def shorten(log: Path, limit: int = 15 * 2**20, head: int = 2 * 2**20) -> None:
    """Files over 16 MiB do not come back from the device: keep the log's start and its end."""
    if log.stat().st_size <= limit:
        return
    data = log.read_bytes()
    cut = f"\n[... {len(data) - limit:,} bytes cut by gpu_check ...]\n".encode()
    log.write_bytes(data[:head] + cut + data[-(limit - head - len(cut)) :])


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _version() -> str:
    from ganbench.version import __version__

    return __version__


def _slug(gpu: dict[str, Any] | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (gpu or {}).get("name", "cpu").lower()).strip("-")


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _cpu_name() -> str:
    try:
        return next(
            ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        return "?"


def _git_describe() -> str | None:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
