"""Claims of docs/positions.md ("Where is each token?")."""

from __future__ import annotations

import torch

from selfattn.exercises.positions import slowest_turn
from tests.test_claims import Claim


def float16_largest() -> None:
    assert torch.finfo(torch.float16).max == 65_504


def slowest_pairs_and_long_contexts() -> None:
    # Llama 3.1 reads 131,072 tokens; with base 500,000 the slowest pair of a
    # 128-channel head turns once in 2.6 million positions, with 10,000 in 54,410.
    assert round(slowest_turn(128)) == 54_410
    assert round(slowest_turn(128, base=500_000.0) / 1e5) == 26
    assert slowest_turn(128, base=500_000.0) > 131_072 > slowest_turn(128)


CLAIMS = [
    Claim("whose largest number is 65,504", float16_largest),
    Claim(
        "so that their slowest pairs do not turn full circle within the context",
        slowest_pairs_and_long_contexts,
    ),
]
NOT_CLAIMS: dict[str, str] = {}
