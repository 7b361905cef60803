"""The seed notebook's mistakes, kept as code so the docs can show them with real numbers."""

from __future__ import annotations

import torch

from selfattn.simplified import attention_scores_loop, context_vector_loop
from selfattn.softmax import normalize_by_sum, softmax_stable


# --8<-- [start:seed_loop_weights]
def seed_loop_weights(
    inputs: torch.Tensor,
    query_index: int = 0,
) -> torch.Tensor:
    """The seed's weights for one query: scores divided by their sum,
    *then* softmaxed.

    Wrong: the softmax sees scores squeezed into [0, 1] and returns
    weights far flatter than ``softmax(scores)``.
    Shapes: ``inputs`` (n, d) -> weights (n,).
    """
    query = inputs[query_index]
    scores = attention_scores_loop(query, inputs)  # (n,)
    # normalised twice: by the sum, then by softmax
    return softmax_stable(normalize_by_sum(scores))


# --8<-- [end:seed_loop_weights]


# --8<-- [start:seed_loop_context_vector]
def seed_loop_context_vector(
    inputs: torch.Tensor,
    query_index: int = 0,
) -> torch.Tensor:
    """The seed's context vector for one query, from its weights.

    The seed also names ``inputs[1]`` as the query here, though it
    only uses its shape; the weights come from ``query_index``.
    Shapes: (n, d) -> (d,).
    """
    weights = seed_loop_weights(inputs, query_index)
    return context_vector_loop(weights, inputs)


# --8<-- [end:seed_loop_context_vector]
