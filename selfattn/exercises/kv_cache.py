"""Exercises of "The KV cache": counting the work of a decode, decoding token by token."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import (
    check_flag,
    check_positive_int,
    check_sequence,
    checked_by,
)
from selfattn.kvcache import SimpleKVCache, cached_forward
from selfattn.multihead import MultiHeadAttention


def check_scores_args(n: Any, *, cached: Any) -> None:
    """`n` >= 0 tokens, `cached` a bool."""
    check_positive_int("n", n, minimum=0)
    check_flag("cached", cached)


@checked_by(check_scores_args)
# --8<-- [start:scores_computed]
def scores_computed(n: int, *, cached: bool) -> int:
    """Scores `q(i) . k(j)`, `j <= i`, one head computes to decode n tokens.

    Step `t` (t = 1 .. n) with the cache: one query, `t` keys. Without:
    the causal forward over `t` tokens, `1 + 2 + ... + t` scores.
    """
    if cached:
        return sum(t for t in range(1, n + 1))  # n (n + 1) / 2
    return sum(t * (t + 1) // 2 for t in range(1, n + 1))  # n (n+1) (n+2) / 6


# --8<-- [end:scores_computed]


def check_decode_args(mha: Any, x: Any) -> None:
    """A MultiHeadAttention and `x` (batch, n, d_in) with 1 <= n <= context_length."""
    if not isinstance(mha, MultiHeadAttention):
        raise TypeError(f"mha must be a MultiHeadAttention, got {type(mha).__name__}")
    check_sequence("x", x, mha.d_in)
    if x.dim() != 3 or not 1 <= x.shape[1] <= mha.context_length:
        raise ValueError(
            f"x must have shape (batch, n, d_in) with 1 <= n <= context_length="
            f"{mha.context_length}, got {tuple(x.shape)}"
        )


@checked_by(check_decode_args)
# --8<-- [start:decode_token_by_token]
def decode_token_by_token(
    mha: MultiHeadAttention,
    x: torch.Tensor,
) -> torch.Tensor:
    """Feed `x` (batch, n, d_in) through a new cache one token at a
    time; the outputs side by side, (batch, n, d_out): `mha(x)`.
    """
    batch, n, _ = x.shape
    cache = SimpleKVCache(batch, mha.num_heads, mha.head_dim, n, x.dtype)
    outs = [cached_forward(mha, x[:, i : i + 1], cache) for i in range(n)]
    return torch.cat(outs, dim=1)


# --8<-- [end:decode_token_by_token]
