"""Exercises of "The KV cache": counting the work of a decode, decoding token by token."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_flag, check_positive_int, checked_by
from selfattn.inference import GroupedQueryAttention


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


def check_decode_args(module: Any, x: Any) -> None:
    """A GroupedQueryAttention and `x` (batch, n, d_in) with n >= 1."""
    if not isinstance(module, GroupedQueryAttention):
        raise TypeError(
            f"module must be a GroupedQueryAttention, got {type(module).__name__}"
        )
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] < 1:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (batch, n >= 1, d_in), got {got}")


@checked_by(check_decode_args)
# --8<-- [start:decode_token_by_token]
def decode_token_by_token(
    module: GroupedQueryAttention, x: torch.Tensor
) -> torch.Tensor:
    """Feed `x` (batch, n, d_in) through a new cache one token at a
    time; the outputs side by side, (batch, n, d_out): `module(x)`.
    """
    cache = module.new_cache(x.shape[0])
    outs = [module(x[:, i : i + 1], cache=cache) for i in range(x.shape[1])]
    return torch.cat(outs, dim=1)


# --8<-- [end:decode_token_by_token]
