"""Exercises of "A trained model"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_positive_int, check_tensor, checked_by


def check_maps_offset(maps: Any, offset: Any) -> None:
    """`maps` (h, n, n) and an `offset` in [1, n)."""
    maps = check_tensor("maps", maps, min_dims=3)
    if maps.dim() != 3 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"maps must be (h, n, n), got shape {tuple(maps.shape)}")
    check_positive_int("offset", offset)
    if offset >= maps.shape[-1]:
        raise ValueError(
            f"offset must be less than n={maps.shape[-1]}, got offset={offset}"
        )


@checked_by(check_maps_offset)
# --8<-- [start:weight_on_offset]
def weight_on_offset(maps: torch.Tensor, offset: int) -> torch.Tensor:
    """Each head's mean weight on the key `offset` places back, over the
    queries that have one. Shapes: `maps` (h, n, n) -> (h,)."""
    n = maps.shape[-1]
    queries = torch.arange(offset, n)  # queries i >= offset
    keys = queries - offset  # the key `offset` back of each query
    return maps[:, queries, keys].mean(dim=-1)  # (h,)


# --8<-- [end:weight_on_offset]
