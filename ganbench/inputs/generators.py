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


# --- generator files of the Python API: TorchScript and ONNX --------------------------------------------------


def is_torchscript(path: str) -> bool:
    """A TorchScript archive (torch.jit.save): a zip with code/ and constants.pkl, unlike torch.save's."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def generator_file(path: str, device: str | None = None) -> tuple[Callable[..., object], dict[str, str]]:
    """A generator saved as TorchScript or ONNX -> (a callable G(z[, y]) on torch tensors, what it is).

    An ONNX file's inputs are z (float32 [B, z_dim]) and, when it has a second input, y (int64 [B])."""
    import torch

    from ganbench.errors import UserError

    if path.lower().endswith(".onnx"):
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors for bad files
            raise UserError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {e})") from None
        inputs = session.get_inputs()
        if len(inputs) not in (1, 2):
            raise UserError(f"{path}: an ONNX generator takes z (and y); this one has {len(inputs)} inputs")
        names = [i.name for i in inputs]

        def onnx_g(z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            feed = {names[0]: z.cpu().numpy().astype("float32")}
            if len(names) == 2:
                if y is None:
                    raise UserError(f"{path} takes labels ({names[1]}): pass num_classes=")
                feed[names[1]] = y.cpu().numpy().astype("int64")
            return torch.from_numpy(session.run(None, feed)[0])

        z_shape = inputs[0].shape
        info = {"path": os.path.abspath(path), "format": "onnx", "inputs": ",".join(names)}
        if len(z_shape) == 2 and isinstance(z_shape[1], int):
            info["z_dim"] = str(z_shape[1])
        return onnx_g, info
    if is_torchscript(path):
        try:
            module = torch.jit.load(path, map_location=device or "cpu")
        except RuntimeError as e:
            raise UserError(f"{path}: not a loadable TorchScript file ({e})") from None
        return module, {"path": os.path.abspath(path), "format": "torchscript"}
    raise UserError(f"{path}: not a TorchScript (torch.jit.save) or .onnx generator file")
