"""Training-loop settings, presets, and how CLI overrides combine with them (and with a resumed checkpoint)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ganbench.errors import UserError

PRESET_NAMES = ("smoke", "cpu", "paper")
DEFAULT_PRESET = "paper"


@dataclass(frozen=True)
class TrainSettings:
    preset: str  # the preset these settings started from (each model file defines its numbers)
    steps: int  # G updates in the whole run (each model does its n_dis D updates per step)
    batch_size: int  # real images per D update (and fakes per G update)
    sample_every: int  # write samples, grid, progress.gif and curves.png every N steps (and at the end)
    ckpt_every: int  # write a checkpoint every N steps (and at the end)
    log_every: int  # a log.csv row (metrics averaged over the last N steps) every N steps
    seed: int = 0  # seeds model init, latents, data order, flips and the fixed sample latents
    flip: bool = True  # random horizontal flips of real images
    concat_test: bool = False  # train on CIFAR-10 train + test (60k images)
    data: str | None = None  # CIFAR-10 folder; None: $GANBENCH_DATA, else ganbench.inputs.datasets' default
    out: str = "runs"  # runs go to <out>/<NNNNN>-<arch>/
    device: str = "auto"  # auto (cuda if available), cpu or cuda
    compile: bool = False  # torch.compile G and D
    threads: int | None = None  # torch CPU threads of each process (None: torch's default; torchrun sets 1)
    keep_ckpts: int = 0  # keep the newest K checkpoints, deleting older ones after each save (0: keep all)
    tensorboard: bool = False  # also write log.csv's scalars to <run>/tb/ (needs the tensorboard package)
    # score samples/<step>/ at multiples of K: FID to log.csv + a result record (None: never)
    score_every: int | None = None
    score_ref: str = "cifar10-train"  # reference of --score-every (anything `ganbench score --ref` takes)
    score_ref_n: int | None = 1_000  # seeded subset of the reference (None: all); its features are cached
    score_classifier: bool = True  # class-aware metrics too (skipped with a warning when weights are missing)
    # results store of --score-every (None: $GANBENCH_RESULTS, else leaderboard/results)
    results: str | None = None
    # stop at the first step after this many minutes of this invocation's training, writing that step's
    # samples and checkpoint as if it were the last (None: no limit; `steps` still caps the run)
    minutes: float | None = None
    # from this step the learning rates of G and D fall linearly, reaching 1/(steps - lr_decay_from) of the
    # Config's at the last step (None: constant); set from the step index, so a resumed run follows it exactly
    lr_decay_from: int | None = None


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def make_config(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a model Config, turning a bad value (e.g. a z_dim G cannot split) into a UserError."""
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as e:
        raise UserError(f"bad model setting: {e}") from None


def fresh(
    arch: ModuleType, preset: str, model_overrides: dict[str, Any], train_overrides: dict[str, Any]
) -> tuple[Any, TrainSettings]:
    """Preset values for this arch, then explicit overrides on top."""
    values = arch.PRESETS[preset]
    model_names, train_names = _names(arch.Config), _names(TrainSettings)
    stray = set(values) - model_names - train_names
    assert not stray, f"{arch.__name__}.PRESETS[{preset!r}] has unknown keys {stray}"
    cfg = make_config(arch.Config, {k: v for k, v in values.items() if k in model_names} | model_overrides)
    train = {k: v for k, v in values.items() if k in train_names} | {"preset": preset} | train_overrides
    return cfg, check(TrainSettings(**train))


def resumed(
    arch: ModuleType, ckpt: dict[str, Any], model_overrides: dict[str, Any], train_overrides: dict[str, Any]
) -> tuple[Any, TrainSettings]:
    """The checkpoint's settings; loop settings may be overridden (e.g. more --steps), model ones may not."""
    saved = ckpt["model_args"]
    changed = sorted(k for k, v in model_overrides.items() if saved.get(k) != v)
    if changed:
        raise UserError(
            f"--resume keeps the checkpoint's model settings, but {', '.join(changed)} differ; "
            "drop those options or start a new run"
        )
    cfg = make_config(arch.Config, saved)
    return cfg, check(TrainSettings(**(ckpt["train_args"] | train_overrides)))


def check(s: TrainSettings) -> TrainSettings:
    for name in ("steps", "batch_size", "sample_every", "ckpt_every", "log_every"):
        if getattr(s, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(s, name)})")
    for name in ("threads", "score_every"):  # None: off / torch's default
        if getattr(s, name) is not None and getattr(s, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(s, name)})")
    if s.minutes is not None and not s.minutes > 0:
        raise UserError(f"--minutes must be above 0 (got {s.minutes})")
    if s.keep_ckpts < 0:
        raise UserError(f"--keep-ckpts must be 0 (keep all) or more (got {s.keep_ckpts})")
    if s.score_ref_n is not None and s.score_ref_n < 2:
        raise UserError(f"--score-ref-n must be at least 2: FID needs 2 or more images (got {s.score_ref_n})")
    if s.lr_decay_from is not None and not 0 <= s.lr_decay_from < s.steps:
        raise UserError(f"--lr-decay-from must be from 0 to below --steps {s.steps} (got {s.lr_decay_from})")
    if s.device not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device must be auto, cpu or cuda (got {s.device})")
    return s


def parse_set(arch_name: str, config_cls: type, items: tuple[str, ...]) -> dict[str, Any]:
    """--set KEY=VALUE pairs -> {field: value typed as the Config field}; unknown keys are an error."""
    hints = typing.get_type_hints(config_cls)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in hints:
            valid = ", ".join(hints)
            raise UserError(
                f"--set {item}: expected KEY=VALUE with KEY one of {arch_name}'s settings: {valid}"
            )
        out[key] = _coerce(item, hints[key], raw.strip())
    return out


def _coerce(item: str, kind: type, raw: str) -> Any:
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        return kind(raw)
    except ValueError:
        raise UserError(f"--set {item}: {raw!r} is not a valid {kind.__name__}") from None
