"""Exercises of "All tokens at once": the matrix form with einsum, and which token
each query attends to most."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by
from selfattn.softmax import softmax_stable


def check_x(x: Any) -> None:
    """`x` is a floating-point (..., n, d) tensor."""
    check_tensor("x", x, min_dims=2)


@checked_by(check_x)
# --8<-- [start:attention_einsum]
def attention_einsum(x: torch.Tensor) -> torch.Tensor:
    """`Z = softmax(X X^T) X`, each sum written as einsum indices.

    `omega_ij = sum_d x_id x_jd` and `z_id = sum_j alpha_ij x_jd`.
    Shapes: `x` (..., n, d) -> (..., n, d).
    """
    scores = torch.einsum("...id,...jd->...ij", x, x)  # (..., n, n)
    weights = softmax_stable(scores, dim=-1)  # each row sums to 1
    return torch.einsum("...ij,...jd->...id", weights, x)


# --8<-- [end:attention_einsum]


def check_weights_and_tokens(weights: Any, tokens: Any) -> None:
    """`weights` (n_q, n_k) and one token name per key."""
    check_tensor("weights", weights, min_dims=2)
    if weights.dim() != 2:
        raise ValueError(f"weights must have shape (n_q, n_k), got {weights.shape}")
    if not isinstance(tokens, (list, tuple)) or len(tokens) != weights.shape[1]:
        raise ValueError(
            f"tokens must name the {weights.shape[1]} keys, got {tokens!r}"
        )


@checked_by(check_weights_and_tokens)
# --8<-- [start:most_attended]
def most_attended(
    weights: torch.Tensor,
    tokens: Sequence[str],
) -> list[str]:
    """For each query (row), the key with the largest weight.

    Shapes: `weights` (n_q, n_k), `tokens` n_k names -> n_q names.
    """
    return [tokens[j] for j in weights.argmax(dim=-1).tolist()]


# --8<-- [end:most_attended]
