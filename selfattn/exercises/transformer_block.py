"""Exercises of "Inside a transformer block"."""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import check_tensor, checked_by


def check_layer_norm_args(x: Any, weight: Any, bias: Any, eps: Any = 1e-5) -> None:
    """`x` (..., d); `weight` and `bias` (d,); `eps` a positive float."""
    x = check_tensor("x", x)
    for name, t in (("weight", weight), ("bias", bias)):
        t = check_tensor(name, t)
        if tuple(t.shape) != (x.shape[-1],):
            raise ValueError(
                f"{name} must have shape (d,) = ({x.shape[-1]},), got {tuple(t.shape)}"
            )
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive float, got {eps!r}")


@checked_by(check_layer_norm_args)
# --8<-- [start:layer_norm]
def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """`gamma * (x - mean) / sqrt(var + eps) + beta` over the last
    dimension (the biased variance, as `nn.LayerNorm`). (..., d) -> (..., d)."""
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return weight * (x - mu) / torch.sqrt(var + eps) + bias


# --8<-- [end:layer_norm]
