"""Exercises of "Causal attention"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_scores(scores: Any) -> None:
    """`scores` is a floating-point `(n_q, n_k)` matrix."""
    scores = check_tensor("scores", scores, min_dims=2)
    if scores.dim() != 2:
        raise ValueError(f"scores must be (n_q, n_k), got shape {tuple(scores.shape)}")


@checked_by(check_scores)
# --8<-- [start:causal_weights_loop]
def causal_weights_loop(scores: torch.Tensor) -> torch.Tensor:
    """Causal weights one query at a time: a softmax over the keys
    `0 .. i` only, zeros for the later keys. Shapes: (n, n) -> (n, n)."""
    weights = torch.zeros_like(scores)
    for i in range(scores.shape[0]):
        seen = scores[i, : i + 1]  # the keys query i may see
        weights[i, : i + 1] = torch.softmax(seen, dim=-1)
    return weights


# --8<-- [end:causal_weights_loop]
