"""Attention without the n x n score matrix: online softmax and a tiled forward.

``attention_matmul`` builds every score at once, ``(..., n_q, n_k)`` numbers, which
at n = 65,536 tokens is 16 GiB per head in float32. The softmax needs each row's
maximum and sum, but both can be computed *online*: key block by key block, keeping
a running maximum ``m``, a running sum ``l`` and a running weighted sum of values
``acc``, and rescaling the old ``l`` and ``acc`` whenever the maximum grows.
``attention_online`` does that over key blocks for all queries at once;
``attention_tiled`` also splits the queries into blocks (the FlashAttention forward),
so the extra memory is the output plus one ``block_q x block_k`` tile.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import (
    check_attention_args,
    check_same_dtype_and_device,
    check_tensor,
    checked_by,
)
from selfattn.simplified import compute_dtype, default_scale

# Block sizes, measured on a 2-core Xeon (Sapphire Rapids, 2 MiB L2 per core) with
# d = 64 and 8 heads: a 256 x 256 float32 tile is 256 KiB per head, so a score tile
# and its exp stay in L2 while the next matrix product reads them. 128 x 128 was
# ~15% slower (more Python steps and dispatches per flop); 512 x 256 ~10% and
# 512 x 512 ~50% slower (the tile spills out of L2 and every elementwise pass goes
# to memory); 128 x 512 about the same.
BLOCK_Q = 256
BLOCK_K = 256


def _check_block(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def check_online_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    scale: Any = None,
    causal: Any = False,
    block_k: Any = BLOCK_K,
) -> None:
    """The calling convention's checks, plus a positive int ``block_k``."""
    check_attention_args(q, k, v, mask=mask, scale=scale, causal=causal)
    _check_block("block_k", block_k)


def check_tiled_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    scale: Any = None,
    causal: Any = False,
    block_q: Any = BLOCK_Q,
    block_k: Any = BLOCK_K,
) -> None:
    """The calling convention's checks, plus positive int ``block_q`` and ``block_k``."""
    check_attention_args(q, k, v, mask=mask, scale=scale, causal=causal)
    _check_block("block_q", block_q)
    _check_block("block_k", block_k)


def check_online_step(m: Any, l: Any, acc: Any, s: Any, v_j: Any) -> None:  # noqa: E741
    """``m``, ``l`` (B, n_q, 1), ``acc`` (B, n_q, d_v), ``s`` (B, n_q, b_k),
    ``v_j`` (B, b_k, d_v): one dtype, one device."""
    args = {"m": m, "l": l, "acc": acc, "s": s, "v_j": v_j}
    for name, value in args.items():
        check_tensor(name, value, min_dims=3)
        if value.dim() != 3:
            raise ValueError(
                f"{name} must have 3 dimensions (B, rows, columns), got shape "
                f"{tuple(value.shape)}"
            )
    check_same_dtype_and_device(**args)
    b, n_q, b_k, d_v = s.shape[0], s.shape[1], s.shape[2], v_j.shape[2]
    expected = {
        "m": (b, n_q, 1),
        "l": (b, n_q, 1),
        "acc": (b, n_q, d_v),
        "v_j": (b, b_k, d_v),
    }
    for name, shape in expected.items():
        if tuple(args[name].shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} to match s {tuple(s.shape)} and "
                f"v_j {tuple(v_j.shape)}, got {tuple(args[name].shape)}"
            )


@checked_by(check_online_step)
# --8<-- [start:online_softmax_step]
def online_softmax_step(
    m: torch.Tensor,
    l: torch.Tensor,  # noqa: E741 (l is the running sum, as in the FlashAttention paper)
    acc: torch.Tensor,
    s: torch.Tensor,
    v_j: torch.Tensor,
) -> torch.Tensor:
    """Fold one block of scores ``s`` into the running max, sum and weighted values.

    ``m' = max(m, rowmax s)``, ``l' = l e^(m - m') + rowsum e^(s - m')``,
    ``acc' = acc e^(m - m') + e^(s - m') V_j``. Returns ``m'``; ``l`` and ``acc``
    change in place and ``s`` is overwritten with ``e^(s - m')``. Masked scores must
    be ``-inf``. Shapes: ``m``, ``l`` (B, n_q, 1); ``acc`` (B, n_q, d_v);
    ``s`` (B, n_q, b_k); ``v_j`` (B, b_k, d_v).
    """
    # The max only keeps exp from overflowing; the result does not depend on it, so
    # autograd need not track it (detach), and its true gradient is zero anyway.
    m_new = torch.maximum(m, s.detach().amax(dim=-1, keepdim=True))  # (B, n_q, 1)
    # A row with no key kept so far has m' = -inf; shifting by the most negative
    # finite float instead gives exp(-inf - shift) = 0 rather than exp(nan) = nan.
    shift = m_new.clamp_min(torch.finfo(m_new.dtype).min)
    rescale = torch.exp(m - shift)  # e^(m - m') <= 1: the old terms shrink
    p = s.sub_(shift).exp_()  # in place: no second (B, n_q, b_k) tensor
    l.mul_(rescale).add_(p.sum(dim=-1, keepdim=True))
    acc.mul_(rescale).baddbmm_(p, v_j)  # acc * e^(m - m') + P V_j, the sum in the GEMM
    return m_new


# --8<-- [end:online_softmax_step]


@checked_by(check_online_args)
# --8<-- [start:attention_online]
def attention_online(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
    block_k: int = BLOCK_K,
) -> torch.Tensor:
    """``softmax(scale * Q K^T) V`` in one pass over key blocks, by online softmax.

    Holds ``n_q x block_k`` scores at a time instead of ``n_q x n_k``.
    Shapes: ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v)
    -> (..., n_q, d_v). float16/bfloat16 are computed in float32 and rounded back.
    """
    out_dtype, work = q.dtype, compute_dtype(q.dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    batch, n_q, n_k = q.shape[:-2], q.shape[-2], k.shape[-2]
    b = math.prod(batch)  # every batch and head index in one dimension, for bmm
    d_k, d_v = q.shape[-1], v.shape[-1]
    # Scaling q once (n_q x d_k numbers) is cheaper than scaling every score block.
    q3 = q.to(work).reshape(b, n_q, d_k) * scale  # (B, n_q, d_k)
    k3 = k.to(work).reshape(b, n_k, d_k)  # (B, n_k, d_k)
    v3 = v.to(work).reshape(b, n_k, d_v)  # (B, n_k, d_v)
    if mask is not None:
        mask = mask.expand(*batch, n_q, n_k)  # a view: nothing is copied yet
    m = q3.new_full((b, n_q, 1), -math.inf)  # running max of each query's scores
    l = q3.new_zeros((b, n_q, 1))  # noqa: E741 (running sum of exp(score - m))
    acc = q3.new_zeros((b, n_q, d_v))  # running sum of exp(score - m) v
    # Causal: query i sees keys 0..i, so keys from n_q on are seen by nobody.
    last = min(n_k, n_q) if causal else n_k
    for j0 in range(0, last, block_k):
        j1 = min(j0 + block_k, n_k)
        s = q3 @ k3[:, j0:j1].transpose(-2, -1)  # (B, n_q, b_k)
        if mask is not None:
            s.masked_fill_(~mask[..., j0:j1].reshape(b, n_q, j1 - j0), -math.inf)
        if causal:
            later = torch.arange(j0, j1, device=q.device) > torch.arange(
                n_q, device=q.device
            ).unsqueeze(-1)  # (n_q, b_k): key j is later than query i
            s.masked_fill_(later, -math.inf)
        m = online_softmax_step(m, l, acc, s, v3[:, j0:j1])
    # l >= 1 where any key was kept (the largest term is e^0 = 1); l = 0 (and
    # acc = 0) on a fully masked row, whose output is zero by our convention.
    out = acc / l.clamp_min(1.0)  # (B, n_q, d_v)
    return out.reshape(*batch, n_q, out.shape[-1]).to(out_dtype)


# --8<-- [end:attention_online]


@checked_by(check_tiled_args)
# --8<-- [start:attention_tiled]
def attention_tiled(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> torch.Tensor:
    """``softmax(scale * Q K^T) V`` tile by tile: query blocks x key/value blocks.

    The FlashAttention forward: each query block runs the online softmax over the
    key blocks, so at most one ``block_q x block_k`` score tile exists at a time;
    with ``causal``, key blocks wholly after a query block's last query are skipped.
    Shapes: ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v)
    -> (..., n_q, d_v). float16/bfloat16 are computed in float32 and rounded back.
    """
    out_dtype, work = q.dtype, compute_dtype(q.dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    batch, n_q, n_k = q.shape[:-2], q.shape[-2], k.shape[-2]
    b = math.prod(batch)  # all heads in one bmm: one Python step per tile, not per head
    d_k, d_v = q.shape[-1], v.shape[-1]
    q3 = q.to(work).reshape(b, n_q, d_k)  # (B, n_q, d_k); a view when contiguous
    # Split K and V into key blocks once, as views: K^T_j (B, d_k, b_k) lets the GEMM
    # read K transposed without a copy; V_j is (B, b_k, d_v).
    kT = k.to(work).reshape(b, n_k, d_k).transpose(-2, -1)  # (B, d_k, n_k)
    k_blocks = torch.split(kT, block_k, dim=-1)
    v_blocks = torch.split(v.to(work).reshape(b, n_k, d_v), block_k, dim=-2)
    if mask is not None:
        mask = mask.expand(*batch, n_q, n_k)  # a view; each tile is copied when used
    out = q3.new_empty((b, n_q, d_v))  # written block by block, never resized
    # Without autograd, one score buffer serves every tile (bmm's out=), so the loop
    # allocates no tile; autograd keeps each tile's exp for the backward pass, so
    # then every tile gets its own.
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
    buf = None if grad else q3.new_empty(b * min(block_q, n_q) * min(block_k, n_k))
    pos_q = torch.arange(n_q, device=q.device).unsqueeze(-1)  # (n_q, 1)
    pos_k = torch.arange(n_k, device=q.device)  # (n_k,)
    for i0 in range(0, n_q, block_q):
        i1 = min(i0 + block_q, n_q)
        # Scale the query block once (b_q x d_k products) rather than every score
        # tile (b_q x b_k each); a plain bmm then gives scale * Q_i K_j^T. (baddbmm's
        # alpha would fuse the scale too, but with beta = 0 it first fills its output.)
        q_i = q3[:, i0:i1] * scale  # (B, b_q, d_k)
        m = q3.new_full((b, i1 - i0, 1), -math.inf)
        l = q3.new_zeros((b, i1 - i0, 1))  # noqa: E741
        acc = q3.new_zeros((b, i1 - i0, d_v))  # (B, b_q, d_v)
        # Causal: a key block starting at or after i1 is after every query here.
        for j, j0 in enumerate(range(0, min(n_k, i1) if causal else n_k, block_k)):
            j1 = j0 + k_blocks[j].shape[-1]
            tile = None if buf is None else buf[: b * (i1 - i0) * (j1 - j0)]
            s = torch.bmm(
                q_i,
                k_blocks[j],
                out=None if tile is None else tile.view(b, i1 - i0, -1),
            )  # (B, b_q, b_k)
            if mask is not None:
                keep = mask[..., i0:i1, j0:j1].reshape(b, i1 - i0, j1 - j0)
                s.masked_fill_(~keep, -math.inf)
            if causal and j1 - 1 > i0:  # only tiles the diagonal crosses need a mask
                s.masked_fill_(pos_k[j0:j1] > pos_q[i0:i1], -math.inf)
            m = online_softmax_step(m, l, acc, s, v_blocks[j])
        out[:, i0:i1] = acc / l.clamp_min(1.0)  # l = 0 only on fully masked rows
    return out.reshape(*batch, n_q, d_v).to(out_dtype)


# --8<-- [end:attention_tiled]
