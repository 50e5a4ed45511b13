"""In-memory inputs of the Python API -> ImageSet: uint8 or float arrays and tensors, iterables of batches (a
DataLoader), and generators (a callable or nn.Module G(z, y), run batch by batch).

`to_uint8` is the one float -> uint8 conversion in ganbench and the trainers: (x - lo) * 255 / (hi - lo),
rounded half to even, in float32. Floats need their value range stated; it is never guessed, and values
outside it are an error, not clipped. Floats are converted a chunk at a time, so a float copy of the whole
set never exists here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ganbench import parallel
from ganbench.errors import UserError
from ganbench.inputs.imageset import ImageSet

ValueRange = tuple[float, float]
CHUNK = 1024  # images converted at once: bounds the float temporaries
GENERATOR_BATCH = 500  # generator batch when none is given (as `ganbench score ckpt.pt`)


def is_array(x: object) -> bool:
    return isinstance(x, np.ndarray | torch.Tensor)


def _range(value_range: ValueRange | None, what: str) -> tuple[float, float]:
    if value_range is None:
        raise UserError(
            f"{what} are floating point: pass value_range=(-1, 1) or (0, 1) (it is never guessed)"
        )
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise UserError(f"value_range must be a pair (low, high), not {value_range!r}") from None
    if not lo < hi:
        raise UserError(f"value_range must have low < high, not {value_range!r}")
    return lo, hi


def to_uint8(
    x: torch.Tensor | np.ndarray, value_range: ValueRange | None, what: str = "the images"
) -> np.ndarray:
    """Floats in value_range -> uint8 numpy of the same shape. NaN, inf or values outside the range are a
    UserError naming `what` and the minimum and maximum seen."""
    t = torch.as_tensor(x).detach()
    lo, hi = _range(value_range, what)
    t = t.float()
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise UserError(f"{what} contain {bad} NaN or infinite values")
    if t.numel():
        seen = (float(t.min()), float(t.max()))
        if seen[0] < lo or seen[1] > hi:
            raise UserError(
                f"{what} have values in [{seen[0]:.4g}, {seen[1]:.4g}], outside value_range ({lo:g}, {hi:g})"
            )
    return ((t - lo) * (255.0 / (hi - lo))).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def image_array(x: Any, value_range: ValueRange | None, what: str = "the images") -> np.ndarray:
    """An array or tensor of images, [N,3,H,W] or [N,H,W,3], uint8 or float -> C-contiguous uint8 [N,3,H,W]."""
    if not is_array(x):
        raise UserError(f"{what}: expected a numpy array or torch tensor, got {type(x).__name__}")
    shape = tuple(x.shape)
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        raise UserError(f"{what} have shape {list(shape)}; expected [N,3,H,W] or [N,H,W,3] (RGB)")
    if isinstance(x, torch.Tensor):
        x = x.detach()
        floating, is_u8 = x.is_floating_point(), x.dtype == torch.uint8
    else:
        floating, is_u8 = np.issubdtype(x.dtype, np.floating), x.dtype == np.uint8
    channels_last = shape[1] != 3
    if is_u8:
        if value_range is not None and tuple(value_range) != (0, 255):
            raise UserError(f"{what} are uint8 (0..255); drop value_range={tuple(value_range)!r}")
        out = x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    elif floating:
        _range(value_range, what)
        parts = [to_uint8(x[i : i + CHUNK], value_range, what) for i in range(0, shape[0], CHUNK)]
        out = np.concatenate(parts) if parts else np.empty((0, *shape[1:]), np.uint8)
    else:
        raise UserError(f"{what} have dtype {x.dtype}; expected uint8 (0..255) or floats with value_range")
    if channels_last:
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)


def label_array(labels: Any, n: int, num_classes: int = 10, what: str = "labels") -> np.ndarray:
    """Class labels 0..num_classes-1, one per image -> int64 [n]."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise UserError(f"{what} must be a 1-d sequence of integers, got {arr.dtype} {list(arr.shape)}")
    if len(arr) != n:
        raise UserError(f"{what} has {len(arr)} entries for {n} images")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise UserError(f"{what} must be in 0..{num_classes - 1}; got values {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def from_array(
    x: Any, *, value_range: ValueRange | None = None, labels: Any = None, source: str | None = None
) -> ImageSet:
    """One array or tensor of images (and optional labels) -> ImageSet."""
    kind = "tensor" if isinstance(x, torch.Tensor) else "array"
    images = image_array(x, value_range, f"the {kind}'s images")
    y = None if labels is None else label_array(labels, len(images))
    return _imageset(images, y, source or f"{kind} {list(x.shape)} {x.dtype}", kind, value_range)


def from_batches(
    batches: Iterable[Any],
    *,
    value_range: ValueRange | None = None,
    labels: Any = None,
    source: str | None = None,
) -> ImageSet:
    """An iterable of batches (a DataLoader) yielding images or (images, labels) -> ImageSet. Each batch is
    converted to uint8 as it arrives."""
    parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    with_labels = None
    for i, batch in enumerate(batches):
        if isinstance(batch, tuple | list):
            if len(batch) != 2:
                raise UserError(f"batch {i} has {len(batch)} items; expected images or (images, labels)")
            images, y = batch
        else:
            images, y = batch, None
        if with_labels is None:
            with_labels = y is not None
        elif with_labels != (y is not None):
            raise UserError(f"batch {i} {'has' if y is not None else 'lacks'} labels, unlike batch 0")
        part = image_array(images, value_range, f"batch {i}'s images")
        if parts and part.shape[1:] != parts[0].shape[1:]:
            raise UserError(
                f"batch {i} has images of {list(part.shape[1:])}, batch 0 {list(parts[0].shape[1:])}"
            )
        parts.append(part)
        if y is not None:
            label_parts.append(label_array(y, len(part), what=f"batch {i}'s labels"))
    if not parts:
        raise UserError("the iterable yielded no batches")
    images = np.concatenate(parts)
    y = np.concatenate(label_parts) if with_labels else None
    if labels is not None:
        if y is not None:
            raise UserError("the batches carry labels already; drop labels=")
        y = label_array(labels, len(images))
    return _imageset(images, y, source or f"batches of {type(batches).__name__}", "batches", value_range)


def run_generator(
    G: Callable[..., Any],
    z: torch.Tensor,
    y: torch.Tensor | None,
    *,
    value_range: ValueRange | None,
    batch_size: int = GENERATOR_BATCH,
    device: str | torch.device | None = None,
    first_batch: int = 0,
) -> np.ndarray:
    """G over latents z (and labels y), batch by batch -> uint8 [N,3,H,W]. An nn.Module runs in eval mode and
    without gradients, its mode restored after, on `device` (default: its weights' device; weights elsewhere
    are copied there for the pass). Uses no RNG. first_batch: the number of the first batch in
    messages (a rank's shard starts mid-way)."""
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, not {batch_size}")
    if device is None:
        params = next(G.parameters(), None) if isinstance(G, torch.nn.Module) else None
        device = params.device if params is not None else "cpu"
    call = _on_device(G, device)
    was_training = isinstance(G, torch.nn.Module) and G.training
    if was_training:
        G.eval()
    parts = []
    try:
        with torch.no_grad():
            for b, start in enumerate(range(0, z.shape[0], batch_size), start=first_batch):
                zb = z[start : start + batch_size].to(device)
                args = (zb,) if y is None else (zb, y[start : start + batch_size].to(device))
                try:
                    out = call(*args)
                except UserError:
                    raise
                except Exception as e:  # the user's code: name what it raised, keep the traceback chained
                    raise UserError(f"the generator raised {type(e).__name__} on batch {b}: {e}") from e
                parts.append(_generated(out, len(zb), b, value_range))
    finally:
        if was_training:
            G.train()
    return np.ascontiguousarray(np.concatenate(parts)) if parts else np.empty((0, 3, 0, 0), np.uint8)


def _on_device(G: Callable[..., Any], device: str | torch.device) -> Callable[..., Any]:
    """G, or, for an nn.Module whose weights are on another device, G run with copies of its weights and
    buffers on `device` (torch.func.functional_call): the caller's module stays where it is, untouched."""
    if not isinstance(G, torch.nn.Module):
        return G
    target = torch.device(device)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    state = {**dict(G.named_parameters()), **dict(G.named_buffers())}
    away = sorted({str(t.device) for t in state.values() if t.device != target})
    if not away:
        return G
    if isinstance(G, torch.jit.ScriptModule):
        raise UserError(
            f"the TorchScript generator's weights are on {', '.join(away)}, not {target}: pass "
            f"device='{away[0]}', or move it first (G.to('{target}'))"
        )
    moved = {name: t.to(target) for name, t in state.items()}
    return lambda *args: torch.func.functional_call(G, moved, args)


def _generated(out: Any, expected: int, b: int, value_range: ValueRange | None) -> np.ndarray:
    """One batch of a generator's output, checked: a float [B,3,H,W] in value_range, every value finite."""
    if not is_array(out):
        raise UserError(
            f"the generator returned {type(out).__name__} on batch {b}; expected a [B,3,H,W] tensor"
        )
    shape = list(out.shape)
    if len(shape) != 4 or shape[0] != expected or shape[1] != 3:
        raise UserError(f"the generator returned shape {shape} on batch {b}; expected [{expected},3,H,W]")
    return image_array(out, value_range, f"the generator's output on batch {b}")


def from_generator(
    G: Callable[..., Any],
    *,
    z_dim: int | None,
    n: int | None,
    num_classes: int | None = None,
    value_range: ValueRange | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    source: str | None = None,
) -> ImageSet:
    """n images from G(z) or, with num_classes, G(z, y) with labels cycling 0, 1, ..., num_classes-1 (as
    `ganbench score ckpt.pt` draws them): z ~ N(0, I) [n, z_dim] from a generator seeded with `seed`."""
    if not isinstance(z_dim, int) or z_dim < 1:
        raise UserError(f"a generator needs z_dim= (its latent size), a positive integer; got {z_dim!r}")
    if not isinstance(n, int) or n < 1:
        raise UserError(f"a generator needs n= (how many images to draw), a positive integer; got {n!r}")
    if num_classes is not None and (not isinstance(num_classes, int) or not 1 <= num_classes <= 10):
        raise UserError(f"num_classes must be an integer in 1..10 (CIFAR-10's labels), not {num_classes!r}")
    _range(value_range, "a generator's outputs")
    G = unwrap(G)
    y = None if num_classes is None else torch.arange(n) % num_classes
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    batch = batch_size or GENERATOR_BATCH
    lo, hi = parallel.shard(n, batch)  # the whole range in one process; whole batches per rank under torchrun
    error, local = None, None
    try:
        local = run_generator(
            G, z[lo:hi], None if y is None else y[lo:hi], value_range=value_range, batch_size=batch,
            device=device, first_batch=lo // batch,
        )  # fmt: skip
    except UserError as e:
        if parallel.world()[1] == 1:
            raise
        error = f"rank {parallel.world()[0]}: {e}"
    parallel.agree(error)  # one rank's bad batch stops every rank, with its message
    images = parallel.gather_rows(local)
    name = source or f"generator {type(G).__name__}"
    out = _imageset(images, None if y is None else y.numpy().astype(np.int64), name, "generator", value_range)
    out.origin.update(
        {"latent_seed": str(seed), "z_dim": str(z_dim), "labels": "cycling" if y is not None else "none"}
    )
    return out


def unwrap(G: Callable[..., Any]) -> Callable[..., Any]:
    """The module inside a DistributedDataParallel wrapper: the wrapper's forward may enter collectives on
    every call (its buffer broadcast), and the ranks run different numbers of batches here, so it would hang."""
    from torch.nn.parallel import DistributedDataParallel

    return G.module if isinstance(G, DistributedDataParallel) else G


def _imageset(
    images: np.ndarray, labels: np.ndarray | None, source: str, kind: str, value_range: ValueRange | None
) -> ImageSet:
    if len(images) == 0:
        raise UserError(f"{source}: no images")
    origin = {"value_range": f"{value_range[0]:g},{value_range[1]:g}"} if value_range is not None else {}
    names = [f"{kind}[{i}]" for i in range(len(images))]
    return ImageSet(images, labels, names, source, kind, {}, origin)
