"""The backward-pass figures, drawn from the committed forward + backward benchmark."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
from _common import BAR, WRONG, latest, load_result
from matplotlib.figure import Figure

TRAIN_PREFIX = "cpu-*core-float32-backward"  # the newest training benchmark
# name -> (label, colour, marker, line style)
LINES = {
    "sdpa": ("SDPA", "#d81b60", "^", "--"),
    "tiled": ("attention_tiled", BAR, "o", "-"),
    "tiled_autograd": ("autograd through the loop", WRONG, "s", "-"),
    "peer": ("PyPI peer", "#26a69a", "D", ":"),
}


def training_memory(ink: str) -> Figure:
    """Peak extra memory of one forward + backward against n, per implementation."""
    result = load_result(latest(TRAIN_PREFIX))
    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    for name, (label, colour, marker, style) in LINES.items():
        rows = [
            r
            for r in result["results"]
            if r["impl"] == name and r["mode"] == "fwd+bwd" and r["peak_extra_bytes"]
        ]
        if rows:
            ax.plot(
                [r["n"] for r in rows],
                [r["peak_extra_bytes"] / 2**20 for r in rows],
                style,
                color=colour,
                marker=marker,
                lw=2.5 if name in ("tiled", "sdpa") else 1.5,
                label=label,
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (8 heads, d = 64)", fontsize=13)
    ax.set_ylabel("peak extra memory (MiB)", fontsize=13)
    ax.set_title("one forward + backward, float32, CPU", fontsize=13)
    ax.tick_params(labelsize=12)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False, fontsize=12, loc="upper left")
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {"training-memory": training_memory}
