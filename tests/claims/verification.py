"""Claims on "How we know it's right": what the tests draw is imported from the
strategies themselves, so the page cannot drift from the suite."""

from __future__ import annotations

import inspect
import math

import hypothesis
import torch

import selfattn
from tests import conftest, test_registry, test_softmax
from tests.test_claims import Claim


def hypothesis_shrinks_to_the_smallest_failing_input() -> None:
    # "the smallest input that still fails": shrinking finds the boundary exactly.
    found = hypothesis.find(
        hypothesis.strategies.integers(0, 10**6), lambda n: n >= 4321
    )
    assert found == 4321
    assert "@given" in inspect.getsource(test_softmax)


def softmax_draws() -> None:
    assert min(test_softmax.SCORE_MAGNITUDES) == 1e-3
    assert max(test_softmax.SCORE_MAGNITUDES) == 1e4
    source = inspect.getsource(test_softmax)
    assert "rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 12))" in source
    assert "dtype=torch.float64" in source
    # 1e4 overflows a naive float32 softmax "many times over"
    assert max(test_softmax.SCORE_MAGNITUDES) > 100 * math.log(torch.finfo().max)


def attention_magnitudes() -> None:
    assert min(conftest.ATTENTION_MAGNITUDES) == 1e-3
    assert max(conftest.ATTENTION_MAGNITUDES) == 1e4


def attention_sizes() -> None:
    assert conftest.ATTENTION_MAX_D == 8
    assert conftest.ATTENTION_SMALL_N == 8
    assert conftest.ATTENTION_LARGE_N_ODDS == 10
    assert conftest.ATTENTION_MAX_N == 128


def attention_fully_masked_rows() -> None:
    assert conftest.ATTENTION_FULLY_MASKED_ODDS == 4
    # A fully masked query gets a zero output row, as the page says.
    q = torch.randn(3, 4, dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [False] * 3, [True] * 3])
    out = selfattn.attention_matmul(q, q, q, mask=mask)
    assert torch.equal(out[1], torch.zeros(4, dtype=torch.float64))


def the_oracle_test_draws_every_kind_of_problem() -> None:
    source = inspect.getsource(test_registry)
    start = source.index("# --8<-- [start:test_matches_sdpa]")
    assert "@given(p=qkv_problems())" in source[start : start + 300]


def tolerances_per_dtype() -> None:
    expected = {
        torch.float64: "1e-14",
        torch.float32: "8e-06",
        torch.float16: "0.002",
        torch.bfloat16: "0.02",
    }
    for dtype, text in expected.items():
        assert f"{conftest.relative_tolerance(dtype):.1g}" == text
    assert conftest.ULPS == 64


def a_weighted_average_lies_between_the_values() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(5, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    z = selfattn.attention_matmul(q, k, v)
    assert (z >= v.amin(dim=0)).all()
    assert (z <= v.amax(dim=0)).all()


def softmax_rows_sum_to_one_up_to_1e4() -> None:
    gen = torch.Generator().manual_seed(0)
    for magnitude in test_softmax.SCORE_MAGNITUDES:
        scores = torch.randn(6, 12, generator=gen, dtype=torch.float64) * magnitude
        weights = selfattn.softmax_stable(scores)
        assert (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(6, dtype=torch.float64))


CLAIMS = [
    Claim(
        "Every row of weights is non-negative and sums to one, for every magnitude",
        softmax_rows_sum_to_one_up_to_1e4,
    ),
    Claim(
        "Hypothesis shrinks it to the smallest input that still fails",
        hypothesis_shrinks_to_the_smallest_failing_input,
    ),
    Claim("up to 6 rows of up to 12 scores in float64", softmax_draws),
    Claim("overflows a naive float32 softmax many times over", softmax_draws),
    Claim("the entries of q, k and v are of one size per draw", attention_magnitudes),
    Claim("1 to 8 queries and keys (ATTENTION_SMALL_N) in most draws", attention_sizes),
    Claim(
        "about one drawn mask in 4 (ATTENTION_FULLY_MASKED_ODDS)",
        attention_fully_masked_rows,
    ),
    Claim(
        "on every kind of problem qkv_problems draws",
        the_oracle_test_draws_every_kind_of_problem,
    ),
    Claim(
        "For a problem of size one that is a relative gap of about",
        tolerances_per_dtype,
    ),
    Claim("64 units of rounding", tolerances_per_dtype),
    Claim(
        "so feature by feature it lies between the smallest and the largest of them",
        a_weighted_average_lies_between_the_values,
    ),
]
