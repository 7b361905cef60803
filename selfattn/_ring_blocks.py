"""TEMPORARY stand-in for ``selfattn.efficient``'s tiled forward and backward.

The ring computes each block with ``tiled_attention_forward`` and
``tiled_attention_backward`` (being written on the ``backward`` branch); until they
land, these dense versions with the same signatures and the same contract let the
ring be built and tested. Delete this file once ``selfattn.efficient`` has them.
"""

from __future__ import annotations

import math

import torch

from selfattn.efficient import BLOCK_K, BLOCK_Q
from selfattn.simplified import compute_dtype, default_scale


def _scores(
    q: torch.Tensor,
    k: torch.Tensor,
    scale: float,
    causal: bool,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    s = scale * (q @ k.transpose(-2, -1))  # (..., n_q, n_k)
    keep = torch.ones(s.shape[-2:], dtype=torch.bool, device=q.device)
    if causal:
        keep = keep.tril()
    if mask is not None:
        keep = keep & mask
    return s.masked_fill(~keep, -math.inf)


def tiled_attention_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    mask: torch.Tensor | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, lse); a query with no kept key gets out = 0, lse = -inf."""
    del block_q, block_k
    work = compute_dtype(q.dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    s = _scores(q.to(work), k.to(work), scale, causal, mask)
    lse = torch.logsumexp(s, dim=-1)  # (..., n_q)
    shift = lse.clamp_min(torch.finfo(work).min).unsqueeze(-1)
    out = torch.exp(s - shift) @ v.to(work)
    return out.to(q.dtype), lse


def tiled_attention_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    mask: torch.Tensor | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dq, dk, dv) from the (global) out and lse."""
    del block_q, block_k
    work = compute_dtype(q.dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    q_, k_, v_ = q.to(work), k.to(work), v.to(work)
    do, o = grad_out.to(work), out.to(work)
    s = _scores(q_, k_, scale, causal, mask)
    shift = lse.to(work).clamp_min(torch.finfo(work).min).unsqueeze(-1)
    p = torch.exp(s - shift)  # (..., n_q, n_k), the global weights of these keys
    dv = p.transpose(-2, -1) @ do
    dp = do @ v_.transpose(-2, -1)
    delta = (do * o).sum(dim=-1, keepdim=True)  # rowsum(dO * O), O the global output
    ds = p * (dp - delta)
    dq = scale * (ds @ k_)
    dk = scale * (ds.transpose(-2, -1) @ q_)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)
