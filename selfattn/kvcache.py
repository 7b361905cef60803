"""The KV cache on the causal multi-head attention of Part II.

A decoder generates one token at a time. The keys and values of the earlier tokens
do not change when a token is appended (the attention is causal), so a cache keeps
them and each step projects only the new tokens. `SimpleKVCache` holds the keys and
values of one `MultiHeadAttention`; `cached_forward` runs that module on the tokens
that follow those in the cache. The package's `KVCache` (selfattn/inference.py) is
the same idea for grouped-query attention, with a rolling buffer for windows.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import (
    _describe,
    check_device,
    check_float_dtype,
    check_positive_int,
    check_sequence,
    check_tensor,
    checked_by,
    checked_module,
)
from selfattn.multihead import MultiHeadAttention
from selfattn.softmax import softmax_masked


def check_simple_cache_config(
    batch_size: Any,
    n_heads: Any,
    head_dim: Any,
    capacity: Any,
    dtype: Any = torch.float32,
    device: Any = None,
) -> None:
    """Positive sizes, a floating-point `dtype`, a device or None."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("n_heads", n_heads)
    check_positive_int("head_dim", head_dim)
    check_positive_int("capacity", capacity)
    check_float_dtype("dtype", dtype)
    check_device("device", device)


def check_simple_append(cache: Any, k: Any, v: Any) -> None:
    """`k`, `v` (batch, h, n_new, d_h) of the cache's batch, heads and dtype."""
    batch, h, _, d_h = cache.keys.shape
    for name, t in (("k", k), ("v", v)):
        check_tensor(name, t, min_dims=4)
        if t.dim() != 4 or (t.shape[0], t.shape[1], t.shape[3]) != (batch, h, d_h):
            raise ValueError(
                f"{name} must have shape (batch, h, n_new, d_h) = "
                f"({batch}, {h}, n_new, {d_h}), got {tuple(t.shape)}"
            )
        if t.dtype != cache.keys.dtype or t.device != cache.keys.device:
            raise TypeError(
                f"{name} must have the cache's dtype {cache.keys.dtype} on "
                f"{cache.keys.device}, got {t.dtype} on {t.device}"
            )
    if k.shape != v.shape:
        raise ValueError(
            f"k and v must have one shape, got {tuple(k.shape)} and {tuple(v.shape)}"
        )
    # A full cache is refused in `append` itself, where the page shows it.


@checked_module(init=check_simple_cache_config, append=check_simple_append)
# --8<-- [start:SimpleKVCache]
class SimpleKVCache:
    """The keys and values of the tokens seen so far, for one
    multi-head attention module.

    Room for `capacity` tokens is made up front; `length` counts the
    tokens stored. Shapes: `keys`, `values` (batch, h, capacity, d_h).
    """

    def __init__(
        self,
        batch_size: int,
        n_heads: int,
        head_dim: int,
        capacity: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        shape = (batch_size, n_heads, capacity, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0  # tokens stored so far

    def append(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the keys and values of `n_new` more tokens, each
        (batch, h, n_new, d_h); return those of every token so far,
        (batch, h, length, d_h).
        """
        start, end = self.length, self.length + k.shape[-2]
        capacity = self.keys.shape[-2]
        if end > capacity:  # a clear message, not a shape error below
            raise ValueError(
                f"the cache holds {start} of at most {capacity} tokens "
                f"(its capacity); {end - start} more do not fit"
            )
        self.keys[:, :, start:end] = k  # written in place
        self.values[:, :, start:end] = v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


# --8<-- [end:SimpleKVCache]


def check_cached_forward_args(mha: Any, x: Any, cache: Any) -> None:
    """A `MultiHeadAttention`, `x` (batch, n_new, d_in) and a cache that fits it."""
    if not isinstance(mha, MultiHeadAttention):
        raise TypeError(f"mha must be a MultiHeadAttention, got {_describe(mha)}")
    check_sequence("x", x, mha.d_in)
    if not isinstance(cache, SimpleKVCache):
        raise TypeError(f"cache must be a SimpleKVCache, got {_describe(cache)}")
    batch, h, _, d_h = cache.keys.shape
    if (h, d_h) != (mha.num_heads, mha.head_dim):
        raise ValueError(
            f"cache must have mha's (n_heads, head_dim) = "
            f"({mha.num_heads}, {mha.head_dim}), got ({h}, {d_h})"
        )
    if x.dim() != 3 or x.shape[0] != batch:
        raise ValueError(
            f"x must have shape (batch, n_new, d_in) with the cache's batch {batch}, "
            f"got {tuple(x.shape)}"
        )
    if x.dtype != cache.keys.dtype:
        raise TypeError(
            f"x must have the cache's dtype {cache.keys.dtype}, got {x.dtype}"
        )
    if cache.length + x.shape[1] > mha.context_length:
        raise ValueError(
            f"decoding past context_length={mha.context_length}: the cache holds "
            f"{cache.length} tokens and x brings {x.shape[1]} more"
        )


@checked_by(check_cached_forward_args)
# --8<-- [start:cached_forward]
def cached_forward(
    mha: MultiHeadAttention, x: torch.Tensor, cache: SimpleKVCache
) -> torch.Tensor:
    """`mha` on the tokens `x` (batch, n_new, d_in) that follow the
    `cache.length` tokens in `cache`; their keys and values join it.

    Returns (batch, n_new, d_out): the rows that the causal forward over
    all the tokens gives for the new ones (no dropout: inference).
    """
    m, n_new = cache.length, x.shape[-2]  # tokens before, tokens now
    q = mha.split_heads(mha.W_query(x))  # (batch, h, n_new, d_h)
    k = mha.split_heads(mha.W_key(x))  # only the new tokens' keys
    v = mha.split_heads(mha.W_value(x))
    keys, values = cache.append(k, v)  # (batch, h, m + n_new, d_h)
    keep = mha.mask[m : m + n_new, : m + n_new]  # the new rows
    scores = q @ keys.transpose(-2, -1) / math.sqrt(mha.head_dim)
    z = softmax_masked(scores, keep) @ values  # (batch, h, n_new, d_h)
    z = z.transpose(-3, -2).flatten(-2)  # heads side by side again
    out: torch.Tensor = mha.out_proj(z)  # (batch, n_new, d_out)
    return out


# --8<-- [end:cached_forward]
