"""Part II's figures: the three projections, the scale's saturation, the causal weights
and alignments, the heads of the multi-head page, the head split and merge, and the
trained look-back model (drawn from its shipped checkpoint, never retrained here).

Sized for a phone: one column of panels where there are two, and fonts of 13-16 pt
at a figure width of 5-6.5 inches (about 0.6 of that on a 390 px screen).
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP, WRONG
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

import selfattn
from selfattn.train import (
    held_out_set,
    load_look_back,
    look_back_metrics,
    mean_head_maps,
)

HEAD_COLOURS = (BAR, WRONG)  # head 0, head 1
FONT = 14


def _box(ax: Axes, x: float, y: float, w: float, h: float, colour: str) -> None:
    """A matrix drawn as a grid of w x h cells, lower left corner at (x, y)."""
    for i in range(int(h)):
        for j in range(int(w)):
            ax.add_patch(
                Rectangle(
                    (x + j, y + i), 1, 1, fc=colour, ec="white", lw=1.2, alpha=0.85
                )
            )


def _arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], ink: str
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=16, lw=1.8, color=ink
        )
    )


def qkv_projections(ink: str) -> Figure:
    """X (n, d_in) times three (d_in, d_out) matrices: Q, K, V (n, d_out)."""
    plt.rcParams["font.size"] = FONT
    x = selfattn.toy_inputs()
    torch.manual_seed(123)  # the page's module
    module = selfattn.SelfAttentionParams(d_in=3, d_out=2)
    n, d_in = x.shape
    d_out = module.W_query.shape[1]
    fig, ax = plt.subplots(figsize=(5.6, 6.4))
    ax.set_xlim(-0.5, 14)
    ax.set_ylim(-1.6, 22.4)
    ax.set_aspect("equal")
    ax.axis("off")
    x_top = 14.5
    _box(ax, 0, x_top - n, d_in, n, "#7f8c8d")
    ax.text(d_in / 2, x_top + 0.5, f"X\n({n}, {d_in})", ha="center", va="bottom")
    rows = (("W_q", "Q", "queries"), ("W_k", "K", "keys"), ("W_v", "V", "values"))
    colours = (BAR, WRONG, "#2e9d5b")
    for r, ((w, out, role), colour) in enumerate(zip(rows, colours, strict=True)):
        top = 21 - 7.5 * r
        _arrow(ax, (d_in + 0.2, x_top - n / 2), (5.2, top - n / 2), ink)
        _box(ax, 5.4, top - n / 2 - d_in / 2 + 0.5, d_out, d_in, colour)
        ax.text(
            5.4 + d_out / 2,
            top - n / 2 + d_in / 2 + 0.7,
            f"{w}\n({d_in}, {d_out})",
            ha="center",
            va="bottom",
            fontsize=FONT - 1,
        )
        _arrow(ax, (7.6, top - n / 2), (9.2, top - n / 2), ink)
        _box(ax, 9.4, top - n, d_out, n, colour)
        ax.text(
            11.8, top - n / 2, f"{out}\n({n}, {d_out})\n{role}", ha="left", va="center"
        )
    return fig


def scale_saturation(ink: str) -> Figure:
    plt.rcParams["font.size"] = FONT
    dims = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.6, 6.2))
    for scaled, colour, label in ((False, WRONG, "unscaled"), (True, BAR, "scaled")):
        name = f"{label}: q.k" + (" / sqrt(d_k)" if scaled else "")
        variances = [selfattn.score_variance(d, scaled=scaled) for d in dims]
        peaks = [selfattn.softmax_peak(d, scaled=scaled) for d in dims]
        top.plot(dims, variances, "o-", color=colour, label=name)
        bottom.plot(dims, peaks, "o-", color=colour, label=name)
    top.set_xscale("log", base=2)
    top.set_yscale("log", base=2)
    top.set_ylabel("variance of the scores")
    bottom.set_xscale("log", base=2)
    bottom.axhline(1 / 8, color=ink, lw=1, ls="--")
    bottom.text(1, 1 / 8 + 0.02, "1/8: flat", color=ink, va="bottom")
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel("largest of 8 weights")
    for ax in (top, bottom):
        ax.set_xlabel("d_k")
        ax.spines[["top", "right"]].set_visible(False)
    top.legend(frameon=False)
    fig.tight_layout()
    return fig


def _weights_heatmap(
    ax: Axes, weights: torch.Tensor, labels: list[str], numbers: bool
) -> None:
    n = weights.shape[-1]
    ax.imshow(weights.tolist(), cmap=CMAP, vmin=0, vmax=1)
    if numbers:
        for i in range(n):
            for j in range(n):
                value = float(weights[i, j])
                text = f"{value:.2f}".lstrip("0") if j <= i else "0"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=FONT - 2,
                    color="white" if value < 0.6 else "black",
                )
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)


def causal_weights(ink: str) -> Figure:
    """The page's causal weights of the six tokens: zero above the diagonal."""
    plt.rcParams["font.size"] = FONT
    x = selfattn.toy_inputs()
    weights = selfattn.causal_softmax(selfattn.attention_scores(x, x))
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    _weights_heatmap(ax, weights, list(selfattn.TOKENS), numbers=True)
    ax.set_xlabel("key j (the future is masked)")
    ax.set_ylabel("query i")
    fig.tight_layout()
    return fig


def causal_alignments(ink: str) -> Figure:
    plt.rcParams["font.size"] = FONT
    fig, axes = plt.subplots(2, 1, figsize=(5.6, 4.8))  # cells wide enough for "sees"
    for ax, align in zip(axes, ("top-left", "bottom-right"), strict=True):
        keep = selfattn.causal_mask(2, 6, align=align)  # type: ignore[arg-type]
        ax.imshow(keep.int().tolist(), cmap=CMAP, vmin=0, vmax=1)
        for i in range(2):
            for j in range(6):
                seen = bool(keep[i, j])
                ax.text(
                    j,
                    i,
                    "sees" if seen else "-",
                    ha="center",
                    va="center",
                    fontsize=FONT - 2,
                    color="black" if seen else "white",
                )
        ax.set_xticks(range(6), [str(j) for j in range(6)])
        ax.set_yticks(range(2), ["q 0", "q 1"])
        ax.set_title(f'align="{align}"', fontsize=FONT)
    axes[1].set_xlabel("key j")
    fig.tight_layout()
    return fig


def page_multihead_module() -> selfattn.MultiHeadAttention:
    """The multi-head page's module: its seed, its order of construction, its copy."""
    torch.manual_seed(123)
    wrapper = selfattn.MultiHeadAttentionWrapper(
        d_in=3, d_out=4, context_length=6, num_heads=2
    ).eval()
    fused = selfattn.MultiHeadAttention(d_in=3, d_out=4, context_length=6, num_heads=2)
    selfattn.copy_wrapper_to_fused(wrapper, fused.eval())
    return fused


def heads_split(ink: str) -> Figure:
    plt.rcParams["font.size"] = FONT
    with torch.no_grad():
        weights = page_multihead_module().attention_weights(selfattn.toy_inputs())
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.9))
    labels = list(selfattn.TOKENS)
    for h, ax in enumerate(axes):
        _weights_heatmap(ax, weights[h], labels, numbers=False)
        ax.set_title(f"head {h}")
        if h:
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def _grid(ax: Axes, x: float, y: float, cols: list[str], rows: int) -> None:
    """rows x len(cols) cells, column colours given, top left corner at (x, y)."""
    for i in range(rows):
        for j, colour in enumerate(cols):
            ax.add_patch(
                Rectangle((x + j, y - i - 1), 1, 1, fc=colour, ec="white", lw=1.2)
            )


def head_split_merge(ink: str) -> Figure:
    """(b, n, d_out) -> (b, h, n, d_h) -> attention per head -> back to (b, n, d_out)."""
    plt.rcParams["font.size"] = FONT
    n, h, d_h = 6, 2, 2
    cols = [HEAD_COLOURS[c // d_h] for c in range(h * d_h)]
    fig, ax = plt.subplots(figsize=(5.2, 7.0))
    ax.set_xlim(0, 13)
    ax.set_ylim(-27, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    # 1. the fused projection's output
    _grid(ax, 0.5, 0, cols, n)
    ax.text(5.2, -3, "W_query(x)\n(b, n, d_out)\nd_out = h d_h", va="center")
    _arrow(ax, (2.5, -6.3), (2.5, -8.2), ink)
    ax.text(3.3, -7.3, "view + transpose(1, 2)", va="center", fontsize=FONT - 1)
    # 2. one (n, d_h) matrix per head, far enough apart for their labels
    gap = 4  # grid starts 4 cells apart: each label is about 1.5 cells wide
    for head in range(h):
        _grid(ax, 0.5 + gap * head, -8.6, [HEAD_COLOURS[head]] * d_h, n)
        ax.text(
            1.5 + gap * head,
            -15.1,
            f"head {head}",
            ha="center",
            va="top",
            fontsize=FONT - 2,
        )
    ax.text(7.6, -11.6, "(b, h, n, d_h)\nattention in\neach head", va="center")
    _arrow(ax, (2.5, -16.3), (2.5, -18.2), ink)
    ax.text(3.3, -17.3, "transpose(1, 2) + reshape", va="center", fontsize=FONT - 1)
    # 3. the heads side by side again
    _grid(ax, 0.5, -18.6, cols, n)
    ax.text(5.2, -21.6, "(b, n, d_out)\nthen out_proj", va="center")
    return fig


# The trained look-back model: read from checkpoints/, drawn per head.


def look_back_maps(ink: str) -> Figure:
    """Each head's weights, averaged over the held-out sequences, before and after."""
    plt.rcParams["font.size"] = FONT
    config, initial, trained = load_look_back()
    tokens, _ = held_out_set(config)
    fig, axes = plt.subplots(2, 2, figsize=(6.0, 6.2))
    for r, (model, when) in enumerate(((initial, "untrained"), (trained, "trained"))):
        maps = mean_head_maps(model, tokens)
        for head, ax in enumerate(axes[r]):
            ax.imshow(maps[head].tolist(), cmap=CMAP, vmin=0, vmax=1)
            ax.set_title(f"{when}, head {head}", fontsize=FONT)
            ticks = list(range(0, config.length, 3))
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
    for ax in axes[1]:
        ax.set_xlabel("key j")
    for ax in axes[:, 0]:
        ax.set_ylabel("query i")
    fig.tight_layout()
    return fig


def look_back_loss(ink: str) -> Figure:
    plt.rcParams["font.size"] = FONT
    metrics = look_back_metrics()
    losses = metrics["losses"]
    fig, ax = plt.subplots(figsize=(5.6, 3.1))
    ax.plot(range(1, len(losses) + 1), losses, color=BAR, lw=1.8)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (cross-entropy)")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def look_back_distance(ink: str) -> Figure:
    plt.rcParams["font.size"] = FONT
    metrics = look_back_metrics()
    distance = metrics["head_distance"]
    fig, ax = plt.subplots(figsize=(5.6, 2.3))
    names = ["untrained", "trained"]
    bars = ax.barh(names, [distance[k] for k in names], color=[WRONG, BAR])
    ax.bar_label(bars, fmt="%.2f", padding=4)
    ax.set_xlim(0, 1)
    ax.set_xlabel("distance between the heads' maps (0 same, 1 disjoint)")
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "qkv-projections": qkv_projections,
    "scale-saturation": scale_saturation,
    "causal-weights": causal_weights,
    "causal-alignments": causal_alignments,
    "heads-split": heads_split,
    "head-split-merge": head_split_merge,
    "look-back-maps": look_back_maps,
    "look-back-loss": look_back_loss,
    "look-back-distance": look_back_distance,
}
