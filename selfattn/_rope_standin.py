"""A private stand-in for ``selfattn.positions.rope`` until that module lands.

Same signature and the same half-split layout: channel ``c`` and ``c + d/2`` form
one pair, rotated by the angle ``position * base ** (-2 c / d)``.
"""

from __future__ import annotations

import torch


def rope(
    x: torch.Tensor,
    positions: torch.Tensor,
    *,
    base: float = 10000.0,
    layout: str = "half",
) -> torch.Tensor:
    """Rotate pairs of channels of ``x`` (..., n, d) by angles that grow with position."""
    if layout != "half":
        raise ValueError(f"layout must be 'half' in this stand-in, got {layout!r}")
    half = x.shape[-1] // 2
    exponent = (
        torch.arange(half, dtype=torch.float64, device=x.device) * 2 / x.shape[-1]
    )
    angles = positions.to(torch.float64)[:, None] * base**-exponent  # (n, d/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)
