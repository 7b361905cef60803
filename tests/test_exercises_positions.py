"""The solutions of "Where is each token?" (selfattn/exercises/positions.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from selfattn.exercises.positions import (
    rows_interleaved_to_half,
    shift_sinusoidal,
    slowest_turn,
)
from selfattn.positions import rope, rope_frequencies, sinusoidal_positions
from tests.conftest import assert_close


@given(
    n=st.integers(1, 10),
    half_d=st.integers(1, 8),
    offset=st.integers(0, 500),
    t=st.integers(-500, 500),
)
def test_shifting_sinusoidal_encodings_is_a_rotation(
    n: int, half_d: int, offset: int, t: int
) -> None:
    pe = sinusoidal_positions(n, 2 * half_d, offset=offset, dtype=torch.float64)
    assume(offset + t >= 0)  # sinusoidal_positions starts at position 0
    expected = sinusoidal_positions(
        n, 2 * half_d, offset=offset + t, dtype=torch.float64
    )
    # Angles up to (offset + |t| + n) radians, each rounded to ~eps * angle.
    condition = 1.0 + offset + abs(t) + n
    assert_close(shift_sinusoidal(pe, t), expected, condition=condition)


def test_the_slowest_pair_of_a_llama_sized_head() -> None:
    # d_h = 128, base 10000: theta_63 = 10000^(-126/128).
    turn = slowest_turn(128)
    assert math.isclose(turn, 2 * math.pi * 10_000 ** (126 / 128), rel_tol=1e-12)
    assert 54_000 < turn < 55_000
    assert float(rope_frequencies(128)[-1]) * turn == pytest.approx(2 * math.pi)


@given(
    n_heads=st.integers(1, 3),
    half_dh=st.integers(1, 4),
    d_in=st.integers(1, 6),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_permuted_rows_give_the_same_scores_with_the_half_layout(
    n_heads: int, half_dh: int, d_in: int, n: int, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    d_h = 2 * half_dh
    w_q, w_k = torch.randn(2, n_heads * d_h, d_in, generator=gen, dtype=torch.float64)
    x = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
    pos = torch.arange(n)

    def scores(w_q: torch.Tensor, w_k: torch.Tensor, layout: str) -> torch.Tensor:
        q = (x @ w_q.T).reshape(n, n_heads, d_h).transpose(0, 1)  # (h, n, d_h)
        k = (x @ w_k.T).reshape(n, n_heads, d_h).transpose(0, 1)
        return rope(q, pos, layout=layout) @ rope(k, pos, layout=layout).mT

    expected = scores(w_q, w_k, "interleaved")
    converted = scores(
        rows_interleaved_to_half(w_q, n_heads),
        rows_interleaved_to_half(w_k, n_heads),
        "half",
    )
    assert_close(converted, expected)


def test_bad_input_to_the_solutions() -> None:
    with pytest.raises(ValueError, match="even"):
        shift_sinusoidal(torch.zeros(2, 3), 1)
    with pytest.raises(TypeError, match="t must be an int"):
        shift_sinusoidal(torch.zeros(2, 4), 1.5)
    with pytest.raises(ValueError, match="even"):
        slowest_turn(7)
    with pytest.raises(ValueError, match="n_heads"):
        rows_interleaved_to_half(torch.zeros(6, 2), 2)  # heads of 3 rows
