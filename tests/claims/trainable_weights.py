"""Claims of docs/trainable-weights.md, each checked by computing it with selfattn."""

from __future__ import annotations

import math

import torch

import selfattn
from tests.test_claims import Claim

DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the figure's d_k


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


def up_to_26_percent() -> None:
    weights, _ = toy_scale_change()
    assert round(weights * 100) == 26


def context_under_5_percent() -> None:
    _, context = toy_scale_change()
    assert context < 0.05


def exercise_weights(scale: float, expected: tuple[float, float]) -> None:
    weights = torch.softmax(torch.tensor([2.0, 0.0]) * scale, dim=-1)
    assert [round(w, 2) for w in weights.tolist()] == list(expected)


CLAIMS = [
    Claim("the top weight stays near one third at every", scaled_peak_near_one_third),
    Claim("the top score takes nearly all the weight", nearly_all_weight_when_unscaled),
    Claim("1 scaled, to within 10%", variance_within_ten_percent),
    Claim("changes the weights by up to 26% of their value", up_to_26_percent),
    Claim("the context vectors by less than 5%", context_under_5_percent),
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
