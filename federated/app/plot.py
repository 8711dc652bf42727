"""The run's plot: macro-F1 on the global test set after each round, one line per mode.

Matplotlib is in the federated environment's lock only (federated/requirements.lock), so
this module lives with the Flower apps; it draws with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from federated.report import ModeResult

__all__ = ["plot_rounds"]


def plot_rounds(rows: Sequence[ModeResult], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in rows:
        rounds = range(1, len(r.curve) + 1)
        style = "-" if r.mode.startswith("federated") or r.mode == "centralized" else ":"
        ax.plot(rounds, r.curve, style, marker="o", markersize=3, label=r.mode)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("macro-F1 on the global test set")
    ax.set_title(title)
    ax.set_ylim(0.0, 1.0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
