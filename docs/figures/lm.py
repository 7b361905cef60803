"""Part IV's figures: the compared models' loss by position and on a repeated
string, their training curves, a transformer block, and the cache's agreement.

Everything comes from the committed logs and checkpoints in
`selfattn/checkpoints/` (never trained here). Sized for a phone, as part2.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from _common import BAR, WRONG
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from selfattn.corpus import moby_dick
from selfattn.generate import generate
from selfattn.lm import load_pretrained
from selfattn.lm_train import read_log

FONT = 14
GREEN = "#2e9d5b"
GREY = "#8a8f98"


def _curves() -> dict[str, list[float]]:
    grams = read_log("ngrams")["orders"]
    return {
        "transformer": read_log("lm")["loss_by_position"],
        "window MLP (8 chars)": read_log("window-mlp")["loss_by_position"],
        "5-gram counts": grams["5"]["loss_by_position"],
        "3-gram counts": grams["3"]["loss_by_position"],
    }


STYLES = {
    "transformer": (BAR, "-"),
    "window MLP (8 chars)": (WRONG, "-"),
    "5-gram counts": (GREEN, "--"),
    "3-gram counts": (GREY, ":"),
}


def loss_by_position(ink: str) -> Figure:
    """Validation loss at each position of the window, per model."""
    plt.rcParams["font.size"] = FONT
    fig, ax = plt.subplots(figsize=(6.2, 3.7))
    for name, curve in _curves().items():
        colour, line = STYLES[name]
        ax.plot(range(len(curve)), curve, line, color=colour, lw=2, label=name)
    window = read_log("window-mlp")["model_config"]["window"]
    ax.axvline(window - 0.5, color=ink, lw=1, alpha=0.6)
    ax.text(window + 0.5, ax.get_ylim()[1] * 0.98, "MLP window", va="top", fontsize=12)
    ax.set_xlabel("position in the window (characters seen - 1)")
    ax.set_ylabel("loss (nats per character)")
    ax.legend(frameon=False, fontsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def copy_loss(ink: str) -> Figure:
    """Loss on a random run's first copy and on its second copy, per model."""
    plt.rcParams["font.size"] = FONT
    grams = read_log("ngrams")["orders"]
    rows = [
        ("3-gram", grams["3"]),
        ("5-gram", grams["5"]),
        ("window MLP", read_log("window-mlp")),
        ("transformer", read_log("lm")),
    ]
    fig, ax = plt.subplots(figsize=(6.2, 3.5))
    y = torch.arange(len(rows)).float()
    first = [r["first_copy_loss"] for _, r in rows]
    second = [r["copy_loss"] for _, r in rows]
    ax.barh(y + 0.2, first, height=0.38, color=GREY, label="first copy")
    ax.barh(y - 0.2, second, height=0.38, color=BAR, label="second copy")
    for yy, v in zip(y - 0.2, second, strict=True):
        ax.text(v + 0.1, float(yy), f"{v:.2f}", va="center", fontsize=12)
    ax.set_yticks(y, [name for name, _ in rows])
    ax.set_xlabel("loss on the run's letters (nats)")
    ax.legend(frameon=False, fontsize=12, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def training_curves(ink: str) -> Figure:
    """Training loss and copy loss against the step, transformer and MLP."""
    plt.rcParams["font.size"] = FONT
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.2, 6.4), sharex=True)
    for name, colour in (("lm", BAR), ("window-mlp", WRONG)):
        log = read_log(name)
        label = "transformer" if name == "lm" else "window MLP"
        steps, losses = zip(*log["losses"], strict=True)
        top.plot(steps, losses, color=colour, lw=2, label=label)
        e_steps = [e[0] for e in log["evals"]]
        bottom.plot(e_steps, [e[2] for e in log["evals"]], "o-", color=colour, lw=2)
    top.set_ylabel("training loss")
    top.legend(frameon=False, fontsize=12)
    bottom.set_ylabel("copy loss")
    bottom.set_xlabel("step")
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def block_diagram(ink: str) -> Figure:
    """The model from ids to scores, one block drawn open."""
    plt.rcParams["font.size"] = FONT
    fig, ax = plt.subplots(figsize=(5.0, 7.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 15)
    ax.axis("off")
    boxes = [
        (13.6, "ids (B, n)", GREY),
        (12.2, "embedding: (B, n, d)", GREY),
        (10.4, "LayerNorm", GREEN),
        (9.0, "attention (RoPE, causal)", BAR),
        (6.8, "LayerNorm", GREEN),
        (5.4, "MLP: d -> 4d -> d", WRONG),
        (3.2, "final LayerNorm", GREEN),
        (1.8, "head: (B, n, vocab)", GREY),
    ]
    for y, text, colour in boxes:
        ax.add_patch(
            FancyBboxPatch(
                (2.0, y - 0.45), 6.0, 0.9, boxstyle="round,pad=0.05", fc=colour,
                alpha=0.85, ec="none",
            )
        )  # fmt: skip
        ax.text(5.0, y, text, ha="center", va="center", color="white", fontsize=13)
    for (y0, _, _), (y1, _, _) in itertools.pairwise(boxes):
        ax.add_patch(
            FancyArrowPatch(
                (5.0, y0 - 0.5), (5.0, y1 + 0.5), arrowstyle="-|>",
                mutation_scale=14, color=ink, lw=1.4,
            )
        )  # fmt: skip
    for y_from, y_to in ((11.6, 8.3), (8.3, 4.7)):  # the residual additions
        ax.add_patch(
            FancyArrowPatch(
                (8.1, y_from), (8.1, y_to), arrowstyle="-|>", mutation_scale=14,
                connectionstyle="arc3,rad=-0.5", color=ink, lw=1.4,
            )
        )  # fmt: skip
        ax.text(9.5, (y_from + y_to) / 2, "+", fontsize=20, ha="center", va="center")
    ax.add_patch(
        FancyBboxPatch(
            (1.4, 4.5), 7.2, 6.6, boxstyle="round,pad=0.1", fc="none", ec=ink,
            ls="--", lw=1.2,
        )
    )  # fmt: skip
    ax.text(1.5, 11.3, "block x n_layers", fontsize=12, va="bottom")
    return fig


def cache_agreement(ink: str) -> Figure:
    """Largest difference between cached and uncached scores at each step."""
    plt.rcParams["font.size"] = FONT
    model = load_pretrained("lm")
    vocab = moby_dick()[0]
    prompt = vocab.encode("Call me Ishmael. ")[None]
    _, cached = generate(model, prompt, 300, use_cache=True)  # as the page
    _, plain = generate(model, prompt, 300, use_cache=False)
    diff = (cached - plain).abs().amax(dim=-1)[0].clamp(min=1e-9)
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    ax.semilogy(range(len(diff)), diff, color=BAR, lw=1.6, label="|cached - uncached|")
    scale = float(plain.abs().amax())
    eps = torch.finfo(torch.float32).eps
    tol = 64 * scale * eps  # the tests' tolerance (tests/conftest.py: ULPS = 64)
    ax.axhline(tol, color=WRONG, ls="--", lw=1.4, label="64 eps x largest score")
    context = model.config.context
    ax.axvline(context - prompt.shape[1], color=ink, lw=1, alpha=0.6)
    ax.set_xlabel("generation step")
    ax.set_ylabel("largest difference")
    ax.legend(frameon=False, fontsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


FIGURES: dict[str, Callable[[str], Figure]] = {
    "lm-loss-by-position": loss_by_position,
    "lm-copy-loss": copy_loss,
    "lm-training": training_curves,
    "lm-block": block_diagram,
    "lm-cache-agreement": cache_agreement,
}
