"""Where is each token? Position information for attention, which has none of its own.

Attention treats its keys as a set: permuting the tokens permutes the outputs and
nothing else changes. Two ways to tell it the order:

- sinusoidal encodings (Vaswani et al., 2017), vectors added to the embeddings;
- rotary position embeddings (RoPE, Su et al., 2021), which rotate each query and key
  by an angle proportional to its position, so that `q . k` depends only on the
  offset between the two positions.

RoPE comes in two channel layouts that differ only in which channels form a rotated
pair: `"half"` pairs channel `c` with `c + d/2` (GPT-NeoX, the Llama of Hugging Face
`transformers`) and `"interleaved"` pairs `2c` with `2c + 1` (RoFormer, GPT-J, Meta's
own Llama code).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import _describe, check_tensor, checked_by

LAYOUTS = ("half", "interleaved")


def _check_base(base: Any) -> None:
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise TypeError(f"base must be a positive float, got {_describe(base)}")
    if not (math.isfinite(base) and base > 0):
        raise ValueError(f"base must be a positive finite number, got {base}")


def _check_even_dim(name: str, d: int) -> None:
    if d < 2 or d % 2:
        raise ValueError(
            f"{name} must be even and >= 2 (channels are used in pairs), got {d}"
        )


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_sinusoidal_args(
    n: Any,
    d: Any,
    *,
    base: Any = 10000.0,
    offset: Any = 0,
    dtype: Any = torch.float32,
    device: Any = None,
) -> None:
    """`n >= 0`, `d` even, a positive `base`, `offset >= 0`, a float dtype."""
    _check_int("n", n, 0)
    _check_int("d", d, 2)
    _check_even_dim("d", d)
    _check_base(base)
    _check_int("offset", offset, 0)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating-point torch.dtype, got {_describe(dtype)}"
        )


def check_layout(layout: Any) -> None:
    """`layout` is `"half"` or `"interleaved"`."""
    if not isinstance(layout, str):
        raise TypeError(
            f"layout must be 'half' or 'interleaved', got {_describe(layout)}"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'half' or 'interleaved', got {layout!r}")


def check_positions(positions: Any, x: torch.Tensor) -> None:
    """`positions` is a 1-D integer tensor with one entry per row of `x`."""
    if not isinstance(positions, torch.Tensor):
        raise TypeError(
            "positions must be a 1-D integer torch.Tensor (the absolute position of "
            f"each row of x), got {_describe(positions)}"
        )
    if (
        positions.dtype.is_floating_point
        or positions.dtype.is_complex
        or (positions.dtype == torch.bool)
    ):
        raise TypeError(
            "positions must have an integer dtype (e.g. torch.arange(n)), got "
            f"{positions.dtype}"
        )
    if positions.dim() != 1:
        raise ValueError(
            f"positions must have shape (n,), got shape {tuple(positions.shape)}"
        )
    if positions.shape[0] != x.shape[-2]:
        raise ValueError(
            f"positions must hold one entry per row of x (n={x.shape[-2]}, x of shape "
            f"{tuple(x.shape)}), got {positions.shape[0]}"
        )
    if positions.device != x.device:
        raise ValueError(
            f"positions must be on x's device {x.device}, got {positions.device}"
        )


def check_rope_args(
    x: Any, positions: Any, *, base: Any = 10000.0, layout: Any = "half"
) -> None:
    """Every check of `rope` and `rope_complex`, in one call."""
    check_tensor("x", x, min_dims=2)
    _check_even_dim("the last dimension d of x", x.shape[-1])
    check_positions(positions, x)
    _check_base(base)
    check_layout(layout)


def check_rope_complex_args(x: Any, positions: Any, *, base: Any = 10000.0) -> None:
    """`rope_complex` has no layout: it is the interleaved one."""
    check_rope_args(x, positions, base=base)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"x must be float32 or float64 for rope_complex, got {x.dtype}")


@checked_by(check_sinusoidal_args)
# --8<-- [start:sinusoidal_positions]
def sinusoidal_positions(
    n: int,
    d: int,
    *,
    base: float = 10000.0,
    offset: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Sinusoidal encodings of positions `offset .. offset+n-1`, shape (n, d).

    `P[p, 2c] = sin(p * theta_c)`, `P[p, 2c+1] = cos(p * theta_c)`, with
    `theta_c = base ** (-2c / d)`: pair `c` turns at its own frequency.
    Computed in float64, then rounded to `dtype`.
    """
    p = torch.arange(offset, offset + n, dtype=torch.float64, device=device)
    theta = rope_frequencies(d, base=base, device=device)  # (d/2,)
    angles = p[:, None] * theta[None, :]  # (n, d/2)
    pe = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (n, d/2, 2)
    return pe.reshape(n, d).to(dtype)


# --8<-- [end:sinusoidal_positions]


def check_frequencies_args(
    d: Any, *, base: Any = 10000.0, dtype: Any = torch.float64, device: Any = None
) -> None:
    """`d` even, a positive `base`, a float dtype."""
    check_sinusoidal_args(0, d, base=base, dtype=dtype)


@checked_by(check_frequencies_args)
# --8<-- [start:rope_frequencies]
def rope_frequencies(
    d: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The angle per position of each channel pair, shape (d/2,).

    `theta_c = base ** (-2c / d)` for `c = 0 .. d/2 - 1`: pair 0 turns one
    radian per position, the last `base ** (-(d - 2) / d)`.
    """
    c = torch.arange(d // 2, dtype=torch.float64, device=device)
    return (base ** (-2 * c / d)).to(dtype)


# --8<-- [end:rope_frequencies]


@checked_by(check_rope_complex_args)
# --8<-- [start:rope_complex]
def rope_complex(
    x: torch.Tensor, positions: torch.Tensor, *, base: float = 10000.0
) -> torch.Tensor:
    """RoPE in its plainest form: each channel pair is a complex number,
    multiplied by `e^(i p theta_c)` (p the row's position).

    Pairs are (2c, 2c+1), the interleaved layout. x (..., n, d) -> (..., n, d).
    """
    d = x.shape[-1]
    pairs = torch.view_as_complex(
        x.reshape(*x.shape[:-1], d // 2, 2).contiguous()
    )  # (..., n, d/2), complex
    theta = rope_frequencies(d, base=base, dtype=x.dtype, device=x.device)
    angles = positions.to(x.dtype)[:, None] * theta  # (n, d/2)
    turned = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.view_as_real(turned).reshape(x.shape)


# --8<-- [end:rope_complex]


@checked_by(check_rope_args)
# --8<-- [start:rope]
def rope(
    x: torch.Tensor,
    positions: torch.Tensor,
    *,
    base: float = 10000.0,
    layout: str = "half",
) -> torch.Tensor:
    """Rotate each channel pair of row p by the angle `p * theta_c`.

    `(a, b) -> (a cos - b sin, a sin + b cos)`. Pairs: (c, c + d/2) for
    `layout="half"`, (2c, 2c+1) for `"interleaved"`. float16 and
    bfloat16 are rotated in float32 and rounded back.
    Shapes: x (..., n, d), positions (n,) integers -> (..., n, d).
    """
    work = torch.promote_types(x.dtype, torch.float32)
    d = x.shape[-1]
    theta = rope_frequencies(d, base=base, dtype=work, device=x.device)
    angles = positions.to(work)[:, None] * theta  # (n, d/2)
    cos, sin = angles.cos(), angles.sin()
    xw = x.to(work)
    if layout == "half":
        a, b = xw[..., : d // 2], xw[..., d // 2 :]
    else:
        a, b = xw[..., 0::2], xw[..., 1::2]
    ra, rb = a * cos - b * sin, a * sin + b * cos  # (..., n, d/2) each
    if layout == "half":
        out = torch.cat([ra, rb], dim=-1)
    else:
        out = torch.stack([ra, rb], dim=-1).flatten(-2)
    return out.to(x.dtype)


# --8<-- [end:rope]


def check_layout_permutation_args(d: Any) -> None:
    """`d` is an even int >= 2."""
    _check_int("d", d, 2)
    _check_even_dim("d", d)


@checked_by(check_layout_permutation_args)
# --8<-- [start:interleaved_to_half]
def interleaved_to_half(d: int) -> torch.Tensor:
    """Channel order that turns the interleaved layout into the half one.

    `x[..., perm]` puts the even channels first, then the odd ones, so
    pair (2c, 2c+1) becomes pair (c, c + d/2):
    `rope(x[..., perm], p, layout="half")` equals
    `rope(x, p, layout="interleaved")[..., perm]`.
    """
    return torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])


# --8<-- [end:interleaved_to_half]


@checked_by(check_layout_permutation_args)
def half_to_interleaved(d: int) -> torch.Tensor:
    """The inverse of `interleaved_to_half`: `x[..., perm]` goes back."""
    return torch.argsort(interleaved_to_half(d))
