"""The solution of the exercise of "Cross-attention" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch

from selfattn.exercises.cross_attention import ideal_alignment
from selfattn.seq2seq import PAD, mirrored_fraction


def test_ideal_alignment_is_the_anti_diagonal() -> None:
    w = ideal_alignment(3, 5)
    assert w.tolist() == [
        [0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
    ]


def test_mirrored_fraction_of_the_ideal_alignment_is_one() -> None:
    for length in range(1, 8):
        src = torch.tensor([[5] * length + [PAD] * (8 - length)])
        assert mirrored_fraction(ideal_alignment(length, 8)[None], src) == 1.0


def test_the_second_letter_of_abcde_reads_d() -> None:
    assert int(ideal_alignment(5, 5)[1].argmax()) == 3  # exercise 1


def test_bad_length_is_named() -> None:
    with pytest.raises(ValueError, match="length must be <= width"):
        ideal_alignment(6, 5)
