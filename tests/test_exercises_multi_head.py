"""The solutions of the exercises of "Multi-head attention" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import MultiHeadAttention, MultiHeadAttentionWrapper
from selfattn.exercises.multi_head import count_parameters, merge_heads


@given(
    h=st.integers(1, 4),
    d_h=st.integers(1, 4),
    n=st.integers(0, 5),
    batch=st.integers(0, 2),
)
def test_merge_undoes_split(h: int, d_h: int, n: int, batch: int) -> None:
    module = MultiHeadAttention(3, h * d_h, max(n, 1), h)
    t = torch.randn(*([2] * batch), n, h * d_h)
    split = module.split_heads(t)
    assert split.shape == (*t.shape[:-2], h, n, d_h)
    assert torch.equal(merge_heads(split), t)


@given(d_in=st.integers(1, 6), h=st.integers(1, 3), d_h=st.integers(1, 3))
def test_both_forms_have_the_same_parameters(d_in: int, h: int, d_h: int) -> None:
    d_out = h * d_h
    expected = 3 * d_in * d_out + d_out * d_out + d_out  # W_q, W_k, W_v; W_o and b_o
    wrapper = MultiHeadAttentionWrapper(d_in, d_out, 4, h)
    fused = MultiHeadAttention(d_in, d_out, 4, h)
    assert count_parameters(wrapper) == count_parameters(fused) == expected


def test_bad_arguments_are_named() -> None:
    with pytest.raises(TypeError, match=r"module must be an nn\.Module"):
        count_parameters("mha")
    with pytest.raises(ValueError, match="t must"):
        merge_heads(torch.zeros(2, 2))
