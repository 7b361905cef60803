"""The exercises of "Attention across devices": each solution does what it says."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn.efficient import tiled_attention_forward
from selfattn.exercises.ring_attention import (
    bytes_by_formula,
    bytes_by_hand,
    merge_all,
    slowest_rank_work,
    tokens_of,
)
from selfattn.ring import merge_partials


def test_rank_1_of_3_holds_tokens_2_3_8_9_under_zigzag() -> None:
    assert tokens_of(1, 3, 12, "zigzag") == [2, 3, 8, 9]
    assert tokens_of(1, 3, 12, "contiguous") == [4, 5, 6, 7]


def test_bytes_by_hand_match_the_formula() -> None:
    assert bytes_by_hand() == bytes_by_formula() == 96 * 2**20


@pytest.mark.parametrize("p", [1, 2, 3, 4, 8])
def test_slowest_rank_work(p: int) -> None:
    # Contiguous: half a block at step 0, then the last rank's full block at every
    # other step. Zigzag: half a block at every step.
    assert math.isclose(slowest_rank_work(p, layout="contiguous"), p - 0.5)
    assert math.isclose(slowest_rank_work(p, layout="zigzag"), p / 2)


def test_contiguous_takes_7_over_4_of_zigzag_at_p_4() -> None:
    ratio = slowest_rank_work(4, layout="contiguous") / slowest_rank_work(
        4, layout="zigzag"
    )
    assert math.isclose(ratio, 1.75)


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_merge_all_is_attention_over_every_key(parts: int) -> None:
    g = torch.Generator().manual_seed(parts)
    q = torch.randn(2, 7, 4, generator=g, dtype=torch.float64)
    k = torch.randn(2, 15, 4, generator=g, dtype=torch.float64)
    v = torch.randn(2, 15, 3, generator=g, dtype=torch.float64)
    blocks = [
        tiled_attention_forward(q, k_r, v_r)
        for k_r, v_r in zip(k.chunk(parts, -2), v.chunk(parts, -2), strict=True)
    ]
    out, lse = merge_all([o for o, _ in blocks], [l_r for _, l_r in blocks])
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-12
    )
    pairwise = blocks[0]
    for block in blocks[1:]:
        pairwise = merge_partials(*pairwise, *block)
    torch.testing.assert_close(lse, pairwise[1], rtol=0, atol=1e-12)
