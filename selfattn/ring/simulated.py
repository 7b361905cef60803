"""The algorithm itself: merging partial results by their log-sum-exp, and the
whole ring played in one process (`ring_simulated`), with no communication."""

from __future__ import annotations

import math
from typing import Any

import torch

from selfattn._checks import check_attention_args, check_positive_int, checked_by
from selfattn.efficient import tiled_attention_forward
from selfattn.ring.layout import check_divisible, check_layout, shard, unshard
from selfattn.simplified import compute_dtype

# ---- merging partial results ------------------------------------------------------


# --8<-- [start:merge_partials]
def merge_partials(
    out: torch.Tensor,
    lse: torch.Tensor,
    out_b: torch.Tensor,
    lse_b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention over keys A and B from attention over A and over B.

    `lse` is the log-sum-exp of each query's scores, `L = m + log l`:
    `L' = log(e^L + e^L_b)`, `out' = e^(L - L') out + e^(L_b - L') out_b`.
    Both factors are at most 1: nothing overflows. Shapes: `out`,
    `out_b` (..., n_q, d_v); `lse`, `lse_b` (..., n_q).
    """
    lse_new = torch.logaddexp(lse, lse_b)
    # No key kept on either side: L' = -inf; shift by the most negative
    # float instead, so that both weights are exp(-inf) = 0, not nan.
    shift = lse_new.clamp_min(torch.finfo(lse_new.dtype).min)
    w = torch.exp(lse - shift).unsqueeze(-1)  # e^(L - L') <= 1
    w_b = torch.exp(lse_b - shift).unsqueeze(-1)
    return w * out + w_b * out_b, lse_new


# --8<-- [end:merge_partials]


# ---- the plain form: the ring in one process ---------------------------------------


def check_simulated_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    world_size: Any,
    causal: Any = False,
    layout: Any = "contiguous",
    scale: Any = None,
) -> None:
    check_attention_args(q, k, v, scale=scale, causal=causal)
    check_positive_int("world_size", world_size)
    check_layout(layout)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            "q and k must hold the same tokens (self-attention over one sequence), "
            f"got n_q={q.shape[-2]}, n_k={k.shape[-2]}"
        )
    check_divisible("q", q.shape[-2], world_size, layout)


@checked_by(check_simulated_args)
# --8<-- [start:ring_simulated]
def ring_simulated(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    world_size: int,
    causal: bool = False,
    layout: str = "contiguous",
    scale: float | None = None,
) -> torch.Tensor:
    """Ring attention for `world_size` ranks, played in one process.

    Each rank keeps its query shard; at step s it holds the key/value
    shard of rank `(r - s) mod p` and merges that block's attention
    into its running output. Shapes as `attention_matmul`.
    """
    p, work = world_size, compute_dtype(q.dtype)
    where = torch.arange(q.shape[-2], dtype=work, device=q.device)
    where = where.unsqueeze(-1)  # (n, 1): each token's position
    outs = []
    for rank in range(p):
        q_r = shard(q, rank, p, layout=layout).to(work)
        i = shard(where, rank, p, layout=layout)  # (n/p, 1)
        out = q_r.new_zeros((*q_r.shape[:-1], v.shape[-1]))
        lse = q_r.new_full(q_r.shape[:-1], -math.inf)  # no key seen
        for step in range(p):
            source = (rank - step) % p  # whose keys we hold now
            k_s, v_s, j = (
                shard(t, source, p, layout=layout).to(work) for t in (k, v, where)
            )
            mask = j.mT <= i if causal else None  # key j <= query i
            out_b, lse_b = tiled_attention_forward(
                q_r, k_s, v_s, scale=scale, mask=mask
            )
            out, lse = merge_partials(out, lse, out_b, lse_b)
        outs.append(out.to(q.dtype))
    return unshard(outs, layout=layout)


# --8<-- [end:ring_simulated]
