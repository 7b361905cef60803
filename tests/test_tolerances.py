"""The suite's tolerances reject real bugs ("How we know it's right").

A tolerance that lets a wrong answer through checks nothing. Each test here makes a
mistake on purpose, the way a reader might, and expects the comparison with
PyTorch's attention to fail, in float32 and in bfloat16, at the magnitudes that the
attention strategy draws.
"""

from __future__ import annotations

import math

import pytest
import torch

from selfattn import attention_matmul
from tests.conftest import (
    ATTENTION_MAGNITUDES,
    QKV,
    assert_close_to_sdpa,
    oracle_bound,
    sdpa_bound,
    sdpa_on,
)

DTYPES = (torch.float32, torch.bfloat16)


def causal_problem(dtype: torch.dtype, magnitude: float, seed: int) -> QKV:
    """16 tokens of 8 features, entries of size `magnitude`, causal, default scale."""
    gen = torch.Generator().manual_seed(seed)

    def rand() -> torch.Tensor:
        x = torch.randn(16, 8, generator=gen, dtype=torch.float64).clamp(-4, 4)
        return (x * magnitude).to(dtype)

    return QKV(rand(), rand(), rand(), None, True, None)


# --8<-- [start:bugs]
def no_scale(p: QKV) -> torch.Tensor:
    """Bug: the scores are not divided by sqrt(d_k)."""
    return attention_matmul(p.q, p.k, p.v, causal=True, scale=1.0)


def mask_shifted_by_one(p: QKV) -> torch.Tensor:
    """Bug: an off-by-one causal mask, each query also sees the next token."""
    n = p.q.shape[-2]
    keep = torch.ones(n, n, dtype=torch.bool).tril(diagonal=1)
    return attention_matmul(p.q, p.k, p.v, mask=keep)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", ATTENTION_MAGNITUDES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_shifted_causal_mask_is_caught(
    dtype: torch.dtype, magnitude: float, seed: int
) -> None:
    p = causal_problem(dtype, magnitude, seed)
    assert_close_to_sdpa(attention_matmul(p.q, p.k, p.v, causal=True), p)  # right
    with pytest.raises(AssertionError):
        assert_close_to_sdpa(mask_shifted_by_one(p), p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", [1.0, 4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_missing_scale_is_caught(
    dtype: torch.dtype, magnitude: float, seed: int
) -> None:
    p = causal_problem(dtype, magnitude, seed)
    assert_close_to_sdpa(attention_matmul(p.q, p.k, p.v, causal=True), p)  # right
    with pytest.raises(AssertionError):
        assert_close_to_sdpa(no_scale(p), p)


# --8<-- [end:bugs]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", [1e-3, 1e4])
def test_a_missing_scale_changes_nothing_at_the_extremes(
    dtype: torch.dtype, magnitude: float
) -> None:
    # Tiny scores give even weights and huge ones one-hot weights, with or without
    # the scale: there the bug moves the output by less than the rounding allowed.
    p = causal_problem(dtype, magnitude, 0)
    oracle, bound = sdpa_bound(p)
    assert float((no_scale(p).double() - oracle).abs().amax()) <= bound


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_worst_case_floor_allowed_anything_at_large_magnitudes(
    dtype: torch.dtype,
) -> None:
    # The floor this suite used before: eps * SCORE_ULPS * (1 + the largest score
    # size), the worst case over every arrangement of the scores. At entries of 1e3
    # it allows more than the largest value, so it only caught NaN and infinity.
    p = causal_problem(dtype, 1e3, 0)
    inputs = (p.q, p.k, p.v, p.mask, p.causal, p.scale)
    _, worst = oracle_bound(
        sdpa_on, inputs, dtype, magnitude=p.magnitude(), condition=p.condition()
    )
    _, now = sdpa_bound(p)
    assert worst > p.magnitude() > 50 * now
    assert not math.isnan(now)
