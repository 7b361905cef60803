"""Boolean attention masks: True where a query may attend to a key."""

from __future__ import annotations

import torch


# --8<-- [start:causal_mask]
def causal_mask(
    n_q: int, n_k: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """``keep[i, j] = j <= i``: query ``i`` sees key ``j`` only if ``j`` is not later.

    Aligned at the top left, as ``scaled_dot_product_attention(is_causal=True)`` is:
    query 0 sees key 0 whatever ``n_k`` is. Shape: ``(n_q, n_k)``, dtype bool.
    """
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


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
