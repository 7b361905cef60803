"""The solutions of "Sharing keys and values" (selfattn/exercises/sharing_kv.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import GroupedQueryAttention, kv_cache_bytes
from selfattn.exercises.sharing_kv import mean_pool_kv_heads
from tests.conftest import assert_close


def _build(h: int, h_kv: int, d_h: int, d_in: int, bias: bool) -> GroupedQueryAttention:
    return GroupedQueryAttention(
        d_in, h * d_h, h, h_kv, context_length=8, qkv_bias=bias
    ).double()


@given(
    h_kv=st.integers(1, 3),
    group=st.integers(1, 3),
    d_h=st.integers(1, 4),
    d_in=st.integers(1, 5),
    bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_pooling_equal_heads_turns_mha_into_the_same_gqa(
    h_kv: int, group: int, d_h: int, d_in: int, bias: bool, seed: int
) -> None:
    # When the heads of each group already share their K and V weights, pooling
    # loses nothing: the grouped-query module computes what multi-head did.
    torch.manual_seed(seed)
    h = h_kv * group
    mha = _build(h, h, d_h, d_in, bias)
    gqa = _build(h, h_kv, d_h, d_in, bias)
    state = mha.state_dict()
    kv_keys = [k for k in state if k.startswith(("W_key.", "W_value."))]
    for key in kv_keys:  # one random head per group, repeated over the group
        t = state[key]
        heads = torch.randn(h_kv, d_h, *t.shape[1:], dtype=t.dtype)
        state[key] = heads.repeat_interleave(group, dim=0).flatten(0, 1)
    mha.load_state_dict(state)
    gqa.load_state_dict(
        state | {key: mean_pool_kv_heads(state[key], h, h_kv) for key in kv_keys}
    )
    x = torch.randn(2, 6, d_in, dtype=torch.float64)
    with torch.no_grad():
        assert_close(gqa(x), mha(x))


def test_pooling_averages_each_group() -> None:
    w = torch.arange(8.0).reshape(4, 2)  # 4 heads of d_h = 1, d_in = 2
    pooled = mean_pool_kv_heads(w, 4, 2)
    assert pooled.tolist() == [[1.0, 2.0], [5.0, 6.0]]
    assert torch.equal(mean_pool_kv_heads(w, 4, 4), w)  # no sharing: unchanged


def test_the_by_hand_cache_size() -> None:
    # Exercise 1: 80 layers, 8 KV heads of 128, bfloat16: 320 KiB per token,
    # against 2.5 MiB with 64 KV heads.
    gqa = kv_cache_bytes(1, n_layers=80, n_kv_heads=8, head_dim=128, bytes_per_number=2)
    mha = kv_cache_bytes(
        1, n_layers=80, n_kv_heads=64, head_dim=128, bytes_per_number=2
    )
    assert gqa == 320 * 1024
    assert mha == 2.5 * 1024 * 1024


def test_bad_input_to_the_solution() -> None:
    with pytest.raises(ValueError, match="n_kv_heads must divide"):
        mean_pool_kv_heads(torch.zeros(6, 2), 3, 2)
    with pytest.raises(ValueError, match="n_heads"):
        mean_pool_kv_heads(torch.zeros(5, 2), 2, 1)
