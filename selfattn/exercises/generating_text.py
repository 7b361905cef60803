"""Exercises of "Generating text"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_top_p_args(logits: Any, p: Any) -> None:
    """`logits` (..., V); `p` a float in (0, 1]."""
    check_tensor("logits", logits)
    if isinstance(p, bool) or not isinstance(p, float) or not 0.0 < p <= 1.0:
        raise ValueError(f"p must be a float in (0, 1], got {p!r}")


@checked_by(check_top_p_args)
# --8<-- [start:top_p_filter]
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the fewest highest-scoring tokens whose probabilities add up
    to at least `p`; the others get score -inf. (..., V) -> (..., V)."""
    probs = logits.softmax(dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the better ones
    drop_sorted = before >= p  # enough mass without this token
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to id order
    return logits.masked_fill(drop, float("-inf"))


# --8<-- [end:top_p_filter]
