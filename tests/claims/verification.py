"""Claims on "How we know it's right": what the tests draw is imported from the
strategies themselves, so the page cannot drift from the suite."""

from __future__ import annotations

import functools
import inspect
import math

import hypothesis
import torch

import selfattn
from tests import conftest, test_registry, test_softmax, test_tolerances
from tests.test_claims import Claim


def hypothesis_shrinks_to_a_simpler_failing_input() -> None:
    # A "failure" on 3 or more rows: Hypothesis shrinks the drawn score matrix to
    # 3 rows of 1 score, the smallest magnitude and seed 0; the values themselves
    # come from the seeded generator and are not shrunk one by one.
    found = hypothesis.find(test_softmax.score_rows(), lambda s: s.shape[0] >= 3)
    gen = torch.Generator().manual_seed(0)
    smallest = min(test_softmax.SCORE_MAGNITUDES)
    expected = torch.randn(3, 1, generator=gen, dtype=torch.float64) * smallest
    assert torch.equal(found, expected)
    assert "@given" in inspect.getsource(test_softmax)


def softmax_draws() -> None:
    assert min(test_softmax.SCORE_MAGNITUDES) == 1e-3
    assert max(test_softmax.SCORE_MAGNITUDES) == 1e4
    source = inspect.getsource(test_softmax)
    assert "rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 12))" in source
    assert "dtype=torch.float64" in source
    assert "torch.randn(rows, cols" in source  # normal: the magnitude is a spread
    # a spread of 1e4 is "far past" float64's exp overflow (about 709.8)
    assert max(test_softmax.SCORE_MAGNITUDES) > 10 * math.log(
        torch.finfo(torch.float64).max
    )


def attention_magnitudes() -> None:
    assert min(conftest.ATTENTION_MAGNITUDES) == 1e-3
    assert max(conftest.ATTENTION_MAGNITUDES) == 1e4
    source = inspect.getsource(conftest)
    assert "torch.randn(*shape" in source
    assert "values.clamp(-4, 4) * magnitude" in source  # "clipped at four times it"


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
    quoted = {  # the page quotes them to two digits
        torch.float64: "1.4e-14",
        torch.float32: "7.6e-06",
        torch.float16: "2.0e-03",
        torch.bfloat16: "1.6e-02",
    }
    for dtype, text in quoted.items():
        assert f"{conftest.relative_tolerance(dtype):.1e}" == text
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


def implementations_agree_within_twice_the_bound() -> None:
    assert "2 * bound" in inspect.getsource(conftest.assert_agree)


def a_score_is_known_to_8_eps_sum_of_products() -> None:
    assert conftest.SCORE_ULPS == 8
    # A dot product of d terms is off by at most about d eps/2 of sum |q| |k|
    # (plus one rounding for the scale): 8 eps covers the d <= 8 the tests draw.
    assert conftest.ATTENTION_MAX_D == 8
    assert conftest.ATTENTION_MAX_D / 2 + 1 <= conftest.SCORE_ULPS
    gen = torch.Generator().manual_seed(0)
    for magnitude in conftest.ATTENTION_MAGNITUDES:
        q, k = (
            torch.randn(64, 8, generator=gen, dtype=torch.float64) * magnitude
            for _ in range(2)
        )
        exact = q @ k.T
        f32 = (q.float() @ k.float().T).double()
        sizes = q.float().double().abs() @ k.float().double().abs().T
        assert ((f32 - exact).abs() <= 8 * torch.finfo().eps * sizes).all()


def the_weights_move_by_at_most_the_bound() -> None:
    # Perturb every score of a row by at most D and measure the L1 change of the row.
    gen = torch.Generator().manual_seed(0)
    for spread, shift in ((1.0, 1e-3), (5.0, 0.3), (30.0, 2.0), (0.1, 1.0)):
        s = torch.randn(200, 12, generator=gen, dtype=torch.float64) * spread
        noise = torch.rand(s.shape, generator=gen, dtype=torch.float64) * 2 - 1
        moved = (torch.softmax(s + shift * noise, -1) - torch.softmax(s, -1)).abs()
        a = torch.softmax(s, -1).amax(-1)
        bound = 2 * math.expm1(2 * shift) * (1 - a)
        assert (moved.sum(-1) <= bound + 1e-12).all()


def one_clear_winner_moves_nothing() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        p = test_tolerances.causal_problem(dtype, 1e4, 0)
        assert p.weight_condition() == 1.0  # one-hot rows: no room to move
        assert p.condition() > 1e8  # though the scores are huge
        q = test_tolerances.causal_problem(dtype, 1.0, 0)
        assert q.weight_condition() > 1.0


def the_worst_case_floor_allowed_anything() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        test_tolerances.test_the_worst_case_floor_allowed_anything_at_large_magnitudes(
            dtype
        )


@functools.cache
def the_bugs_are_caught() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        for magnitude in conftest.ATTENTION_MAGNITUDES:
            test_tolerances.test_a_shifted_causal_mask_is_caught(dtype, magnitude, 0)
        for magnitude in (1.0, 4.0):
            test_tolerances.test_a_missing_scale_is_caught(dtype, magnitude, 0)
        for magnitude in (1e-3, 1e4):
            test_tolerances.test_a_missing_scale_changes_nothing_at_the_extremes(
                dtype, magnitude
            )


CLAIMS = [
    Claim(
        "within twice the bound that each has against the oracle",
        implementations_agree_within_twice_the_bound,
    ),
    Claim("is known only to about", a_score_is_known_to_8_eps_sum_of_products),
    Claim(
        "so the row's weights move by at most", the_weights_move_by_at_most_the_bound
    ),
    Claim("nothing moves however large", one_clear_winner_moves_nothing),
    Claim(
        "allowed any output at all at entries of", the_worst_case_floor_allowed_anything
    ),
    Claim("The shifted mask is caught at every magnitude", the_bugs_are_caught),
    Claim(
        "The missing scale is caught at entries of size 1 and 4", the_bugs_are_caught
    ),
    Claim("With tiny entries every weight is even", the_bugs_are_caught),
    Claim(
        "Every row of weights is non-negative and sums to one, for every spread",
        softmax_rows_sum_to_one_up_to_1e4,
    ),
    Claim(
        "Hypothesis shrinks it to a simpler input that still fails",
        hypothesis_shrinks_to_a_simpler_failing_input,
    ),
    Claim("up to 6 rows of up to 12 scores in float64", softmax_draws),
    Claim("far past where even a float64 exponential overflows", softmax_draws),
    Claim(
        "the entries of q, k and v are normal with one spread per draw",
        attention_magnitudes,
    ),
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
        "For a problem that does not magnify rounding errors at all, that is a "
        "relative gap of about",
        tolerances_per_dtype,
    ),
    Claim("64 units of rounding", tolerances_per_dtype),
    Claim(
        "so feature by feature it lies between the smallest and the largest of them",
        a_weighted_average_lies_between_the_values,
    ),
]
NOT_CLAIMS = {
    "Build a Large Language Model (From Scratch)": "a book's title",
    "Faster Attention with Better Parallelism": "a paper's title",
    "Call the largest of these in row": "a definition: it names a row's largest bound",
}
