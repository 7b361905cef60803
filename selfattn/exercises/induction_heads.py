"""Exercises of "Induction heads"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import checked_by
from selfattn.induction import check_logits_ids_period, check_weights_period


@checked_by(check_weights_period)
# --8<-- [start:duplicate_token_score]
def duplicate_token_score(weights: torch.Tensor, period: int) -> torch.Tensor:
    """On a block of `T = period` tokens repeated, the mean weight from each
    query `i >= T` on key `i - T`: the earlier occurrence of the same token.

    Shapes: `weights` (..., n, n) -> (...).
    """
    n = weights.shape[-1]
    queries = torch.arange(period, n)
    return weights[..., queries, queries - period].mean(dim=-1)


# --8<-- [end:duplicate_token_score]


def check_accuracy_args(logits: Any, ids: Any, period: Any) -> None:
    """As `in_context_losses`: logits (b, n, V), ids (b, n), period in [1, n - 1)."""
    check_logits_ids_period(logits, ids, period)


@checked_by(check_accuracy_args)
# --8<-- [start:repeat_accuracy]
def repeat_accuracy(logits: torch.Tensor, ids: torch.Tensor, period: int) -> float:
    """The fraction of the repeated tokens `T + 1 .. n - 1` that the most
    likely next token gets right. Shapes: `logits` (b, n, V), `ids` (b, n).
    """
    guess = logits[:, :-1].argmax(dim=-1)  # (b, n - 1): position t guesses t + 1
    right = guess == ids[:, 1:]
    return float(right[:, period:].float().mean())


# --8<-- [end:repeat_accuracy]
