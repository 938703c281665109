"""The ablations' figure: MAP against beta and against the crop threshold."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_ablations(results: dict[str, Any], path: Path) -> Path:
    """Two panels: MAP against beta, MAP against the crop threshold (mean +- std over seeds)."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend and figures alone

    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    for ax, key, xlabel in ((axes[0], "beta_sweep", "β (weight of the global branch)"),
                            (axes[1], "threshold_sweep", "crop threshold (test time)")):
        xs = [float(k) for k in results[key]]
        mean = np.array([v["mean"] for v in results[key].values()])
        std = np.array([v["std"] for v in results[key].values()])
        ax.plot(xs, mean, marker="o", label="ASEN++")
        ax.fill_between(xs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test MAP (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("Fusion weight β")
    axes[1].set_title("Zoom-in crop threshold")
    fig.suptitle(f"ASEN++ ablations on {results['dataset']} ({len(results['seeds'])} seed(s))")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
