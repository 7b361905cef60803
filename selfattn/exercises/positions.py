"""Exercises of "Where is each token?": sinusoidal shifts, RoPE's slowest pair, and
moving projection weights from one RoPE layout to the other."""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import check_positive_int, check_tensor, checked_by
from selfattn.positions import interleaved_to_half, rope_frequencies


def check_shift_args(pe: Any, t: Any, *, base: Any = 10000.0) -> None:
    """`pe` (n, d) with d even, `t` an int."""
    check_tensor("pe", pe, min_dims=2)
    if pe.shape[-1] % 2:
        raise ValueError(f"pe must have an even last dimension, got {pe.shape[-1]}")
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"t must be an int, got {type(t).__name__}")


@checked_by(check_shift_args)
# --8<-- [start:shift_sinusoidal]
def shift_sinusoidal(
    pe: torch.Tensor, t: int, *, base: float = 10000.0
) -> torch.Tensor:
    """Encodings of positions p + t from those of positions p, without p.

    Pair c holds (sin a, cos a), a = p theta_c; adding b = t theta_c is a
    rotation: sin(a+b) = sin a cos b + cos a sin b,
    cos(a+b) = cos a cos b - sin a sin b. Shapes: (n, d) -> (n, d).
    """
    b = t * rope_frequencies(pe.shape[-1], base=base, dtype=pe.dtype)
    s, c = pe[..., 0::2], pe[..., 1::2]  # (n, d/2) each
    shifted_s = s * b.cos() + c * b.sin()
    shifted_c = c * b.cos() - s * b.sin()
    return torch.stack([shifted_s, shifted_c], dim=-1).flatten(-2)


# --8<-- [end:shift_sinusoidal]


def check_period_args(d: Any, *, base: Any = 10000.0) -> None:
    """`d` an even int >= 2."""
    check_positive_int("d", d, minimum=2)
    if d % 2:
        raise ValueError(f"d must be even, got {d}")


@checked_by(check_period_args)
# --8<-- [start:slowest_turn]
def slowest_turn(d: int, *, base: float = 10000.0) -> float:
    """Positions it takes RoPE's slowest pair to turn once:
    `2 pi / theta_(d/2 - 1)`.
    """
    theta = rope_frequencies(d, base=base)
    return 2 * math.pi / float(theta[-1])


# --8<-- [end:slowest_turn]


def check_weight_args(w: Any, n_heads: Any) -> None:
    """`w` (d_out, d_in), `n_heads` dividing d_out into even head sizes."""
    check_tensor("w", w, min_dims=2)
    check_positive_int("n_heads", n_heads)
    d_out = w.shape[0]
    if d_out % n_heads or (d_out // n_heads) % 2:
        raise ValueError(
            f"n_heads must split d_out={d_out} rows into heads of an even size, "
            f"got n_heads={n_heads}"
        )


@checked_by(check_weight_args)
# --8<-- [start:rows_interleaved_to_half]
def rows_interleaved_to_half(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """W_q or W_k of a model trained with interleaved RoPE, for half RoPE.

    Output row r of head h is channel r of that head; permuting each
    head's rows by `interleaved_to_half` moves pair (2c, 2c+1) to
    (c, c + d_h/2). Shapes: (d_out, d_in) -> (d_out, d_in).
    """
    d_out, d_in = w.shape
    d_h = d_out // n_heads
    perm = interleaved_to_half(d_h).to(w.device)
    heads = w.reshape(n_heads, d_h, d_in)  # (h, d_h, d_in)
    return heads[:, perm, :].reshape(d_out, d_in)


# --8<-- [end:rows_interleaved_to_half]
