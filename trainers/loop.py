"""The shared training loop: one code path for every arch, one process or several (torchrun, DDP).

seed -> data in memory -> nets (+ resume) -> for each step: model.step() -> log.csv (+ TensorBoard) /
samples + grid + gif + curves / atomic checkpoint / --score-every. Generator output becomes image bytes
through ganbench's one conversion (ganbench.inputs.arrays.to_uint8), as the API's generators do. Under torchrun (trainers/distributed.py) every rank trains, rank 0
alone writes and prints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganbench.atomic import atomic_write_text, writing
from ganbench.errors import UserError, warn
from ganbench.inputs.arrays import run_generator
from ganbench.threads import set_threads
from trainers import checkpoint, distributed, settings
from trainers.data import CIFAR10_CLASSES, BatchSampler, load_training_set
from trainers.distributed import Dist, bare
from trainers.gan import Nets, compile_nets, ema_update, make_nets
from trainers.images import grid, replace_folder, save_gif, save_png
from trainers.registry import arch_module
from trainers.runlog import CsvLog, TbLog, plot_curves, require_tensorboard
from trainers.scoring_hook import ScoreHook

_clock = time.monotonic  # --minutes' clock (tests drive it)
N_FIXED = 1_000  # fixed latents rendered at every sample step: 100 per class for conditional models
GRID = 10  # grid-<step>.png is GRID x GRID (a row per class for conditional models)


def render(G: nn.Module, z: Tensor, y: Tensor | None, batch_size: int = 500) -> np.ndarray:
    """G (in eval mode) over latents z and labels y, in batches -> uint8 [N, 3, 32, 32]. Uses no RNG. The
    trainers' G end in tanh: their range is (-1, 1), converted by ganbench's one float -> uint8 conversion."""
    return run_generator(G, z, y, value_range=(-1, 1), batch_size=batch_size)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fixed_latents(arch: ModuleType, cfg: Any, seed: int) -> tuple[Tensor, Tensor | None]:
    """The latents every sample step renders, from their own generator (the training RNG is untouched)."""
    gen = torch.Generator().manual_seed(seed + 1_000_003)
    z = torch.randn(N_FIXED, cfg.z_dim, generator=gen)
    if not arch.CONDITIONAL:
        return z, None
    return z, torch.arange(cfg.n_classes).repeat_interleave(N_FIXED // cfg.n_classes)


def lr_scale(it: int, s: settings.TrainSettings) -> float:
    """The factor on the Config's learning rates at step `it` (0-based): 1, then linear decay from lr_decay_from.

    A function of the step alone, so a resumed run (or one resumed with a longer --steps) needs no saved state.
    """
    if s.lr_decay_from is None or it < s.lr_decay_from:
        return 1.0
    return (s.steps - it) / (s.steps - s.lr_decay_from)


def set_learning_rates(nets: Nets, cfg: Any, scale: float) -> None:
    for opt, lr in ((nets.opt_G, cfg.lr_g), (nets.opt_D, cfg.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr * scale


def new_run_dir(out: Path, arch: str) -> Path:
    """<out>/<NNNNN>-<arch>, NNNNN one more than the largest run number there."""
    with writing(out, "write elsewhere (--out)"):
        out.mkdir(parents=True, exist_ok=True)
        while True:
            numbers = [int(p.name[:5]) for p in out.iterdir() if p.name[:5].isdigit() and p.name[5:6] == "-"]
            run_dir = out / f"{max(numbers, default=-1) + 1:05d}-{arch}"
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:  # another run took this number meanwhile
                continue


def train(
    arch_name: str,
    cfg: Any,
    s: settings.TrainSettings,
    resume: dict[str, Any] | None = None,
    run_dir: Path | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Train `arch_name` with model config `cfg` and loop settings `s`; returns the run folder.

    resume: a loaded checkpoint to continue from (its run folder is `run_dir`), bit-for-bit on the CPU.
    Under torchrun (WORLD_SIZE > 1) this runs on every rank; all return the same run folder.
    """
    if s.tensorboard:
        require_tensorboard()  # before any work: a missing package is a one-line error, not a late crash
    if s.threads is not None:
        set_threads(s.threads)  # torch's, and the --score-every network's
    d = distributed.setup(pick_device(s.device))
    try:
        run_dir = _train(arch_name, cfg, s, d, resume, run_dir, echo if d.main else _quiet)
        distributed.barrier(d)  # no rank returns before rank 0's last files are complete
        return run_dir
    finally:
        distributed.teardown(d)


def _train(
    arch_name: str,
    cfg: Any,
    s: settings.TrainSettings,
    d: Dist,
    resume: dict[str, Any] | None,
    run_dir: Path | None,
    echo: Callable[[str], None],
) -> Path:
    arch = arch_module(arch_name)
    device = d.device
    cuda = device.type == "cuda"
    if cuda:  # speed over bit-exactness on GPUs
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    images, labels = load_training_set(s.data, s.concat_test)

    seed_everything(s.seed)
    nets = make_nets(arch, cfg, device, channels_last=cuda)
    if resume is None:
        run_dir = distributed.broadcast(d, new_run_dir(Path(s.out), arch_name) if d.main else None)
        start, drawn = 0, 0
        fixed_z, fixed_y = fixed_latents(arch, cfg, s.seed)
        if d.rank > 0:  # its own latents and noise; model init above was the same on every rank
            seed_everything(distributed.rank_seed(s.seed, d.rank))
    else:
        assert run_dir is not None
        _load_state(nets, resume)
        start, drawn = resume["step"], resume["batches_drawn"]
        drawn = drawn * resume.get("world_size", 1) // d.world  # batches of world x batch_size images
        fixed_z, fixed_y = resume["fixed_z"], resume["fixed_y"]
        _restore_rng(resume, d, s.seed)
    if s.compile and (note := compile_nets(nets, arch)):
        echo(f"--compile: {note}")
    nets = distributed.wrap(nets, d)
    sampler = BatchSampler(images, labels, s.batch_size, s.seed, s.flip, drawn, device, channels_last=cuda,
                           rank=d.rank, world=d.world)  # fmt: skip
    class_names = list(CIFAR10_CLASSES) if arch.CONDITIONAL else None
    log, tb, hook = None, None, None
    if d.main:
        run_id = _run_id(run_dir)
        config = {"arch": arch_name, "run_id": run_id, "world_size": d.world, "precision": nets.precision,
                  "model_args": dataclasses.asdict(cfg), "train_args": dataclasses.asdict(s)}  # fmt: skip
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
        log = CsvLog(run_dir / "log.csv", keep_until=start if resume is not None else None,
                     extra_fields=("fid",) if s.score_every else ())  # fmt: skip
        tb = TbLog(run_dir / "tb", purge_step=start + 1) if s.tensorboard else None
        hook = ScoreHook(s, run_dir, arch_name, run_id, echo) if s.score_every else None
    where = f"{device} x {d.world} processes" if d.world > 1 else f"{device}"
    where += " (DDP, forced by GANBENCH_FORCE_DDP)" if d.ddp and d.world == 1 else ""
    if nets.precision != "fp32":
        where += f", {nets.precision} autocast" + (" with loss scaling" if nets.precision == "fp16" else "")
    echo(f"{arch_name} ({s.preset} preset) on {where}: steps {start} -> {s.steps}, run folder {run_dir}")

    sums: dict[str, float] = {}
    n_summed, busy, drawn_at_row = 0, 0.0, sampler.drawn
    started = _clock()
    spent_before = float(resume.get("train_seconds", 0.0)) if resume is not None else 0.0
    # the steps' own seconds (no sampling, checkpoints or --score-every scoring): what a screen compares
    stepped = float(resume.get("step_seconds", spent_before)) if resume is not None else 0.0
    deadline = started + s.minutes * 60 if s.minutes else None
    ends_by = time.monotonic() + s.minutes * 60 if s.minutes else None  # for the printed ETA only
    try:
        for it in range(start, s.steps):
            t0 = time.perf_counter()
            set_learning_rates(nets, cfg, lr_scale(it, s))
            metrics = arch.step(nets, cfg, sampler, it)
            if nets.G_ema is not None:  # here, not in each step(): every model's EMA follows the same rule
                ema_update(nets.G_ema, nets.G, cfg.ema_decay if it >= cfg.ema_start else 0.0)
            took = time.perf_counter() - t0
            busy += took
            stepped += took
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
            n_summed += 1
            done = it + 1
            last = done == s.steps
            if deadline is not None and not last:  # rank 0's clock decides, so all ranks stop together
                last = bool(distributed.broadcast(d, _clock() >= deadline))
                if last:
                    echo(f"--minutes {s.minutes:g} reached: stopping at step {done} of {s.steps}")
            sampled = done % s.sample_every == 0 or last
            scored = s.score_every is not None and done % s.score_every == 0 and sampled
            if done % s.log_every == 0 or last or scored:  # a scored step gets a row for its FID
                row = {"step": done, "epoch": round(sampler.epoch, 4)} | distributed.mean(
                    d, {k: v / n_summed for k, v in sums.items()}
                )
                row |= {"lr_G": nets.opt_G.param_groups[0]["lr"], "lr_D": nets.opt_D.param_groups[0]["lr"]}
                real = (sampler.drawn - drawn_at_row) * s.batch_size * d.world  # all ranks together
                row["img_per_s"] = round(real / max(busy, 1e-9), 1)
                if log is not None:
                    log.append(row)
                if tb is not None:
                    tb.add(row, done)
                eta = (s.steps - done) * busy / n_summed
                if ends_by is not None:  # the time budget may end the run before the last step
                    eta = max(0.0, min(eta, ends_by - time.monotonic()))
                echo(_progress_line(row, s.steps, eta_s=eta))
                sums, n_summed, busy, drawn_at_row = {}, 0, 0.0, sampler.drawn
            if sampled and d.main:
                _write_samples(run_dir, done, nets, fixed_z, fixed_y, class_names, log.rows if log else [])
            if done % s.ckpt_every == 0 or last:
                rng = distributed.gather(d, checkpoint.capture_rng())  # every rank's, for an exact resume
                if d.main:
                    spent = spent_before + (_clock() - started)  # the whole run's, across resumes
                    state = _state(
                        arch_name,
                        cfg,
                        s,
                        nets,
                        done,
                        sampler.drawn,
                        fixed_z,
                        fixed_y,
                        class_names,
                        rng,
                        spent,
                        stepped,
                    )
                    checkpoint.save(state, checkpoint.ckpt_path(run_dir, done))
                    if s.keep_ckpts:  # only now that the new checkpoint is complete on disk
                        checkpoint.prune(run_dir, s.keep_ckpts, done)
            if scored:  # rank 0 scores the whole folder outside the group's collectives; the others wait
                fid = distributed.main_alone(d, hook, done)  # hook: None on ranks > 0
                if fid is not None and log is not None:
                    log.set_last("fid", fid)
                    if tb is not None:
                        tb.add({"fid": fid}, done)
            if last:
                break
    finally:
        if tb is not None:
            tb.close()
    return run_dir


def _quiet(line: str) -> None:
    """The echo of ranks > 0."""


def _run_id(run_dir: Path) -> str:
    """The run's id in result records: kept in config.json, so a resumed run keeps it."""
    try:
        return str(json.loads((run_dir / "config.json").read_text())["run_id"])
    except (OSError, ValueError, KeyError):
        return uuid.uuid4().hex[:12]


def _restore_rng(ckpt: dict[str, Any], d: Dist, seed: int) -> None:
    """Each rank's RNG state from the checkpoint; bit for bit when the process count is the same."""
    saved = ckpt.get("rng_ranks") or [ckpt["rng"]]
    if len(saved) != d.world and d.main:
        warn(f"the checkpoint was written by {len(saved)} process(es), this run has {d.world}: training "
             "goes on from it, but not bit for bit (data slices and latents differ)")  # fmt: skip
    if d.rank >= len(saved):
        seed_everything(distributed.rank_seed(seed, d.rank, ckpt["step"]))
        return
    skipped = checkpoint.restore_rng(saved[d.rank])
    if skipped and d.main:
        warn(f"{skipped}: their states are not restored, so training goes on from the checkpoint, but the "
             "GPU's random draws (latents, labels, dropout) differ from an uninterrupted run's")  # fmt: skip


def _progress_line(row: dict[str, float], steps: int, eta_s: float) -> str:
    skip = {"step", "epoch", "lr_G", "lr_D", "img_per_s"}
    metrics = " ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in skip)
    eta = f"{eta_s / 3600:.1f} h" if eta_s >= 3600 else f"{eta_s / 60:.0f} min"
    return (
        f"step {int(row['step'])}/{steps} ep {row['epoch']:.2f} | {metrics} | "
        f"{row['img_per_s']:.0f} img/s, {eta} to go (training only)"
    )


def _write_samples(
    run_dir: Path,
    step: int,
    nets: Nets,
    z: Tensor,
    y: Tensor | None,
    class_names: list[str] | None,
    rows: list[dict[str, float]],
) -> None:
    """samples/<step>/<class>/*.png (or samples/<step>/all/*.png), grid-<step>.png, progress.gif, curves.png."""
    G = nets.G_ema if nets.G_ema is not None else bare(nets.G)  # bare: no collectives on rank 0 alone
    images = render(G, z, y)
    dest = run_dir / "samples" / str(step)
    dest.parent.mkdir(exist_ok=True)
    replace_folder(images, dest, None if y is None else y.numpy(), class_names)
    if y is None:
        shown = images[: GRID * GRID]
    else:
        per_class = images.shape[0] // GRID
        shown = images[[c * per_class + j for c in range(GRID) for j in range(GRID)]]
    save_png(grid(shown, GRID, GRID), run_dir / f"grid-{step}.png")
    frames = sorted(run_dir.glob("grid-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    save_gif(frames, run_dir / "progress.gif")
    plot_curves(rows, run_dir / "curves.png")


def _state(
    arch_name: str,
    cfg: Any,
    s: settings.TrainSettings,
    nets: Nets,
    step: int,
    drawn: int,
    fixed_z: Tensor,
    fixed_y: Tensor | None,
    class_names: list[str] | None,
    rng: list[dict[str, Any]],
    train_seconds: float,
    step_seconds: float,
) -> dict[str, Any]:
    return {
        "format": checkpoint.FORMAT,
        "arch": arch_name,
        "model_args": dataclasses.asdict(cfg),
        "train_args": dataclasses.asdict(s),
        "class_names": class_names,
        "step": step,
        "batches_drawn": drawn,
        "G": bare(nets.G).state_dict(),
        "D": bare(nets.D).state_dict(),
        "G_ema": nets.G_ema.state_dict() if nets.G_ema is not None else None,
        "opt_G": nets.opt_G.state_dict(),
        "opt_D": nets.opt_D.state_dict(),
        "rng": rng[0],  # rank 0's: the only one of a single-process run
        "rng_ranks": rng if len(rng) > 1 else None,  # every rank's under torchrun, for an exact resume
        "precision": nets.precision,
        "scaler_G": nets.scaler_G.state_dict() if nets.scaler_G is not None else None,
        "scaler_D": nets.scaler_D.state_dict() if nets.scaler_D is not None else None,
        "world_size": len(rng),
        "fixed_z": fixed_z,
        "fixed_y": fixed_y,
        "torch_version": str(torch.__version__),
        "train_seconds": train_seconds,  # wall seconds of training up to this step, on --minutes' clock
        "step_seconds": step_seconds,  # of which in the training steps themselves
    }


def _load_state(nets: Nets, ckpt: dict[str, Any]) -> None:
    nets.G.load_state_dict(ckpt["G"])
    nets.D.load_state_dict(ckpt["D"])
    if nets.G_ema is not None:
        nets.G_ema.load_state_dict(ckpt["G_ema"])
    nets.opt_G.load_state_dict(ckpt["opt_G"])
    nets.opt_D.load_state_dict(ckpt["opt_D"])
    for scaler, saved in ((nets.scaler_G, ckpt.get("scaler_G")), (nets.scaler_D, ckpt.get("scaler_D"))):
        if scaler is not None and saved is not None:  # else (another precision before) it starts afresh
            scaler.load_state_dict(saved)


def train_from_cli(
    arch_name: str,
    preset: str | None,
    model_overrides: dict[str, Any],
    train_overrides: dict[str, Any],
    resume: str | None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Resolve presets / overrides / resume into settings, then train."""
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun, rank 0 alone speaks
        echo = _quiet
    arch = arch_module(arch_name)
    if resume is None:
        cfg, s = settings.fresh(arch, preset or settings.DEFAULT_PRESET, model_overrides, train_overrides)
        return train(arch_name, cfg, s, echo=echo)
    path = checkpoint.resolve(resume)
    ckpt = checkpoint.load(path)
    if ckpt["arch"] != arch_name:
        raise UserError(
            f"--resume {path} is a {ckpt['arch']} checkpoint, not {arch_name}; resume it as that arch"
        )
    if preset is not None and preset != ckpt["train_args"]["preset"]:
        raise UserError(f"--resume keeps the run's preset ({ckpt['train_args']['preset']}); drop --preset")
    if "out" in train_overrides:
        raise UserError("--out does not apply with --resume: the run continues in its own folder")
    cfg, s = settings.resumed(arch, ckpt, model_overrides, train_overrides)
    if ckpt["step"] >= s.steps:
        raise UserError(f"{path} is at step {ckpt['step']} already; pass --steps above that to go on")
    echo(f"resuming {path} at step {ckpt['step']}")
    return train(arch_name, cfg, s, resume=ckpt, run_dir=path.parent, echo=echo)
