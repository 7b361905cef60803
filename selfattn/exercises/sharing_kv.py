"""Exercises of "Sharing keys and values": from multi-head to grouped-query weights."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_positive_int, check_tensor, checked_by


def check_pool_args(w: Any, n_heads: Any, n_kv_heads: Any) -> None:
    """`w` (n_heads d_h, ...), `n_kv_heads` dividing `n_heads`."""
    check_tensor("w", w, min_dims=1)
    check_positive_int("n_heads", n_heads)
    check_positive_int("n_kv_heads", n_kv_heads)
    if n_heads % n_kv_heads:
        raise ValueError(
            f"n_kv_heads must divide n_heads, got n_heads={n_heads}, "
            f"n_kv_heads={n_kv_heads}"
        )
    if w.shape[0] % n_heads:
        raise ValueError(
            f"w must have n_heads * d_h rows, got {w.shape[0]} rows for "
            f"n_heads={n_heads}"
        )


@checked_by(check_pool_args)
# --8<-- [start:mean_pool_kv_heads]
def mean_pool_kv_heads(
    w: torch.Tensor,
    n_heads: int,
    n_kv_heads: int,
) -> torch.Tensor:
    """W_k or W_v (or a bias) of multi-head attention, for grouped-query.

    Each group of `n_heads / n_kv_heads` consecutive heads becomes one
    head: the mean of their rows. Shapes: (h d_h, ...) -> (h_kv d_h, ...).
    """
    group = n_heads // n_kv_heads
    d_h = w.shape[0] // n_heads
    heads = w.reshape(n_kv_heads, group, d_h, *w.shape[1:])
    return heads.mean(dim=1).flatten(0, 1)  # (h_kv d_h, ...)


# --8<-- [end:mean_pool_kv_heads]
