"""The Python API: score arrays, tensors, loaders, generators and anything the CLI reads, from your own code.

    import ganbench
    result = ganbench.score(images_uint8)                         # [N,3,H,W] or [N,H,W,3]
    result = ganbench.score(G, z_dim=128, n=10_000, num_classes=10, value_range=(-1, 1))
    ev = ganbench.Evaluator(ref="cifar10-train", ref_n=10_000)    # networks + reference loaded once
    for step in ...: ev.score(G, z_dim=128, n=5_000, value_range=(-1, 1)).metrics["fid"]

A Result is the record the CLI writes (same keys, the same numbers for the same pixels). The API stores no
record unless asked (Result.save) and caches the features of path inputs only, as the CLI does; the
features of in-memory inputs are not cached unless cache=True.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import UserError
from ganbench.inputs import arrays, generators
from ganbench.inputs.arrays import ValueRange
from ganbench.inputs.imageset import ImageSet, choose_subset
from ganbench.inputs.sources import load_source, sized
from ganbench.scoring import ScoreConfig, Setup, Stages, score_images, setup

# ScoreConfig fields an Evaluator takes (samples is the argument of score()); n and seed are per call too.
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ScoreConfig) if f.name not in ("samples", "ref"))
SAMPLE_FIELDS = ("n", "seed", "strict")  # what a single score() call may change: the samples' side only
GENERATOR_FIELDS = ("z_dim", "num_classes", "batch_size", "device")


class Result:
    """One scoring run's record (as the CLI writes it), with the metrics at hand."""

    def __init__(self, record: dict) -> None:
        self.record = record

    @property
    def metrics(self) -> dict[str, float | None]:
        """Metric key -> value; None where unavailable (the reason is in .unavailable)."""
        return self.record["metrics"]

    @property
    def unavailable(self) -> dict[str, str]:
        return self.record["unavailable"]

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.record, indent=indent, sort_keys=True)

    def save(self, results_dir: str | os.PathLike | None = None) -> Path | None:
        """Write the record into a results store (else GANBENCH_RESULTS, else leaderboard/results), where
        `ganbench report` and `ganbench check` find it. Returns the file written; in a process group only
        rank 0 writes (the others return None), so every rank may call it."""
        from ganbench import parallel
        from ganbench import results as R

        if not parallel.is_main():
            return None
        return R.write_record(self.record, R.store_dir(results_dir))

    def __repr__(self) -> str:
        m, s, r = self.metrics, self.record["samples"], self.record["reference"]
        shown = []
        for key in ("fid", "fid_inf", "kid_mean", "is_mean", "precision", "recall", "classifier_accuracy"):
            if key in m and (m[key] is not None or key in ("fid", "is_mean")):
                shown.append(f"{key}={'n/a' if m[key] is None else f'{m[key]:.4g}'}")
        ref_n = f" ({r['n']})" if "n" in r else ""
        return f"Result({', '.join(shown)}; {s['n']} samples of {s['source']!r} vs {r['source']}{ref_n})"


class Evaluator:
    """Networks and one reference, loaded once; .score() then costs the samples' pass and the metrics.

    options: ScoreConfig fields (ref_n, resize, backend, classifier, fid_ci, fid_inf, ...). device: where the
    torch backend runs (on CUDA the torch backend is used); the default is CUDA when present, else CPU.
    """

    def __init__(
        self, ref: str | os.PathLike = "cifar10-train", *, device: str | None = None, **options: Any
    ):
        unknown = sorted(set(options) - set(CONFIG_FIELDS))
        if unknown:
            raise UserError(f"unknown option {', '.join(unknown)}; valid: {', '.join(CONFIG_FIELDS)}")
        if device is not None and str(device).startswith("cuda") and options.get("backend", "auto") == "auto":
            options["backend"] = "torch"
        try:
            self.cfg = ScoreConfig(samples="", ref=os.fspath(ref), **options)
        except TypeError as e:
            raise UserError(str(e)) from None
        try:
            self._setup: Setup = setup(self.cfg, device=None if device is None else str(device))
        except UserError:
            raise
        except ValueError as e:  # e.g. a resize policy the extractor does not know
            raise UserError(str(e)) from None
        self._setup.load_reference()  # now, not inside the first score(): a bad reference fails here

    def __repr__(self) -> str:
        ref = self._setup.reference
        n = f", {ref.info['n']} images" if ref is not None and "n" in ref.info else ""
        return f"Evaluator(ref={self.cfg.ref!r}{n}, resize={self.cfg.resize!r}, classifier={self.cfg.classifier!r})"

    def score(
        self,
        samples: Any,
        *,
        labels: Any = None,
        value_range: ValueRange | None = None,
        n: int | None = None,
        seed: int | None = None,
        z_dim: int | None = None,
        num_classes: int | None = None,
        batch_size: int | None = None,
        device: str | None = None,
        strict: bool | None = None,
        cache: bool | None = None,
        name: str | None = None,
    ) -> Result:
        """Score samples: a path or named source (as the CLI), a uint8 or float array/tensor, an iterable of
        batches, or a generator (a callable, nn.Module, TorchScript or ONNX file) with z_dim= and n=.

        labels: 0..9 per image, when the samples carry none. value_range: the range of float inputs,
        (-1, 1) or (0, 1); required for floats. n: a seeded subset (a generator: how many to draw).
        seed: the subset's seed (a generator: the latents'). cache: keep the samples' features in the
        feature cache (default: for path inputs only). name: the source's name in the record.
        """
        t0 = time.time()
        cfg = dataclasses.replace(
            self.cfg,
            n=n if n is not None else self.cfg.n,
            seed=self.cfg.seed if seed is None else seed,
            strict=self.cfg.strict if strict is None else strict,
        )
        stages = Stages()
        with stages("load_samples"):
            images, from_path = self._images(samples, cfg, labels, value_range, z_dim, num_classes,
                                             batch_size, device, name)  # fmt: skip
        cfg = dataclasses.replace(cfg, samples=images.source)
        use_cache = from_path if cache is None else bool(cache)
        return Result(
            score_images(self._setup, images, cfg=cfg, stages=stages, t0=t0, cache_samples=use_cache)
        )

    def _images(
        self, samples: Any, cfg: ScoreConfig, labels: Any, value_range: ValueRange | None, z_dim: int | None,
        num_classes: int | None, batch_size: int | None, device: str | None, name: str | None,
    ) -> tuple[ImageSet, bool]:  # fmt: skip
        gen = {"z_dim": z_dim, "num_classes": num_classes, "batch_size": batch_size, "device": device}
        wants_generator = z_dim is not None or num_classes is not None
        if isinstance(samples, ImageSet):
            return _with_labels(_subset(samples, cfg), labels), False
        if isinstance(samples, str | os.PathLike):
            path = os.fspath(samples)
            if wants_generator or path.lower().endswith(".onnx") or generators.is_torchscript(path):
                G, info = generators.generator_file(path, device)
                if z_dim is None and "z_dim" in info:
                    gen["z_dim"] = int(info["z_dim"])
                images = self._generate(G, cfg, value_range, labels, gen, name or path)
                images.origin.update(info)
                return images, False
            _no_generator_args(gen, "a path")
            images = load_source(path, data_dir=cfg.data_dir, n=cfg.n, seed=cfg.seed, strict=cfg.strict)
            return _with_labels(images, labels), True
        if arrays.is_array(samples):
            _no_generator_args(gen, "an array")
            images = arrays.from_array(samples, value_range=value_range, labels=labels, source=name)
            return _subset(_sized(images), cfg), False
        if _is_generator(samples):
            return self._generate(samples, cfg, value_range, labels, gen, name), False
        if isinstance(samples, Iterable):
            _no_generator_args(gen, "an iterable of batches")
            images = arrays.from_batches(samples, value_range=value_range, labels=labels, source=name)
            return _subset(_sized(images), cfg), False
        raise UserError(
            f"cannot score a {type(samples).__name__}: pass a path, an array or tensor of images, an iterable of "
            "batches, or a generator (callable, nn.Module, TorchScript or ONNX file) with z_dim= and n="
        )

    def _generate(
        self,
        G: Any,
        cfg: ScoreConfig,
        value_range: ValueRange | None,
        labels: Any,
        gen: dict,
        name: str | None,
    ) -> ImageSet:
        if labels is not None:
            raise UserError(
                "a generator's labels come from num_classes= (they cycle over the classes); drop labels="
            )
        return _sized(
            arrays.from_generator(G, n=cfg.n, seed=cfg.seed, value_range=value_range, source=name, **gen)
        )


def score(
    samples: Any,
    ref: str | os.PathLike = "cifar10-train",
    *,
    labels: Any = None,
    value_range: ValueRange | None = None,
    **options: Any,
) -> Result:
    """Score samples against ref in one call (see Evaluator.score for what samples may be).

    options: ScoreConfig fields (ref_n, resize, backend, classifier, fid_ci, fid_inf, ...), and for a
    generator z_dim, n, num_classes, batch_size, seed, device. batch_size is also the network's batch.
    """
    call = {
        k: options.pop(k) for k in (*GENERATOR_FIELDS, "n", "seed", "strict", "cache", "name") if k in options
    }
    if "batch_size" in call:
        options["batch_size"] = call["batch_size"]
    if "device" in call:
        options["device"] = call["device"]
    if "seed" in call:
        options["seed"] = call["seed"]  # also the reference subset's seed, as the CLI's --seed
    ev = Evaluator(ref, **options)
    return ev.score(samples, labels=labels, value_range=value_range, **call)


def _is_generator(x: Any) -> bool:
    import torch

    return isinstance(x, torch.nn.Module) or (callable(x) and not isinstance(x, Iterable))


def _no_generator_args(gen: dict, what: str) -> None:
    given = [k for k in ("z_dim", "num_classes") if gen[k] is not None]
    if given:
        raise UserError(f"{', '.join(given)} apply to generators, not to {what}")


def _sized(images: ImageSet) -> ImageSet:
    """At the 32x32 every CLI source is brought to (other sizes resized, counted in notes), 2+ images."""
    return sized(images, 32, 2, images.source)


def _subset(images: ImageSet, cfg: ScoreConfig) -> ImageSet:
    idx, info = choose_subset(len(images), cfg.n, cfg.seed, images.source)
    if idx is None:
        return images
    return ImageSet(
        np.ascontiguousarray(images.images[idx]), None if images.labels is None else images.labels[idx],
        [images.names[i] for i in idx], images.source, images.kind, dict(images.notes), dict(images.origin), info,
    )  # fmt: skip


def _with_labels(images: ImageSet, labels: Any) -> ImageSet:
    if labels is None:
        return images
    if images.labels is not None:
        raise UserError(f"{images.source} carries labels already; drop labels=")
    y = arrays.label_array(labels, len(images))
    return dataclasses.replace(images, labels=y, origin={**images.origin, "labels": "labels="})
