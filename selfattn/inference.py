"""Attention at inference: grouped-query attention, the KV cache, sliding windows.

A decoder generates one token at a time. Each new token needs the keys and values of
every earlier token, which do not change once computed: a `KVCache` keeps them, so
a decode step projects only the new token. `GroupedQueryAttention` lets several
query heads share one key/value head (`n_kv_heads = n_heads` is multi-head
attention, `n_kv_heads = 1` multi-query attention), which shrinks that cache by
`n_heads / n_kv_heads`; a `window` lets each query see only the last `window`
tokens, so the cache becomes a rolling buffer of fixed size.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from selfattn._checks import (
    _describe,
    check_flag,
    check_positive_int,
    check_sequence,
    check_tensor,
    checked_by,
    checked_module,
)
from selfattn.positions import rope
from selfattn.softmax import softmax_masked


def check_repeat_kv_args(t: Any, group: Any) -> None:
    """`t` (..., h_kv, n, d_h); `group` a positive int."""
    check_tensor("t", t, min_dims=3)
    check_positive_int("group", group)


@checked_by(check_repeat_kv_args)
# --8<-- [start:repeat_kv]
def repeat_kv(t: torch.Tensor, group: int) -> torch.Tensor:
    """Each key/value head `group` times in a row: query head `i`
    gets KV head `i // group`.

    Shapes: `t` (..., h_kv, n, d_h) -> (..., h_kv * group, n, d_h).
    """
    return t.repeat_interleave(group, dim=-3)


# --8<-- [end:repeat_kv]


def _check_positions(name: str, positions: Any) -> None:
    if not isinstance(positions, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(positions)}")
    if positions.dtype.is_floating_point or positions.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer tensor of positions, got {positions.dtype}"
        )
    if positions.dim() != 1:
        raise ValueError(
            f"{name} must have shape (n,), got shape {tuple(positions.shape)}"
        )


def check_band_mask_args(q_pos: Any, k_pos: Any, window: Any = None) -> None:
    """Integer position vectors and `window` None or a positive int."""
    _check_positions("q_pos", q_pos)
    _check_positions("k_pos", k_pos)
    if q_pos.device != k_pos.device:
        raise ValueError(
            f"q_pos and k_pos must be on one device, got {q_pos.device} and "
            f"{k_pos.device}"
        )
    if window is not None:
        check_positive_int("window", window)


@checked_by(check_band_mask_args)
# --8<-- [start:band_mask]
def band_mask(
    q_pos: torch.Tensor, k_pos: torch.Tensor, window: int | None = None
) -> torch.Tensor:
    """`keep[i, j] = 0 <= q_pos[i] - k_pos[j] < window`: not later, and
    not too far back.

    Without a window this is the causal mask. Positions, not indices, so
    it works for keys stored in any order (the rolling cache).
    Shapes: `q_pos` (n_q,), `k_pos` (n_k,) -> (n_q, n_k), bool.
    """
    offset = q_pos[:, None] - k_pos[None, :]  # (n_q, n_k): how far back
    keep = offset >= 0  # causal: no key from the future
    if window is not None:
        keep &= offset < window  # and none `window` or more back
    return keep


# --8<-- [end:band_mask]


def check_grouped_args(q: Any, k: Any, v: Any, keep: Any) -> None:
    """`q` (..., h, n_q, d_h), `k`/`v` (..., h_kv, n_k, d_h), h_kv dividing h."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, min_dims=3)
    if k.shape != v.shape:
        raise ValueError(
            f"k and v must have one shape, got {tuple(k.shape)} and {tuple(v.shape)}"
        )
    if q.shape[:-3] != k.shape[:-3] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            "q and k must share their batch dimensions and d_h, got "
            f"q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if q.shape[-3] % k.shape[-3] != 0:
        raise ValueError(
            "k's key/value heads must divide q's query heads, got "
            f"q {tuple(q.shape)} ({q.shape[-3]} heads) and k {tuple(k.shape)} "
            f"({k.shape[-3]} heads)"
        )
    if not isinstance(keep, torch.Tensor) or keep.dtype != torch.bool:
        raise TypeError(f"keep must be a bool tensor, got {_describe(keep)}")
    if keep.shape != (q.shape[-2], k.shape[-2]):
        raise ValueError(
            f"keep must have shape (n_q, n_k) = {(q.shape[-2], k.shape[-2])} "
            f"(q's and k's tokens), got {tuple(keep.shape)}"
        )


@checked_by(check_grouped_args)
# --8<-- [start:grouped_attention_plain]
def grouped_attention_plain(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    """Repeat each key/value head over its group, then multi-head attention.

    Shapes: `q` (..., h, n_q, d_h); `k`, `v` (..., h_kv, n_k, d_h);
    `keep` (n_q, n_k), True = may attend -> (..., h, n_q, d_h).
    """
    group = q.shape[-3] // k.shape[-3]
    k, v = repeat_kv(k, group), repeat_kv(v, group)  # (..., h, n_k, d_h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return softmax_masked(scores, keep) @ v  # (..., h, n_q, d_h)


# --8<-- [end:grouped_attention_plain]


@checked_by(check_grouped_args)
# --8<-- [start:grouped_attention]
def grouped_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    """`grouped_attention_plain` without copying K and V `group` times.

    The `group` query heads that share a KV head are stacked as extra
    query rows, so one product with that head's keys serves them all.
    Shapes: as `grouped_attention_plain`.
    """
    *batch, h, n_q, d_h = q.shape
    h_kv, n_k = k.shape[-3], k.shape[-2]
    group = h // h_kv
    q = q.reshape(*batch, h_kv, group * n_q, d_h)  # a group's rows
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_h)  # (.., g n_q, n_k)
    scores = scores.reshape(*batch, h_kv, group, n_q, n_k)
    weights = softmax_masked(scores, keep)  # one (n_q, n_k) mask for all
    z = weights.reshape(*batch, h_kv, group * n_q, n_k) @ v
    return z.reshape(*batch, h, n_q, d_h)  # (..., h, n_q, d_h)


# --8<-- [end:grouped_attention]


def check_cache_config(
    batch_size: Any,
    n_kv_heads: Any,
    head_dim: Any,
    capacity: Any,
    *,
    rolling: Any = False,
    dtype: Any = None,
    device: Any = None,
) -> None:
    """Positive sizes, a bool `rolling`, `dtype` None or a floating dtype."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("n_kv_heads", n_kv_heads)
    check_positive_int("head_dim", head_dim)
    check_positive_int("capacity", capacity)
    check_flag("rolling", rolling)
    if dtype is not None and (
        not isinstance(dtype, torch.dtype) or not dtype.is_floating_point
    ):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")


def check_cache_update(cache: Any, k: Any, v: Any) -> None:
    """`k`, `v` (batch, h_kv, n_new, d_h) that fit the cache."""
    for name, t in (("k", k), ("v", v)):
        check_tensor(name, t, min_dims=4)
        want = (*cache.keys.shape[:2], t.shape[2], cache.keys.shape[3])
        if t.dim() != 4 or t.shape != want:
            raise ValueError(
                f"{name} must have shape (batch, h_kv, n_new, d_h) = "
                f"{(*want[:2], 'n_new', want[3])}, got {tuple(t.shape)}"
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
    # A full cache, or a chunk longer than the window, is refused in `append`
    # and `roll` themselves, where the page shows it.


@checked_module(
    init=check_cache_config, append=check_cache_update, roll=check_cache_update
)
# --8<-- [start:KVCache]
class KVCache:
    """The keys and values of the tokens so far, for one attention module.

    Without a window it has room for `capacity` (the context length)
    tokens, filled in order. With a window it is a rolling buffer of
    `capacity = window` slots: token `p` goes to slot `p % window`,
    over the token `window` places back, which no later query sees.
    Shapes: `keys`, `values` (batch, h_kv, capacity, d_h).
    """

    def __init__(
        self,
        batch_size: int,
        n_kv_heads: int,
        head_dim: int,
        capacity: int,
        *,
        rolling: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        shape = (batch_size, n_kv_heads, capacity, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        # The position of the token in each slot (-1: empty yet).
        self.positions = torch.full((capacity,), -1, device=device)
        self.capacity, self.rolling = capacity, rolling
        self.length = 0  # tokens seen so far = the next token's position

    def update(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Store new keys and values; return all the new queries see."""
        return self.roll(k, v) if self.rolling else self.append(k, v)

    def reset(self) -> None:
        """Forget every token: the next one is at position 0 again."""
        self.positions.fill_(-1)
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values (the positions not counted)."""
        return self.keys.nbytes + self.values.nbytes

    @property
    def batch_size(self) -> int:
        return int(self.keys.shape[0])

    def append(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write `n_new` tokens after the cached ones (no window).

        `k`, `v` (batch, h_kv, n_new, d_h) -> keys, values of every
        token so far (batch, h_kv, length, d_h) and their positions.
        """
        start, end = self.length, self.length + k.shape[-2]
        if end > self.capacity:  # a clear message, not a shape error
            raise ValueError(
                f"the cache holds {start} of at most {self.capacity} "
                f"tokens (context_length); {end - start} more do not fit"
            )
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        new = torch.arange(start, end, device=k.device)
        self.positions[start:end] = new
        self.length = end
        keys, values = self.keys[:, :, :end], self.values[:, :, :end]
        return keys, values, self.positions[:end]  # views, no copy

    def roll(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write `n_new <= window` tokens into the rolling buffer.

        Returns the cached tokens and the new ones, with their positions;
        `band_mask` hides the cached ones that fell out of a query's
        window. Shapes as `append`, with at most `window + n_new` keys.
        """
        start, end = self.length, self.length + k.shape[-2]
        if end - start > self.capacity:  # it would overwrite itself
            raise ValueError(
                f"a chunk of n_new={end - start} tokens is longer than "
                f"the window ({self.capacity}): split it into chunks "
                f"of at most {self.capacity}"
            )
        new = torch.arange(start, end, device=k.device)
        filled = min(start, self.capacity)  # slots that hold a token
        # Read the past before the new tokens overwrite it: the first new
        # queries still look up to `window - 1` tokens back.
        keys = torch.cat([self.keys[:, :, :filled], k], dim=-2)
        values = torch.cat([self.values[:, :, :filled], v], dim=-2)
        positions = torch.cat([self.positions[:filled], new])
        slots = new % self.capacity  # token p lives in slot p % window
        self.keys[:, :, slots] = k
        self.values[:, :, slots] = v
        self.positions[slots] = new
        self.length = end
        return keys, values, positions


# --8<-- [end:KVCache]


def check_gqa_config(
    d_in: Any,
    d_out: Any,
    n_heads: Any,
    n_kv_heads: Any,
    *,
    context_length: Any,
    window: Any = None,
    rope: Any = False,
    qkv_bias: Any = False,
    rope_base: Any = 10000.0,
) -> None:
    """Positive sizes; `n_heads` divides `d_out`, `n_kv_heads` divides
    `n_heads`; an even head size with RoPE; `window` None or positive."""
    for name, value in (
        ("d_in", d_in),
        ("d_out", d_out),
        ("n_heads", n_heads),
        ("n_kv_heads", n_kv_heads),
        ("context_length", context_length),
    ):
        check_positive_int(name, value)
    if window is not None:
        check_positive_int("window", window)
    check_flag("rope", rope)
    check_flag("qkv_bias", qkv_bias)
    if d_out % n_heads != 0:
        raise ValueError(
            f"d_out must be divisible by n_heads (each head gets d_out / n_heads "
            f"features), got d_out={d_out}, n_heads={n_heads}"
        )
    if n_heads % n_kv_heads != 0:
        raise ValueError(
            f"n_heads must be divisible by n_kv_heads (each key/value head serves "
            f"n_heads / n_kv_heads query heads), got n_heads={n_heads}, "
            f"n_kv_heads={n_kv_heads}"
        )
    if rope and (d_out // n_heads) % 2 != 0:
        raise ValueError(
            f"rope=True needs an even head size d_out / n_heads (RoPE rotates pairs "
            f"of features), got {d_out} / {n_heads} = {d_out // n_heads}"
        )
    if isinstance(rope_base, bool) or not isinstance(rope_base, (int, float)):
        raise TypeError(f"rope_base must be a float, got {_describe(rope_base)}")
    if not (math.isfinite(rope_base) and rope_base > 1):
        raise ValueError(f"rope_base must be a finite number > 1, got {rope_base}")


def check_gqa_input(module: Any, x: Any, cache: Any = None) -> None:
    """`x` (..., n, d_in); with a cache (batch, n_new, d_in) and a matching cache."""
    check_sequence("x", x, module.d_in)
    n = x.shape[-2]
    if cache is None:
        if n > module.context_length:
            raise ValueError(
                f"x must hold at most context_length={module.context_length} tokens, "
                f"got n={n}"
            )
        return
    if not isinstance(cache, KVCache):
        raise TypeError(
            f"cache must be a KVCache (from module.new_cache), got {_describe(cache)}"
        )
    want = module.new_cache_shape()
    got = (tuple(cache.keys.shape[1:]), cache.rolling)
    if got != want:
        raise ValueError(
            "cache must come from a module of this shape: (n_kv_heads, capacity, "
            f"head_dim), rolling = {want}, got {got}"
        )
    if x.dim() != 3 or x.shape[0] != cache.batch_size:
        raise ValueError(
            f"x must have shape (batch, n_new, d_in) with the cache's batch "
            f"{cache.batch_size}, got {tuple(x.shape)}"
        )
    if x.dtype != cache.keys.dtype or x.device != cache.keys.device:
        raise TypeError(
            f"x must have the cache's dtype {cache.keys.dtype} on {cache.keys.device}, "
            f"got {x.dtype} on {x.device}"
        )
    if module.window is not None and n > module.window:
        raise ValueError(
            f"a chunk of n_new={n} tokens is longer than the window "
            f"({module.window}): split it into chunks of at most {module.window}"
        )
    if cache.length + n > module.context_length:
        raise ValueError(
            f"decoding past context_length={module.context_length}: the cache holds "
            f"{cache.length} tokens and x brings {n} more"
        )


def check_batch_size(module: Any, batch_size: Any) -> None:
    check_positive_int("batch_size", batch_size)


@checked_module(
    init=check_gqa_config, forward=check_gqa_input, new_cache=check_batch_size
)
# --8<-- [start:GroupedQueryAttention]
class GroupedQueryAttention(nn.Module):
    """Causal attention whose `n_heads` query heads share `n_kv_heads`
    key/value heads, with RoPE and a sliding window as options.

    `module(x)`: the causal forward over `x` (..., n, d_in).
    `module(x, cache=cache)`: `x` (batch, n_new, d_in) are the tokens
    after those in `cache` (from `module.new_cache(batch)`); the cache
    grows in place. Both return (..., n, d_out). No dropout: inference.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        n_heads: int,
        n_kv_heads: int,
        *,
        context_length: int,
        window: int | None = None,
        rope: bool = False,
        qkv_bias: bool = False,
        rope_base: float = 10000.0,
    ) -> None:
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.context_length = context_length
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.head_dim = d_out // n_heads
        self.window, self.rope, self.rope_base = window, rope, rope_base
        d_kv = n_kv_heads * self.head_dim  # smaller than d_out for GQA
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_kv, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_kv, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)

    def project(
        self, x: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries (..., h, n, d_h); keys, values (..., h_kv, n, d_h)."""
        q = self.W_query(x).unflatten(-1, (self.n_heads, -1))
        k = self.W_key(x).unflatten(-1, (self.n_kv_heads, -1))
        v = self.W_value(x).unflatten(-1, (self.n_kv_heads, -1))
        q, k, v = (t.transpose(-3, -2) for t in (q, k, v))  # heads first
        if self.rope:  # rotate by each token's absolute position
            q = rope(q, positions, base=self.rope_base)
            k = rope(k, positions, base=self.rope_base)
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        start = 0 if cache is None else cache.length  # first new position
        pos = torch.arange(start, start + x.shape[-2], device=x.device)
        q, k, v = self.project(x, pos)
        k_pos = pos
        if cache is not None:  # the cached tokens and the new ones
            k, v, k_pos = cache.update(k, v)
        keep = band_mask(pos, k_pos, self.window)  # (n, n_k)
        z = grouped_attention(q, k, v, keep)  # (..., h, n, d_h)
        z = z.transpose(-3, -2).flatten(-2)  # (..., n, d_out)
        out: torch.Tensor = self.out_proj(z)
        return out

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty cache for `batch_size` sequences (module's device)."""
        capacity = self.context_length
        if self.window is not None:  # a rolling buffer of `window` slots
            capacity = min(self.window, self.context_length)
        weight = self.W_key.weight
        return KVCache(
            batch_size,
            self.n_kv_heads,
            self.head_dim,
            capacity,
            rolling=self.window is not None,
            dtype=weight.dtype,
            device=weight.device,
        )

    # --8<-- [end:GroupedQueryAttention]

    def new_cache_shape(self) -> tuple[tuple[int, int, int], bool]:
        """What `new_cache` builds: ((h_kv, capacity, d_h), rolling)."""
        capacity = self.context_length
        if self.window is not None:
            capacity = min(self.window, self.context_length)
        shape = (self.n_kv_heads, capacity, self.head_dim)
        return shape, self.window is not None


def check_step_plain_args(module: Any, x: Any, past_k: Any, past_v: Any) -> None:
    """A module, `x` (batch, n_new, d_in), past keys/values (batch, h_kv, m, d_h)."""
    if not isinstance(module, GroupedQueryAttention):
        raise TypeError(
            f"module must be a GroupedQueryAttention, got {type(module).__name__}"
        )
    check_sequence("x", x, module.d_in)
    for name, t in (("past_k", past_k), ("past_v", past_v)):
        check_tensor(name, t, min_dims=4)
        if t.shape[-3] != module.n_kv_heads or t.shape[-1] != module.head_dim:
            raise ValueError(
                f"{name} must have shape (batch, h_kv={module.n_kv_heads}, m, "
                f"d_h={module.head_dim}), got {tuple(t.shape)}"
            )
    if past_k.shape != past_v.shape:
        raise ValueError(
            "past_k and past_v must have one shape, got "
            f"{tuple(past_k.shape)} and {tuple(past_v.shape)}"
        )
    if x.dim() != past_k.dim() - 1 or x.shape[:-2] != past_k.shape[:-3]:
        raise ValueError(
            "x must have shape (batch, n_new, d_in) with past_k's batch "
            f"{tuple(past_k.shape[:-3])}, got x {tuple(x.shape)}"
        )


@checked_by(check_step_plain_args)
# --8<-- [start:decode_step_plain]
def decode_step_plain(
    module: GroupedQueryAttention,
    x: torch.Tensor,
    past_k: torch.Tensor,
    past_v: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A cached decode step in its plainest form: two tensors as cache.

    Only the new tokens `x` (batch, n_new, d_in) are projected; their
    keys and values join the past ones (batch, h_kv, m, d_h). Returns the
    outputs (batch, n_new, d_out) and the grown keys and values.
    """
    m = past_k.shape[-2]  # tokens already seen: the first new position
    pos = torch.arange(m, m + x.shape[-2])
    q, k, v = module.project(x, pos)
    k = torch.cat([past_k, k], dim=-2)  # (batch, h_kv, m + n_new, d_h)
    v = torch.cat([past_v, v], dim=-2)
    keep = band_mask(pos, torch.arange(m + x.shape[-2]), module.window)
    z = grouped_attention_plain(q, k, v, keep)  # (batch, h, n_new, d_h)
    out = module.out_proj(z.transpose(-3, -2).flatten(-2))
    return out, k, v


# --8<-- [end:decode_step_plain]


def check_cache_bytes_args(
    n_tokens: Any,
    *,
    n_layers: Any,
    n_kv_heads: Any,
    head_dim: Any,
    window: Any = None,
    bytes_per_number: Any = 4,
) -> None:
    """Counts: `n_tokens` >= 0, the rest positive; `window` None or positive."""
    check_positive_int("n_tokens", n_tokens, minimum=0)
    check_positive_int("n_layers", n_layers)
    check_positive_int("n_kv_heads", n_kv_heads)
    check_positive_int("head_dim", head_dim)
    check_positive_int("bytes_per_number", bytes_per_number)
    if window is not None:
        check_positive_int("window", window)


@checked_by(check_cache_bytes_args)
# --8<-- [start:kv_cache_bytes]
def kv_cache_bytes(
    n_tokens: int,
    *,
    n_layers: int,
    n_kv_heads: int,
    head_dim: int,
    window: int | None = None,
    bytes_per_number: int = 4,
) -> int:
    """`2 n_layers h_kv d_h min(n, window) b` bytes: a key and a value vector
    per layer, KV head and kept token, `b` bytes per number.
    """
    kept = n_tokens if window is None else min(n_tokens, window)
    return 2 * n_layers * n_kv_heads * head_dim * kept * bytes_per_number


# --8<-- [end:kv_cache_bytes]
