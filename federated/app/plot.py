"""The run's plot: macro-F1 on the global test set after each round, one line per mode;
the comparison rows, fitted to convergence rather than by rounds, as horizontal levels.

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
    for n, r in enumerate(rows):
        # Colours by row, not by matplotlib's cycle: axhline does not advance it.
        color = "black" if r.mode == "centralized" else f"C{n % 10}"
        if not r.curve:
            style = "--" if r.mode == "centralized" else ":"
            ax.axhline(r.macro_f1, linestyle=style, color=color, label=f"{r.mode} (converged)")
            continue
        rounds = range(1, len(r.curve) + 1)
        # SecAgg+ aggregates to the same model as plain FedAvg: dashed, so both show.
        style = "--" if "secagg" in r.mode else "-"
        ax.plot(rounds, r.curve, style, color=color, marker="o", markersize=3, label=r.mode)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("macro-F1 on the global test set")
    ax.set_title(title)
    # Zoomed to the rows' range: the gaps that matter are a point or two of macro-F1.
    values = [v for r in rows for v in (r.curve or (r.macro_f1,))]
    ax.set_ylim(max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.03))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
