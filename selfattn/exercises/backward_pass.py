"""Solutions to the exercises of the chapter Training: the backward pass."""

from __future__ import annotations

import math

import torch


# --8<-- [start:logsumexp_blocks]
def logsumexp_blocks(s: torch.Tensor, block: int) -> torch.Tensor:
    """Each row's log-sum-exp, `L = m + log l`, one block of columns at a time.

    Shapes: `s` (..., n) -> (...): one number per row. A row of `-inf`
    gives `-inf`.
    """
    m = s.new_full(s.shape[:-1], -math.inf)
    l = s.new_zeros(s.shape[:-1])  # noqa: E741
    for j0 in range(0, s.shape[-1], block):
        s_j = s[..., j0 : j0 + block]
        m_new = torch.maximum(m, s_j.amax(dim=-1))
        shift = m_new.clamp_min(torch.finfo(s.dtype).min)  # -inf rows
        l = l * torch.exp(m - shift) + torch.exp(s_j - shift[..., None]).sum(-1)  # noqa: E741
        m = m_new
    return m + torch.log(l)


# --8<-- [end:logsumexp_blocks]


# --8<-- [start:saved_bytes]
def saved_bytes(batch_heads: int, n: int, d_k: int, d_v: int) -> int:
    """Bytes `attention_tiled` keeps for the backward pass, in float32.

    q and k (n x d_k), v and the output (n x d_v), and L (n numbers).
    """
    return 4 * batch_heads * n * (2 * d_k + 2 * d_v + 1)


# --8<-- [end:saved_bytes]
