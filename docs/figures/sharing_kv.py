"""Part III's "Sharing keys and values": which key/value head each query head reads."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import selfattn

TEAL = "#26a69a"
FONT = 14


def head_grouping(ink: str) -> Figure:
    h = 8
    fig, axes = plt.subplots(3, 1, figsize=(5.6, 6.4))
    layouts = (
        (8, "multi-head: 8 KV heads"),
        (2, "grouped-query: 2"),
        (1, "multi-query: 1"),
    )
    for ax, (h_kv, title) in zip(axes, layouts, strict=True):
        # The module's own grouping: repeat_kv lays KV head j over query heads.
        ids = torch.arange(h_kv, dtype=torch.float32).reshape(1, h_kv, 1, 1)
        kv_of = selfattn.repeat_kv(ids, h // h_kv).flatten().long().tolist()
        width = h / h_kv  # KV boxes spread under their groups
        for i in range(h):
            ax.add_patch(Rectangle((i + 0.1, 1.6), 0.8, 0.8, color=BAR))
            ax.text(
                i + 0.5,
                2.0,
                f"q{i}",
                ha="center",
                va="center",
                color="white",
                fontsize=FONT - 2,
            )
            centre = kv_of[i] * width + width / 2
            ax.plot([i + 0.5, centre], [1.6, 0.9], color=ink, lw=1.2)
        for j in range(h_kv):
            left = j * width + width / 2 - 0.4
            ax.add_patch(Rectangle((left, 0.1), 0.8, 0.8, color=TEAL))
            ax.text(
                left + 0.4,
                0.5,
                f"kv{j}",
                ha="center",
                va="center",
                color="white",
                fontsize=FONT - 3,
            )
        ax.set_xlim(0, h)
        ax.set_ylim(0, 2.5)
        ax.set_title(title, fontsize=FONT, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {"kv-head-grouping": head_grouping}
