"""Attention without the n x n score matrix: online softmax and a tiled forward.

`attention_matmul` builds every score at once, `(..., n_q, n_k)` numbers, which
at n = 65,536 tokens is 16 GiB per head in float32. The softmax needs each row's
maximum and sum, but both can be computed *online*: key block by key block, keeping
a running maximum `m`, a running sum `l` and a running weighted sum of values
`acc`, and rescaling the old `l` and `acc` whenever the maximum grows.
`attention_online` does that over key blocks for all queries at once;
`attention_tiled` also splits the queries into blocks (the FlashAttention forward),
so the extra memory is the output plus one `block_q x block_k` tile.
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
    """The calling convention's checks, plus a positive int `block_k`."""
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
    """The calling convention's checks, plus positive int `block_q` and `block_k`."""
    check_attention_args(q, k, v, mask=mask, scale=scale, causal=causal)
    _check_block("block_q", block_q)
    _check_block("block_k", block_k)


def check_online_step(m: Any, l: Any, acc: Any, s: Any, v_j: Any) -> None:  # noqa: E741
    """`m`, `l` (B, n_q, 1), `acc` (B, n_q, d_v), `s` (B, n_q, b_k),
    `v_j` (B, b_k, d_v): one dtype, one device."""
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
    """Fold one block of scores `s` into the running max, sum and weighted values.

    `m' = max(m, rowmax s)`, `l' = l e^(m - m') + rowsum e^(s - m')`,
    `acc' = acc e^(m - m') + e^(s - m') V_j`. Returns `m'`; `l` and `acc`
    change in place and `s` is overwritten with `e^(s - m')`. Masked scores must
    be `-inf`. Shapes: `m`, `l` (B, n_q, 1); `acc` (B, n_q, d_v);
    `s` (B, n_q, b_k); `v_j` (B, b_k, d_v).
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
    """`softmax(scale * Q K^T) V` in one pass over key blocks, by online softmax.

    Holds `n_q x block_k` scores at a time instead of `n_q x n_k`.
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k), `v` (..., n_k, d_v)
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


def check_backward_args(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    lse: Any,
    grad_out: Any,
    *,
    scale: Any = None,
    causal: Any = False,
    mask: Any = None,
    block_q: Any = BLOCK_Q,
    block_k: Any = BLOCK_K,
) -> None:
    """The forward's checks, plus `out` and `grad_out` shaped like the output
    and `lse` shaped like one number per query."""
    check_tiled_args(
        q, k, v, mask=mask, scale=scale, causal=causal, block_q=block_q, block_k=block_k
    )
    expected = (*q.shape[:-1], v.shape[-1])
    for name, t in (("out", out), ("grad_out", grad_out)):
        check_tensor(name, t, min_dims=2)
        if tuple(t.shape) != expected:
            raise ValueError(
                f"{name} must have the output's shape (..., n_q, d_v) = {expected}, "
                f"got shape {tuple(t.shape)}"
            )
        if t.device != q.device:
            raise ValueError(f"{name} must be on q's device {q.device}, got {t.device}")
    check_tensor("lse", lse, min_dims=1)
    if tuple(lse.shape) != tuple(q.shape[:-1]):
        raise ValueError(
            f"lse must have one number per query, shape (..., n_q) = "
            f"{tuple(q.shape[:-1])}, got shape {tuple(lse.shape)}"
        )
    if lse.device != q.device:
        raise ValueError(f"lse must be on q's device {q.device}, got {lse.device}")


def check_plain_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    scale: Any = None,
    block_q: Any = BLOCK_Q,
    block_k: Any = BLOCK_K,
) -> None:
    """The plain forward's checks: the tiled ones without mask and causal."""
    check_tiled_args(q, k, v, scale=scale, block_q=block_q, block_k=block_k)


def check_plain_backward_args(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    lse: Any,
    grad_out: Any,
    *,
    scale: Any = None,
    block_q: Any = BLOCK_Q,
    block_k: Any = BLOCK_K,
) -> None:
    """The plain backward's checks: the tiled ones without mask and causal."""
    check_backward_args(
        q, k, v, out, lse, grad_out, scale=scale, block_q=block_q, block_k=block_k
    )


@checked_by(check_plain_args)
# --8<-- [start:attention_tiled_plain]
def attention_tiled_plain(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The tiled forward, plainest form: no mask, no in-place ops.

    Each query block runs the online softmax over the key blocks.
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k),
    `v` (..., n_k, d_v) -> out (..., n_q, d_v) and each row's
    log-sum-exp, lse (..., n_q).
    """
    scale = default_scale(q.shape[-1]) if scale is None else scale
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    blocks, lses = [], []
    for i0 in range(0, n_q, block_q):
        q_i = q[..., i0 : i0 + block_q, :] * scale  # (..., b_q, d_k)
        m = q_i.new_full((*q_i.shape[:-1], 1), -math.inf)  # running max
        l = q_i.new_zeros((*q_i.shape[:-1], 1))  # noqa: E741
        acc = q_i.new_zeros((*q_i.shape[:-1], d_v))  # running sum of p v
        for j0 in range(0, n_k, block_k):
            k_j = k[..., j0 : j0 + block_k, :]  # (..., b_k, d_k)
            v_j = v[..., j0 : j0 + block_k, :]  # (..., b_k, d_v)
            s = q_i @ k_j.transpose(-2, -1)  # (..., b_q, b_k) scores
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
            p = torch.exp(s - m_new)
            rescale = torch.exp(m - m_new)  # shrinks the old terms
            l = l * rescale + p.sum(dim=-1, keepdim=True)  # noqa: E741
            acc = acc * rescale + p @ v_j
            m = m_new
        blocks.append(acc / l)  # (..., b_q, d_v): this block's output
        lses.append(m + torch.log(l))  # L = m + log l, (..., b_q, 1)
    return torch.cat(blocks, dim=-2), torch.cat(lses, dim=-2).squeeze(-1)


# --8<-- [end:attention_tiled_plain]


@checked_by(check_plain_backward_args)
# --8<-- [start:attention_backward_plain]
def attention_backward_plain(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    *,
    scale: float | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The FlashAttention backward, plainest form: no mask, no tuning.

    Recomputes each score tile from q, k and its row's log-sum-exp
    `L` (`out` and `lse` are what `attention_tiled_plain` gives).
    Shapes: `out` and `grad_out` (..., n_q, d_v), `lse` (..., n_q).
    """
    scale = default_scale(q.shape[-1]) if scale is None else scale
    n_q, n_k = q.shape[-2], k.shape[-2]
    lse = lse.unsqueeze(-1)  # (..., n_q, 1)
    d = (grad_out * out).sum(dim=-1, keepdim=True)  # D = rowsum(dO * O)
    dq = torch.zeros_like(q)
    dk, dv = torch.zeros_like(k), torch.zeros_like(v)
    for j0 in range(0, n_k, block_k):
        kj = slice(j0, j0 + block_k)
        k_j, v_j = k[..., kj, :], v[..., kj, :]
        for i0 in range(0, n_q, block_q):
            qi = slice(i0, i0 + block_q)
            q_i, do_i = q[..., qi, :], grad_out[..., qi, :]
            s = scale * (q_i @ k_j.transpose(-2, -1))  # (..., b_q, b_k)
            p = torch.exp(s - lse[..., qi, :])  # the weights again
            dv[..., kj, :] += p.transpose(-2, -1) @ do_i
            dp = do_i @ v_j.transpose(-2, -1)  # dL/dP
            ds = p * (dp - d[..., qi, :])  # dS = P * (dP - D)
            dq[..., qi, :] += scale * ds @ k_j
            dk[..., kj, :] += scale * ds.transpose(-2, -1) @ q_i
    return dq, dk, dv


# --8<-- [end:attention_backward_plain]


@checked_by(check_tiled_args)
# --8<-- [start:tiled_attention_forward]
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
    """The FlashAttention forward: the output and each row's logsumexp.

    `lse_i = log sum_j exp(scale * q_i . k_j)` over the keys query i
    keeps; a query that keeps none gets a zero row and `lse = -inf`.
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k),
    `v` (..., n_k, d_v) -> out (..., n_q, d_v) in q's dtype and
    lse (..., n_q) in float32 (float64 for float64 inputs). float16 and
    bfloat16 tiles are computed in float32, one block at a time: the
    inputs are never copied whole.
    """
    work = compute_dtype(q.dtype)  # float32, or float64 for float64
    scale = default_scale(q.shape[-1]) if scale is None else scale
    batch, n_q, n_k = q.shape[:-2], q.shape[-2], k.shape[-2]
    b = math.prod(batch)  # all heads in one bmm: one step per tile
    d_k, d_v = q.shape[-1], v.shape[-1]
    q3 = q.reshape(b, n_q, d_k)  # a view when q is contiguous
    # Key blocks as views; K^T_j (B, d_k, b_k) is read transposed.
    kT = k.reshape(b, n_k, d_k).transpose(-2, -1)
    k_blocks = torch.split(kT, block_k, dim=-1)
    v_blocks = torch.split(v.reshape(b, n_k, d_v), block_k, dim=-2)
    if mask is not None:  # a view; each tile is copied when used
        mask = mask.expand(*batch, n_q, n_k)
    out = q3.new_empty((b, n_q, d_v))
    lse = q3.new_empty((b, n_q, 1), dtype=work)
    # One score buffer serves every tile (bmm's out=).
    size = b * min(block_q, n_q) * min(block_k, n_k)
    buf = q3.new_empty(size, dtype=work)
    pos_q = torch.arange(n_q, device=q.device).unsqueeze(-1)
    pos_k = torch.arange(n_k, device=q.device)
    for i0 in range(0, n_q, block_q):
        i1 = min(i0 + block_q, n_q)
        # Scale the query block (b_q x d_k), not each tile (b_q x b_k).
        q_i = q3[:, i0:i1].to(work) * scale  # (B, b_q, d_k)
        m = q_i.new_full((b, i1 - i0, 1), -math.inf)
        l = q_i.new_zeros((b, i1 - i0, 1))  # noqa: E741
        acc = q_i.new_zeros((b, i1 - i0, d_v))  # (B, b_q, d_v)
        # Causal: key blocks from i1 on are after every query here.
        last = min(n_k, i1) if causal else n_k
        for j, j0 in enumerate(range(0, last, block_k)):
            j1 = j0 + k_blocks[j].shape[-1]
            shape = (b, i1 - i0, j1 - j0)
            tile = buf[: math.prod(shape)].view(shape)
            s = torch.bmm(q_i, k_blocks[j].to(work), out=tile)
            if mask is not None:
                keep = mask[..., i0:i1, j0:j1].reshape(shape)
                s.masked_fill_(~keep, -math.inf)
            if causal and j1 - 1 > i0:  # tiles the diagonal crosses
                later = pos_k[j0:j1] > pos_q[i0:i1]
                s.masked_fill_(later, -math.inf)
            v_j = v_blocks[j].to(work)
            m = online_softmax_step(m, l, acc, s, v_j)
        # l = 0 only on a row with no kept key: out 0, lse -inf.
        out[:, i0:i1] = acc / l.clamp_min(1.0)
        lse[:, i0:i1] = m + l.log()  # L = m + log l
    out = out.reshape(*batch, n_q, d_v)
    return out, lse.reshape(*batch, n_q)


# --8<-- [end:tiled_attention_forward]


@checked_by(check_backward_args)
# --8<-- [start:tiled_attention_backward]
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
    """`(dq, dk, dv)` from the saved `out` and `lse`, recomputing each tile.

    Per tile: `P = exp(scale * Q_i K_j^T - L_i)`, `dV_j += P^T dO_i`,
    `dP = dO_i V_j^T`, `dS = P * (dP - D_i)` with `D = rowsum(dO * O)`,
    `dQ_i += scale * dS K_j`, `dK_j += scale * dS^T Q_i`. A row with
    `lse = -inf` contributes nothing. `out` and `lse` may come from more
    keys than `k` holds (one block of a larger attention): the identity holds
    block by block.
    """
    work = compute_dtype(q.dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    batch, n_q, n_k = q.shape[:-2], q.shape[-2], k.shape[-2]
    b = math.prod(batch)
    d_k, d_v = q.shape[-1], v.shape[-1]
    q3, k3 = q.reshape(b, n_q, d_k), k.reshape(b, n_k, d_k)
    v3, do3 = v.reshape(b, n_k, d_v), grad_out.reshape(b, n_q, d_v)
    o3 = out.reshape(b, n_q, d_v)
    # exp(s - L) must be 0 on a row that kept no key: L = +inf there, not -inf.
    lse3 = lse.reshape(b, n_q, 1).to(work)
    lse3 = lse3.masked_fill(lse3 == -math.inf, math.inf)
    if mask is not None:
        mask = mask.expand(*batch, n_q, n_k)
    # D_i = rowsum(dO_i * O_i) = sum_j P_ij dP_ij, one number per query.
    dsum = q3.new_empty((b, n_q, 1), dtype=work)
    for i0 in range(0, n_q, block_q):
        do_i, o_i = do3[:, i0 : i0 + block_q], o3[:, i0 : i0 + block_q]
        dsum[:, i0 : i0 + block_q] = (do_i.to(work) * o_i.to(work)).sum(-1, True)
    # dQ_i sums dS K_j over key blocks: one contiguous accumulator per query block
    # (a slice of one (B, n_q, d_k) tensor would make baddbmm_ loop over B).
    dq_blocks = [
        q3.new_zeros((b, min(block_q, n_q - i0), d_k), dtype=work)
        for i0 in range(0, n_q, block_q)
    ]
    dk, dv = torch.empty_like(k3), torch.empty_like(v3)
    size = b * min(block_q, n_q) * min(block_k, n_k)
    s_buf, dp_buf = q3.new_empty(size, dtype=work), q3.new_empty(size, dtype=work)
    pos_q = torch.arange(n_q, device=q.device).unsqueeze(-1)  # (n_q, 1)
    pos_k = torch.arange(n_k, device=q.device)  # (n_k,)
    for j0 in range(0, n_k, block_k):  # outer: key blocks (FlashAttention-2)
        j1 = min(j0 + block_k, n_k)
        k_j, v_j = k3[:, j0:j1].to(work), v3[:, j0:j1].to(work)  # (B, b_k, d)
        dk_j = k_j.new_zeros((b, j1 - j0, d_k))
        dv_j = v_j.new_zeros((b, j1 - j0, d_v))
        # Causal: query blocks that end before key j0 see none of these keys.
        first = j0 // block_q * block_q if causal else 0
        for i0 in range(first, n_q, block_q):
            i1 = min(i0 + block_q, n_q)
            shape = (b, i1 - i0, j1 - j0)
            q_i = q3[:, i0:i1].to(work) * scale  # (B, b_q, d_k)
            do_i = do3[:, i0:i1].to(work)  # (B, b_q, d_v)
            s = s_buf[: math.prod(shape)].view(shape)
            torch.bmm(q_i, k_j.transpose(-2, -1), out=s)  # scale * Q_i K_j^T
            if mask is not None:
                keep = mask[..., i0:i1, j0:j1].reshape(shape)
                s.masked_fill_(~keep, -math.inf)
            if causal and j1 - 1 > i0:
                s.masked_fill_(pos_k[j0:j1] > pos_q[i0:i1], -math.inf)
            p = s.sub_(lse3[:, i0:i1]).exp_()  # P = exp(S - L): the weights
            dv_j.baddbmm_(p.transpose(-2, -1), do_i)  # dV_j += P^T dO_i
            dp = dp_buf[: math.prod(shape)].view(shape)
            torch.bmm(do_i, v_j.transpose(-2, -1), out=dp)  # dP = dO_i V_j^T
            ds = dp.sub_(dsum[:, i0:i1]).mul_(p)  # dS = P * (dP - D)
            dq_blocks[i0 // block_q].baddbmm_(ds, k_j)  # dQ_i += dS K_j
            dk_j.baddbmm_(ds.transpose(-2, -1), q_i)  # dK_j += dS^T (scale Q_i)
        dk[:, j0:j1], dv[:, j0:j1] = dk_j, dv_j
    dq = torch.cat([(scale * dq_i).to(q.dtype) for dq_i in dq_blocks], dim=1)
    return dq.reshape(q.shape), dk.reshape(k.shape), dv.reshape(v.shape)


# --8<-- [end:tiled_attention_backward]


Grads = tuple[torch.Tensor | None, ...]  # one per argument of forward


# --8<-- [start:TiledAttention]
class TiledAttention(torch.autograd.Function):
    """Tiled attention for autograd: keeps q, k, v, out and `lse`.

    The backward recomputes every score tile from them, so training
    takes O(n d) memory, like the forward.
    """

    @staticmethod
    def forward(
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        scale: float | None,
        causal: bool,
        block_q: int,
        block_k: int,
    ) -> torch.Tensor:
        opts = {"scale": scale, "causal": causal, "mask": mask}
        blocks = {"block_q": block_q, "block_k": block_k}
        out, lse = tiled_attention_forward(q, k, v, **opts, **blocks)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.opts, ctx.blocks = opts, blocks
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> Grads:
        if torch.is_grad_enabled():  # create_graph=True
            raise RuntimeError(
                "attention_tiled supports one backward pass only: "
                "its backward recomputes the tiles without autograd, "
                "so create_graph=True (a second derivative) is not "
                "available; use attention_matmul"
            )
        q, k, v, out, lse = ctx.saved_tensors
        grads = tiled_attention_backward(
            q, k, v, out, lse, grad_out.contiguous(),
            **ctx.opts, **ctx.blocks,
        )  # fmt: skip
        return *grads, None, None, None, None, None


# --8<-- [end:TiledAttention]


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
    """`softmax(scale * Q K^T) V` by tiles, O(n d) memory in training.

    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k),
    `v` (..., n_k, d_v) -> (..., n_q, d_v), in q's dtype. With
    `causal`, key blocks wholly after a query block are skipped, in
    the forward and the backward pass.
    """
    args = (q, k, v, mask, scale, causal, block_q, block_k)
    out: torch.Tensor = TiledAttention.apply(*args)
    return out


# --8<-- [end:attention_tiled]
