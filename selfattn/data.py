"""The toy sentence of Part I and its three-dimensional embeddings."""

from __future__ import annotations

import torch

# --8<-- [start:toy_data]
TOKENS: tuple[str, ...] = ("Magic", "happens", "to", "those", "that", "believe")

EMBEDDINGS: tuple[tuple[float, float, float], ...] = (
    (0.43, 0.15, 0.89),  # Magic
    (0.55, 0.87, 0.66),  # happens
    (0.57, 0.85, 0.64),  # to
    (0.22, 0.58, 0.33),  # those
    (0.77, 0.25, 0.10),  # that
    (0.05, 0.80, 0.55),  # believe
)


def toy_inputs(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """The six token embeddings as a fresh ``(6, 3)`` tensor, one row per token."""
    return torch.tensor(EMBEDDINGS, dtype=dtype, device=device)  # (n=6, d=3)


# --8<-- [end:toy_data]
