"""The exercise solutions of Efficient attention and Training: the backward pass."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import attention_tiled, online_softmax_step
from selfattn.exercises.backward_pass import logsumexp_blocks, saved_bytes
from selfattn.exercises.efficient_attention import merge_states, tile_bytes
from tests.test_backward import SavedBytes

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def state(s: torch.Tensor, v: torch.Tensor) -> State:
    """The online-softmax state of one block of scores (B, n_q, b) and values;
    an empty block leaves the starting state (m = -inf, l = 0, acc = 0)."""
    m = s.new_full((*s.shape[:-1], 1), -math.inf)
    total, acc = s.new_zeros(m.shape), s.new_zeros((*s.shape[:-1], v.shape[-1]))
    if s.shape[-1] > 0:
        m = online_softmax_step(m, total, acc, s.clone(), v)
    return m, total, acc


@given(split=st.integers(0, 10), seed=st.integers(0, 2**16), big=st.booleans())
def test_merging_two_states_equals_the_softmax_of_all_keys(
    split: int, seed: int, big: bool
) -> None:
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(2, 3, 10, generator=gen, dtype=torch.float64) * (300 if big else 1)
    v = torch.randn(2, 10, 4, generator=gen, dtype=torch.float64)
    a = state(s[..., :split], v[:, :split])
    b = state(s[..., split:], v[:, split:])
    m, total, acc = merge_states(a, b)
    torch.testing.assert_close(acc / total, torch.softmax(s, dim=-1) @ v)
    torch.testing.assert_close(m.squeeze(-1), s.amax(dim=-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_tile_bytes_is_the_tile_attention_tiled_allocates(dtype: torch.dtype) -> None:
    from selfattn import attention_tiled
    from tests.test_backward import LargestFloat32

    heads, n, block = 8, 64, 32
    q, k, v = (torch.randn(heads, n, 16).to(dtype) for _ in "qkv")
    with LargestFloat32(q, k, v) as spy:  # the largest float32 buffer: the tile
        attention_tiled(q, k, v, block_q=block, block_k=block)
    assert 4 * spy.largest == tile_bytes(heads, block, block, dtype)
    # The page's question: 8 heads, the default 256 x 256 blocks, 2 MiB either way.
    assert tile_bytes(8, 256, 256, dtype) == 2 * 2**20


@pytest.mark.parametrize("block", [1, 3, 7, 16])
def test_logsumexp_in_blocks_equals_torch(block: int) -> None:
    s = torch.randn(3, 11, dtype=torch.float64) * 500
    s[1] = -math.inf  # a row that keeps nothing
    got = logsumexp_blocks(s, block)
    torch.testing.assert_close(got, torch.logsumexp(s, dim=-1))


def test_the_saved_bytes_formula_counts_what_autograd_saves() -> None:
    q, k = torch.randn(2, 3, 40, 5), torch.randn(2, 3, 40, 5)
    v = torch.randn(2, 3, 40, 7)
    for t in (q, k, v):
        t.requires_grad_()
    with SavedBytes() as saved:
        attention_tiled(q, k, v, block_q=16, block_k=16)
    assert saved.bytes == saved_bytes(6, 40, 5, 7)
