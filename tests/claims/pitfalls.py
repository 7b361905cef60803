"""Claims on "Pitfalls"."""

from __future__ import annotations

import math

import torch

import selfattn
from tests.claims._toy import MAGIC, SCORES, WEIGHTS, X
from tests.test_claims import Claim

WRONG = selfattn.seed_loop_weights(X, query_index=MAGIC)


def twice_normalised_weights_are_flat() -> None:
    assert f"{float(WRONG.min()):.4f}" == "0.1561"
    assert f"{float(WRONG.max()):.4f}" == "0.1763"
    assert WRONG.min() < 1 / 6 < WRONG.max()
    spread = WRONG.max() - WRONG.min()
    assert spread < (WEIGHTS[MAGIC].max() - WEIGHTS[MAGIC].min()) / 3


def a_narrow_band_gives_weights_within_13_percent() -> None:
    squeezed = selfattn.normalize_by_sum(SCORES[MAGIC])
    exp_ratio = math.exp(float(squeezed.max() - squeezed.min()))
    assert 1.12 < exp_ratio < 1.13  # "at most 13%"
    torch.testing.assert_close(
        float(WRONG.max() / WRONG.min()), exp_ratio, rtol=1e-5, atol=0
    )


def raw_spread_gives_a_ratio_of_1_72() -> None:
    w = WEIGHTS[MAGIC]
    assert f"{float(w.max() / w.min()):.2f}" == "1.72"
    assert f"{math.exp(float(SCORES[MAGIC].max() - SCORES[MAGIC].min())):.2f}" == "1.72"


def happens_and_to_differ_by_at_most_0_02() -> None:
    assert float((X[1] - X[2]).abs().max()) <= 0.02 + 1e-6


def overflow_thresholds() -> None:
    assert f"{math.log(torch.finfo(torch.float32).max):.2f}" == "88.72"
    assert f"{math.log(torch.finfo(torch.float16).max):.2f}" == "11.09"
    assert torch.finfo(torch.float16).max == 65504


def the_stable_softmax_largest_exponent_is_one() -> None:
    big = torch.tensor([90.0, 89.0, 80.0])
    assert float(torch.exp(big - big.amax()).max()) == 1.0
    assert selfattn.softmax_naive(big).isnan().any()
    assert selfattn.softmax_stable(big).isfinite().all()


def solution_1_numbers() -> None:
    two = torch.tensor([1.0, 3.0])
    right = selfattn.softmax_stable(two)
    twice = selfattn.softmax_stable(selfattn.normalize_by_sum(two))
    assert f"{float(right[0]):.2f}" == "0.12"
    assert f"{float(right[1]):.2f}" == "0.88"
    assert f"{float(twice[0]):.2f}" == "0.38"
    assert twice.max() - twice.min() < right.max() - right.min()


def rounding_weights_moves_a_row_sum_by_half_an_eps() -> None:
    from selfattn.exercises.pitfalls import check_weights

    gen = torch.Generator().manual_seed(0)
    for n_k in (32, 256, 4096, 65536, 100_000):
        random = torch.randn(3, n_k, generator=gen).double() * 3
        scores = torch.cat([random, torch.zeros(1, n_k, dtype=torch.float64)])
        exact = torch.softmax(scores, -1)  # the last row: n_k equal weights
        for dtype in (torch.float16, torch.bfloat16):
            info = torch.finfo(dtype)
            rounded = exact.to(dtype).double()
            moved = (rounded.sum(-1) - exact.sum(-1)).abs()
            small = (exact < info.tiny).sum(-1)  # below the normal range
            bound = info.eps / 2 + small * info.tiny * info.eps / 2
            assert (moved <= bound).all()
            check_weights(exact.to(dtype))
            wrong = exact.clone()
            wrong[0] *= 1.02  # "far below 1": a row 2% off is still rejected
            try:
                check_weights(wrong.to(dtype))
            except ValueError:
                continue
            raise AssertionError(f"a row 2% off passed at n_k={n_k}, {dtype}")


def the_subnormal_term_is_needed() -> None:
    # 100,000 equal weights in float16: each is below float16's normal range, and
    # their sum is off by more than half a unit of float16's precision.
    info = torch.finfo(torch.float16)
    exact = torch.full((100_000,), 1e-5, dtype=torch.float64)
    moved = abs(float(exact.to(torch.float16).double().sum()) - 1.0)
    assert moved > info.eps / 2
    assert moved <= info.eps / 2 + 100_000 * info.tiny * info.eps / 2


def check_weights_catches_mistakes_3_and_4_not_1() -> None:
    import pytest

    from selfattn.exercises.pitfalls import check_weights

    for wrong, says in (
        (selfattn.softmax_stable(SCORES, dim=0), "sums to 1"),
        (selfattn.softmax_naive(torch.tensor([90.0, 89.0, 80.0])), "NaN"),
        (selfattn.normalize_by_sum(torch.tensor([2.0, -1.0, 0.5])), "negative"),
    ):
        with pytest.raises(ValueError, match=says):
            check_weights(wrong)
    check_weights(WRONG)  # normalised twice: valid weights, just not the right ones


def a_head_of_128_passes_float16s_threshold() -> None:
    assert 4096 // 32 == 128  # Llama 3 8B: model width / heads
    assert math.sqrt(128) > math.log(torch.finfo(torch.float16).max)
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 20_000, 128, generator=gen, dtype=torch.float64)
    spread = float((q * k).sum(-1).std())
    assert abs(spread - math.sqrt(128)) < 0.3  # the standard deviation is sqrt(d_k)


CLAIMS = [
    Claim("all six lie between 0.1561 and 0.1763", twice_normalised_weights_are_flat),
    Claim(
        "the exponentials of numbers that close together differ by at most 13%",
        a_narrow_band_gives_weights_within_13_percent,
    ),
    Claim(
        "it turns into weights from 0.1220 to 0.2098, a ratio of 1.72",
        raw_spread_gives_a_ratio_of_1_72,
    ),
    Claim(
        "their embeddings differ by at most 0.02 in each feature",
        happens_and_to_differ_by_at_most_0_02,
    ),
    Claim("once is about 88.72", overflow_thresholds),
    Claim("so its largest exponent is", the_stable_softmax_largest_exponent_is_one),
    Claim("Right: , about 0.12, and about 0.88", solution_1_numbers),
    Claim("about 0.38: far flatter", solution_1_numbers),
    Claim(
        "moves a row's sum by at most half a unit of that precision in all",
        rounding_weights_moves_a_row_sum_by_half_an_eps,
    ),
    Claim(
        "plus a fixed amount for each weight so small that the dtype stores it with "
        "fewer digits",
        the_subnormal_term_is_needed,
    ),
    Claim(
        "It catches mistake 3 (rows that do not sum to one) and mistake 4",
        check_weights_catches_mistakes_3_and_4_not_1,
    ),
    Claim(
        "and that spread alone passes float16's threshold",
        a_head_of_128_passes_float16s_threshold,
    ),
]
NOT_CLAIMS = {
    "Build a Large Language Model (From Scratch)": "a book's title",
}
