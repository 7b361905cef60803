"""Part III's position figures: sinusoidal encodings, RoPE's rotations, its relative
offsets and its two channel layouts; and the decode loop of the Part III landing page."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

import selfattn

TEAL = "#26a69a"  # the second pair, next to BAR (the first)
FONT = 14


def _clean(ax: plt.Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)


def sinusoidal_heatmap(ink: str) -> Figure:
    pe = selfattn.sinusoidal_positions(48, 32)  # (n, d)
    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    image = ax.imshow(pe.tolist(), cmap=CMAP, vmin=-1, vmax=1, aspect="auto")
    ax.set_xlabel("channel (pair c = channels 2c, 2c+1)", fontsize=FONT)
    ax.set_ylabel("position p", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 2)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.ax.tick_params(labelsize=FONT - 2)
    ax.set_title("left pairs turn fast, right pairs slowly", fontsize=FONT)
    fig.tight_layout()
    return fig


def rope_rotation(ink: str) -> Figure:
    # d = 4, base = 100: pair 0 (channels 0, 2) turns 1 rad per position,
    # pair 1 (channels 1, 3) turns 0.1 rad.
    x = torch.tensor([1.0, 0.6, 0.0, 0.0]).expand(6, 4)
    out = selfattn.rope(x, torch.arange(6), base=100.0)
    fig, ax = plt.subplots(figsize=(5.6, 4.1))
    for pair, colour, radius in ((0, BAR, 1.0), (1, TEAL, 0.6)):
        for p in range(6):
            a, b = float(out[p, pair]), float(out[p, pair + 2])
            arrow = FancyArrowPatch(
                (0, 0), (a, b), arrowstyle="-|>", mutation_scale=14, color=colour, lw=2
            )
            ax.add_patch(arrow)
            if pair == 0 or p == 5:
                ax.text(
                    a * (1 + 0.22 / radius),
                    b * (1 + 0.22 / radius),
                    f"p={p}",
                    color=colour,
                    ha="center",
                    va="center",
                    fontsize=FONT - 1,
                )
    ax.plot([], [], color=BAR, lw=2, label="pair 0: 1 rad per position")
    ax.plot([], [], color=TEAL, lw=2, label="pair 1: 0.1 rad per position")
    ax.legend(
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        fontsize=FONT - 2,
    )
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.axhline(0, color=ink, lw=0.5)
    ax.axvline(0, color=ink, lw=0.5)
    ax.set_xlabel("first channel of the pair", fontsize=FONT)
    ax.set_ylabel("second channel", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 2)
    _clean(ax)
    fig.tight_layout()
    return fig


def rope_offset(ink: str) -> Figure:
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, 16, generator=gen, dtype=torch.float64)
    n = 12
    pos = torch.arange(n)
    rq = selfattn.rope(q.expand(n, 16), pos)  # the same query at every position
    rk = selfattn.rope(k.expand(n, 16), pos)  # the same key at every position
    scores = rq @ rk.T  # (n, n): omega_ij for query at i, key at j
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    image = ax.imshow(scores.tolist(), cmap=CMAP)
    ax.set_xlabel("key position j", fontsize=FONT)
    ax.set_ylabel("query position i", fontsize=FONT)
    ax.set_xticks(range(0, n, 2))
    ax.set_yticks(range(0, n, 2))
    ax.tick_params(labelsize=FONT - 2)
    ax.set_title("score: one colour per diagonal j - i", fontsize=FONT)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.ax.tick_params(labelsize=FONT - 2)
    fig.tight_layout()
    return fig


def rope_layouts(ink: str) -> Figure:
    d = 8
    colours = [BAR, TEAL, "#ef6c00", "#ab47bc"]  # one colour per pair j
    fig, axes = plt.subplots(2, 1, figsize=(5.6, 4.0))
    for ax, layout in zip(axes, ("half", "interleaved"), strict=True):
        for c in range(d):
            j = c % (d // 2) if layout == "half" else c // 2
            ax.add_patch(Rectangle((c, 0), 0.9, 0.9, color=colours[j]))
            ax.text(
                c + 0.45,
                0.45,
                str(c),
                ha="center",
                va="center",
                fontsize=FONT,
                color="white",
            )
        for j in range(d // 2):
            a, b = (j, j + d // 2) if layout == "half" else (2 * j, 2 * j + 1)
            arc = FancyArrowPatch(
                (a + 0.45, 0.95),
                (b + 0.45, 0.95),
                connectionstyle="arc3,rad=-0.5"
                if layout == "half"
                else "arc3,rad=-0.9",
                arrowstyle="-",
                color=colours[j],
                lw=2,
            )
            ax.add_patch(arc)
        ax.set_xlim(-0.2, d + 0.1)
        ax.set_ylim(-0.1, 2.6 if layout == "half" else 1.8)
        ax.set_title(f'layout="{layout}"', fontsize=FONT, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return fig


def decode_loop(ink: str) -> Figure:
    # Rows: the prefill and three decode steps; columns: positions 0 .. 7.
    # 0 = not yet there, 1 = read from the cache, 2 = computed at this step.
    prompt, steps = 5, 3
    n = prompt + steps
    grid = torch.zeros(steps + 1, n)
    grid[0, :prompt] = 2
    for s in range(1, steps + 1):
        grid[s, : prompt + s - 1] = 1
        grid[s, prompt + s - 1] = 2
    colours = ListedColormap(["#00000000", TEAL, BAR])
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.imshow(grid.tolist(), cmap=colours, vmin=0, vmax=2, aspect="auto")
    for s in range(steps + 1):
        for p in range(n):
            if grid[s, p] == 2:
                ax.text(
                    p, s, "new", ha="center", va="center", color="white", fontsize=11
                )
    ax.set_yticks(
        range(steps + 1), ["prefill", "step 1", "step 2", "step 3"], fontsize=FONT
    )
    ax.set_xticks(range(n), [str(p) for p in range(n)], fontsize=FONT - 2)
    ax.set_xlabel("position", fontsize=FONT)
    ax.plot([], [], "s", color=TEAL, ms=12, label="keys, values from the cache")
    ax.plot([], [], "s", color=BAR, ms=12, label="projected at this step")
    ax.legend(
        frameon=False,
        fontsize=FONT - 3,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.3),
        ncol=1,
    )
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "sinusoidal-positions": sinusoidal_heatmap,
    "rope-rotation": rope_rotation,
    "rope-offset": rope_offset,
    "rope-layouts": rope_layouts,
    "decode-loop": decode_loop,
}
