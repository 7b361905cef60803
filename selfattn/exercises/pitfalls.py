"""Exercises of "Pitfalls": a check that catches wrong weights, and where a naive
softmax starts to overflow."""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_weight_rows(weights: Any) -> None:
    """`weights` is a floating-point (..., n_k) tensor."""
    check_tensor("weights", weights)


@checked_by(check_weight_rows)
# --8<-- [start:check_weights]
def check_weights(weights: torch.Tensor) -> None:
    """Raise `ValueError` unless every row is finite, >= 0 and sums to one.

    Each weight is rounded once to its dtype: off by at most eps/2 of
    itself, or, below the smallest normal number `tiny` (a subnormal,
    kept with fewer digits), by at most tiny * eps / 2. So a row's sum
    is off by at most eps/2 + n_k * tiny * eps / 2; the float32 softmax
    before that adds about sqrt(n_k) float32 eps.
    Shape: `weights` (..., n_k), one row per query.
    """
    w = weights.double()  # summed in float64: the check adds no rounding
    if not bool(w.isfinite().all()):  # NaN fails every comparison below
        raise ValueError("a weight is NaN or infinite")
    if (w < 0).any():
        raise ValueError("a weight is negative")
    n_k = w.shape[-1]
    own = torch.finfo(weights.dtype)
    work = torch.finfo(torch.promote_types(weights.dtype, torch.float32))
    rounding = own.eps + n_k * own.tiny * own.eps / 2  # normal + subnormal
    tol = rounding + 4 * math.sqrt(n_k) * work.eps
    gaps = (w.sum(dim=-1) - 1).abs()  # a row of no keys sums to 0
    error = float(gaps.max()) if gaps.numel() else 0.0
    if error > tol:
        raise ValueError(f"a row sums to 1 +- {error:.2g} (tol {tol:.2g})")


# --8<-- [end:check_weights]


def check_dtype(dtype: Any) -> None:
    """`dtype` is a floating-point torch dtype."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")


@checked_by(check_dtype)
# --8<-- [start:overflow_threshold]
def overflow_threshold(dtype: torch.dtype) -> float:
    """The score above which `exp` overflows `dtype`.

    It is the log of the largest number `dtype` holds; past it
    `softmax_naive` divides inf by inf and returns nan.
    """
    return math.log(torch.finfo(dtype).max)


# --8<-- [end:overflow_threshold]
