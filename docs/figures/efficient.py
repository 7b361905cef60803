"""The efficient-attention figures: the tiles and the committed benchmark results."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import torch
from _common import BAR, RESULTS, WRONG, latest, load_result
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from selfattn import online_softmax_step

CPU_PREFIX = "cpu-*core-float32"  # the newest forward benchmark of the CPU
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
    ax.set_xlabel("sequence length n (8 heads, d = 64)", fontsize=13)
    ax.set_ylabel(ylabel, fontsize=13)
    ax.tick_params(labelsize=12)
    ax.grid(True, which="major", alpha=0.3)


def _machine(result: dict[str, Any]) -> str:
    where = result["machine"].get("gpu") or (
        f"{result['machine']['cores']}-core {result['machine']['cpu']}"
    )
    return f"{where}, {result['dtype']}, torch {result['torch']}"


def bench_cpu(ink: str) -> Figure:
    # One column, so that each panel keeps the page's width on a phone.
    result = load_result(latest(CPU_PREFIX))
    fig, axes = plt.subplots(2, 1, figsize=(6, 9))
    _bench_axes(axes[0], result, "ms", "ms per call (median)")
    _bench_axes(axes[1], result, "peak_extra_bytes", "peak extra memory (MiB)")
    axes[0].set_title("time")
    axes[1].set_title("memory")
    axes[0].legend(frameon=False, fontsize=11, loc="upper left")
    fig.suptitle(_machine(result), fontsize=11)
    fig.tight_layout()
    return fig


def bench_gpu(ink: str) -> Figure:
    fig, axes = plt.subplots(2, 1, figsize=(6, 9.5), sharex=True)
    for ax, path in zip(axes, GPU_RESULTS.values(), strict=True):
        result = load_result(path)
        _bench_axes(ax, result, "ms", "ms per call (median)")
        ax.set_title(_machine(result), fontsize=11)
    axes[0].legend(frameon=False, fontsize=10, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def bench_gpu_memory(ink: str) -> Figure:
    result = load_result(GPU_RESULTS["float32"])
    fig, ax = plt.subplots(figsize=(6, 4.8))
    _bench_axes(ax, result, "peak_extra_bytes", "peak extra memory (MiB)")
    ax.set_title(_machine(result), fontsize=11)
    ax.legend(frameon=False, fontsize=10, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


# One query's scores over 3 key blocks of 4, and a 1-d value per key: small enough
# to read every step. The largest score arrives in the second block.
STEP_SCORES = [0.5, 1.5, 0.2, 1.0, 2.8, 0.4, 1.9, -0.3, 1.2, 2.2, 0.6, 0.9]
STEP_VALUES = [1.0, 3.0, 0.0, 2.0, 4.0, 1.0, 2.5, 0.5, 3.5, 1.5, 2.0, 0.0]
STEP_BLOCK = 4


def online_steps() -> list[dict[str, float]]:
    """m, l, acc and acc / l after each key block, by ``online_softmax_step``."""
    m = torch.full((1, 1, 1), -math.inf, dtype=torch.float64)
    l = torch.zeros(1, 1, 1, dtype=torch.float64)  # noqa: E741
    acc = torch.zeros(1, 1, 1, dtype=torch.float64)
    s_all = torch.tensor(STEP_SCORES, dtype=torch.float64).view(1, 1, -1)
    v_all = torch.tensor(STEP_VALUES, dtype=torch.float64).view(1, -1, 1)
    steps = []
    for j0 in range(0, len(STEP_SCORES), STEP_BLOCK):
        block = s_all[..., j0 : j0 + STEP_BLOCK].clone()
        m = online_softmax_step(m, l, acc, block, v_all[:, j0 : j0 + STEP_BLOCK])
        steps.append(
            {"m": m.item(), "l": l.item(), "acc": acc.item(), "z": (acc / l).item()}
        )
    return steps


def online_softmax(ink: str) -> Figure:
    """The online softmax step by step: m, l and acc after each key block."""
    steps = online_steps()
    colours = [BAR, WRONG, "#26a69a"]
    fig, axes = plt.subplots(3, 1, figsize=(6.2, 8.2), sharex=False)
    ax = axes[0]
    for t, step in enumerate(steps):
        keys = range(t * STEP_BLOCK, (t + 1) * STEP_BLOCK)
        ax.bar(keys, STEP_SCORES[t * STEP_BLOCK : (t + 1) * STEP_BLOCK],
               color=colours[t], alpha=0.85, label=f"block {t + 1}")  # fmt: skip
        ax.hlines(step["m"], t * STEP_BLOCK - 0.4, (t + 1) * STEP_BLOCK - 0.6,
                  colors=ink, lw=2.5)  # fmt: skip
        ax.text((t + 0.5) * STEP_BLOCK - 0.5, step["m"] + 0.15,
                f"m = {step['m']:.1f}", ha="center", fontsize=12)  # fmt: skip
    ax.set_ylim(-0.6, 3.6)
    ax.set_xticks(range(len(STEP_SCORES)))
    ax.set_xlabel("key j")
    ax.set_ylabel("score")
    ax.set_title("scores, and the running max m after each block", fontsize=13)
    labels = [f"after block {t + 1}" for t in range(len(steps))]
    for ax, key, title in (
        (axes[1], "l", "running sum l (rescaled when m grows)"),
        (axes[2], "acc", "accumulator acc (rescaled the same way)"),
    ):
        values = [step[key] for step in steps]
        ax.bar(labels, values, color=colours, alpha=0.85)
        for t, value in enumerate(values):
            ax.text(t, value, f"{value:.2f}", ha="center", va="bottom", fontsize=12)
        ax.set_ylim(0, max(values) * 1.25)
        ax.set_title(title, fontsize=13)
    final = steps[-1]["z"]
    axes[2].set_xlabel(f"after the last block: z = acc / l = {final:.2f}")
    for ax in axes:
        ax.tick_params(labelsize=12)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "online-softmax": online_softmax,
    "tiles": tiles,
    "bench-cpu": bench_cpu,
    "bench-gpu": bench_gpu,
    "bench-gpu-memory": bench_gpu_memory,
}
