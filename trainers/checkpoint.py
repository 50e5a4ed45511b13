"""Self-describing checkpoints: atomic save, safe load (weights_only), finding the latest, RNG states.

A checkpoint is a dict of plain values and tensors:
    format, arch, model_args (the model Config as a dict), train_args (TrainSettings as a dict), class_names,
    step, batches_drawn, G, D, G_ema (or None), opt_G, opt_D, rng {python, numpy, torch, cuda},
    rng_ranks (every rank's rng under torchrun, else None), world_size,
    fixed_z, fixed_y (the latents every sample step renders),
    precision ("fp32" | "bf16" | "fp16"), scaler_G, scaler_D (fp16's loss scalers, else None).
so `torch.load(weights_only=True)` reads it and `ganbench sample` rebuilds G from it alone.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.atomic import atomic_write
from ganbench.errors import UserError

FORMAT = 1
_NAME = re.compile(r"ckpt-(\d+)\.pt")


def ckpt_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"ckpt-{step}.pt"


def save(obj: dict[str, Any], path: Path) -> None:
    """torch.save through a temp file + os.replace: a killed run keeps the last complete checkpoint."""
    atomic_write(path, lambda f: torch.save(obj, f))


def _by_step(run_dir: Path) -> list[tuple[int, Path]]:
    return sorted(
        (int(m.group(1)), p) for p in Path(run_dir).glob("ckpt-*.pt") if (m := _NAME.fullmatch(p.name))
    )


def latest(run_dir: Path) -> Path | None:
    steps = _by_step(run_dir)
    return steps[-1][1] if steps else None


def prune(run_dir: Path, keep: int, step: int) -> list[Path]:
    """Delete all but the newest `keep` checkpoints up to `step` (just saved); returns what was deleted.

    Call it only after the step's checkpoint is complete on disk, so a failure never leaves fewer than `keep`
    good ones. Checkpoints past `step` (from before a resume at an earlier one) are left alone: this run has
    not yet replaced them, and they are not ours to judge.
    """
    older = [p for s, p in _by_step(run_dir) if s <= step]
    doomed = older[:-keep] if keep > 0 else []
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (-> its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        found = latest(path)
        if found is None:
            raise UserError(
                f"{path} has no ckpt-<step>.pt checkpoint; pass a checkpoint file or a run folder"
            )
        return found
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; pass a ckpt-<step>.pt file or a run folder")
    return path


def load(path: str | Path) -> dict[str, Any]:
    """Load a trainer checkpoint (file or run folder) on the CPU with weights_only=True."""
    path = resolve(path)
    # Any exception: on arbitrary bytes the unpickler raises IndexError, KeyError... as well as its own errors.
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path} is not a readable checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or "arch" not in ckpt or "model_args" not in ckpt:
        raise UserError(f"{path} is not a ganbench trainer checkpoint (no arch/model_args)")
    return ckpt


def capture_rng() -> dict[str, Any]:
    """Python, numpy, torch and CUDA RNG states as tensors and numbers (weights_only-loadable)."""
    py_version, py_state, py_gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": {"version": py_version, "state": torch.tensor(py_state), "gauss": py_gauss},
        "numpy": {
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> str | None:
    """Put back what capture_rng() took. -> why the CUDA generators were left as they are (None: restored, or
    none saved): their states are per GPU, and this machine has another number of GPUs than the writer's."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    torch.set_rng_state(state["torch"])
    saved = state["cuda"]
    if not saved:
        return None
    here = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if len(saved) != here:
        return f"the checkpoint holds the CUDA RNG states of {len(saved)} GPU(s), this machine has {here}"
    torch.cuda.set_rng_state_all(saved)
    return None
