"""Claims of docs/causal-attention.md, each checked by computing it with selfattn."""

from __future__ import annotations

import torch

import selfattn
from selfattn.exercises.causal_attention import causal_weights_loop
from tests.test_claims import Claim


def exact_zeros_and_unit_rows() -> None:
    x = selfattn.toy_inputs()
    scores = selfattn.attention_scores(x, x)
    for weights in (
        selfattn.causal_softmax(scores),
        selfattn.causal_softmax_renormalised(scores),
    ):
        assert (weights[~selfattn.causal_mask(6, 6)] == 0).all()
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(6))


def literal_renormalise_underflows() -> None:
    extreme = torch.tensor([[0.0, 200.0], [0.0, 0.0]])
    assert selfattn.causal_softmax_renormalised(extreme)[0].tolist() == [0.0, 0.0]
    assert selfattn.causal_softmax(extreme)[0].tolist() == [1.0, 0.0]


def top_kept_weight_is_protected() -> None:
    # Random rows with masked keys far above, and far below, the kept ones: the sum of
    # softmax_all_keys's terms lies in [1, n_k] and the top kept weight is >= 1 / n_k.
    gen = torch.Generator().manual_seed(0)
    n = 7
    keep = selfattn.causal_mask(n, n)
    for spread in (1.0, 100.0, 1e4):
        scores = spread * torch.randn(50, n, n, generator=gen)
        p = selfattn.softmax_all_keys(scores, keep)
        top = scores.masked_fill(~keep, float("-inf")).argmax(dim=-1, keepdim=True)
        assert (p.gather(-1, top) >= 1 / n * (1 - 1e-6)).all()
        assert (p >= 0).all()
        assert (p <= 1).all()


def only_the_largest_is_protected() -> None:
    rows = torch.tensor([[0.0, 0.0, 0.0], [0.0, -200.0, 300.0], [0.0, 0.0, 0.0]])
    keep = selfattn.causal_mask(3, 3)
    fixed = selfattn.renormalise(selfattn.softmax_all_keys(rows, keep), keep)[1]
    assert fixed.tolist() == [1.0, 0.0, 0.0]  # key 1 (kept) underflows to zero
    assert selfattn.causal_softmax(rows)[1].tolist() == [1.0, 0.0, 0.0]
    assert selfattn.causal_softmax_renormalised(rows)[1].tolist() == [0.0, 0.0, 0.0]


def exercise_one() -> None:
    row = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 5.0], [0.0, 0.0, 0.0]])
    everything = torch.softmax(row[1], dim=-1)
    assert 0.015 < everything[0].item() == everything[1].item() < 0.02
    assert causal_weights_loop(row)[1].tolist() == [0.5, 0.5, 0.0]
    torch.testing.assert_close(
        selfattn.causal_softmax_renormalised(row)[1], torch.tensor([0.5, 0.5, 0.0])
    )


CLAIMS = [
    Claim(
        "masked weights are exactly zero (not rounded to zero)",
        exact_zeros_and_unit_rows,
    ),
    Claim(
        "gives that future key all but a sliver of the mass",
        literal_renormalise_underflows,
    ),
    Claim("the top kept weight is at least", top_kept_weight_is_protected),
    Claim(
        "It protects the largest kept weight, not every one.",
        only_the_largest_is_protected,
    ),
    Claim("shifts each row by its largest kept score", only_the_largest_is_protected),
    Claim("gives keys 0 and 1 just under 0.02 each", exercise_one),
]


def float32_underflow() -> None:
    # The smallest positive float32 (a subnormal) is 2^-149, about 1.4e-45; half of it
    # rounds to 0.
    tiny = torch.tensor(2.0**-149, dtype=torch.float32)
    assert tiny.item() > 0
    assert f"{tiny.item():.1e}" == "1.4e-45"  # the page's 1.4 x 10^-45
    assert torch.nextafter(torch.tensor(0.0), torch.tensor(1.0)) == tiny  # smallest
    assert (tiny / 2).item() == 0.0  # half of it underflows
    assert (tiny * 0.6).item() == tiny.item()  # a bit more than half rounds up
    assert torch.exp(torch.tensor(-200.0)).item() == 0.0  # the page's e^(0 - 200)


CLAIMS.append(
    Claim("No positive float32 number is smaller than about", float32_underflow)
)

NOT_CLAIMS = {
    "Build a Large Language Model": "a book's title, in the references",
}
