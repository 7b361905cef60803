"""The solutions of the exercises of "A trained model" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch

from selfattn.exercises.trained_model import weight_on_offset
from selfattn.train import held_out_set, load_look_back, mean_head_maps


def test_weight_on_offset_of_shifted_identities() -> None:
    n = 5
    one_back = torch.diag(torch.ones(n - 1), -1)
    one_back[0, 0] = 1.0
    maps = torch.stack([one_back, torch.eye(n)])
    assert weight_on_offset(maps, 1).tolist() == [1.0, 0.0]


def test_the_trained_heads_answer_one_and_two_back() -> None:
    config, _, trained = load_look_back()
    maps = mean_head_maps(trained, held_out_set(config)[0])
    one, two = weight_on_offset(maps, 1), weight_on_offset(maps, 2)
    assert one.argmax() != two.argmax()  # different heads
    assert one.max() > 0.9
    assert two.max() > 0.9


def test_bad_offset_is_named() -> None:
    with pytest.raises(ValueError, match="offset must be less than n"):
        weight_on_offset(torch.eye(3)[None], 3)
