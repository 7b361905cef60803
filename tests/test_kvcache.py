"""The KV cache on Part II's multi-head attention (selfattn/kvcache.py).

Float64 throughout, as in tests/test_inference.py: both sides round at ~1e-16 and
sums run over at most a few dozen terms, so 1e-10 leaves a wide margin and still
catches a wrong key, mask row or position (those move outputs by ~1e-1).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import MultiHeadAttention, SimpleKVCache, cached_forward

TOL = 1e-10  # float64, see the module docstring
FEWER = settings(max_examples=max(10, settings().max_examples // 3))


def close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=TOL, atol=TOL)


@st.composite
def mha_cases(draw: st.DrawFn) -> tuple[MultiHeadAttention, torch.Tensor]:
    """A float64 causal multi-head module in eval mode and x (batch, n, d_in)."""
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n = draw(st.integers(1, 12))
    mha = MultiHeadAttention(
        draw(st.integers(1, 5)),
        heads * head_dim,
        n + draw(st.integers(0, 3)),
        heads,
        qkv_bias=draw(st.booleans()),
    )
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[-1]))
    x = torch.randn(draw(st.integers(1, 2)), n, mha.d_in, generator=gen)
    return mha.double().eval(), x.double()


def new_cache(mha: MultiHeadAttention, x: torch.Tensor) -> SimpleKVCache:
    return SimpleKVCache(
        x.shape[0], mha.num_heads, mha.head_dim, mha.context_length, torch.float64
    )


# --8<-- [start:test_cached_equals_uncached]
@FEWER
@given(mha_cases(), st.data())
def test_cached_forward_gives_the_causal_forwards_rows_at_every_step(
    case: tuple[MultiHeadAttention, torch.Tensor], data: st.DataObject
) -> None:
    mha, x = case
    n = x.shape[1]
    cache = new_cache(mha, x)
    start = 0
    with torch.no_grad():
        full = mha(x)  # one causal forward over the whole sequence
        while start < n:  # a prefill, then chunks of any size
            end = start + data.draw(st.integers(1, n - start))
            out = cached_forward(mha, x[:, start:end], cache)
            close(out, full[:, start:end])
            close(out, mha(x[:, :end])[:, start:])  # recomputing up to here
            assert cache.length == end
            start = end


# --8<-- [end:test_cached_equals_uncached]


@given(mha_cases())
def test_appending_a_token_changes_no_earlier_row(
    case: tuple[MultiHeadAttention, torch.Tensor],
) -> None:
    mha, x = case
    with torch.no_grad():
        for t in range(1, x.shape[1]):
            close(mha(x[:, : t + 1])[:, :t], mha(x[:, :t]))


def test_later_layers_keys_depend_on_every_earlier_token() -> None:
    # First layer: key j is x^(j) W_k, token j alone. Second layer: its input row j
    # mixes tokens 1..j, so changing token 1 moves key 3 there, but never key 1's
    # dependence on a later token (causality).
    torch.manual_seed(0)
    one, two = MultiHeadAttention(4, 4, 6, 2), MultiHeadAttention(4, 4, 6, 2)
    x = torch.randn(1, 3, 4)
    y = x.clone()
    y[:, 0] += 1.0  # change token 1 only
    with torch.no_grad():
        k1x, k1y = one.W_key(x), one.W_key(y)
        k2x, k2y = two.W_key(one(x)), two.W_key(one(y))
        z = x.clone()
        z[:, 2] += 1.0  # change token 3 only
        k2z = two.W_key(one(z))
    assert torch.equal(k1x[:, 1:], k1y[:, 1:])  # layer 1: token j alone
    assert (k2x[:, 2] - k2y[:, 2]).abs().max() > 1e-3  # layer 2: tokens 1..j
    assert torch.equal(k2x[:, :2], k2z[:, :2])  # never on a later token


def test_bad_input_is_refused() -> None:
    mha = MultiHeadAttention(3, 4, 6, 2).eval()
    cache = SimpleKVCache(1, 2, 2, 6)
    with pytest.raises(TypeError, match="mha must be a MultiHeadAttention"):
        cached_forward(torch.nn.Linear(3, 4), torch.zeros(1, 1, 3), cache)
    with pytest.raises(ValueError, match="cache must have mha's"):
        cached_forward(mha, torch.zeros(1, 1, 3), SimpleKVCache(1, 1, 4, 6))
    with pytest.raises(ValueError, match="the cache's batch 1"):
        cached_forward(mha, torch.zeros(2, 1, 3), cache)
    with torch.no_grad():
        cached_forward(mha, torch.zeros(1, 6, 3), cache)
    with pytest.raises(ValueError, match="decoding past context_length=6"):
        cached_forward(mha, torch.zeros(1, 1, 3), cache)
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        SimpleKVCache(1, 2, 2, 0)
    with pytest.raises(ValueError, match="6 of at most 6 tokens"):
        cache.append(torch.zeros(1, 2, 1, 2), torch.zeros(1, 2, 1, 2))
    with pytest.raises(ValueError, match=r"k must have shape \(batch, h, n_new, d_h\)"):
        SimpleKVCache(1, 2, 2, 6).append(
            torch.zeros(1, 3, 1, 2), torch.zeros(1, 3, 1, 2)
        )
    with pytest.raises(ValueError, match="device must name a device"):
        SimpleKVCache(1, 2, 2, 6, device="no-such-device")


def test_the_class_as_shown_refuses_a_full_cache_itself() -> None:
    # The page shows `append` without the package's wrapper (`__wrapped__`): a
    # reader who copies the class must still get the message, not a shape error.
    shown = SimpleKVCache.append.__wrapped__  # type: ignore[attr-defined]
    cache = SimpleKVCache(1, 2, 2, 4, device="cpu")
    shown(cache, torch.zeros(1, 2, 3, 2), torch.zeros(1, 2, 3, 2))
    with pytest.raises(ValueError, match="holds 3 of at most 4 tokens"):
        shown(cache, torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2))
    assert cache.length == 3  # nothing written
