"""Training throughput of every arch at batch 64, and the peak memory of a training process.

    .venv/bin/python benchmarks/bench_train.py [--steps 20] [--warmup 3] [--preset cpu] [--device cpu]
                                               [--archs dcgan,cgan,...] [--threads N] [--data DIR]
                                               [--set KEY=VALUE ...]

Each arch runs in its own process: the model from --preset (cpu: the widths `ganbench train --preset cpu`
trains on a CPU; paper: the full models, for a GPU) at --batch-size 64, --warmup untimed steps, then --steps
timed ones of the model's own step() (n_dis D updates + one G update) on batches from the training sampler.
Real images/s counts the real images D saw (n_dis x batch per step), as log.csv's img_per_s does. --set
changes a model setting of every arch timed (a recipe screen's cost beside its preset's: run it once with and
once without, one arch, back to back). After the
timing, one sample render of the 1,000 fixed latents (what every sample step does, in batches of 500). Peak
RSS (ru_maxrss of the child) is read after the timed steps ("train": data in memory, models, optimisers,
activations) and again after the render ("+render": the whole training process).
The issue's target: training at batch 64 stays under 6 GB of RAM on CPU.

Data: random uint8 images shaped and sized as CIFAR-10 train (50,000 x 3 x 32 x 32, the same 150 MB) unless
--data gives a real copy (decoding 50k JPEGs adds ~20 s per arch, and nothing to the step time).
Not a test: the machine may be shared, so the load average before and after is printed; compare archs
within one run, not across machines or busy periods.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHS = ("dcgan", "cgan", "acgan", "biggan", "biggan-aux", "wgan-gp")  # the benchmark's names
LIMIT_GB = 6.0  # the memory target for CPU training at batch 64


def worker(args: argparse.Namespace) -> dict:
    """One arch in this process -> its numbers (printed as a JSON line for the parent)."""
    import resource

    import torch

    sys.path.insert(0, str(REPO))
    from trainers import settings
    from trainers.data import BatchSampler, load_training_set
    from trainers.gan import make_nets
    from trainers.loop import fixed_latents, pick_device, render, seed_everything
    from trainers.registry import BENCHMARK_ARCHS, arch_module

    if args.threads:
        torch.set_num_threads(args.threads)
    trainer, model_settings = BENCHMARK_ARCHS[args.worker]
    arch = arch_module(trainer)
    model = dict(model_settings) | settings.parse_set(args.worker, arch.Config, tuple(args.sets))
    cfg, s = settings.fresh(arch, args.preset, model, {"batch_size": args.batch_size})
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    if args.data:
        images, labels = load_training_set(args.data)
    else:
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (50_000, 3, 32, 32), dtype=torch.uint8, generator=gen)
        labels = torch.randint(0, 10, (50_000,), generator=gen)
    seed_everything(0)
    nets = make_nets(arch, cfg, device, channels_last=cuda)
    sampler = BatchSampler(images, labels, s.batch_size, 0, True, 0, device, channels_last=cuda)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for it in range(args.warmup):
        arch.step(nets, cfg, sampler, it)
    sync()
    t0, drawn = time.perf_counter(), sampler.drawn
    for it in range(args.warmup, args.warmup + args.steps):
        arch.step(nets, cfg, sampler, it)
    sync()
    seconds = time.perf_counter() - t0
    real = (sampler.drawn - drawn) * s.batch_size
    rss_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux -> GiB

    t1 = time.perf_counter()
    z, y = fixed_latents(arch, cfg, 0)
    render(nets.G_ema if nets.G_ema is not None else nets.G, z, y)
    sync()
    render_s = time.perf_counter() - t1
    out = {
        "arch": args.worker,
        "params_G_M": sum(p.numel() for p in nets.G.parameters()) / 1e6,
        "params_D_M": sum(p.numel() for p in nets.D.parameters()) / 1e6,
        "n_dis": getattr(cfg, "n_dis", 1),
        "steps_per_s": args.steps / seconds,
        "real_img_per_s": real / seconds,
        "render_1000_s": render_s,
        "peak_rss_train_gb": rss_train,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,  # with the render
        "threads": torch.get_num_threads(),
    }
    if cuda:
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1024**3
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed G steps per arch (each has n_dis D steps)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (allocations, caches)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--preset", choices=("smoke", "cpu", "paper"), default="cpu", help="model widths to time")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    ap.add_argument("--archs", default=",".join(ARCHS), help="comma-separated subset of " + ",".join(ARCHS))
    ap.add_argument("--threads", type=int, default=None, help="torch threads per child [default: torch's]")
    ap.add_argument("--data", default=None, help="a real CIFAR-10 copy instead of random images of its size")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a model setting for every arch timed, as `ganbench train --set`")  # fmt: skip
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    unknown = sorted(set(archs) - set(ARCHS))
    if unknown:
        ap.error(f"unknown arch(s) {', '.join(unknown)}; choose from {', '.join(ARCHS)}")
    if args.sets:  # a bad --set is one line here, not a traceback per arch
        sys.path.insert(0, str(REPO))
        from ganbench.errors import UserError
        from trainers import settings
        from trainers.registry import BENCHMARK_ARCHS, arch_module

        for name in archs:
            try:
                settings.parse_set(name, arch_module(BENCHMARK_ARCHS[name][0]).Config, tuple(args.sets))
            except UserError as e:
                ap.error(str(e))
    load0 = os.getloadavg()
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; load average at start {load0[0]:.2f} / "
          f"{load0[1]:.2f} / {load0[2]:.2f} (1/5/15 min; shared machine: other work slows these numbers)")  # fmt: skip
    print(f"preset {args.preset}, batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps, "
          f"device {args.device}, one process per arch" + "".join(f", --set {kv}" for kv in args.sets),
          flush=True)  # fmt: skip
    rows, t_all = [], time.perf_counter()
    for arch in archs:
        cmd = [sys.executable, __file__, "--worker", arch, "--steps", str(args.steps), "--warmup",
               str(args.warmup), "--batch-size", str(args.batch_size), "--preset", args.preset,
               "--device", args.device]  # fmt: skip
        cmd += ["--threads", str(args.threads)] if args.threads else []
        cmd += ["--data", args.data] if args.data else []
        cmd += [x for kv in args.sets for x in ("--set", kv)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            print(f"{arch}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  {arch}: {rows[-1]['real_img_per_s']:.0f} real img/s", flush=True)
    load1 = os.getloadavg()

    gpu = any("peak_gpu_gb" in r for r in rows)
    head = f"{'arch':<8} {'G/D params (M)':>15} {'n_dis':>5} {'G steps/s':>9} {'real img/s':>10} " \
           f"{'render 1k (s)':>13} {'RSS train (GB)':>14} {'+render (GB)':>12}" + \
           (f" {'peak GPU (GB)':>13}" if gpu else "")  # fmt: skip
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        params = f"{r['params_G_M']:.2f}/{r['params_D_M']:.2f}"
        line = (f"{r['arch']:<8} {params:>15} {r['n_dis']:>5} {r['steps_per_s']:>9.2f} "
                f"{r['real_img_per_s']:>10.0f} {r['render_1000_s']:>13.2f} {r['peak_rss_train_gb']:>14.2f} "
                f"{r['peak_rss_gb']:>12.2f}")  # fmt: skip
        print(line + (f" {r.get('peak_gpu_gb', 0):>13.2f}" if gpu else ""))
    if rows:
        worst = max(rows, key=lambda r: r["peak_rss_gb"])
        verdict = "under" if worst["peak_rss_gb"] < LIMIT_GB else "OVER"
        print(f"\nlargest peak RSS: {worst['arch']} {worst['peak_rss_gb']:.2f} GB, {verdict} the {LIMIT_GB:.0f} GB target "
              f"(batch {args.batch_size}, preset {args.preset})")  # fmt: skip
    print(f"load average at end {load1[0]:.2f}; threads per child {rows[0]['threads'] if rows else '?'}; "
          f"total {time.perf_counter() - t_all:.0f} s")  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
