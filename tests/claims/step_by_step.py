"""Claims on "Step by step"."""

from __future__ import annotations

import math

import torch

import selfattn
from selfattn.exercises.step_by_step import softmax_with_temperature
from tests.claims._toy import MAGIC, SCORES, WEIGHTS, X, cosine, order
from tests.test_claims import Claim


def dot_product_grows_with_alignment_and_length() -> None:
    # omega = |a| |b| cos: the largest score of the sentence is the longest vector
    # with itself (cos = 1).
    longest = int(X.norm(dim=-1).argmax())
    i, j = divmod(int(SCORES.argmax()), 6)
    assert i == j == longest


def magic_scores_itself_then_happens_and_to() -> None:
    assert order(SCORES[MAGIC])[:3] == ["Magic", "happens", "to"]
    others = [cosine(X[MAGIC], X[j]) for j in range(6)]
    assert min(others[1], others[2]) > max(others[3:])


def magic_gives_itself_the_largest_weight_not_most() -> None:
    w = WEIGHTS[MAGIC]
    assert order(w)[0] == "Magic"
    assert 0.2 < float(w[MAGIC]) < 0.25  # "a little over a fifth"; far from most
    assert float(w[MAGIC] - w[1]) < 0.015
    assert float(w[MAGIC] - w[2]) < 0.015


def naive_softmax_overflows_and_underflows() -> None:
    threshold = math.log(torch.finfo(torch.float32).max)
    assert f"{threshold:.2f}" == "88.72"
    assert torch.isinf(torch.exp(torch.tensor(threshold + 0.01)))
    # below about -104 every exp rounds to 0 in float32
    assert float(torch.exp(torch.tensor(-104.0))) == 0.0
    assert float(torch.exp(torch.tensor(-103.0))) > 0.0
    assert selfattn.softmax_naive(torch.tensor([-1000.0, -1001.0])).isnan().all()
    assert selfattn.softmax_naive(torch.tensor([1000.0, 999.0])).isnan().any()


def an_overflowing_score_gets_nan_and_the_rest_zero() -> None:
    naive_softmax_overflows_and_underflows()
    row = selfattn.softmax_naive(torch.tensor([100.0, 1.0, 0.0]))
    assert bool(row[0].isnan())
    assert torch.equal(row[1:], torch.zeros(2))


def stable_softmax_exponents_are_at_most_zero() -> None:
    for scores in (torch.tensor([1000.0, 999.0]), torch.tensor([-1000.0, -1001.0])):
        shifted = scores - scores.amax()
        assert float(shifted.max()) == 0.0
        assert (shifted <= 0).all()
        assert selfattn.softmax_stable(scores).isfinite().all()


def weight_ratio_is_exp_of_score_difference() -> None:
    w = WEIGHTS[MAGIC].double()
    ratio = w[0] / w[4]
    torch.testing.assert_close(
        ratio,
        torch.exp(SCORES[MAGIC, 0] - SCORES[MAGIC, 4]).double(),
        rtol=1e-5,
        atol=0,
    )


def temperature_sharpens_and_flattens() -> None:
    cold = softmax_with_temperature(SCORES[MAGIC], 0.001)
    hot = softmax_with_temperature(SCORES[MAGIC], 100.0)
    assert float(cold.max()) > 0.99
    assert float((hot - 1 / 6).abs().max()) < 0.002


def dividing_by_the_sum_with_a_negative_score() -> None:
    got = selfattn.normalize_by_sum(torch.tensor([2.0, -1.0, 0.5]))
    assert [f"{float(w):.2f}" for w in got] == ["1.33", "-0.67", "0.33"]


def the_stable_fix_has_no_exponent_above_zero() -> None:
    stable_softmax_exponents_are_at_most_zero()
    assert f"{math.log(torch.finfo(torch.float32).max):.2f}" == "88.72"


NOT_CLAIMS = {
    "Build a Large Language Model": "a book title",
}

CLAIMS = [
    Claim(
        "which is large when the two vectors point the same way and are long",
        dot_product_grows_with_alignment_and_length,
    ),
    Claim(
        "Magic scores highest against itself, then against happens and to, whose "
        "embeddings point in a similar direction to its own",
        magic_scores_itself_then_happens_and_to,
    ),
    Claim(
        "Magic gives its largest weight to itself, a little over a fifth, and nearly "
        "as much to happens and to",
        magic_gives_itself_the_largest_weight_not_most,
    ),
    Claim("If a score passes about 88.72", naive_softmax_overflows_and_underflows),
    Claim(
        "the scores 2, -1 and 0.5 give 1.33, -0.67 and 0.33",
        dividing_by_the_sum_with_a_negative_score,
    ),
    Claim(
        "that weight becomes nan, the rest of its row 0",
        an_overflowing_score_gets_nan_and_the_rest_zero,
    ),
    Claim("past about 88.72", naive_softmax_overflows_and_underflows),
    Claim("now no exponent is above zero", the_stable_fix_has_no_exponent_above_zero),
    Claim(
        "If every score of a row is below about , every underflows",
        naive_softmax_overflows_and_underflows,
    ),
    Claim(
        "Subtracting the row's largest score from every score changes nothing",
        stable_softmax_exponents_are_at_most_zero,
    ),
    Claim(
        "but now every exponent is at most zero, so nothing can overflow",
        stable_softmax_exponents_are_at_most_zero,
    ),
    Claim(
        "each unit of score difference multiplies the ratio by",
        weight_ratio_is_exp_of_score_difference,
    ),
    Claim(
        "the weights approach a one-hot vector on the largest score",
        temperature_sharpens_and_flattens,
    ),
]
