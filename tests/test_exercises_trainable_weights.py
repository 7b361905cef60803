"""The solutions of the exercises of "Trainable weights" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import SelfAttentionParams
from selfattn.exercises.trainable_weights import self_attention
from tests.conftest import assert_close


@given(
    d_in=st.integers(1, 6),
    d_out=st.integers(1, 6),
    n=st.integers(1, 7),
    batch=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_self_attention_function_equals_the_module(
    d_in: int, d_out: int, n: int, batch: int, seed: int
) -> None:
    torch.manual_seed(seed)
    module = SelfAttentionParams(d_in, d_out).double()
    x = torch.randn(*([2] * batch), n, d_in, dtype=torch.float64)
    with torch.no_grad():
        expected = module(x)
        got = self_attention(x, module.W_query, module.W_key, module.W_value)
    assert_close(got, expected)


def test_self_attention_names_a_bad_matrix() -> None:
    x = torch.randn(4, 3)
    w = torch.randn(3, 2)
    with pytest.raises(ValueError, match="W_k must have shape"):
        self_attention(x, w, torch.randn(2, 2), w)
