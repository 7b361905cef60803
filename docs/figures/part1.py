"""Part I's figures: the why-attention sketch, one query's context, the weights
heatmap, the flat weights of the seed's pitfall."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP, WRONG
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

import selfattn


def why_attention(ink: str) -> Figure:
    words = "The cat is sitting on the mat because it is warm".split()  # noqa: SIM905
    # x position of each word's centre, spaced by the words' lengths
    centres, x = [], 0.0
    for w in words:
        centres.append(x + len(w) / 2)
        x += len(w) + 1.6
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.set_xlim(-0.5, x)
    ax.set_ylim(-2.6, 3.4)
    ax.axis("off")
    for c, w in zip(centres, words, strict=True):
        bold = w in ("it", "mat", "warm", "cat")
        ax.text(
            c,
            0,
            w,
            ha="center",
            va="center",
            fontsize=14,
            fontweight="bold" if bold else "normal",
        )

    def link(src: str, dst: str, height: float, colour: str, label: str) -> None:
        a, b = centres[words.index(src)], centres[words.index(dst)]
        up = height > 0
        angle = 90 if up else -90
        y0 = 0.45 if up else -0.45
        arrow = FancyArrowPatch(
            (a, y0),
            (b, y0),
            arrowstyle="-|>",
            mutation_scale=14,
            lw=2,
            color=colour,
            connectionstyle=f"arc,angleA={angle},angleB={angle},armA={abs(height) * 22},"
            f"armB={abs(height) * 22},rad=8",
        )
        ax.add_patch(arrow)
        ax.text(
            (a + b) / 2,
            y0 + height * 0.95 + (0.25 if up else -0.25),
            label,
            ha="center",
            va="bottom" if up else "top",
            color=colour,
            fontsize=11,
        )

    link("it", "mat", 1.2, BAR, "what is warm?")
    link("it", "cat", 2.2, BAR, "who is sitting there?")
    link("warm", "mat", -1.2, WRONG, "'warm' describes the mat")
    return fig


def one_query(ink: str) -> Figure:
    x = selfattn.toy_inputs()
    weights = selfattn.attention_weights(x, x, scale=1.0)[0]
    context = selfattn.context_vector_loop(weights, x)
    fig, axes = plt.subplots(
        1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1.2, 3, 1.2]}
    )
    panels = (("query: Magic", x[0]), ("context vector z", context))
    for ax, (title, vec) in zip((axes[0], axes[2]), panels, strict=True):
        ax.imshow(vec.reshape(3, 1).tolist(), cmap=CMAP, vmin=0, vmax=1, aspect="auto")
        for r, value in enumerate(vec.tolist()):
            ax.text(
                0,
                r,
                f"{value:.4f}",
                ha="center",
                va="center",
                color="white" if value < 0.6 else "black",
            )
        ax.set_xticks([])
        ax.set_yticks(range(3), ["d1", "d2", "d3"])
        ax.set_title(title)
    ax = axes[1]
    bars = ax.bar(selfattn.TOKENS, weights.tolist(), color=BAR)
    ax.bar_label(bars, fmt="%.4f", fontsize=9)
    ax.set_ylim(0, float(weights.max()) * 1.25)
    ax.set_title("its six attention weights (sum = 1)")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def weights_heatmap(ink: str) -> Figure:
    x = selfattn.toy_inputs()
    weights = selfattn.attention_weights(x, x, scale=1.0)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    image = ax.imshow(weights.tolist(), cmap=CMAP)
    lo, hi = float(weights.min()), float(weights.max())
    for i in range(6):
        for j in range(6):
            value = float(weights[i, j])
            dark_cell = (value - lo) / (hi - lo) < 0.6
            ax.text(
                j,
                i,
                f"{value:.4f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark_cell else "black",
            )
    ax.set_xticks(range(6), selfattn.TOKENS, rotation=30, ha="right")
    ax.set_yticks(range(6), selfattn.TOKENS)
    ax.set_xlabel("key (the token attended to)")
    ax.set_ylabel("query (the token whose context is built)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def flat_weights(ink: str) -> Figure:
    x = selfattn.toy_inputs()
    right = selfattn.attention_weights(x, x, scale=1.0)[0]
    wrong = selfattn.seed_loop_weights(x, query_index=0)
    positions = torch.arange(6, dtype=torch.float32)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.bar(
        (positions - 0.2).tolist(),
        right.tolist(),
        width=0.4,
        color=BAR,
        label="softmax(scores): right",
    )
    ax.bar(
        (positions + 0.2).tolist(),
        wrong.tolist(),
        width=0.4,
        color=WRONG,
        label="softmax(scores / sum): the seed's",
    )
    ax.axhline(1 / 6, color=ink, lw=1, ls="--")
    ax.text(-0.55, 1 / 6 + 0.004, "1/6", color=ink, ha="left", va="bottom")
    ax.set_xticks(range(6), selfattn.TOKENS)
    ax.set_ylabel("weight of each token for 'Magic'")
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "why-attention": why_attention,
    "one-query": one_query,
    "weights-heatmap": weights_heatmap,
    "flat-weights": flat_weights,
}
