"""The toy sentence of Part I and its three-dimensional embeddings."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_device, check_float_dtype, checked_by


def check_toy_args(dtype: Any = torch.float32, device: Any = None) -> None:
    """``dtype`` a floating-point dtype, ``device`` a device or None."""
    check_float_dtype("dtype", dtype)
    check_device("device", device)


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

# The checks, outside the snippet the page shows (as @checked_by does elsewhere).
toy_inputs = checked_by(check_toy_args)(toy_inputs)
