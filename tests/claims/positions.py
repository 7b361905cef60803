"""Claims of docs/positions.md ("Where is each token?")."""

from __future__ import annotations

import math

import torch

from selfattn import rope_frequencies
from selfattn.exercises.positions import slowest_turn
from tests.test_claims import Claim


def largest_exact_integer(dtype: torch.dtype) -> int:
    """The largest n such that float `dtype` holds every integer 0..n exactly."""
    every = torch.arange(100_000)
    lost = every.to(dtype).to(torch.int64) != every
    return int(lost.nonzero()[0]) - 1


def sixteen_bit_positions() -> None:
    # float16: 11 significant bits, every integer up to 2,048; bfloat16: 8, up to 256
    assert largest_exact_integer(torch.float16) == 2_048
    assert largest_exact_integer(torch.bfloat16) == 256
    for dtype, bits in ((torch.float16, 11), (torch.bfloat16, 8)):
        assert 1 - math.log2(torch.finfo(dtype).eps) == bits  # significant bits
        assert largest_exact_integer(dtype) == 2**bits
    assert torch.finfo(torch.float16).max == 65_504
    demo = torch.arange(70_000, 70_003)  # the page's positions stay exact in float32
    assert torch.equal(demo.float().to(torch.int64), demo)


def a_larger_base_turns_every_pair_more_slowly() -> None:
    slow, fast = rope_frequencies(128, base=500_000.0), rope_frequencies(128)
    assert bool((slow[1:] < fast[1:]).all())  # pair 0 turns at 1 for any base
    assert float(slow[0]) == float(fast[0]) == 1.0


def slowest_pairs_and_long_contexts() -> None:
    # with base 500,000 the slowest pair of a 128-channel head turns once in 2.6
    # million positions, with 10,000 every 54,410
    assert round(slowest_turn(128)) == 54_410
    assert round(slowest_turn(128, base=500_000.0) / 1e5) == 26


CLAIMS = [
    Claim(
        "so it holds every integer only up to 2,048, and bfloat16, with 8, only up "
        "to 256",
        sixteen_bit_positions,
    ),
    Claim("float16's largest number, 65,504", sixteen_bit_positions),
    Claim(
        "a larger base turns every pair but the first more slowly",
        a_larger_base_turns_every_pair_more_slowly,
    ),
    Claim(
        "the slowest pair turns once every 54,410 positions",
        slowest_pairs_and_long_contexts,
    ),
    Claim("once every 2.6 million", slowest_pairs_and_long_contexts),
]
NOT_CLAIMS: dict[str, str] = {
    "come close to those with one": "a published result (Haviv et al. 2022), cited",
    "Most models still write positions in explicitly": "a usage fact about models",
}
