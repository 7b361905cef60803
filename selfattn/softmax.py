"""Turning a row of scores into weights: by the sum, by a naive softmax, stably."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_scores(scores: Any, dim: Any = -1) -> None:
    """`scores` is a floating-point tensor and `dim` one of its dimensions."""
    check_tensor("scores", scores)
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__} {dim!r}")
    if not -scores.dim() <= dim < scores.dim():
        raise ValueError(
            f"dim must lie in [{-scores.dim()}, {scores.dim() - 1}] for scores of "
            f"shape {tuple(scores.shape)}, got {dim}"
        )


def check_masked_scores(scores: Any, keep: Any) -> None:
    """`scores` (..., n_q, n_k) and a bool `keep` that broadcasts to it."""
    check_scores(scores)
    if not isinstance(keep, torch.Tensor) or keep.dtype != torch.bool:
        got = keep.dtype if isinstance(keep, torch.Tensor) else type(keep).__name__
        raise TypeError(f"keep must be a bool tensor, got {got}")
    try:
        shape = torch.broadcast_shapes(keep.shape, scores.shape)  # type: ignore[no-untyped-call]
    except RuntimeError:
        shape = None
    if shape != scores.shape:
        raise ValueError(
            f"keep must broadcast to scores' shape {tuple(scores.shape)}, got "
            f"{tuple(keep.shape)}"
        )


@checked_by(check_scores)
# --8<-- [start:normalize_by_sum]
def normalize_by_sum(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Divide by the row's sum: `alpha_j = omega_j / sum_k omega_k`.

    Not a safe way to make weights: a negative score gives a negative
    weight, and a row that sums to zero divides by zero (`inf` or
    `nan`). Shown for contrast. Shape: any; the sum runs over `dim`.
    """
    return scores / scores.sum(dim=dim, keepdim=True)


# --8<-- [end:normalize_by_sum]


@checked_by(check_scores)
# --8<-- [start:softmax_naive]
def softmax_naive(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax by its definition: `e^omega_j / sum_k e^omega_k`.

    Overflows once a score passes about 88.7 in float32 (its `exp` is
    `inf`, its weight `inf / inf = nan`, the others 0), and underflows
    when every score of a row is below about -104 (each `exp` rounds to
    0, and `0 / 0` is `nan`). Shape: any; the sum runs over `dim`.
    """
    exp = torch.exp(scores)
    return exp / exp.sum(dim=dim, keepdim=True)


# --8<-- [end:softmax_naive]


@checked_by(check_scores)
# --8<-- [start:softmax_stable]
def softmax_stable(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax with each row's maximum m subtracted first.

    `e^-m` cancels between numerator and denominator, so the weights are
    the same, but no exponent is above 0 and nothing overflows. A row of
    only `-inf` gives `nan`, as `torch.softmax` does.
    Shape: any; the sum runs over `dim`.
    """
    if scores.shape[dim] == 0:  # rows of no scores: nothing to do
        return scores.clone()
    m = scores.amax(dim=dim, keepdim=True)  # each row's maximum
    exp = torch.exp(scores - m)  # every exponent <= 0
    return exp / exp.sum(dim=dim, keepdim=True)


# --8<-- [end:softmax_stable]


@checked_by(check_masked_scores)
# --8<-- [start:softmax_masked]
def softmax_masked(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Stable softmax over the last dimension, counting only entries where `keep`.

    Entries with `keep == False` get weight exactly 0. A row with nothing kept
    (a fully masked query) gets all-zero weights, so its context vector is zero,
    as `scaled_dot_product_attention` gives from torch 2.5 on (before, nan).
    Shapes: `scores` (..., n_q, n_k); `keep` bool, broadcastable to it.
    """
    masked = scores.masked_fill(~keep, float("-inf"))  # a masked key gets exp(-inf) = 0
    weights = softmax_stable(masked)  # nan on rows where nothing is kept
    nothing_kept = ~keep.any(dim=-1, keepdim=True)  # (..., n_q, 1)
    return weights.masked_fill(nothing_kept, 0.0)


# --8<-- [end:softmax_masked]
