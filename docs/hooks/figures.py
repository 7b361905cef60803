"""Draw the tutorial's figures from selfattn at build time, one SVG per palette.

Nothing here is committed as an image: each build computes the numbers with the
package and draws them, so a figure cannot disagree with the code. Every figure
comes twice, ``NAME-light.svg`` and ``NAME-dark.svg`` (transparent background, text
coloured for Material's light and dark palette); a page shows the pair with
``![alt](assets/figures/NAME-light.svg#only-light)`` and ``...-dark.svg#only-dark``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

import selfattn

PALETTES = {"light": "#1f2328", "dark": "#e3e6ea"}  # text and line colour per palette
BAR = "#5c6bc0"  # indigo 400: readable on white and on Material's slate
WRONG = "#e8710a"  # orange: the seed's wrong weights
CMAP = "viridis"


def _style(ink: str) -> dict[str, object]:
    return {
        "text.color": ink,
        "axes.labelcolor": ink,
        "axes.edgecolor": ink,
        "xtick.color": ink,
        "ytick.color": ink,
        "font.size": 11,
        "svg.hashsalt": "selfattn",  # same input, same file
        "savefig.transparent": True,
    }


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


RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
CPU_RESULTS = RESULTS / "cpu-2core-float32-2026-11-27.json"
GPU_RESULTS = {
    "float32": RESULTS / "cuda-nvidia-h200-float32-2026-11-27.json",
    "bfloat16": RESULTS / "cuda-nvidia-h200-bfloat16-2026-11-27.json",
}
# One colour and marker per implementation, the same in every benchmark figure;
# markers tell the lines apart without colour too.
LINES = {
    "loop": ("#8d6e63", "v"),
    "matmul": (WRONG, "s"),
    "renormalised": ("#9e9d24", "P"),
    "online": ("#26a69a", "D"),
    "tiled": (BAR, "o"),
    "sdpa": ("#d81b60", "^"),
    "sdpa_flash": ("#ab47bc", "x"),
    "sdpa_efficient": ("#039be5", "*"),
    "sdpa_math": ("#757575", "1"),
}


def tiles(ink: str) -> Figure:
    """The tiled forward's blocks: 6 query blocks x 6 key blocks, causal skips shaded."""
    blocks = 6
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    for ax, causal in zip(axes, (False, True), strict=True):
        for i in range(blocks):
            for j in range(blocks):
                skipped = causal and j > i
                diagonal = causal and j == i
                face = "none" if skipped else (WRONG if diagonal else BAR)
                ax.add_patch(
                    Rectangle(
                        (j, i),
                        1,
                        1,
                        facecolor=face,
                        edgecolor=ink,
                        hatch="//" if skipped else None,
                        alpha=0.35 if skipped else 0.85,
                        lw=1,
                    )
                )
        ax.set_xlim(0, blocks)
        ax.set_ylim(blocks, 0)  # query block 0 on top, like a matrix
        ax.set_aspect("equal")
        ax.set_xticks(
            [j + 0.5 for j in range(blocks)], [f"K{j}" for j in range(blocks)]
        )
        ax.set_yticks(
            [i + 0.5 for i in range(blocks)], [f"Q{i}" for i in range(blocks)]
        )
        ax.tick_params(length=0)
        ax.set_xlabel("key/value block j (inner loop)")
        ax.set_ylabel("query block i (outer loop)")
        ax.set_title(
            "causal: hatched tiles skipped,\norange tiles masked inside"
            if causal
            else "no mask: every tile computed,\none block_q x block_k tile at a time"
        )
    # The order the loop visits the tiles of the first query block.
    axes[0].annotate(
        "",
        xy=(5.7, 0.5),
        xytext=(0.3, 0.5),
        arrowprops={"arrowstyle": "-|>", "color": ink, "lw": 1.5},
    )
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


def _bench_axes(ax: Any, result: dict[str, Any], key: str, ylabel: str) -> None:
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for row in result["results"]:
        value = row[key]
        if key == "peak_extra_bytes":
            value = max(value, 4096) / 2**20  # MiB; a page is the smallest we see
        ns, values = lines.setdefault(row["impl"], ([], []))
        ns.append(row["n"])
        values.append(value)
    for name, (ns, values) in lines.items():
        colour, marker = LINES.get(name, ("#607d8b", "."))
        ax.plot(
            ns,
            values,
            "--" if name.startswith("sdpa") else "-",
            color=colour,
            marker=marker,
            markersize=5,
            lw=2 if name in ("tiled", "sdpa") else 1.2,
            label=name,
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (8 heads, d = 64)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _machine(result: dict[str, Any]) -> str:
    where = result["machine"].get("gpu") or (
        f"{result['machine']['cores']}-core {result['machine']['cpu']}"
    )
    return f"{where}, {result['dtype']}, torch {result['torch']}"


def bench_cpu(ink: str) -> Figure:
    result = json.loads(CPU_RESULTS.read_text())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    _bench_axes(axes[0], result, "ms", "milliseconds per call (median)")
    _bench_axes(axes[1], result, "peak_extra_bytes", "peak extra memory (MiB)")
    axes[0].set_title("time")
    axes[1].set_title("memory")
    axes[1].legend(frameon=False, fontsize=9, loc="upper left")
    fig.suptitle(_machine(result), fontsize=10)
    fig.tight_layout()
    return fig


def bench_gpu(ink: str) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    for ax, path in zip(axes, GPU_RESULTS.values(), strict=True):
        result = json.loads(path.read_text())
        _bench_axes(ax, result, "ms", "milliseconds per call (median)")
        ax.set_title(_machine(result), fontsize=10)
    axes[1].legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def bench_gpu_memory(ink: str) -> Figure:
    result = json.loads(GPU_RESULTS["float32"].read_text())
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    _bench_axes(ax, result, "peak_extra_bytes", "peak extra memory (MiB)")
    ax.set_title(_machine(result), fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "why-attention": why_attention,
    "one-query": one_query,
    "weights-heatmap": weights_heatmap,
    "flat-weights": flat_weights,
    "scale-saturation": scale_saturation,
    "causal-alignments": causal_alignments,
    "heads-split": heads_split,
    "tiles": tiles,
    "bench-cpu": bench_cpu,
    "bench-gpu": bench_gpu,
    "bench-gpu-memory": bench_gpu_memory,
}


def render(name: str, palette: str) -> bytes:
    ink = PALETTES[palette]
    with plt.rc_context(_style(ink)):
        fig = FIGURES[name](ink)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight")
        plt.close(fig)
    return buffer.getvalue()


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for name in FIGURES:
        for palette in PALETTES:
            files.append(
                File.generated(
                    config,
                    f"assets/figures/{name}-{palette}.svg",
                    content=render(name, palette),
                )
            )
    return files
