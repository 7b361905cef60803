"""The ring-attention figures: who holds which block at each step, the causal tiles
each rank computes under both layouts (counted by selfattn.ring's schedule), and the
newest committed benchmark's per-rank memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from _common import BAR, WRONG, latest, load_result
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from selfattn.ring import chunk_ids, pair_tiles, ring_schedule, tiles_per_rank

P = 4  # ranks in the drawings
RANK_COLOURS = [BAR, WRONG, "#26a69a", "#d81b60"]  # one per rank, in every figure


def ring_results() -> dict[str, Any]:
    """The newest run of benchmarks/bench_ring.py (a --quick one only where no full
    run exists), checked by `load_result` like every result a page shows."""
    result: dict[str, Any] = load_result(latest("ring-cpu-*core-float32"))
    return result


def ring_steps(ink: str) -> Figure:
    """Rows: ranks; columns: steps; each cell names whose K/V block the rank holds."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    for rank in range(P):
        for step in range(P):
            source = (rank - step) % P
            ax.add_patch(
                Rectangle(
                    (step, rank),
                    1,
                    1,
                    facecolor=RANK_COLOURS[source],
                    edgecolor=ink,
                    alpha=0.85,
                    lw=1,
                )
            )
            ax.text(
                step + 0.5,
                rank + 0.5,
                f"K{source}V{source}",
                ha="center",
                va="center",
                fontsize=14,
                color="white",
                fontweight="bold",
            )
    ax.set_xlim(0, P)
    ax.set_ylim(P, 0)
    ax.set_aspect("equal")
    ax.set_xticks([s + 0.5 for s in range(P)], [str(s) for s in range(P)])
    ax.set_yticks([r + 0.5 for r in range(P)], [f"rank {r}: Q{r}" for r in range(P)])
    ax.tick_params(length=0, labelsize=14)
    ax.set_xlabel("step", fontsize=14)
    ax.set_title("block held at each step\n(sent on to rank r + 1)", fontsize=14)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    return fig


def causal_tiles(layout: str) -> Callable[[str], Figure]:
    """The 2p x 2p grid of causal tiles, coloured by the rank that computes each."""

    def draw(ink: str) -> Figure:
        grid = 2 * P
        owner: dict[tuple[int, int], tuple[int, str]] = {}
        for rank in range(P):
            for pair in ring_schedule(rank, P, layout=layout, causal=True):
                for i, j, kind in pair_tiles(pair, P, layout):
                    owner[(i, j)] = (rank, kind)
        counts = tiles_per_rank(P, layout=layout, causal=True)
        fig, ax = plt.subplots(figsize=(6.4, 5.4))
        for i in range(grid):
            for j in range(grid):
                if (i, j) not in owner:
                    ax.add_patch(
                        Rectangle(
                            (j, i),
                            1,
                            1,
                            facecolor="none",
                            edgecolor=ink,
                            lw=0.4,
                            alpha=0.5,
                        )
                    )
                    continue
                rank, kind = owner[(i, j)]
                ax.add_patch(
                    Rectangle(
                        (j, i),
                        1,
                        1,
                        facecolor=RANK_COLOURS[rank],
                        edgecolor=ink,
                        hatch="//" if kind == "diagonal" else None,
                        alpha=0.55 if kind == "diagonal" else 0.9,
                        lw=1,
                    )
                )
        ax.set_xlim(0, grid)
        ax.set_ylim(grid, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        row_rank = {c: r for r in range(P) for c in _grid_rows(r, layout)}
        ax.set_yticks(
            [i + 0.5 for i in range(grid)],
            [f"rank {row_rank[i]}" for i in range(grid)],
        )
        for label, i in zip(ax.get_yticklabels(), range(grid), strict=True):
            label.set_color(RANK_COLOURS[row_rank[i]])
            label.set_fontweight("bold")
        ax.tick_params(length=0, labelsize=13)
        ax.set_xlabel("keys (chunks of n / 8 tokens)", fontsize=13)
        ax.set_ylabel("queries", fontsize=13)
        tiles = ", ".join(str(c) for c in counts)
        ax.set_title(f"{layout}: tiles per rank {tiles}", fontsize=14)
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.tight_layout()
        return fig

    return draw


def _grid_rows(rank: int, layout: str) -> list[int]:
    """The rows of the 2p x 2p grid that a rank's queries fill."""
    per = 2 if layout == "contiguous" else 1
    return [c * per + k for c in chunk_ids(rank, P, layout) for k in range(per)]


def ring_memory(ink: str) -> Figure:
    """Per-rank peak extra memory against n, from the committed benchmark."""
    result = ring_results()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for row in result["results"]:
        if row["impl"] in ("sdpa", "tiled"):
            name, peak = row["impl"], row["peak_extra_bytes"]
        elif row["impl"] == "ring-zigzag":
            name = f"ring, p = {row['p']}"
            peak = max(r["peak_extra_bytes"] for r in row["ranks"])
        else:
            continue
        ns, values = lines.setdefault(name, ([], []))
        ns.append(row["n"])
        values.append(max(peak, 4096) / 2**20)
    styles = {
        "sdpa": ("#757575", "^", "--"),
        "tiled": ("#8d6e63", "s", "--"),
        "ring, p = 1": (RANK_COLOURS[0], "o", "-"),
        "ring, p = 2": (RANK_COLOURS[1], "D", "-"),
        "ring, p = 4": (RANK_COLOURS[2], "v", "-"),
    }
    for name, (ns, values) in lines.items():
        colour, marker, dash = styles[name]
        ax.plot(ns, values, marker=marker, ls=dash, color=colour, label=name, lw=2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n", fontsize=13)
    ax.set_ylabel("peak extra MiB (per rank)", fontsize=13)
    ax.tick_params(labelsize=12)
    ax.legend(fontsize=12, frameon=False)
    ax.set_title("causal, float32, 1 head, d = 64", fontsize=13)
    fig.tight_layout()
    return fig


FIGURES = {
    "ring-steps": ring_steps,
    "ring-tiles-contiguous": causal_tiles("contiguous"),
    "ring-tiles-zigzag": causal_tiles("zigzag"),
    "ring-memory": ring_memory,
}
