"""Part II's figures: the scale's saturation, causal alignments, the head split."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP, WRONG
from matplotlib.figure import Figure

import selfattn


def scale_saturation(ink: str) -> Figure:
    dims = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for scaled, colour, label in ((False, WRONG, "unscaled"), (True, BAR, "scaled")):
        name = f"{label}: q.k" + (" / sqrt(d_k)" if scaled else "")
        variances = [selfattn.score_variance(d, scaled=scaled) for d in dims]
        peaks = [selfattn.softmax_peak(d, scaled=scaled) for d in dims]
        left.plot(dims, variances, "o-", color=colour, label=name)
        right.plot(dims, peaks, "o-", color=colour, label=name)
    left.set_xscale("log", base=2)
    left.set_yscale("log", base=2)
    left.set_xlabel("d_k")
    left.set_ylabel("variance of the scores")
    right.set_xscale("log", base=2)
    right.axhline(1 / 8, color=ink, lw=1, ls="--")
    right.text(1, 1 / 8 + 0.02, "1/8: flat", color=ink, va="bottom")
    right.set_ylim(0, 1.05)
    right.set_xlabel("d_k")
    right.set_ylabel("largest of 8 weights (mean)")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    left.legend(frameon=False)
    fig.tight_layout()
    return fig


def causal_alignments(ink: str) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.4))
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
                    fontsize=9,
                    color="black" if seen else "white",
                )
        ax.set_xticks(range(6), [f"key {j}" for j in range(6)], fontsize=9)
        ax.set_yticks(range(2), ["query 0", "query 1"])
        ax.set_title(f'align="{align}"')
    fig.tight_layout()
    return fig


def heads_split(ink: str) -> Figure:
    torch.manual_seed(123)
    module = selfattn.MultiHeadAttention(3, 4, 6, 2).eval()
    x = selfattn.toy_inputs()
    with torch.no_grad():
        q = module.split_heads(module.W_query(x))  # (h, n, d_h)
        k = module.split_heads(module.W_key(x))
        scores = q @ k.transpose(-2, -1) / module.head_dim**0.5
        weights = selfattn.causal_softmax(scores)  # (h, n, n)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for h, ax in enumerate(axes):
        ax.imshow(weights[h].tolist(), cmap=CMAP, vmin=0, vmax=1)
        for i in range(6):
            for j in range(i + 1):
                value = float(weights[h, i, j])
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value < 0.6 else "black",
                )
        ax.set_xticks(range(6), selfattn.TOKENS, rotation=30, ha="right")
        ax.set_yticks(range(6), selfattn.TOKENS)
        ax.set_title(f"head {h}")
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "scale-saturation": scale_saturation,
    "causal-alignments": causal_alignments,
    "heads-split": heads_split,
}
