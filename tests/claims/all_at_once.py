"""Claims on "All tokens at once"."""

from __future__ import annotations

import torch

from selfattn.exercises.all_at_once import most_attended
from tests.claims._toy import TOKENS, WEIGHTS, X
from tests.test_claims import Claim


def only_magic_and_happens_attend_most_to_themselves() -> None:
    found = most_attended(WEIGHTS, TOKENS)
    themselves = [q for q, k in zip(TOKENS, found, strict=True) if q == k]
    assert themselves == ["Magic", "happens"]


def the_others_pick_the_two_longest() -> None:
    found = most_attended(WEIGHTS, TOKENS)
    longest = {TOKENS[j] for j in X.norm(dim=-1).argsort(descending=True)[:2].tolist()}
    assert longest == {"happens", "to"}
    others = [k for q, k in zip(TOKENS, found, strict=True) if q != k]
    assert len(others) == 4
    assert set(others) <= longest


def happens_and_to_look_alike() -> None:
    assert float((X[1] - X[2]).abs().max()) <= 0.02 + 1e-6  # float32 rounding
    assert float((WEIGHTS[1] - WEIGHTS[2]).abs().max()) < 0.005


def smallest_weight_goes_to_that() -> None:
    smallest = [TOKENS[j] for j in WEIGHTS.argmin(dim=-1).tolist()]
    expected = ["that" if q != "that" else "believe" for q in TOKENS]
    assert smallest == expected


def most_attended_names_the_argmax() -> None:
    w = torch.tensor([[0.1, 0.9], [0.7, 0.3]])
    assert most_attended(w, ["a", "b"]) == ["b", "a"]


CLAIMS = [
    Claim(
        "You might expect every token to attend most to itself, but only Magic and "
        "happens do",
        only_magic_and_happens_attend_most_to_themselves,
    ),
    Claim(
        "The other four give their largest weight to happens or to, the two longest "
        "embeddings",
        the_others_pick_the_two_longest,
    ),
    Claim(
        "happens and to are almost the same vector, so their rows look alike",
        happens_and_to_look_alike,
    ),
    Claim(
        "Every token gives its smallest weight to that, except that itself, whose "
        "smallest goes to believe",
        smallest_weight_goes_to_that,
    ),
    Claim("the token it gives its largest weight to", most_attended_names_the_argmax),
    Claim("gives the column of the largest weight", most_attended_names_the_argmax),
    Claim(
        "Only Magic and happens name themselves",
        only_magic_and_happens_attend_most_to_themselves,
    ),
]
NOT_CLAIMS = {
    "Build a Large Language Model (From Scratch)": "a book's title",
}
