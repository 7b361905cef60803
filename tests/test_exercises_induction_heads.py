"""The solutions of the exercises of "Induction heads" (selfattn/exercises/)."""

from __future__ import annotations

import pytest
import torch

from selfattn.exercises.induction_heads import duplicate_token_score, repeat_accuracy
from selfattn.induction import RUNS, eval_ids, load_run, prefix_matching_score


def test_duplicate_token_score_of_hand_made_patterns() -> None:
    n, period = 12, 4
    dup = torch.eye(n)
    i = torch.arange(period, n)
    dup[i] = 0.0
    dup[i, i - period] = 1.0  # every repeated token looks at its earlier copy
    assert duplicate_token_score(dup, period).item() == 1.0
    assert prefix_matching_score(dup, period).item() == 0.0
    half = dup.clone()
    half[i, i - period] = 0.5
    half[i, i - period + 1] = 0.5  # half on the copy, half on the token after it
    assert duplicate_token_score(half, period).item() == 0.5
    assert prefix_matching_score(half, period).item() == 0.5


def test_repeat_accuracy_of_a_copier_and_of_a_guesser() -> None:
    ids = torch.tensor([[3, 1, 4, 3, 1, 4, 3]])  # period 3
    logits = torch.zeros(1, 7, 5)
    logits[0, torch.arange(6), ids[0, 1:]] = 1.0  # always right
    assert repeat_accuracy(logits, ids, 3) == 1.0
    assert repeat_accuracy(torch.zeros(1, 7, 5), ids, 3) == 0.0  # argmax: token 0


def test_the_committed_model_copies_most_repeated_letters() -> None:
    model, _ = load_run("induction-2l")
    config = RUNS["induction-2l"]
    ids = eval_ids(config)
    assert repeat_accuracy(model(ids), ids, config.period) > 0.9
    control, _ = load_run("induction-1l")
    assert repeat_accuracy(control(ids), ids, config.period) < 0.2


def test_bad_period_is_named() -> None:
    with pytest.raises(ValueError, match="period must be less than"):
        duplicate_token_score(torch.eye(3), 3)
