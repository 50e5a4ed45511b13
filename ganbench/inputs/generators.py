"""File kinds that other packages teach ganbench to read, e.g. a trainer's checkpoint (`.pt`), scored by
generating images from it.

ganbench owns the seam and knows nothing of who plugs in: a package registers a loader for a file suffix,
either by calling `register_loader` or through the `ganbench.loaders` entry-point group (the name is the
suffix without its dot, the value `module:function`). The ganbench distribution registers `trainers`' loader
for `.pt` that way (pyproject.toml), so `ganbench score ckpt.pt` and the API work without the library
importing the trainers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata

from ganbench.inputs.imageset import ImageSet

# loader(path, spec, n, seed) -> ImageSet: n images (None: the loader's default) drawn with `seed`
PathLoader = Callable[[str, str, "int | None", int], ImageSet]
ENTRY_POINT_GROUP = "ganbench.loaders"

_registered: dict[str, PathLoader] = {}


def register_loader(suffix: str, loader: PathLoader) -> None:
    """Read files ending in `suffix` (e.g. ".pt") with `loader`; replaces an earlier one for that suffix."""
    _registered[_normal(suffix)] = loader


def path_loader(path: str) -> PathLoader | None:
    """The loader registered for `path`'s suffix (explicitly, else by entry point), or None."""
    suffix = _normal(os.path.splitext(path)[1])
    if not suffix:
        return None
    if suffix not in _registered:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if _normal(ep.name) == suffix:
                _registered[suffix] = ep.load()
                break
    return _registered.get(suffix)


def _normal(suffix: str) -> str:
    return suffix.lower().lstrip(".")
