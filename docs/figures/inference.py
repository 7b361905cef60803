"""Figures of the chapters "The KV cache" and "Sliding windows".

The work of one decode step with and without the cache, the measured decoding speed
(from the committed benchmark JSON), the band mask of a sliding window and the
contents of the rolling buffer while a sequence is decoded (from a real KVCache).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import torch
from _common import BAR, RESULTS, WRONG
from matplotlib.figure import Figure

import selfattn

FONT = 15


def decode_results() -> dict[str, Any]:
    """The newest full (not --quick) decode benchmark committed."""
    paths = sorted(p for p in RESULTS.glob("decode-*.json") if "quick" not in p.name)
    result: dict[str, Any] = json.loads(paths[-1].read_text())
    return result


def _grid(
    ax: Any, colours: list[list[str]], ink: str, labels: bool = True, first: int = 0
) -> None:
    n_rows, n_cols = len(colours), len(colours[0])
    for i in range(n_rows):
        for j in range(n_cols):
            face = colours[i][j]
            ax.add_patch(
                plt.Rectangle(
                    (j, i),
                    1,
                    1,
                    facecolor=face,
                    edgecolor=ink,
                    linewidth=0.6,
                    fill=face != "none",
                )
            )
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, 0)
    ax.set_aspect("equal")
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT - 2)
    if labels:
        ax.set_xticks(
            [j + 0.5 for j in range(n_cols)], [str(first + j) for j in range(n_cols)]
        )
        ax.set_yticks(
            [i + 0.5 for i in range(n_rows)], [str(first + i) for i in range(n_rows)]
        )


def kv_cache_step(ink: str) -> Figure:
    """Step 6 of a decode: which scores q(i).k(j) are computed, without and with cache.

    Tokens are numbered 1..6, as on the page (x^(1)..x^(6)).
    """
    n = 6
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 4.2))
    for ax, cached in zip(axes, (False, True), strict=True):
        colours = [["none"] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1):
                if i == n - 1:
                    colours[i][j] = BAR  # the new query's row: needed
                elif not cached:
                    colours[i][j] = WRONG  # computed again, thrown away
        _grid(ax, colours, ink, first=1)
        ax.set_xlabel("key j", fontsize=FONT)
        ax.set_ylabel("query i", fontsize=FONT)
        ax.set_title("with the cache" if cached else "without", fontsize=FONT)
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor=BAR, edgecolor=ink),
        plt.Rectangle((0, 0), 1, 1, facecolor=WRONG, edgecolor=ink),
    ]
    fig.legend(
        handles,
        ["the new token's scores", "computed again"],
        loc="lower center",
        ncol=2,
        frameon=False,
        fontsize=FONT,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def decode_speed(ink: str) -> Figure:
    result = decode_results()
    rows = result["speed"]
    n = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    cached = [r["cached_tokens_per_s"] for r in rows]
    uncached = [r["uncached_tokens_per_s"] for r in rows]
    ax.plot(n, cached, "o-", color=BAR)
    ax.plot(n, uncached, "s--", color=WRONG)
    ax.text(n[0], cached[0] * 1.6, "with the cache", color=ink, fontsize=FONT)
    ax.text(n[0], uncached[0] * 1.6, "without", color=ink, fontsize=FONT)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{v:,}" for v in n])
    ax.set_ylim(top=max(cached) * 5)
    ax.set_xlabel("context length n (tokens)", fontsize=FONT)
    ax.set_ylabel("tokens per second", fontsize=FONT)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def band_mask(ink: str) -> Figure:
    n, window = 8, 3
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 4.2))
    pos = torch.arange(n)
    for ax, w in zip(axes, (None, window), strict=True):
        keep = selfattn.band_mask(pos, pos, w)
        colours = [[BAR if keep[i, j] else "none" for j in range(n)] for i in range(n)]
        _grid(ax, colours, ink)
        ax.set_xlabel("key j", fontsize=FONT)
        ax.set_ylabel("query i", fontsize=FONT)
        ax.set_title("causal" if w is None else f"window = {w}", fontsize=FONT)
    fig.tight_layout()
    return fig


def rolling_buffer(ink: str) -> Figure:
    """The position each slot of a window-4 cache holds after each decode step."""
    window, steps = 4, 10
    torch.manual_seed(0)
    module = selfattn.GroupedQueryAttention(
        2, 2, 1, 1, context_length=steps, window=window
    )
    cache = module.new_cache(1)
    held = []
    with torch.no_grad():
        for _ in range(steps):
            module(torch.randn(1, 1, 2), cache=cache)
            held.append(cache.positions.tolist())
    # One column per step, one row per slot: wide and short, to read on a phone.
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    colours = [
        [
            BAR if held[t][s] == t else ("none" if held[t][s] < 0 else "#9fa8da")
            for t in range(steps)
        ]
        for s in range(window)
    ]
    _grid(ax, colours, ink, labels=False)
    for t, row in enumerate(held):
        for s, p in enumerate(row):
            if p >= 0:
                text = "white" if p == t else "black"
                ax.text(
                    t + 0.5, s + 0.5, str(p), ha="center", va="center",
                    fontsize=FONT, color=text,
                )  # fmt: skip
    ax.set_yticks([s + 0.5 for s in range(window)], [str(s) for s in range(window)])
    ax.set_xticks([t + 0.5 for t in range(steps)], [str(t) for t in range(steps)])
    ax.set_ylabel("slot (p % 4)", fontsize=FONT)
    ax.set_xlabel("after decoding position p", fontsize=FONT)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "kv-cache-step": kv_cache_step,
    "decode-speed": decode_speed,
    "band-mask": band_mask,
    "rolling-buffer": rolling_buffer,
}
