"""Exercises of "Cross-attention"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_positive_int, checked_by


def check_alignment_args(length: Any, width: Any) -> None:
    """Positive `length` and `width` with `length <= width`."""
    check_positive_int("length", length)
    check_positive_int("width", width)
    if length > width:
        raise ValueError(f"length must be <= width={width}, got length={length}")


@checked_by(check_alignment_args)
# --8<-- [start:ideal_alignment]
def ideal_alignment(length: int, width: int) -> torch.Tensor:
    """A perfect reverser's cross-attention for one string: row `j`
    puts weight 1 on input `length - 1 - j`. Shapes: -> (length, width).
    """
    weights = torch.zeros(length, width)
    j = torch.arange(length)
    weights[j, length - 1 - j] = 1.0
    return weights


# --8<-- [end:ideal_alignment]
