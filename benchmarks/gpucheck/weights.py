"""A float16 copy of the FID Inception weights, for a machine the 87 MB file cannot reach.

The device that runs the GPU check takes at most 64 MiB with it, so the weights travel as float16 (~42 MiB,
`benchmarks/gpu_pack.py` makes the copy) and are expanded back to float32 there. The expanded file is not the
published one (its values are rounded to float16), so ganbench's hash check refuses it: the check's child
processes add it to ganbench's known files under its own hash and a name that says what it is
(EXTRA_WEIGHTS_ENV), and the report records the copy, its source and both hashes. Both sides of the parity
stage use the same expanded weights, so CUDA-vs-CPU differences are measured on equal terms; absolute FIDs
are not the published network's (score the returned generator at home for that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

FORMAT = "ganbench-inception-float16"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_fp16(dest: Path, explicit: str | None = None) -> dict[str, Any]:
    """Write the resolved Inception weights (ganbench's resolution order) as float16 to `dest`. -> its source."""
    import torch

    from ganbench import weights as W

    resolved = W.resolve(explicit)
    sd = W.load_state_dict(resolved)  # our (torch-fidelity) layout, whichever file it came from
    half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    source = resolved.identity()
    blob = {"format": FORMAT, "source": source, "has_logits": resolved.spec.has_logits, "state_dict": half}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    torch.save(blob, tmp)
    os.replace(tmp, dest)
    return source


def read_fp16(path: Path) -> dict[str, Any] | None:
    """The float16 copy's contents, or None when `path` is something else."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, zipfile.BadZipFile):
        return None
    return blob if isinstance(blob, dict) and blob.get("format") == FORMAT else None


def expand(blob: dict[str, Any], dest_dir: Path) -> dict[str, Any]:
    """The float16 copy as a float32 state dict file in dest_dir. -> the WeightSpec fields that make ganbench
    accept it (EXTRA_WEIGHTS_ENV), path included."""
    import torch

    sd = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / ".inception-from-float16.tmp"
    torch.save(sd, tmp)
    sha = sha256_file(tmp)
    path = dest_dir / f"inception-from-float16-{sha[:12]}.pth"
    os.replace(tmp, path)
    made_from = blob["source"].get("file", "?")
    return {
        "key": "float16-copy",
        "filename": path.name,
        "fmt": "state_dict",
        "has_logits": bool(blob["has_logits"]),
        "source": f"float16 copy of {made_from} (sha256 {blob['source'].get('sha256', '?')[:12]}), "
        "expanded to float32 by benchmarks/gpu_check.py",
        "sha256_prefix": sha,
        "path": str(path),
    }


def register(spec_json: str | None) -> None:
    """Make ganbench's hash check accept the expanded copy (its full sha256) in this process."""
    if not spec_json:
        return
    from ganbench import weights as W

    fields = {k: v for k, v in json.loads(spec_json).items() if k in W.WeightSpec.__dataclass_fields__}
    spec = W.WeightSpec(**fields)
    if all(dataclasses.astuple(s) != dataclasses.astuple(spec) for s in W.KNOWN):
        W.KNOWN = (*W.KNOWN, spec)


def resolve_for_check(given: str | None, work: Path) -> tuple[str, dict[str, Any], str | None]:
    """--inception-weights (or ganbench's own resolution) -> (the path children use, the report's "inception"
    entry, the spec JSON children register or None). A published file is used as it is."""
    from ganbench import weights as W
    from ganbench.errors import UserError

    if given is None:
        r = W.resolve()
        return str(r.path), {"kind": "published", **r.identity(), "path": str(r.path)}, None
    path = Path(given)
    try:
        r = W.identify(path)
        return str(r.path), {"kind": "published", **r.identity(), "path": str(r.path)}, None
    except UserError:
        blob = read_fp16(path) if path.is_file() else None
        if blob is None:
            raise
    spec = expand(blob, work / "weights")
    info = {
        "kind": "float16 copy",
        "file": path.name,
        "sha256": sha256_file(path),
        "made_from": blob["source"],
        "expanded": {"file": spec["filename"], "sha256": spec["sha256_prefix"]},
        "has_is_head": spec["has_logits"],
        "note": "values rounded to float16 and computed in float32: FIDs are not the published network's",
    }
    return spec["path"], info, json.dumps(spec)
