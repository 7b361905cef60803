"""Exercises of "Self-attention with trainable weights"."""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_projections(x: Any, W_q: Any, W_k: Any, W_v: Any) -> None:
    """`x` (..., n, d_in) and three `(d_in, d_out)` matrices."""
    x = check_tensor("x", x, min_dims=2)
    for name, w in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
        w = check_tensor(name, w, min_dims=2)
        if w.dim() != 2 or w.shape[0] != x.shape[-1]:
            raise ValueError(
                f"{name} must have shape (d_in, d_out) with d_in = {x.shape[-1]}, got "
                f"{tuple(w.shape)}"
            )
    if W_q.shape != W_k.shape:
        raise ValueError(
            f"W_q and W_k must have the same shape, got {tuple(W_q.shape)} and "
            f"{tuple(W_k.shape)}"
        )


@checked_by(check_projections)
# --8<-- [start:self_attention]
def self_attention(
    x: torch.Tensor,
    W_q: torch.Tensor,
    W_k: torch.Tensor,
    W_v: torch.Tensor,
) -> torch.Tensor:
    """`SelfAttentionParams` as a function of its matrices:
    `Z = softmax(Q K^T / sqrt(d_k)) V`.

    Shapes: `x` (..., n, d_in), each `W` (d_in, d_out) -> (..., n, d_out).
    """
    Q, K, V = x @ W_q, x @ W_k, x @ W_v  # (..., n, d_out) each
    Omega = Q @ K.transpose(-2, -1)  # the scores, (..., n, n)
    d_k = K.shape[-1]
    A = torch.softmax(Omega / math.sqrt(d_k), dim=-1)  # the weights
    return A @ V  # the context vectors, (..., n, d_out)


# --8<-- [end:self_attention]
