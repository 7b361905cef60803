"""The solutions of the exercises of "Generating text"."""

from __future__ import annotations

import math

import pytest
import torch

from selfattn.exercises.generating_text import top_p_filter


def test_top_p_keeps_the_fewest_tokens_that_reach_p() -> None:
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])
    logits = probs.log()
    kept = top_p_filter(logits, 0.7).isfinite().tolist()
    assert kept == [False, True, True, False]  # 0.5 + 0.3 >= 0.7
    assert top_p_filter(logits, 0.5).isfinite().tolist() == [False, True, False, False]
    assert top_p_filter(logits, 1.0).isfinite().all()


def test_top_p_keeps_the_kept_scores_and_works_in_batches() -> None:
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
    out = top_p_filter(logits, 0.6)
    assert out[0, 0] == 2.0
    assert out[1, 1] == 3.0
    assert out[0, 1] == -math.inf


def test_bad_p_is_named() -> None:
    with pytest.raises(ValueError, match="p must be"):
        top_p_filter(torch.zeros(3), 0.0)
