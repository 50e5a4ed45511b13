"""The confusion matrix of a class-aware run as a seaborn heatmap PNG (the record's sidecar)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def draw_confusion(matrix: list[list[int]], classes: list[str], path: Path, title: str = "") -> None:
    """Row-normalised heatmap (each conditioning class sums to 1, counts annotated), written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(matrix, dtype=np.int64)
    totals = cm.sum(1, keepdims=True)
    frac = np.divide(cm, totals, out=np.zeros(cm.shape, float), where=totals > 0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    try:
        sns.heatmap(frac, annot=cm, fmt="d", cmap="Blues", vmin=0.0, vmax=1.0, square=True, ax=ax,
                    xticklabels=classes, yticklabels=classes, cbar_kws={"label": "fraction of the row"})  # fmt: skip
        ax.set_xlabel("surrogate classifier's prediction")
        ax.set_ylabel("conditioning label")
        ax.set_title(title or "confusion matrix", fontsize=10)
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
        try:
            fig.savefig(tmp, dpi=100)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
