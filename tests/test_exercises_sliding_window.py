"""Solutions of the exercises of "Sliding windows" (selfattn/exercises/sliding_window.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import GroupedQueryAttention, band_mask
from selfattn.exercises.sliding_window import reach, slot_contents


@given(st.integers(1, 6), st.integers(0, 20))
def test_slot_contents_are_what_the_kv_cache_holds(window: int, length: int) -> None:
    module = GroupedQueryAttention(2, 2, 1, 1, context_length=20, window=window)
    cache = module.new_cache(1)
    with torch.no_grad():
        for _ in range(length):
            module(torch.randn(1, 1, 2), cache=cache)
    assert slot_contents(length, window) == cache.positions.tolist()


@given(st.integers(1, 4), st.integers(1, 5))
def test_reach_is_where_stacked_band_masks_stop(n_layers: int, window: int) -> None:
    n = n_layers * window + 3
    pos = torch.arange(n)
    step = band_mask(pos, pos, window).long()  # one layer: who sees whom
    seen = torch.eye(n, dtype=torch.long)
    for _ in range(n_layers):
        seen = (step @ seen).clamp(max=1)  # through one more layer
    last = seen[-1]  # the last token's output depends on these positions
    earliest = int(last.nonzero().min())
    assert (n - 1) - earliest == reach(n_layers, window)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="window must be >= 1"):
        slot_contents(3, 0)
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        reach(0, 3)
