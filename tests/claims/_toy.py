"""The toy sentence's numbers, shared by the claims of Part I's pages."""

from __future__ import annotations

import torch

import selfattn

X = selfattn.toy_inputs()
TOKENS = list(selfattn.TOKENS)
SCORES = selfattn.attention_scores(X, X)  # Omega, (6, 6)
WEIGHTS = selfattn.attention_weights(X, X, scale=1.0)  # A, (6, 6)
CONTEXT = selfattn.attention_matmul(X, X, X, scale=1.0)  # Z, (6, 3)
MAGIC = 0


def order(values: torch.Tensor) -> list[str]:
    """Token names from the largest value to the smallest."""
    return [TOKENS[j] for j in values.argsort(descending=True).tolist()]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))
