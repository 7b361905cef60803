"""The figures of "Induction heads": the phase change (drawn from the committed
training logs), the two heads the scores find as attention maps, the ablation, and the
encoder-decoder's cross-attention on one reversed string (from its checkpoint).

Nothing is trained here: every figure reads `selfattn/checkpoints/`. Sized for a
phone: one column of panels, fonts of 13-14 pt at a width of 5.6-6.4 inches.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, CMAP, WRONG
from matplotlib.figure import Figure

from selfattn.induction import (
    RUNS,
    THRESHOLD,
    eval_ids,
    found_heads,
    load_run,
    phase_change_step,
)
from selfattn.seq2seq import FIRST_LETTER, PAD, held_out_strings, load_reverser

FONT = 14
HEAD_COLOURS = (BAR, WRONG, "#2e9d5b", "#b0508a")  # indigo, orange, green, magenta


def phase_change(ink: str) -> Figure:
    """Prefix-matching score of each last-layer head, and the loss on the first copy
    and on the repeat, against the training step; the 1-layer control dashed."""
    plt.rcParams["font.size"] = FONT
    _, two = load_run("induction-2l")
    _, one = load_run("induction-1l")
    log, control = two["log"], one["log"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.0, 4.4), sharex=True)
    prefix = torch.tensor(log["prefix"])  # (steps, layers, heads)
    for head in range(prefix.shape[-1]):
        top.plot(
            log["step"],
            prefix[:, -1, head],
            color=HEAD_COLOURS[head],
            lw=1.8,
            label=f"layer 2, head {head + 1}",
        )
    best_control = torch.tensor(control["prefix"])[:, -1].amax(dim=-1)
    top.plot(
        control["step"],
        best_control,
        color=ink,
        lw=1.4,
        ls="--",
        label="1-layer control, best head",
    )
    top.axhline(THRESHOLD, color=ink, lw=0.8, ls=":")
    top.text(log["step"][-1], THRESHOLD + 0.02, "0.4", ha="right", va="bottom")
    top.set_ylabel("prefix-matching score")
    top.set_ylim(0, 1)
    top.legend(fontsize=FONT - 3, frameon=False, loc="upper left")
    bottom.plot(
        log["step"],
        log["loss_first"],
        color=WRONG,
        lw=1.8,
        label="2 layers: first copy",
    )
    bottom.plot(
        log["step"], log["loss_repeat"], color=BAR, lw=1.8, label="2 layers: repeat"
    )
    bottom.plot(
        control["step"],
        control["loss_repeat"],
        color=ink,
        lw=1.4,
        ls="--",
        label="1 layer: repeat",
    )
    bottom.set_ylabel("loss (nats)")
    bottom.set_xlabel("training step")
    bottom.legend(fontsize=FONT - 3, frameon=False, loc="lower left")
    step = phase_change_step(log)
    for ax in (top, bottom):
        if step is not None:
            ax.axvline(step, color=ink, lw=0.8, alpha=0.5)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def head_maps(ink: str) -> Figure:
    """The previous-token head (layer 1) and the induction head (layer 2) on one
    sequence of 25 random letters repeated."""
    plt.rcParams["font.size"] = FONT
    model, metrics = load_run("induction-2l")
    config = RUNS["induction-2l"]
    ids = eval_ids(config)[:1]
    _, maps = model(ids, return_attention=True)
    heads = found_heads(metrics["final"])
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
    for ax, (kind, title) in zip(
        axes, (("previous", "previous-token"), ("induction", "induction")), strict=True
    ):
        layer, head, _ = heads[kind]
        ax.imshow(maps[layer][0, head].detach().tolist(), cmap=CMAP, vmin=0, vmax=1)
        ax.set_title(f"{title}\nlayer {layer + 1}, head {head + 1}", fontsize=FONT)
        ax.set_xticks([0, config.period, 2 * config.period - 1])
        ax.set_yticks([0, config.period, 2 * config.period - 1])
        ax.set_xlabel("key j")
    axes[0].set_ylabel("query i")
    fig.tight_layout()
    return fig


def ablation(ink: str) -> Figure:
    """The rise of the repeat loss when each head is zeroed."""
    plt.rcParams["font.size"] = FONT
    _, metrics = load_run("induction-2l")
    rise = torch.tensor(metrics["ablation"])  # (layers, heads)
    layers, heads = rise.shape
    labels = [f"L{la + 1} H{h + 1}" for la in range(layers) for h in range(heads)]
    fig, ax = plt.subplots(figsize=(5.8, 3.1))
    colours = [HEAD_COLOURS[h] for _ in range(layers) for h in range(heads)]
    bars = ax.barh(labels, rise.flatten().tolist(), color=colours)
    ax.bar_label(bars, fmt="%+.2f", padding=3, fontsize=FONT - 2)
    ax.invert_yaxis()
    ax.axvline(0, color=ink, lw=0.8)
    ax.set_xlabel("rise of the loss on the repeat (nats)")
    ax.margins(x=0.25)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def cross_attention(ink: str) -> Figure:
    """The decoder's cross-attention (the mean of the heads of the most aligned
    layer) on the first held-out string of the longest length."""
    plt.rcParams["font.size"] = FONT
    model, metrics = load_reverser()
    src, tgt_in, _ = held_out_strings(model.config)
    longest = int((src != PAD).sum(dim=1).argmax())
    src, tgt_in = src[longest : longest + 1], tgt_in[longest : longest + 1]
    _, crosses = model(src, tgt_in)
    layer = max(range(len(crosses)), key=lambda i: metrics["mirrored"][i])
    weights = crosses[layer][0].mean(dim=0).detach()  # (n, m)
    length = int((src != PAD).sum())
    letters = [chr(ord("a") + int(t) - FIRST_LETTER) for t in src[0, :length]]
    fig, ax = plt.subplots(figsize=(5.4, 5.2))
    ax.imshow(weights[:length, :length].tolist(), cmap=CMAP, vmin=0, vmax=1)
    ax.set_xticks(range(length), letters)
    ax.set_yticks(range(length), letters[::-1])
    ax.set_xlabel("input letter (key)")
    ax.set_ylabel("output letter written (query)")
    ax.set_title(f"decoder layer {layer + 1}, mean of the heads", fontsize=FONT)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "induction-phase-change": phase_change,
    "induction-head-maps": head_maps,
    "induction-ablation": ablation,
    "reverse-cross-attention": cross_attention,
}
