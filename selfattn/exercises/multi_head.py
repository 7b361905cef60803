"""Exercises of "Multi-head attention"."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfattn._checks import check_tensor, checked_by


def check_heads(t: Any) -> None:
    """`t` is `(..., h, n, d_h)`."""
    check_tensor("t", t, min_dims=3)


@checked_by(check_heads)
# --8<-- [start:merge_heads]
def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """The inverse of `split_heads`:
    `(..., h, n, d_h)` -> `(..., n, h d_h)`."""
    h, d_h = t.shape[-3], t.shape[-1]
    t = t.transpose(-3, -2)  # (..., n, h, d_h), not contiguous
    return t.reshape(*t.shape[:-2], h * d_h)  # reshape copies into order


# --8<-- [end:merge_heads]


def check_module(module: Any) -> None:
    """`module` is an `nn.Module`."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")


@checked_by(check_module)
# --8<-- [start:count_parameters]
def count_parameters(module: nn.Module) -> int:
    """How many numbers training adjusts in `module`. Buffers, such as
    the causal mask, are not parameters and are not counted."""
    return sum(p.numel() for p in module.parameters())


# --8<-- [end:count_parameters]
