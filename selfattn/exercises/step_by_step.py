"""Exercises of "Step by step": one query's context vector in one function, and a
softmax with a temperature."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by
from selfattn.simplified import attention_scores_loop, context_vector_loop
from selfattn.softmax import check_scores, softmax_stable


def check_query_index(query_index: Any, inputs: Any) -> None:
    """`query_index` is an int that picks one row of `inputs` (n, d)."""
    check_tensor("inputs", inputs, min_dims=2)
    if inputs.dim() != 2:
        raise ValueError(f"inputs must have shape (n, d), got {tuple(inputs.shape)}")
    if isinstance(query_index, bool) or not isinstance(query_index, int):
        raise TypeError(f"query_index must be an int, got {query_index!r}")
    n = inputs.shape[0]
    if not -n <= query_index < n:
        raise ValueError(f"query_index must lie in [{-n}, {n - 1}], got {query_index}")


@checked_by(check_query_index)
# --8<-- [start:context_vector_of]
def context_vector_of(
    query_index: int,
    inputs: torch.Tensor,
) -> torch.Tensor:
    """The three steps for token `query_index`: score, softmax, mix.

    Shapes: `inputs` (n, d) -> context vector (d,).
    """
    query = inputs[query_index]  # the query is chosen here, once
    scores = attention_scores_loop(query, inputs)  # step 1, (n,)
    weights = softmax_stable(scores)  # step 2, (n,)
    return context_vector_loop(weights, inputs)  # step 3, (d,)


# --8<-- [end:context_vector_of]


def check_temperature(scores: Any, temperature: Any) -> None:
    """`scores` a float tensor, `temperature` a positive number."""
    check_scores(scores)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a float, got {temperature!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


@checked_by(check_temperature)
# --8<-- [start:softmax_with_temperature]
def softmax_with_temperature(
    scores: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """`softmax(omega / T)`: T < 1 sharpens, T > 1 flattens.

    Shape: any; the softmax runs over the last dimension.
    """
    return softmax_stable(scores / temperature)


# --8<-- [end:softmax_with_temperature]
