"""Part I's figures: the big picture, the why-attention sketch, one query's context,
the matrix form's shapes, the weights heatmap, the flat weights of the seed's pitfall.

Every figure is drawn for a phone first: about 5.5 inches wide (so it is shown at
close to its natural size in a 360 px column), text of 13 pt or more, few digits.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP, WRONG
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

import selfattn
from selfattn.data import embed_words

TIMES = "\N{MULTIPLICATION SIGN}"
FONT = 14  # the smallest text in a figure, in points, at the figure's own size


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, **kw: object):
    """A rounded box centred on (x, y) with text inside; returns the patch."""
    colour = kw.pop("colour", BAR)
    face = kw.pop("face", "none")
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0.02,rounding_size=0.08",
        lw=2,
        edgecolor=colour,
        facecolor=face,
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, **kw)  # type: ignore[arg-type]
    return patch


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], ink: str):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=16, lw=1.8, color=ink
        )
    )


def big_picture(ink: str) -> Figure:
    """Tokens -> embeddings -> L blocks of (attention, feed-forward) -> next-token
    scores, with the toy sentence's shapes computed by selfattn."""
    x = selfattn.toy_inputs()
    n, d = x.shape
    fig, ax = plt.subplots(figsize=(5.6, 7.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 13.4)
    ax.axis("off")
    words = " ".join(selfattn.TOKENS)
    _box(ax, 5, 12.6, 9.6, 1.0, f"tokens: {n} words\n", colour=ink)
    ax.text(5, 12.4, f"“{words}”", ha="center", va="center", fontsize=FONT - 1)
    _box(
        ax, 5, 10.7, 9.6, 1.0, f"embeddings X: {n} {TIMES} {d}\n(one vector per token)"
    )
    # The repeated block: attention, then a feed-forward network, L times.
    block = FancyBboxPatch(
        (0.4, 4.2), 9.2, 5.3, boxstyle="round,pad=0.05,rounding_size=0.2",
        lw=1.5, ls="--", edgecolor=ink, facecolor="none",
    )  # fmt: skip
    ax.add_patch(block)
    ax.text(
        9.4, 9.2, f"{TIMES} L blocks", ha="right", va="center", fontsize=FONT, color=ink
    )
    _box(
        ax, 5, 7.9, 8.6, 1.6,
        f"self-attention: {n} {TIMES} {d} → {n} {TIMES} {d}\neach token mixes in the others\n"
        "(this tutorial)",
        face=BAR + "33", fontweight="bold",
    )  # fmt: skip
    _box(
        ax,
        5,
        5.3,
        8.6,
        1.2,
        f"feed-forward: {n} {TIMES} {d} → {n} {TIMES} {d}\neach token on its own",
    )
    _box(ax, 5, 2.4, 9.6, 1.2, "next-token scores\n(one per word of the vocabulary)")
    _box(ax, 5, 0.6, 9.6, 0.8, "the model's guess: the next word", colour=ink)
    for top, bottom in ((12.1, 11.2), (10.2, 8.7), (7.1, 5.9), (4.2, 3.0), (1.8, 1.0)):
        _arrow(ax, (5, top), (5, bottom), ink)
    fig.tight_layout()
    return fig


def why_attention(ink: str) -> Figure:
    """A sketch (not computed): which words a reader looks at to resolve 'it'."""
    lines = ["The cat is sitting on the mat".split(), "because it is warm".split()]  # noqa: SIM905
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.set_xlim(-0.3, 10)
    ax.set_ylim(-1.3, 5.0)
    ax.axis("off")
    texts = {}
    step = 10 / len(lines[0])
    centres = ([step * (k + 0.5) for k in range(7)], [1.0, 3.3, 4.7, 6.3])
    for y, words, xs in zip((4.4, 1.6), lines, centres, strict=True):
        for w, x in zip(words, xs, strict=True):
            bold = w in ("it", "mat", "warm", "cat")
            texts.setdefault(w, (x, y))
            ax.text(
                x, y, w, ha="center", va="center", fontsize=FONT + 2,
                fontweight="bold" if bold else "normal",
            )  # fmt: skip

    def link(src: str, dst: str, colour: str, rad: float) -> None:
        (a, ya), (b, yb) = texts[src], texts[dst]
        ax.add_patch(
            FancyArrowPatch(
                (a, ya + 0.45), (b, yb - 0.45), arrowstyle="-|>", mutation_scale=16,
                lw=2, color=colour, connectionstyle=f"arc3,rad={rad}",
            )
        )  # fmt: skip

    link("it", "cat", BAR, 0.0)
    link("it", "mat", BAR, 0.0)
    link("warm", "mat", WRONG, 0.0)
    labels = (
        ("it → cat: who is sitting there?", BAR),
        ("it → mat: what is warm?", BAR),
        ("warm → mat: the mat is the warm thing", WRONG),
    )
    for row, (label, colour) in enumerate(labels):
        ax.text(0.0, 0.5 - 0.75 * row, label, color=colour, fontsize=FONT)
    return fig


def one_query(ink: str) -> Figure:
    """The query's embedding, its six weights alpha_j, and its context vector z."""
    x = selfattn.toy_inputs()
    weights = selfattn.attention_weights(x, x, scale=1.0)[0]
    context = selfattn.context_vector_loop(weights, x)
    fig = plt.figure(figsize=(5.6, 4.3))
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1.4], hspace=0.55, wspace=0.5)
    bars_ax = fig.add_subplot(grid[0, :])
    bars = bars_ax.bar(range(6), weights.tolist(), color=BAR)
    bars_ax.bar_label(bars, fmt="%.2f", fontsize=FONT - 1)
    bars_ax.set_xticks(
        range(6), selfattn.TOKENS, rotation=35, ha="right", fontsize=FONT
    )
    bars_ax.set_ylim(0, float(weights.max()) * 1.25)
    bars_ax.set_yticks([])
    bars_ax.set_title(r"weights $\alpha_j$ of the query Magic (sum 1)", fontsize=FONT)
    bars_ax.spines[["top", "right", "left"]].set_visible(False)
    panels = ((r"query $x^{(1)}$: Magic", x[0]), (r"context vector $z$", context))
    for col, (title, vec) in enumerate(panels):
        ax = fig.add_subplot(grid[1, col])
        ax.imshow(vec.reshape(1, 3).tolist(), cmap=CMAP, vmin=0, vmax=1, aspect="auto")
        for c, value in enumerate(vec.tolist()):
            ax.text(
                c, 0, f"{value:.2f}", ha="center", va="center", fontsize=FONT,
                color="white" if value < 0.6 else "black",
            )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=FONT)
    return fig


def _matrix(
    ax: Axes, x0: float, y_top: float, rows: int, cols: int, label: str, colour: str
) -> float:
    """A rows x cols grid of unit cells with its top-left corner at (x0, y_top) and
    its name and shape below it; returns its right edge."""
    ax.add_patch(
        Rectangle((x0, y_top - rows), cols, rows, facecolor=colour + "55",
                  edgecolor=colour, lw=2)
    )  # fmt: skip
    for r in range(1, rows):
        ax.plot([x0, x0 + cols], [y_top - r] * 2, color=colour, lw=0.6)
    for c in range(1, cols):
        ax.plot([x0 + c] * 2, [y_top, y_top - rows], color=colour, lw=0.6)
    ax.text(
        x0 + cols / 2, y_top - rows - 0.5, f"{label}\n{rows} {TIMES} {cols}",
        ha="center", va="top", fontsize=FONT,
    )  # fmt: skip
    return x0 + cols


def matrix_shapes(ink: str) -> Figure:
    """Omega = X X^T (6x3 @ 3x6 -> 6x6), then Z = A X (6x6 @ 6x3 -> 6x3), with the
    shapes taken from the tensors selfattn computes."""
    x = selfattn.toy_inputs()
    scores = selfattn.attention_scores(x, x)
    weights = selfattn.softmax_stable(scores, dim=-1)
    z = selfattn.context_vectors(weights, x)
    fig, axes = plt.subplots(2, 1, figsize=(5.6, 5.6))
    steps = (
        (
            (r"$X$", x, BAR),
            (r"$X^\top$", x.T, BAR),
            (r"$\Omega = X X^\top$", scores, WRONG),
        ),
        (
            (r"$A = $softmax$(\Omega)$", weights, WRONG),
            (r"$X$", x, BAR),
            (r"$Z = A X$", z, BAR),
        ),
    )
    for ax, ((n1, t1, c1), (n2, t2, c2), (n3, t3, c3)) in zip(axes, steps, strict=True):
        ax.set_aspect("equal")
        ax.axis("off")
        top = 6.0
        right = _matrix(ax, 0, top, *t1.shape, n1, c1)
        ax.text(right + 0.75, top - 3, "@", fontsize=FONT + 6, ha="center", va="center")
        right = _matrix(ax, right + 1.5, top, *t2.shape, n2, c2)
        ax.text(right + 0.75, top - 3, "=", fontsize=FONT + 6, ha="center", va="center")
        _matrix(ax, right + 1.5, top, *t3.shape, n3, c3)
        ax.set_xlim(-0.6, 19.6)
        ax.set_ylim(-2.6, 6.3)
    axes[0].set_title("1. every score at once", fontsize=FONT + 1, loc="left")
    axes[1].set_title("2. every context vector at once", fontsize=FONT + 1, loc="left")
    fig.tight_layout()
    return fig


def weights_heatmap(ink: str) -> Figure:
    x = selfattn.toy_inputs()
    weights = selfattn.attention_weights(x, x, scale=1.0)
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    ax.imshow(weights.tolist(), cmap=CMAP)
    lo, hi = float(weights.min()), float(weights.max())
    for i in range(6):
        for j in range(6):
            value = float(weights[i, j])
            dark_cell = (value - lo) / (hi - lo) < 0.6
            ax.text(
                j, i, f"{value:.2f}".lstrip("0"), ha="center", va="center",
                fontsize=FONT, color="white" if dark_cell else "black",
            )  # fmt: skip
    ax.set_xticks(range(6), selfattn.TOKENS, rotation=40, ha="right", fontsize=FONT)
    ax.set_yticks(range(6), selfattn.TOKENS, fontsize=FONT)
    ax.set_xlabel(r"key $j$ (attended to)", fontsize=FONT)
    ax.set_ylabel(r"query $i$", fontsize=FONT)
    ax.set_title(r"weights $\alpha_{ij}$, each row sums to 1", fontsize=FONT)
    fig.tight_layout()
    return fig


def flat_weights(ink: str) -> Figure:
    x = selfattn.toy_inputs()
    right = selfattn.attention_weights(x, x, scale=1.0)[0]
    wrong = selfattn.seed_loop_weights(x, query_index=0)
    positions = torch.arange(6, dtype=torch.float32)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    ax.bar((positions - 0.2).tolist(), right.tolist(), width=0.4, color=BAR,
           label=r"softmax($\omega$): right")  # fmt: skip
    ax.bar((positions + 0.2).tolist(), wrong.tolist(), width=0.4, color=WRONG,
           label=r"softmax($\omega$ / sum): normalised twice")  # fmt: skip
    ax.axhline(1 / 6, color=ink, lw=1.2, ls="--")
    ax.text(
        5.6, 1 / 6 + 0.004, "1/6", color=ink, ha="right", va="bottom", fontsize=FONT
    )
    ax.set_xticks(range(6), selfattn.TOKENS, rotation=35, ha="right", fontsize=FONT)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_ylabel("weight for the query Magic", fontsize=FONT)
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=1,
              fontsize=FONT)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def same_word(ink: str) -> Figure:
    """'it' in two sentences: the same embedding, two different context vectors."""
    rows, names = [], []
    for last in ("warm", "tired"):
        words = f"The cat is sitting on the mat because it is {last}".split()
        x = embed_words(words)
        z = selfattn.attention_matmul(x, x, x, scale=1.0)
        i = words.index("it")
        rows += [x[i], z[i]]
        names += [f"x (… it is {last})", f"z (… it is {last})"]
    table = torch.stack(rows)
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.imshow(table.tolist(), cmap=CMAP, vmin=0, vmax=1, aspect="auto")
    for r in range(4):
        for c in range(table.shape[1]):
            value = float(table[r, c])
            ax.text(
                c, r, f"{value:.2f}", ha="center", va="center", fontsize=FONT,
                color="white" if value < 0.6 else "black",
            )  # fmt: skip
    ax.set_yticks(range(4), names, fontsize=FONT)
    ax.set_xticks([])
    ax.set_title("the token “it”: embedding x, context z", fontsize=FONT)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "big-picture": big_picture,
    "why-attention": why_attention,
    "same-word": same_word,
    "one-query": one_query,
    "matrix-shapes": matrix_shapes,
    "weights-heatmap": weights_heatmap,
    "flat-weights": flat_weights,
}
