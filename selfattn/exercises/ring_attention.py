"""Solutions to the exercises of "Attention across devices" (docs/ring-attention.md)."""

from __future__ import annotations

import torch

from selfattn.ring import chunk_ids, pair_kind, ring_bytes, shard


# --8<-- [start:tokens_of]
def tokens_of(rank: int, world_size: int, n: int, layout: str) -> list[int]:
    """The positions of the tokens that `rank` holds."""
    positions = torch.arange(n, dtype=torch.float64).unsqueeze(-1)  # (n, 1)
    mine = shard(positions, rank, world_size, layout=layout)
    return [int(i) for i in mine.flatten().tolist()]


# --8<-- [end:tokens_of]


# --8<-- [start:bytes_by_hand]
def bytes_by_hand() -> int:
    """p = 4, n = 65,536, 8 heads, d_k = d_v = 64, bfloat16 (2 bytes)."""
    p, n, heads, d, itemsize = 4, 65_536, 8, 64, 2
    block = heads * (n // p) * (d + d)  # one rank's K and V: numbers
    return (p - 1) * block * itemsize  # p - 1 blocks leave each rank


# --8<-- [end:bytes_by_hand]


def bytes_by_formula() -> int:
    """The same number from `ring_bytes`, for the test."""
    return ring_bytes(65_536, 4, d_k=64, d_v=64, batch=8, itemsize=2)[0]


# --8<-- [start:slowest_rank_work]
def slowest_rank_work(world_size: int, *, layout: str) -> float:
    """Causal ring attention's time in units of one (n/p x n/p) block of
    scores: at each step every rank waits for the slowest, so add up
    the largest work of any rank, step by step. A full pair of chunks
    of n/(c p) tokens costs 1/c^2 of a block; a diagonal one half that.
    """
    p = world_size
    c = len(chunk_ids(0, p, layout))  # chunks per rank: 1 or 2
    cost = {"full": 1 / c**2, "diagonal": 0.5 / c**2, "skip": 0.0}
    total = 0.0
    for step in range(p):
        work = []
        for rank in range(p):
            source = (rank - step) % p
            work.append(
                sum(
                    cost[pair_kind(a, b, causal=True)]
                    for a in chunk_ids(rank, p, layout)
                    for b in chunk_ids(source, p, layout)
                )
            )
        total += max(work)
    return total


# --8<-- [end:slowest_rank_work]


# --8<-- [start:merge_all]
def merge_all(
    outs: list[torch.Tensor], lses: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the partial attentions of p disjoint key sets at once:
    `L = log sum_r e^(L_r)`, `out = sum_r e^(L_r - L) out_r`."""
    lse = torch.stack(lses).logsumexp(dim=0)  # (..., n_q)
    shift = lse.clamp_min(torch.finfo(lse.dtype).min)  # all -inf: 0 not nan
    out = sum(
        torch.exp(l_r - shift).unsqueeze(-1) * o_r
        for o_r, l_r in zip(outs, lses, strict=True)
    )
    return torch.as_tensor(out), lse


# --8<-- [end:merge_all]
