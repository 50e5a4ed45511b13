"""The shared training loop: one code path for every arch.

seed -> data in memory -> nets (+ resume) -> for each step: model.step() -> log.csv / samples + grid + gif +
curves / atomic checkpoint. `to_uint8` below is the one place where generator output becomes image bytes.

TODO(DDP): multi-GPU training is for a later session. It needs: torchrun + init_process_group, DDP-wrapped
G and D (BigGAN's EMA and SN buffers synced or rank-0 only), BatchSampler sharding by rank (batch k ->
rank-th slice), rank-0-only writes (log, samples, checkpoints), and per-rank RNG states in checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganbench.errors import UserError
from trainers import checkpoint, settings
from trainers.atomic import atomic_write_text
from trainers.data import CIFAR10_CLASSES, BatchSampler, load_training_set
from trainers.gan import Nets, make_nets
from trainers.images import grid, replace_folder, save_gif, save_png
from trainers.registry import arch_module
from trainers.runlog import CsvLog, plot_curves

N_FIXED = 1_000  # fixed latents rendered at every sample step: 100 per class for conditional models
GRID = 10  # grid-<step>.png is GRID x GRID (a row per class for conditional models)


def to_uint8(x: Tensor) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 [0, 255] numpy, same shape. The only such conversion."""
    return ((x.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


@torch.no_grad()
def render(G: nn.Module, z: Tensor, y: Tensor | None, batch_size: int = 500) -> np.ndarray:
    """G (in eval mode) over latents z and labels y, in batches -> uint8 [N, 3, 32, 32]. Uses no RNG."""
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    try:
        parts = []
        for i in range(0, z.shape[0], batch_size):
            labels = None if y is None else y[i : i + batch_size].to(device)
            parts.append(to_uint8(G(z[i : i + batch_size].to(device), labels)))
    finally:
        G.train(was_training)
    return np.concatenate(parts)


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


def new_run_dir(out: Path, arch: str) -> Path:
    """<out>/<NNNNN>-<arch>, NNNNN one more than the largest run number there."""
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
    """
    arch = arch_module(arch_name)
    device = pick_device(s.device)
    cuda = device.type == "cuda"
    if cuda:  # speed over bit-exactness on GPUs
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    images, labels = load_training_set(s.data, s.concat_test)

    seed_everything(s.seed)
    nets = make_nets(arch, cfg, device, channels_last=cuda)
    if resume is None:
        run_dir = new_run_dir(Path(s.out), arch_name)
        start, drawn = 0, 0
        fixed_z, fixed_y = fixed_latents(arch, cfg, s.seed)
    else:
        assert run_dir is not None
        _load_state(nets, resume)
        start, drawn = resume["step"], resume["batches_drawn"]
        fixed_z, fixed_y = resume["fixed_z"], resume["fixed_y"]
        checkpoint.restore_rng(resume["rng"])
    if s.compile:
        nets.G.compile()
        nets.D.compile()
    sampler = BatchSampler(images, labels, s.batch_size, s.seed, s.flip, drawn, device, channels_last=cuda)
    class_names = list(CIFAR10_CLASSES) if arch.CONDITIONAL else None
    config = {"arch": arch_name, "model_args": dataclasses.asdict(cfg), "train_args": dataclasses.asdict(s)}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    log = CsvLog(run_dir / "log.csv", keep_until=start if resume is not None else None)
    echo(f"{arch_name} ({s.preset} preset) on {device}: steps {start} -> {s.steps}, run folder {run_dir}")

    sums: dict[str, float] = {}
    n_summed, busy, drawn_at_row = 0, 0.0, sampler.drawn
    for it in range(start, s.steps):
        t0 = time.perf_counter()
        metrics = arch.step(nets, cfg, sampler, it)
        busy += time.perf_counter() - t0
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
        n_summed += 1
        done = it + 1
        last = done == s.steps
        if done % s.log_every == 0 or last:
            row = {"step": done, "epoch": round(sampler.epoch, 4)} | {
                k: v / n_summed for k, v in sums.items()
            }
            row |= {"lr_G": nets.opt_G.param_groups[0]["lr"], "lr_D": nets.opt_D.param_groups[0]["lr"]}
            row["img_per_s"] = round((sampler.drawn - drawn_at_row) * s.batch_size / max(busy, 1e-9), 1)
            log.append(row)
            echo(_progress_line(row, s.steps, eta_s=(s.steps - done) * busy / n_summed))
            sums, n_summed, busy, drawn_at_row = {}, 0, 0.0, sampler.drawn
        if done % s.sample_every == 0 or last:
            _write_samples(run_dir, done, nets, fixed_z, fixed_y, class_names, log.rows)
        if done % s.ckpt_every == 0 or last:
            state = _state(arch_name, cfg, s, nets, done, sampler.drawn, fixed_z, fixed_y, class_names)
            checkpoint.save(state, checkpoint.ckpt_path(run_dir, done))
    return run_dir


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
    G = nets.G_ema if nets.G_ema is not None else nets.G
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
) -> dict[str, Any]:
    return {
        "format": checkpoint.FORMAT,
        "arch": arch_name,
        "model_args": dataclasses.asdict(cfg),
        "train_args": dataclasses.asdict(s),
        "class_names": class_names,
        "step": step,
        "batches_drawn": drawn,
        "G": nets.G.state_dict(),
        "D": nets.D.state_dict(),
        "G_ema": nets.G_ema.state_dict() if nets.G_ema is not None else None,
        "opt_G": nets.opt_G.state_dict(),
        "opt_D": nets.opt_D.state_dict(),
        "rng": checkpoint.capture_rng(),
        "fixed_z": fixed_z,
        "fixed_y": fixed_y,
        "torch_version": str(torch.__version__),
    }


def _load_state(nets: Nets, ckpt: dict[str, Any]) -> None:
    nets.G.load_state_dict(ckpt["G"])
    nets.D.load_state_dict(ckpt["D"])
    if nets.G_ema is not None:
        nets.G_ema.load_state_dict(ckpt["G_ema"])
    nets.opt_G.load_state_dict(ckpt["opt_G"])
    nets.opt_D.load_state_dict(ckpt["opt_D"])


def train_from_cli(
    arch_name: str,
    preset: str | None,
    model_overrides: dict[str, Any],
    train_overrides: dict[str, Any],
    resume: str | None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Resolve presets / overrides / resume into settings, then train."""
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
