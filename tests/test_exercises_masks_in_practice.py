"""The solutions of the exercises of "Masks in practice" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import attention_matmul, causal_mask
from selfattn.exercises.masks_in_practice import decode_mask, padding_keep
from tests.conftest import assert_close


@given(n_k=st.integers(0, 9), data=st.data())
def test_decode_mask_is_the_bottom_right_causal_mask(
    n_k: int, data: st.DataObject
) -> None:
    n_q = data.draw(st.integers(0, n_k))
    assert torch.equal(
        decode_mask(n_q, n_k), causal_mask(n_q, n_k, align="bottom-right")
    )


@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 99)
)
def test_padding_keep_ignores_the_padding(lengths: list[int], seed: int) -> None:
    # Each padded sequence gives, on its real tokens, what it gives alone.
    n, d = 6, 4
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), n, d, generator=gen, dtype=torch.float64)
    keep = padding_keep(torch.tensor(lengths), n)
    out = attention_matmul(x, x, x, mask=keep)  # looks both ways: needs the mask
    for b, length in enumerate(lengths):
        alone = x[b, :length]
        assert_close(out[b, :length], attention_matmul(alone, alone, alone))


def test_padding_keep_by_example() -> None:
    keep = padding_keep(torch.tensor([3, 1]), 4)
    assert keep.tolist() == [[[True, True, True, False]], [[True, False, False, False]]]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="lengths must lie in"):
        padding_keep(torch.tensor([7]), 6)
    with pytest.raises(TypeError, match="lengths must be an integer tensor"):
        padding_keep(torch.tensor([1.0]), 6)
    with pytest.raises(ValueError, match="n_q must be at most n_k"):
        decode_mask(3, 2)
