"""The efficient-attention figures: the tiles and the committed benchmark results."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from _common import BAR, RESULTS, WRONG
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

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
    "tiles": tiles,
    "bench-cpu": bench_cpu,
    "bench-gpu": bench_gpu,
    "bench-gpu-memory": bench_gpu_memory,
}
