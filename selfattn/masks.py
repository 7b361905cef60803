"""Boolean attention masks: True where a query may attend to a key."""

from __future__ import annotations

from typing import Any, Literal

import torch

from selfattn._checks import check_device, check_positive_int, checked_by


def check_causal_mask_args(
    n_q: Any, n_k: Any, device: Any = None, *, align: Any = "top-left"
) -> None:
    """`n_q`, `n_k` counts of tokens, `align` one of the two alignments."""
    check_positive_int("n_q", n_q, minimum=0)
    check_positive_int("n_k", n_k, minimum=0)
    check_device("device", device)
    if align not in ("top-left", "bottom-right"):
        raise ValueError(f"align must be 'top-left' or 'bottom-right', got {align!r}")


@checked_by(check_causal_mask_args)
# --8<-- [start:causal_mask]
def causal_mask(
    n_q: int,
    n_k: int,
    device: torch.device | str | None = None,
    *,
    align: Literal["top-left", "bottom-right"] = "top-left",
) -> torch.Tensor:
    """`keep[i, j] = j <= i + offset`: query `i` sees key `j` only if it is not later.

    `align="top-left"` (offset 0, the default) is what
    `scaled_dot_product_attention(is_causal=True)` does: query 0 sees key 0 whatever
    `n_k` is. `align="bottom-right"` (offset `n_k - n_q`) lines the last query
    up with the last key, as in a decode step where `n_q` new tokens follow
    `n_k - n_q` cached ones. Shape: `(n_q, n_k)`, dtype bool.
    """
    offset = n_k - n_q if align == "bottom-right" else 0
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril(diagonal=offset)


# --8<-- [end:causal_mask]


# --8<-- [start:combined_mask]
def combined_mask(
    mask: torch.Tensor | None, causal: bool, n_q: int, n_k: int, device: torch.device
) -> torch.Tensor | None:
    """The user's mask and the causal mask together (logical and), or None if neither."""
    keep = causal_mask(n_q, n_k, device) if causal else None
    if mask is None:
        return keep
    return mask if keep is None else mask & keep


# --8<-- [end:combined_mask]
