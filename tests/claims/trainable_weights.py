"""Claims of docs/trainable-weights.md, each checked by computing it with selfattn."""

from __future__ import annotations

import math

import torch

import selfattn
from tests.test_claims import Claim

DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the figure's d_k
SCORES_NEAR_ZERO = 0.25
WEIGHTS_NEARLY_EVEN = 0.05
ROWS_NEAR_MEAN = 0.01


def nearly_all_weight_when_unscaled() -> None:
    # At d_k = 256 the unscaled scores have a standard deviation of 16: "tens of units".
    assert selfattn.score_variance(256, scaled=False) ** 0.5 > 10
    assert selfattn.softmax_peak(256, scaled=False) > 0.9


def variance_within_ten_percent() -> None:
    for d_k in DIMS:
        assert abs(selfattn.score_variance(d_k, scaled=False) / d_k - 1) < 0.1
        assert abs(selfattn.score_variance(d_k, scaled=True) - 1) < 0.1


def scaled_peak_near_one_third() -> None:  # also the figure's alt text
    for d_k in DIMS:
        assert 0.28 < selfattn.softmax_peak(d_k, scaled=True) < 0.4
    assert selfattn.softmax_peak(256, scaled=False) > 0.9  # "climbs toward 1"


def toy_scale_change() -> tuple[float, float]:
    x = selfattn.toy_inputs()
    plain, scaled = (
        selfattn.attention_weights(x, x, scale=1.0),
        selfattn.attention_weights(x, x),
    )
    z_plain = selfattn.attention_matmul(x, x, x, scale=1.0)
    z_scaled = selfattn.attention_matmul(x, x, x)
    weights = ((scaled - plain) / plain).abs().max().item()
    context = ((z_scaled - z_plain) / z_plain).abs().max().item()
    return weights, context


def about_a_quarter() -> None:
    weights, _ = toy_scale_change()
    assert 0.2 < weights < 0.3  # "about a quarter" (printed: 26%)


def context_far_less() -> None:
    weights, context = toy_scale_change()
    assert context < weights / 4  # "far less" (printed: under 5%)


def variance_bound_holds_for_almost_any_seed() -> None:
    # The test's comment: the relative standard deviation of the sample variance is
    # at most sqrt(8 / 20,000) = 2% (at d_k = 1), so 10% is five of them away. Other
    # seeds than the test's land well inside it, and spread as the comment says.
    assert abs(math.sqrt(8 / 20_000) - 0.1 / 5) < 1e-12
    for d_k in (1, 16):
        errors = torch.tensor(
            [
                selfattn.score_variance(d_k, scaled=False, seed=s) / d_k - 1
                for s in range(40)
            ]
        )
        assert errors.abs().max() < 0.1  # every one inside the test's bound
        assert errors.std() < 0.025  # about 2% (d_k = 1) or less


def untrained_rows_nearly_equal() -> None:
    # The page's module: every score near 0, every row of weights nearly even, every
    # context vector near the mean of the six values.
    x = selfattn.toy_inputs()
    torch.manual_seed(123)
    params = selfattn.SelfAttentionParams(d_in=3, d_out=2)
    with torch.no_grad():
        q, k, v = x @ params.W_query, x @ params.W_key, x @ params.W_value
        scores = q @ k.T / math.sqrt(2)
        weights = torch.softmax(scores, dim=-1)
        out = params(x)
    assert scores.abs().max() < SCORES_NEAR_ZERO
    assert (weights - 1 / 6).abs().max() < WEIGHTS_NEARLY_EVEN
    assert (out - v.mean(dim=0)).abs().max() < ROWS_NEAR_MEAN
    assert (out - out.mean(dim=0)).abs().max() < ROWS_NEAR_MEAN


def exercise_weights(scale: float, expected: tuple[float, float]) -> None:
    weights = torch.softmax(torch.tensor([2.0, 0.0]) * scale, dim=-1)
    assert [round(w, 2) for w in weights.tolist()] == list(expected)


CLAIMS = [
    Claim(
        "would hold for almost any other seed too",
        variance_bound_holds_for_almost_any_seed,
    ),
    Claim("The six rows are nearly equal", untrained_rows_nearly_equal),
    Claim("the top weight stays near one third at every", scaled_peak_near_one_third),
    Claim("the top score takes nearly all the weight", nearly_all_weight_when_unscaled),
    Claim("1 scaled, to within 10%", variance_within_ten_percent),
    Claim("changes some weights by about a quarter of their value", about_a_quarter),
    Claim("and the context vectors far less", context_far_less),
    Claim("about 0.88, and", lambda: exercise_weights(1.0, (0.88, 0.12))),
    Claim("about 0.73, and", lambda: exercise_weights(1 / math.sqrt(4), (0.73, 0.27))),
    Claim("the scale softens the row", lambda: exercise_weights(0.5, (0.73, 0.27))),
    Claim(
        "Dividing by divides the variance by , back to 1", variance_within_ten_percent
    ),
]

NOT_CLAIMS = {
    "Build a Large Language Model": "a book's title, in the references",
}
