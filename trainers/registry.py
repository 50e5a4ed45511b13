"""The arch names the CLI offers and the model file behind each (kept free of torch imports, so that
`ganbench --help` stays fast)."""

from __future__ import annotations

import importlib
from types import ModuleType

# CLI name -> module. The CLI offers exactly these (click.Choice), so an unknown arch lists them.
ARCHS: dict[str, str] = {
    "dcgan": "trainers.dcgan",
    "cgan": "trainers.cgan",
    "acgan": "trainers.acgan",
    "biggan": "trainers.biggan",
    "wgan-gp": "trainers.wgan_gp",
}

# `ganbench benchmark` names -> (trainer arch, model settings on top of its preset)
BENCHMARK_ARCHS: dict[str, tuple[str, dict[str, object]]] = {
    "dcgan": ("dcgan", {}),
    "cgan": ("cgan", {}),
    "acgan": ("acgan", {}),
    "biggan": ("biggan", {}),
    "biggan-aux": ("biggan", {"aux": True}),  # AC-BigGAN
    "wgan-gp": ("wgan-gp", {}),
}
# `ganbench benchmark`'s option defaults: its CLI takes them from here (this module loads no torch) and a
# benchmark table prints the shortest command that reproduces its records from them
BENCHMARK_DEFAULTS: dict[str, int | str] = {
    "n": 10_000,
    "ref_n": 10_000,
    "fid_ci": 50,
    "ref_seed": 0,
    "classifier": "resnet56",
}


def arch_module(name: str) -> ModuleType:
    """The model file for an arch name from `ARCHS` (see trainers/gan.py for what it provides)."""
    return importlib.import_module(ARCHS[name])
