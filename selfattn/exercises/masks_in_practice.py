"""Exercises of "Masks in practice"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_positive_int, checked_by


def check_padding_args(lengths: Any, n: Any) -> None:
    """`lengths` a 1-d integer tensor of values in [0, n]; `n` a count."""
    check_positive_int("n", n, minimum=0)
    if not isinstance(lengths, torch.Tensor) or lengths.dtype not in (
        torch.int32,
        torch.int64,
    ):
        got = (
            lengths.dtype
            if isinstance(lengths, torch.Tensor)
            else type(lengths).__name__
        )
        raise TypeError(f"lengths must be an integer tensor, got {got}")
    if lengths.dim() != 1:
        raise ValueError(
            f"lengths must be 1-d (batch,), got shape {tuple(lengths.shape)}"
        )
    if lengths.numel() and not 0 <= int(lengths.min()) <= int(lengths.max()) <= n:
        raise ValueError(
            f"lengths must lie in [0, n={n}], got {int(lengths.min())} to "
            f"{int(lengths.max())}"
        )


@checked_by(check_padding_args)
# --8<-- [start:padding_keep]
def padding_keep(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Keep mask for right-padded sequences: key `j` is real when
    `j < length`. Shapes: `lengths` (b,) -> (b, 1, n), the same row
    for every query.
    """
    keys = torch.arange(n, device=lengths.device)  # (n,)
    return (keys < lengths[:, None])[:, None, :]  # (b, 1, n)


# --8<-- [end:padding_keep]


def check_counts(n_q: Any, n_k: Any) -> None:
    """Counts with `n_q <= n_k`."""
    check_positive_int("n_q", n_q, minimum=0)
    check_positive_int("n_k", n_k, minimum=0)
    if n_q > n_k:
        raise ValueError(f"n_q must be at most n_k, got n_q={n_q}, n_k={n_k}")


@checked_by(check_counts)
# --8<-- [start:decode_mask]
def decode_mask(n_q: int, n_k: int) -> torch.Tensor:
    """The last `n_q` rows of an `(n_k, n_k)` causal mask: query
    `i` is token `n_k - n_q + i` and sees the keys up to it.
    Shape: (n_q, n_k)."""
    position = torch.arange(n_k - n_q, n_k)[:, None]  # (n_q, 1)
    return torch.arange(n_k)[None, :] <= position  # (n_q, n_k)


# --8<-- [end:decode_mask]
