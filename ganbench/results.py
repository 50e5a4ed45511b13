"""Result records: one JSON file per scoring run in the results store, written atomically."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from ganbench.atomic import atomic_write, atomic_write_text, writing
from ganbench.errors import warn

DEFAULT_STORE = Path("leaderboard") / "results"


def store_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--results, else GANBENCH_RESULTS, else leaderboard/results under the current directory."""
    return Path(explicit or os.environ.get("GANBENCH_RESULTS") or DEFAULT_STORE)


def get_path(d: dict, *keys: str):
    """d[k1][k2]..., or None where any level is missing (records of older versions lack whole sections)."""
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _slug(text: str) -> str:
    base = Path(text.rstrip("/")).name or text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-")[:48] or "samples"


def write_record(record: dict, store: Path, beside: Callable[[Path], list[Path]] | None = None) -> Path:
    """Write `record` as <time>-<samples>-<hash>.json via a temp file and os.replace.

    beside(path): writes files next to the record-to-be (and names them in `record`) before the record is
    written, so a record never names a missing file; they are removed if the record cannot be written."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    # a random tail: two runs on the same samples in the same second keep both records
    name = f"{stamp}-{_slug(record['samples']['source'])}-{record['samples']['content_sha256'][:8]}"
    path = store / f"{name}-{os.urandom(3).hex()}.json"
    with writing(store, "write elsewhere (--results, GANBENCH_RESULTS)", what="the results store"):
        store.mkdir(parents=True, exist_ok=True)
        _write_heatmap(record, path)
        heatmap = (record.get("classwise") or {}).get("heatmap")
        placed = [path.with_name(heatmap)] if heatmap else []
        try:
            if beside is not None:
                placed += beside(path)
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        except BaseException:  # no picture without its record
            for extra in placed:
                extra.unlink(missing_ok=True)
            raise
    return path


def _write_heatmap(record: dict, path: Path) -> None:
    """The confusion-matrix PNG beside the record, written first so a record never names a missing file.

    Its file name goes into record["classwise"]["heatmap"]; without a matrix (unlabelled samples, no
    classifier) there is no PNG and the field stays None.
    """
    section = record.get("classwise") or {}
    if section.get("confusion_matrix") is None:
        return
    from ganbench.report import plots

    png = path.with_name(f"{path.stem}-confusion.png")
    clf = section.get("classifier") or {}
    title = f"{record['samples']['source']} — {clf.get('arch', '?')} ({clf.get('weights_sha256', '')[:8]})"
    try:
        atomic_write(
            png, lambda f: plots.confusion_heatmap(section["confusion_matrix"], section["classes"], f, title)
        )
    except ImportError as e:  # seaborn/matplotlib missing: the numbers matter more than the picture
        warn(f"no confusion-matrix heatmap ({e}); pip install seaborn matplotlib")
        return
    section["heatmap"] = png.name


def load_records(store: Path) -> tuple[list[dict], list[str]]:
    """All readable records, and a line for each file skipped (malformed or half-written)."""
    records, skipped = [], []
    for p in sorted(store.glob("*.json")):
        try:
            rec = json.loads(p.read_text())
            if not isinstance(rec, dict) or "metrics" not in rec:
                raise ValueError("not a ganbench record")
            rec["_file"] = str(p)
            records.append(rec)
        except (OSError, ValueError) as e:
            skipped.append(f"{p.name}: {e}")
    return records, skipped
