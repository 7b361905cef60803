"""The seed notebook's mistakes, kept as code so the docs can show them with real numbers."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by
from selfattn.simplified import attention_scores_loop, context_vector_loop
from selfattn.softmax import normalize_by_sum, softmax_stable


def check_seed_args(inputs: Any, query_index: Any = 0) -> None:
    """`inputs` (n, d) and `query_index` one of its n rows."""
    check_tensor("inputs", inputs, min_dims=2)
    if inputs.dim() != 2:
        raise ValueError(
            f"inputs must have shape (n, d), got shape {tuple(inputs.shape)}"
        )
    if isinstance(query_index, bool) or not isinstance(query_index, int):
        raise TypeError(
            f"query_index must be an int, got {type(query_index).__name__} "
            f"{query_index!r}"
        )
    n = inputs.shape[0]
    if not -n <= query_index < n:
        raise ValueError(
            f"query_index must lie in [{-n}, {n - 1}] for inputs of shape "
            f"{tuple(inputs.shape)}, got {query_index}"
        )


@checked_by(check_seed_args)
# --8<-- [start:seed_loop_weights]
def seed_loop_weights(
    inputs: torch.Tensor,
    query_index: int = 0,
) -> torch.Tensor:
    """The seed's weights for one query: scores divided by their sum,
    *then* softmaxed.

    Wrong: the softmax sees scores squeezed into [0, 1] and returns
    weights far flatter than `softmax(scores)`.
    Shapes: `inputs` (n, d) -> weights (n,).
    """
    query = inputs[query_index]
    scores = attention_scores_loop(query, inputs)  # (n,)
    # normalised twice: by the sum, then by softmax
    return softmax_stable(normalize_by_sum(scores))


# --8<-- [end:seed_loop_weights]


@checked_by(check_seed_args)
# --8<-- [start:seed_loop_context_vector]
def seed_loop_context_vector(
    inputs: torch.Tensor,
    query_index: int = 0,
) -> torch.Tensor:
    """The seed's context vector for one query, from its weights.

    The seed also names `inputs[1]` as the query here, though it
    only uses its shape; the weights come from `query_index`.
    Shapes: (n, d) -> (d,).
    """
    weights = seed_loop_weights(inputs, query_index)
    return context_vector_loop(weights, inputs)


# --8<-- [end:seed_loop_context_vector]
