"""The solutions of the exercises of "Causal attention" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import causal_softmax
from selfattn.exercises.causal_attention import causal_weights_loop
from tests.conftest import assert_close


@given(
    n=st.integers(1, 9),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_loop_equals_causal_softmax(n: int, scale: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    scores = scale * torch.randn(n, n, generator=gen, dtype=torch.float64)
    got = causal_weights_loop(scores)
    assert_close(got, causal_softmax(scores))
    assert (got.triu(diagonal=1) == 0).all()  # the future gets exactly nothing


def test_first_exercise_row() -> None:
    # The by-hand exercise: query 1 of three sees keys 0 and 1, scores 1 and 1.
    scores = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 5.0], [0.0, 0.0, 0.0]])
    assert causal_weights_loop(scores)[1].tolist() == [0.5, 0.5, 0.0]


def test_loop_names_bad_scores() -> None:
    with pytest.raises(ValueError, match="scores must be"):
        causal_weights_loop(torch.zeros(2, 3, 3))
