"""Properties of the three ways to turn scores into weights (selfattn/softmax.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import normalize_by_sum, softmax_masked, softmax_naive, softmax_stable
from tests.conftest import assert_close

# The magnitudes the softmax tests draw (the verification page quotes them).
SCORE_MAGNITUDES = (1e-3, 1.0, 30.0, 1e3, 1e4)


# --8<-- [start:score_rows]
@st.composite
def score_rows(draw: st.DrawFn, max_magnitude: float = 1e4) -> torch.Tensor:
    """float64 score matrices of random shape: normal, with a spread (standard
    deviation) drawn from SCORE_MAGNITUDES, up to ``max_magnitude``."""
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    magnitudes = [m for m in SCORE_MAGNITUDES if m <= max_magnitude]
    magnitude = draw(st.sampled_from(magnitudes))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return torch.randn(rows, cols, generator=gen, dtype=torch.float64) * magnitude


# --8<-- [end:score_rows]


# --8<-- [start:test_softmax_rows_sum_to_one]
@given(scores=score_rows())
def test_softmax_rows_are_non_negative_and_sum_to_one(scores: torch.Tensor) -> None:
    weights = softmax_stable(scores)
    assert torch.isfinite(weights).all()
    assert (weights >= 0).all()
    assert_close(weights.sum(dim=-1), torch.ones(scores.shape[0], dtype=torch.float64))


# --8<-- [end:test_softmax_rows_sum_to_one]


# --8<-- [start:test_softmax_shift_invariant]
@given(scores=score_rows(max_magnitude=100.0), shift=st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_adding_a_constant_to_a_row(
    scores: torch.Tensor, shift: float
) -> None:
    # The shift is rounded into every score: errors grow with the scores' size.
    size = 1 + abs(shift) + float(scores.abs().max())
    assert_close(softmax_stable(scores + shift), softmax_stable(scores), condition=size)


# --8<-- [end:test_softmax_shift_invariant]


# --8<-- [start:test_softmax_matches_torch]
@given(scores=score_rows())
def test_softmax_matches_torch_softmax(scores: torch.Tensor) -> None:
    assert_close(softmax_stable(scores), torch.softmax(scores, dim=-1))


# --8<-- [end:test_softmax_matches_torch]


@given(scores=score_rows(max_magnitude=30.0))
def test_naive_softmax_matches_torch_softmax_where_exp_does_not_overflow(
    scores: torch.Tensor,
) -> None:
    assert_close(softmax_naive(scores), torch.softmax(scores, dim=-1))


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_softmax_normalises_along_the_requested_dim(dim: int) -> None:
    scores = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    weights = softmax_stable(scores, dim=dim)
    assert_close(weights, torch.softmax(scores, dim=dim))
    assert_close(weights.sum(dim=dim), torch.ones(weights.sum(dim=dim).shape))


def test_naive_softmax_overflows_where_the_stable_one_does_not() -> None:
    scores = torch.tensor([1e4, 0.0, -1e4])  # exp(1e4) is inf in float32
    assert torch.isnan(softmax_naive(scores)).any()
    assert_close(softmax_stable(scores), torch.tensor([1.0, 0.0, 0.0]))


def test_normalising_by_the_sum_is_not_a_softmax() -> None:
    negative = normalize_by_sum(torch.tensor([2.0, -1.0]))
    assert (negative < 0).any()  # a negative score gives a negative "weight"
    zero_sum = normalize_by_sum(torch.tensor([1.0, -1.0]))
    assert not torch.isfinite(zero_sum).any()  # dividing by a zero sum
    assert_close(normalize_by_sum(torch.tensor([1.0, 3.0])), torch.tensor([0.25, 0.75]))


def test_softmax_of_an_all_minus_inf_row_is_nan_like_torch() -> None:
    row = torch.full((3,), float("-inf"))
    assert torch.isnan(softmax_stable(row)).all()
    assert torch.isnan(torch.softmax(row, dim=-1)).all()


def test_masked_softmax_zeroes_masked_entries_and_empty_rows() -> None:
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    keep = torch.tensor([[True, False, True], [False, False, False]])
    weights = softmax_masked(scores, keep)
    assert weights[0, 1] == 0.0
    assert_close(weights[0], torch.softmax(torch.tensor([1.0, -torch.inf, 3.0]), -1))
    assert (weights[1] == 0.0).all()


def test_masked_softmax_still_propagates_nan_from_the_scores() -> None:
    weights = softmax_masked(torch.tensor([[float("nan"), 1.0]]), torch.ones(1, 2) > 0)
    assert torch.isnan(weights).all()


@pytest.mark.parametrize("fn", [normalize_by_sum, softmax_naive, softmax_stable])
def test_softmax_functions_reject_bad_input(fn: object) -> None:
    assert callable(fn)
    with pytest.raises(TypeError, match=r"scores must be a torch\.Tensor, got list"):
        fn([1.0, 2.0])
    with pytest.raises(
        TypeError, match=r"scores must have a floating-point dtype.*int64"
    ):
        fn(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"dim must lie in \[-1, 0\].*got 1"):
        fn(torch.tensor([1.0, 2.0]), dim=1)
    with pytest.raises(TypeError, match=r"dim must be an int, got str"):
        fn(torch.tensor([1.0, 2.0]), dim="x")


def test_softmax_of_an_empty_row_is_empty() -> None:
    assert softmax_stable(torch.empty(3, 0)).shape == (3, 0)
