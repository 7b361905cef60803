"""Solutions of the exercises of "The KV cache" (selfattn/exercises/kv_cache.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import MultiHeadAttention, band_mask
from selfattn.exercises.kv_cache import decode_token_by_token, scores_computed
from tests.test_kvcache import TOL, mha_cases


@pytest.mark.parametrize("n", range(10))
def test_scores_computed_counts_the_kept_entries_of_each_steps_mask(n: int) -> None:
    cached = uncached = 0
    for t in range(1, n + 1):
        pos = torch.arange(t)
        uncached += int(band_mask(pos, pos).sum())  # the forward over t tokens
        cached += int(band_mask(pos[-1:], pos).sum())  # the new token's row
    assert scores_computed(n, cached=True) == cached == n * (n + 1) // 2
    assert scores_computed(n, cached=False) == uncached
    assert uncached == n * (n + 1) * (n + 2) // 6


@given(mha_cases())
def test_decode_token_by_token_equals_the_causal_forward(
    case: tuple[MultiHeadAttention, torch.Tensor],
) -> None:
    mha, x = case
    with torch.no_grad():
        out = decode_token_by_token(mha, x)
        torch.testing.assert_close(out, mha(x), rtol=TOL, atol=TOL)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        scores_computed(-1, cached=True)
    with pytest.raises(TypeError, match="mha must be a MultiHeadAttention"):
        decode_token_by_token(torch.nn.Linear(2, 2), torch.zeros(1, 1, 2))


@given(st.integers(0, 50))
def test_the_closed_forms(n: int) -> None:
    assert scores_computed(n, cached=True) == n * (n + 1) // 2
    assert scores_computed(n, cached=False) == n * (n + 1) * (n + 2) // 6
