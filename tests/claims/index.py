"""Claims on the home page."""

from __future__ import annotations

import torch

import selfattn
from tests.claims._toy import X
from tests.test_claims import Claim


def the_largest_share_is_checked() -> None:
    # The example names a real registered claim of Step by step.
    from tests.claims import step_by_step

    assert any("largest weight" in c.text for c in step_by_step.CLAIMS)


def efficient_attention_holds_one_block_at_a_time() -> None:
    # The tiled forward gives the full attention without the n x n matrix.
    q = torch.randn(2, 40, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        selfattn.attention_tiled(q, q, q), selfattn.attention_matmul(q, q, q)
    )


def toy_embeddings_are_three_dimensional() -> None:
    assert X.shape == (6, 3)


CLAIMS = [
    Claim(
        '("the largest share") are checked by a test too', the_largest_share_is_checked
    ),
    Claim(
        "run it within the memory of one block of scores at a time",
        efficient_attention_holds_one_block_at_a_time,
    ),
    Claim(
        "The six three-dimensional toy embeddings follow chapter 3",
        toy_embeddings_are_three_dimensional,
    ),
]

NOT_CLAIMS = {
    "Build a Large Language Model": "a book title",
}
