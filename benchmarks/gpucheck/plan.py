"""What the check runs: the sizes of every stage for a device (cuda, cpu, cpu --quick), the context the stage
processes share (a JSON file), and the command lines they run. Command builders are pure functions, so the
CUDA commands are tested on a machine without a GPU."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "gpu_check.py"
BENCH_TRAIN = HERE.parent / "bench_train.py"
REPO = HERE.parents[1]

# `ganbench benchmark` names -> the `ganbench train` arguments that make that model (trainers/registry.py's
# BENCHMARK_ARCHS); biggan also with DiffAugment, as the issue asks.
TRAIN_ARCHS: dict[str, list[str]] = {
    "dcgan": ["dcgan"],
    "cgan": ["cgan"],
    "acgan": ["acgan"],
    "biggan": ["biggan", "--diffaug"],
    "biggan-aux": ["biggan", "--aux"],
    "wgan-gp": ["wgan-gp"],
}
STAGES = ("train", "ddp", "parity", "throughput", "benchmark")
# Each stage's cap as a share of --budget-s; the benchmark gets whatever the others left.
SHARES = {"train": 0.28, "ddp": 0.12, "parity": 0.2, "throughput": 0.16}
# a WeightSpec (JSON) the children add to ganbench's known files (gpucheck/weights.py)
EXTRA_WEIGHTS_ENV = "GPU_CHECK_EXTRA_WEIGHTS"
N_FIXED_ENV = "GPU_CHECK_N_FIXED"  # --quick on a CPU: the trainers render this many fixed samples, not 1,000


@dataclass(frozen=True)
class Plan:
    """Sizes of every stage. cuda: the paper presets for ~200 steps; cpu --quick: smoke-sized, seconds each."""

    preset: str
    steps: int  # stage 1: steps per arch; checkpoints at half and at the end, resumed from the half
    sample_every: int
    log_every: int
    compile_steps: int
    ddp_steps: int
    n_fixed: int | None  # trainers' fixed samples per sample step (None: theirs, 1,000)
    sample_n: int  # `ganbench sample --device cpu` images per arch
    parity_n: int  # cifar10-test images scored by both backends
    parity_ref_n: int  # cifar10-train reference images
    gen_n: int  # a trained generator's images scored by both backends
    collectives_ref_n: int
    collectives_gen_n: int
    bench_steps: int  # bench_train.py: timed steps per arch at batch 64
    bench_warmup: int
    inception_n: int  # images timed through Inception at each batch size
    inception_batches: tuple[int, ...]
    fidelity_n: int  # images of the torch-fidelity comparison
    benchmark_n: int
    benchmark_ref_n: int
    benchmark_overhead_s: float  # the benchmark's start, sampling, scoring and publishing, besides training
    compile_archs: tuple[str, ...] = ("biggan", "wgan-gp")
    ddp_archs: tuple[str, ...] = ("cgan", "biggan")


def pick(wanted: tuple[str, ...], archs: tuple[str, ...]) -> list[str]:
    """The archs of `wanted` that --archs kept (else as many of --archs): compile and DDP follow --archs."""
    return [a for a in wanted if a in archs] or list(archs[: len(wanted)])


def make_plan(device: str, quick: bool) -> Plan:
    if device == "cuda":
        return Plan(preset="paper", steps=200, sample_every=100, log_every=10, compile_steps=40, ddp_steps=40,
                    n_fixed=None, sample_n=100, parity_n=2000, parity_ref_n=1000, gen_n=500,
                    collectives_ref_n=500, collectives_gen_n=250, bench_steps=20, bench_warmup=3,
                    inception_n=2048, inception_batches=(64, 256), fidelity_n=2000, benchmark_n=2000,
                    benchmark_ref_n=2000, benchmark_overhead_s=100.0)  # fmt: skip
    if quick:
        return Plan(preset="smoke", steps=2, sample_every=2, log_every=1, compile_steps=2, ddp_steps=2,
                    n_fixed=20, sample_n=10, parity_n=12, parity_ref_n=12, gen_n=10, collectives_ref_n=12,
                    collectives_gen_n=8, bench_steps=2, bench_warmup=1, inception_n=8,
                    inception_batches=(4, 8), fidelity_n=10, benchmark_n=12, benchmark_ref_n=20,
                    benchmark_overhead_s=30.0)  # fmt: skip
    return Plan(preset="cpu", steps=20, sample_every=10, log_every=5, compile_steps=10, ddp_steps=10,
                n_fixed=None, sample_n=50, parity_n=200, parity_ref_n=200, gen_n=100, collectives_ref_n=100,
                collectives_gen_n=50, bench_steps=10, bench_warmup=2, inception_n=128,
                inception_batches=(64, 128), fidelity_n=128, benchmark_n=500, benchmark_ref_n=500,
                benchmark_overhead_s=240.0)  # fmt: skip


@dataclass(frozen=True)
class Ctx:
    """What every stage process needs, written once by the parent (work/ctx.json)."""

    out: str  # the report folder (comes back from the device: a few files only)
    work: str  # everything else: runs, caches, samples
    device: str  # cuda | cpu
    quick: bool
    data: str  # CIFAR-10 folder: train/<class>/*, test/<class>/*
    plan: Plan
    archs: tuple[str, ...]
    jobs: int  # commands run side by side where the stage allows (not while timing)
    threads: int  # torch CPU threads of each trainer command
    budget_s: float
    deadline: float  # time.time() by which the whole check ends
    env: dict[str, str] = field(default_factory=dict)  # the children's whole environment
    classifier: bool = True  # surrogate classifier weights were found (else class-aware metrics are skipped)
    python: str = sys.executable

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Ctx:
        raw = json.loads(Path(path).read_text())
        plan = raw.pop("plan")
        plan = Plan(**{k: tuple(v) if isinstance(v, list) else v for k, v in plan.items()})
        return cls(plan=plan, **{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    @property
    def work_dir(self) -> Path:
        return Path(self.work)

    def child_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}


def ganbench_cmd(ctx: Ctx, *args: str) -> list[str]:
    """`ganbench ARGS` as a user runs it, through this script's shim (it registers a float16 weights copy)."""
    return [ctx.python, str(SCRIPT), "--ganbench", *args]


def torchrun_cmd(ctx: Ctx, *args: str) -> list[str]:
    """One process under torchrun (NCCL on CUDA, gloo on CPU) running this script with ARGS."""
    return [
        ctx.python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        str(SCRIPT),
        *args,
    ]


def part_cmd(ctx: Ctx, part: str, *args: str) -> list[str]:
    return [ctx.python, str(SCRIPT), "--part", part, str(ctx.work_dir / "ctx.json"), *args]


def train_args(
    ctx: Ctx, name: str, out: Path, *, steps: int | None = None, compile_: bool = False
) -> list[str]:
    """`ganbench train ...` arguments of stage 1 (and of the DDP and compile runs, with fewer steps)."""
    p = ctx.plan
    steps = steps or p.steps
    args = ["train", *TRAIN_ARCHS[name], "--preset", p.preset, "--device", ctx.device, "--data", ctx.data,
            "--out", str(out), "--steps", str(steps), "--ckpt-every", str(max(1, steps // 2)),
            "--sample-every", str(min(p.sample_every, steps)), "--log-every", str(min(p.log_every, steps)),
            "--threads", str(ctx.threads)]  # fmt: skip
    return args + (["--compile"] if compile_ else [])


def resume_args(ctx: Ctx, name: str, ckpt: Path) -> list[str]:
    return ["train", TRAIN_ARCHS[name][0], "--resume", str(ckpt), "--device", ctx.device,
            "--threads", str(ctx.threads)]  # fmt: skip


def sample_args(ckpt: Path, out: Path, n: int) -> list[str]:
    return ["sample", str(ckpt), "--n", str(n), "--out", str(out), "--device", "cpu", "--batch-size", "50"]


def bench_train_cmd(ctx: Ctx, arch: str) -> list[str]:
    """bench_train.py's worker: one arch's img/s at batch 64 (random data of CIFAR-10's size)."""
    p = ctx.plan
    return [ctx.python, str(BENCH_TRAIN), "--worker", arch, "--steps", str(p.bench_steps), "--warmup",
            str(p.bench_warmup), "--batch-size", "64", "--preset", p.preset, "--device", ctx.device]  # fmt: skip


def benchmark_args(ctx: Ctx, out: Path, minutes: float) -> list[str]:
    p = ctx.plan
    args = ["benchmark", "--device", ctx.device, "--archs", "biggan", "--minutes", f"{minutes:.2f}",
            "--out", str(out), "--data", ctx.data, "--preset", p.preset, "--n", str(p.benchmark_n),
            "--ref-n", str(p.benchmark_ref_n), "--fid-ci", "3"]  # fmt: skip
    return args + ([] if ctx.classifier else ["--classifier", "none"])


def default_jobs(device: str) -> int:
    """Commands side by side: on a GPU machine's many cores, up to one per arch; on a small CPU, one."""
    cores = len(os.sched_getaffinity(0))
    return min(6, max(1, cores // 2)) if device == "cuda" or cores > 4 else 1
