"""Attention across processes: ring attention on `torch.distributed`.

A sequence too long for one device is split along its tokens: each of `p`
processes (ranks) holds `n / p` queries, keys and values. Every rank keeps its
queries and passes its key/value block to the next rank in a ring; after `p`
steps each rank has seen every block and folded it into its output with the same
online softmax as the tiled forward (`merge_partials`). The backward pass sends
the key/value blocks around again, together with their gradients, so that each
rank ends with the gradients of its own shard.

`ring_simulated` is the same algorithm in one process, without communication;
`ring_attention` is the distributed one (gloo on CPUs, NCCL on GPUs), and
`python -m selfattn.ring --nproc 4` runs it in four local processes.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import queue
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torch.distributed as dist

from selfattn._checks import (
    _describe,
    check_attention_args,
    check_flag,
    check_positive_int,
    check_tensor,
    checked_by,
)
from selfattn.efficient import tiled_attention_backward, tiled_attention_forward
from selfattn.simplified import compute_dtype, default_scale

LAYOUTS = ("contiguous", "zigzag")

# ---- which rank holds which tokens --------------------------------------------


def check_layout(layout: Any) -> None:
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(
            f"layout must be one of {', '.join(map(repr, LAYOUTS))}, "
            f"got {_describe(layout)}"
        )


def check_rank(rank: Any, world_size: Any) -> None:
    check_positive_int("world_size", world_size)
    check_positive_int("rank", rank, minimum=0)
    if rank >= world_size:
        raise ValueError(
            f"rank must lie in 0..world_size-1 = 0..{world_size - 1}, got {rank}"
        )


def check_chunk_args(rank: Any, world_size: Any, layout: Any) -> None:
    check_rank(rank, world_size)
    check_layout(layout)


def check_divisible(name: str, n: int, world_size: int, layout: str) -> None:
    chunks = num_chunks(world_size, layout)
    if n % chunks:
        raise ValueError(
            f"{name} must split into {chunks} equal chunks along dim -2 "
            f"({layout} layout, world_size={world_size}), got {n} tokens; pad "
            f"the sequence to a multiple of {chunks}"
        )


def num_chunks(world_size: int, layout: str) -> int:
    """How many equal chunks a layout cuts the sequence into: `p` or `2p`."""
    return world_size if layout == "contiguous" else 2 * world_size


@checked_by(check_chunk_args)
# --8<-- [start:chunk_ids]
def chunk_ids(rank: int, world_size: int, layout: str) -> tuple[int, ...]:
    """The chunks of the sequence that `rank` holds, in order.

    `"contiguous"`: the sequence in `p` chunks, rank r holds chunk r.
    `"zigzag"`: in `2p` chunks, rank r holds chunks r and 2p-1-r, one
    early and one late, so that causal attention gives every rank the
    same work.
    """
    if layout == "contiguous":
        return (rank,)
    return (rank, 2 * world_size - 1 - rank)


# --8<-- [end:chunk_ids]


def check_shard_args(x: Any, rank: Any, world_size: Any, *, layout: Any) -> None:
    check_tensor("x", x, min_dims=2)
    check_chunk_args(rank, world_size, layout)
    check_divisible("x", x.shape[-2], world_size, layout)


@checked_by(check_shard_args)
# --8<-- [start:shard]
def shard(x: torch.Tensor, rank: int, world_size: int, *, layout: str) -> torch.Tensor:
    """Rank `rank`'s part of `x` (..., n, d) along the tokens (dim -2):
    (..., n / p, d). `n` must split into the layout's equal chunks."""
    chunks = torch.tensor_split(x, num_chunks(world_size, layout), dim=-2)
    mine = [chunks[c] for c in chunk_ids(rank, world_size, layout)]
    return torch.cat(mine, dim=-2)


# --8<-- [end:shard]


def check_unshard_args(shards: Any, *, layout: Any) -> None:
    if not isinstance(shards, (list, tuple)) or not shards:
        raise TypeError(
            f"shards must be a non-empty list of tensors, one per rank, got "
            f"{_describe(shards)}"
        )
    check_layout(layout)
    for r, s in enumerate(shards):
        check_tensor(f"shards[{r}]", s, min_dims=2)
        if s.shape != shards[0].shape:
            raise ValueError(
                f"shards must share one shape, got shards[0] {tuple(shards[0].shape)}"
                f" and shards[{r}] {tuple(s.shape)}"
            )
    if layout == "zigzag" and shards[0].shape[-2] % 2:
        raise ValueError(
            "zigzag shards hold two equal chunks each, so their length along dim -2 "
            f"must be even, got {shards[0].shape[-2]}"
        )


@checked_by(check_unshard_args)
# --8<-- [start:unshard]
def unshard(shards: Sequence[torch.Tensor], *, layout: str) -> torch.Tensor:
    """The whole sequence back from every rank's shard (`shards[r]` from
    rank r): the inverse of `shard`."""
    p = len(shards)
    pieces: dict[int, torch.Tensor] = {}
    for rank, x in enumerate(shards):
        ids = chunk_ids(rank, p, layout)
        for c, piece in zip(ids, x.chunk(len(ids), -2), strict=True):
            pieces[c] = piece
    return torch.cat([pieces[c] for c in sorted(pieces)], dim=-2)


# --8<-- [end:unshard]


# ---- the schedule: which block meets which, and how -----------------------------


class Pair(NamedTuple):
    """One (query chunk, key chunk) block a rank computes at one ring step."""

    step: int
    q_chunk: int
    k_chunk: int
    kind: str  # "full", "diagonal" (a causal square) or "skip"


# --8<-- [start:pair_kind]
def pair_kind(q_chunk: int, k_chunk: int, causal: bool) -> str:
    """How a query chunk sees an equal-sized key chunk: `"full"`,
    `"diagonal"` (causal within the square) or `"skip"` (all later)."""
    if not causal or k_chunk < q_chunk:
        return "full"
    return "diagonal" if k_chunk == q_chunk else "skip"


# --8<-- [end:pair_kind]


def check_schedule_args(
    rank: Any, world_size: Any, *, layout: Any, causal: Any
) -> None:
    check_chunk_args(rank, world_size, layout)
    check_flag("causal", causal)


@checked_by(check_schedule_args)
def ring_schedule(
    rank: int, world_size: int, *, layout: str, causal: bool
) -> list[Pair]:
    """Every block `rank` meets in the ring, skipped ones included: at step s it
    holds the keys and values of rank `(rank - s) mod p`."""
    pairs = []
    for step in range(world_size):
        source = (rank - step) % world_size
        for a in chunk_ids(rank, world_size, layout):
            for b in chunk_ids(source, world_size, layout):
                pairs.append(Pair(step, a, b, pair_kind(a, b, causal)))
    return pairs


def pair_tiles(pair: Pair, world_size: int, layout: str) -> list[tuple[int, int, str]]:
    """The tiles of the `2p x 2p` grid (chunks of `n / 2p` tokens, the same grid
    for both layouts) that a computed pair covers with at least one kept score, as
    (query tile, key tile, "full" or "diagonal"). A zigzag chunk is one grid tile; a
    contiguous chunk is two, so a full contiguous pair covers 4 tiles and a diagonal
    one 3 (two causal squares and the full tile below them). Skipped: none."""
    if pair.kind == "skip":
        return []
    per = 2 * world_size // num_chunks(world_size, layout)  # grid tiles per chunk
    tiles = []
    for i in range(pair.q_chunk * per, (pair.q_chunk + 1) * per):
        for j in range(pair.k_chunk * per, (pair.k_chunk + 1) * per):
            if pair.kind == "full" or j < i:
                tiles.append((i, j, "full"))
            elif j == i:
                tiles.append((i, j, "diagonal"))
    return tiles


def unmasked_tiles(pairs: Sequence[Pair], world_size: int, layout: str) -> int:
    """How many tiles of the `2p x 2p` grid the pairs cover (`pair_tiles`)."""
    return sum(len(pair_tiles(pair, world_size, layout)) for pair in pairs)


def tiles_per_rank(world_size: int, *, layout: str, causal: bool) -> list[int]:
    """Unmasked tiles of the `2p x 2p` grid that each rank computes."""
    return [
        unmasked_tiles(
            ring_schedule(r, world_size, layout=layout, causal=causal),
            world_size,
            layout,
        )
        for r in range(world_size)
    ]


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
    p = world_size
    outs = []
    for rank in range(p):
        q_r = shard(q, rank, p, layout=layout).to(compute_dtype(q.dtype))
        out = q_r.new_zeros((*q_r.shape[:-1], v.shape[-1]))
        lse = q_r.new_full(q_r.shape[:-1], -math.inf)
        mine = chunk_ids(rank, p, layout)
        for step in range(p):
            source = (rank - step) % p  # whose keys we hold now
            k_s = shard(k, source, p, layout=layout)
            v_s = shard(v, source, p, layout=layout)
            theirs = chunk_ids(source, p, layout)
            for a, q_a, o_a, l_a in zip(
                mine,
                q_r.chunk(len(mine), -2),
                out.chunk(len(mine), -2),
                lse.chunk(len(mine), -1),
                strict=True,
            ):
                for b, k_b, v_b in zip(
                    theirs,
                    k_s.chunk(len(theirs), -2),
                    v_s.chunk(len(theirs), -2),
                    strict=True,
                ):
                    kind = pair_kind(a, b, causal)
                    if kind == "skip":
                        continue
                    o_b, l_b = tiled_attention_forward(
                        q_a,
                        k_b,
                        v_b,
                        scale=scale,
                        causal=kind == "diagonal",
                    )
                    o_new, l_new = merge_partials(o_a, l_a, o_b, l_b)
                    o_a.copy_(o_new)  # o_a, l_a: views into out, lse
                    l_a.copy_(l_new)
        outs.append(out.to(q.dtype))
    return unshard(outs, layout=layout)


# --8<-- [end:ring_simulated]


# ---- the distributed ring ----------------------------------------------------------


@dataclass
class RingStats:
    """What one rank's `ring_attention` did: the pairs it computed (skipped ones
    included, as in `ring_schedule`) and the bytes it sent, counted where it sends.
    Pass one to `ring_attention(..., stats=...)`; the backward pass adds to it."""

    forward_pairs: list[Pair] = field(default_factory=list)
    backward_pairs: list[Pair] = field(default_factory=list)
    bytes_sent_forward: int = 0
    bytes_sent_backward: int = 0
    messages_sent: int = 0
    wait_seconds: float = 0.0  # blocked on a transfer, not computing


NO_GROUP = (
    "ring_attention needs a torch.distributed process group, and none is "
    "initialised. Start one in every process, e.g. "
    "torch.distributed.init_process_group('gloo') under torchrun "
    "(`torchrun --nproc-per-node 4 your_script.py`), or with MASTER_ADDR, "
    "MASTER_PORT, RANK and WORLD_SIZE set; `python -m selfattn.ring --nproc 4` "
    "starts local processes for you"
)


def check_ring_args(
    q: Any,
    k: Any,
    v: Any,
    *,
    scale: Any = None,
    causal: Any = False,
    layout: Any = "contiguous",
    group: Any = None,
    stats: Any = None,
) -> None:
    check_attention_args(q, k, v, scale=scale, causal=causal)
    check_layout(layout)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            "q, k and v must be this rank's shards of one sequence, with the same "
            f"number of tokens, got n_q={q.shape[-2]}, n_k={k.shape[-2]}"
        )
    if layout == "zigzag" and q.shape[-2] % 2:
        raise ValueError(
            "a zigzag shard holds two equal chunks, so q, k and v need an even number "
            f"of tokens along dim -2, got {q.shape[-2]}"
        )
    if stats is not None and not isinstance(stats, RingStats):
        raise TypeError(f"stats must be a RingStats or None, got {_describe(stats)}")
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(NO_GROUP)
    if group is not None and not isinstance(group, dist.ProcessGroup):
        raise TypeError(
            f"group must be a torch.distributed ProcessGroup or None, got "
            f"{_describe(group)}"
        )


def _neighbours(group: dist.ProcessGroup | None) -> tuple[int, int, int, int]:
    """(rank, world size, next rank, previous rank) within `group`."""
    rank, p = dist.get_rank(group), dist.get_world_size(group)
    return rank, p, (rank + 1) % p, (rank - 1) % p


def _pass_on(
    send: torch.Tensor,
    recv: torch.Tensor,
    group: dist.ProcessGroup | None,
    tag: int,
) -> list[dist.Work]:
    """Start sending `send` to the next rank and receiving `recv` from the
    previous one; returns the requests to wait on."""
    _, _, nxt, prev = _neighbours(group)
    works = [
        dist.isend(send, group=group, group_dst=nxt, tag=tag),
        dist.irecv(recv, group=group, group_src=prev, tag=tag),
    ]
    return [w for w in works if w is not None]


def _wait(works: list[dist.Work], stats: RingStats | None = None) -> None:
    start = time.perf_counter()
    for w in works:
        w.wait()
    works.clear()  # a request keeps its buffers alive: let them go
    if stats is not None:
        stats.wait_seconds += time.perf_counter() - start


def _count(stats: RingStats | None, sent: torch.Tensor, backward: bool) -> None:
    if stats is None:
        return
    nbytes = sent.numel() * sent.element_size()
    if backward:
        stats.bytes_sent_backward += nbytes
    else:
        stats.bytes_sent_forward += nbytes
    stats.messages_sent += 1


def _pairs(
    mine: tuple[int, ...],
    theirs: tuple[int, ...],
    causal: bool,
    step: int,
    record: list[Pair] | None,
) -> Iterator[tuple[int, int, bool]]:
    """(i, j, diagonal) for each pair of this rank's i-th query chunk and the held
    block's j-th key chunk that is not skipped; `record` gets every pair."""
    for i, a in enumerate(mine):
        for j, b in enumerate(theirs):
            kind = pair_kind(a, b, causal)
            if record is not None:
                record.append(Pair(step, a, b, kind))
            if kind != "skip":
                yield i, j, kind == "diagonal"


# --8<-- [start:attend_block]
def attend_block(
    q: torch.Tensor,
    kv: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    pairs: Iterable[tuple[int, int, bool]],
    c: int,
    d_k: int,
    scale: float,
) -> None:
    """Fold q's attention over one held K | V block into the running
    (out, lse), in place. A shard is c = 1 or 2 chunks; `pairs` lists
    (query chunk i, key chunk j, diagonal) to compute."""
    k, v = torch.split(kv, [d_k, kv.shape[-1] - d_k], dim=-1)
    for i, j, diagonal in pairs:
        o_b, l_b = tiled_attention_forward(
            q.chunk(c, -2)[i],
            k.chunk(c, -2)[j],
            v.chunk(c, -2)[j],
            scale=scale,
            causal=diagonal,  # the causal square on the diagonal
        )
        o_i, l_i = out.chunk(c, -2)[i], lse.chunk(c, -1)[i]  # views
        o_new, l_new = merge_partials(o_i, l_i, o_b, l_b)
        o_i.copy_(o_new)
        l_i.copy_(l_new)


# --8<-- [end:attend_block]


# --8<-- [start:ring_forward]
def ring_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    causal: bool,
    layout: str,
    group: dist.ProcessGroup | None,
    stats: RingStats | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's (out, lse) of ring attention. q, k, v: this rank's
    shards, (..., n / p, d_k) and (..., n / p, d_v)."""
    rank, p, _, _ = _neighbours(group)
    mine = chunk_ids(rank, p, layout)
    record = None if stats is None else stats.forward_pairs
    work = compute_dtype(q.dtype)
    out = q.new_zeros((*q.shape[:-1], v.shape[-1]), dtype=work)
    lse = q.new_full(q.shape[:-1], -math.inf, dtype=work)
    kv = torch.cat([k, v], dim=-1)  # one message per step
    for step in range(p):
        source = (rank - step) % p  # whose keys and values we hold
        if step < p - 1:  # the next block travels while we compute
            incoming = torch.empty_like(kv)
            works = _pass_on(kv, incoming, group, tag=0)
            _count(stats, kv, backward=False)
        theirs = chunk_ids(source, p, layout)
        pairs = _pairs(mine, theirs, causal, step, record)
        attend_block(q, kv, out, lse, pairs, len(mine), k.shape[-1], scale)
        if step < p - 1:
            _wait(works, stats)
            kv = incoming
    return out.to(q.dtype), lse


# --8<-- [end:ring_forward]


# --8<-- [start:block_gradients]
def block_gradients(
    q: torch.Tensor,
    kv: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    dq: torch.Tensor,
    pairs: Iterable[tuple[int, int, bool]],
    c: int,
    d_k: int,
    scale: float,
) -> torch.Tensor:
    """Add this rank's dQ over one held K | V block into `dq` (in
    place) and return this rank's share of that block's dK | dV."""
    k, v = torch.split(kv, [d_k, kv.shape[-1] - d_k], dim=-1)
    part = torch.zeros_like(kv, dtype=dq.dtype)
    for i, j, diagonal in pairs:
        dq_i, dk_j, dv_j = tiled_attention_backward(
            q.chunk(c, -2)[i],
            k.chunk(c, -2)[j],
            v.chunk(c, -2)[j],
            out.chunk(c, -2)[i],
            lse.chunk(c, -1)[i],
            grad_out.chunk(c, -2)[i],
            scale=scale,
            causal=diagonal,
        )
        dq.chunk(c, -2)[i].add_(dq_i)
        part.chunk(c, -2)[j].add_(torch.cat([dk_j, dv_j], dim=-1))
    return part


# --8<-- [end:block_gradients]


# --8<-- [start:ring_backward]
def ring_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    scale: float,
    causal: bool,
    layout: str,
    group: dist.ProcessGroup | None,
    stats: RingStats | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's (dq, dk, dv). The key/value blocks go round the ring
    again, each followed by an accumulator of its gradients (dK | dV)
    that every rank adds to; one last hop brings each one home."""
    rank, p, _, _ = _neighbours(group)
    mine = chunk_ids(rank, p, layout)
    record = None if stats is None else stats.backward_pairs
    d_k = k.shape[-1]
    dq = torch.zeros_like(q, dtype=compute_dtype(q.dtype))
    kv = torch.cat([k, v], dim=-1)
    acc = torch.zeros_like(kv, dtype=dq.dtype)  # dK | dV of the block held
    for step in range(p):
        source = (rank - step) % p
        if step < p - 1:
            incoming = torch.empty_like(kv)
            works = _pass_on(kv, incoming, group, tag=0)
            _count(stats, kv, backward=True)
        if step > 0:  # last step's accumulator moves on with its block
            acc_in = torch.empty_like(acc)
            acc_works = _pass_on(acc, acc_in, group, tag=1)
            _count(stats, acc, backward=True)
        pairs = _pairs(mine, chunk_ids(source, p, layout), causal, step, record)
        part = block_gradients(
            q, kv, out, lse, grad_out, dq, pairs, len(mine), d_k, scale
        )
        if step > 0:
            _wait(acc_works, stats)
            acc = acc_in
        acc.add_(part)  # this rank's share joins the others'
        del part  # freed before the next step makes its own
        if step < p - 1:
            _wait(works, stats)
            kv = incoming
    if p > 1:  # the accumulator we hold belongs to the next rank
        home = torch.empty_like(acc)
        _wait(_pass_on(acc, home, group, tag=1), stats)
        _count(stats, acc, backward=True)
        acc = home
    dk, dv = torch.split(acc, [d_k, acc.shape[-1] - d_k], dim=-1)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


# --8<-- [end:ring_backward]


class _RingAttention(torch.autograd.Function):
    """Autograd glue: the forward keeps (out, lse); the backward is the ring again."""

    @staticmethod
    def forward(
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        scale: float,
        causal: bool,
        layout: str,
        group: dist.ProcessGroup | None,
        stats: RingStats | None,
    ) -> torch.Tensor:
        out, lse = ring_forward(q, k, v, scale, causal, layout, group, stats)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.settings = (scale, causal, layout, group, stats)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, out, lse = ctx.saved_tensors
        scale, causal, layout, group, stats = ctx.settings
        dq, dk, dv = ring_backward(
            q,
            k,
            v,
            out,
            lse,
            grad_out.contiguous(),
            scale,
            causal,
            layout,
            group,
            stats,
        )
        return dq, dk, dv, None, None, None, None, None


@checked_by(check_ring_args)
def ring_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    layout: str = "contiguous",
    group: dist.ProcessGroup | None = None,
    stats: RingStats | None = None,
) -> torch.Tensor:
    """Self-attention over a sequence split across the ranks of `group`.

    Every rank calls it with its own shard (`shard(x, rank, p, layout=...)`):
    `q` (..., n / p, d_k), `k` (..., n / p, d_k), `v` (..., n / p, d_v), the
    same shapes on every rank; it returns this rank's shard of
    `softmax(scale * Q K^T) V` over the whole sequence, (..., n / p, d_v), and is
    differentiable (the backward is a ring too, so every rank must run it).
    `causal`: token i attends to tokens 0..i of the whole sequence; use
    `layout="zigzag"` with it, so that every rank does the same work. `group`:
    the process group (default: the whole world). `stats`: a `RingStats` to
    fill with the blocks computed and the bytes sent.
    float16/bfloat16 blocks are computed and merged in float32.
    """
    scale = default_scale(q.shape[-1]) if scale is None else scale
    out: torch.Tensor = _RingAttention.apply(  # type: ignore[no-untyped-call]
        q, k, v, scale, causal, layout, group, stats
    )
    return out


def check_bytes_args(
    n: Any,
    world_size: Any,
    *,
    d_k: Any,
    d_v: Any,
    batch: Any = 1,
    itemsize: Any = 4,
    acc_itemsize: Any = None,
) -> None:
    check_positive_int("n", n, minimum=0)
    check_positive_int("world_size", world_size)
    for name, value in (("d_k", d_k), ("d_v", d_v), ("batch", batch)):
        check_positive_int(name, value)
    check_positive_int("itemsize", itemsize)
    if acc_itemsize is not None:
        check_positive_int("acc_itemsize", acc_itemsize)


@checked_by(check_bytes_args)
# --8<-- [start:ring_bytes]
def ring_bytes(
    n: int,
    world_size: int,
    *,
    d_k: int,
    d_v: int,
    batch: int = 1,
    itemsize: int = 4,
    acc_itemsize: int | None = None,
) -> tuple[int, int]:
    """Bytes each rank sends in (forward, backward) for n tokens.

    A block is the rank's K and V: `batch * n / p * (d_k + d_v)`
    numbers. Forward: `p - 1` blocks. Backward: `p - 1` blocks, and
    `p` gradient accumulators (one more hop brings each one home).
    """
    p = world_size
    block = batch * (n // p) * (d_k + d_v)
    acc_itemsize = itemsize if acc_itemsize is None else acc_itemsize
    forward = (p - 1) * block * itemsize
    backward = forward + (p * block * acc_itemsize if p > 1 else 0)
    return forward, backward


# --8<-- [end:ring_bytes]


# ---- running it: local processes, or torchrun ----------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _child(
    rank: int,
    world_size: int,
    port: int,
    timeout: float,
    threads: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
) -> None:
    """One spawned rank: join the group, run `fn`, report what came out."""
    try:
        torch.set_num_threads(threads)
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout),
        )
        try:
            value = fn(*args)
        finally:
            dist.destroy_process_group()
        results.put((rank, True, value))
    except BaseException:  # every failure reaches the parent, readable
        results.put((rank, False, traceback.format_exc()))


def run_on_ranks(
    fn: Callable[..., Any],
    world_size: int,
    *args: Any,
    timeout: float = 60.0,
    threads: int | None = None,
) -> list[Any]:
    """Run `fn(*args)` in `world_size` new processes that form one gloo group on
    127.0.0.1 (each picks its rank with `torch.distributed.get_rank()`); returns
    the values, by rank. `fn` must be importable (a module-level function).

    Every wait is bounded: after `timeout` seconds, or as soon as one rank fails,
    the others are killed and a `RuntimeError` carries the failing rank's traceback.
    """
    import torch.multiprocessing as mp

    check_positive_int("world_size", world_size)
    # A fork server imports torch once and forks every rank from that clean,
    # single-threaded process: seconds faster per group than "spawn", and safe
    # (the parent's OpenMP threads are never forked). Spawn where there is none.
    ctx: Any
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torch.distributed", "selfattn.ring"])
    else:
        ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // world_size)
    procs = [
        ctx.Process(
            target=_child,
            args=(r, world_size, port, timeout, threads, fn, args, results),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for proc in procs:
        proc.start()
    values: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(values) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"ranks {sorted(set(range(world_size)) - set(values))} did not "
                    f"finish within {timeout:.0f} s"
                )
            try:
                rank, ok, value = results.get(timeout=min(left, 1.0))
            except queue.Empty:
                dead = [
                    r
                    for r, proc in enumerate(procs)
                    if r not in values and proc.exitcode not in (None, 0)
                ]
                if dead:
                    raise RuntimeError(
                        f"rank {dead[0]} died with exit code {procs[dead[0]].exitcode} "
                        "before reporting"
                    ) from None
                continue
            if not ok:
                raise RuntimeError(f"rank {rank} of {world_size} failed:\n{value}")
            values[rank] = value
    finally:
        for proc in procs:
            proc.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5.0)
        results.close()
    return [values[r] for r in range(world_size)]


# ---- the demo: python -m selfattn.ring / torchrun -m selfattn.ring ---------------------


def _peak_rss_reset() -> int | None:
    """Reset this process's resident-memory high-water mark; its RSS now (bytes), or
    None where Linux's /proc does not allow the reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _rss("VmRSS")
    except OSError:
        return None


def _rss(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def demo_chunk(
    index: int,
    size: int,
    *,
    heads: int,
    d: int,
    dtype: torch.dtype,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chunk `index` of the demo's q, k, v (heads, size, d), generated on its own,
    so that no rank ever holds the whole sequence."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    q, k, v = (torch.randn(heads, size, d, generator=g, dtype=dtype) for _ in range(3))
    return q, k, v


def demo(
    n: int,
    heads: int,
    d: int,
    dtype_name: str,
    causal: bool,
    layout: str,
    backward: bool,
    check: bool,
    device: str = "cpu",
    repeat: int = 1,
) -> dict[str, Any]:
    """One rank of the demo: build this rank's shard, run the ring, measure it.
    Memory and bytes come from the first call; the time is the fastest of
    `repeat` calls."""
    rank, p = dist.get_rank(), dist.get_world_size()
    dtype = getattr(torch, dtype_name)
    check_divisible("n", n, p, layout)
    size = n // num_chunks(p, layout)
    parts = [
        demo_chunk(c, size, heads=heads, d=d, dtype=dtype)
        for c in chunk_ids(rank, p, layout)
    ]
    q, k, v = (torch.cat([t[i] for t in parts], dim=-2).to(device) for i in range(3))
    q.requires_grad_(backward)
    stats = RingStats()
    ring_attention(q[..., :2, :], k[..., :2, :], v[..., :2, :], layout="contiguous")
    dist.barrier()
    times = []
    for i in range(repeat):
        before = _peak_rss_reset() if i == 0 else None
        dist.barrier()
        start = time.perf_counter()
        out = ring_attention(
            q, k, v, causal=causal, layout=layout, stats=stats if i == 0 else None
        )
        if backward:
            out.sum().backward()  # type: ignore[no-untyped-call]
        times.append(time.perf_counter() - start)
        if i == 0:
            peak = None if before is None else max(0, _rss("VmHWM") - before)
            first = times[0]
    row: dict[str, Any] = {
        "rank": rank,
        "seconds": min(times),
        "wait_fraction": stats.wait_seconds / first,
        "peak_extra_bytes": peak,
        "bytes_sent_forward": stats.bytes_sent_forward,
        "bytes_sent_backward": stats.bytes_sent_backward,
        "tiles": unmasked_tiles(stats.forward_pairs, p, layout),
    }
    if check:
        gathered = [torch.empty_like(out) for _ in range(p)] if rank == 0 else None
        dist.gather(out.detach().contiguous(), gathered, dst=0)
        if rank == 0 and gathered is not None:
            chunks = [
                demo_chunk(c, size, heads=heads, d=d, dtype=dtype)
                for c in range(num_chunks(p, layout))
            ]
            whole = [torch.cat([c[i] for c in chunks], dim=-2) for i in range(3)]
            q0, k0, v0 = (t.unsqueeze(0) for t in whole)
            ref = torch.nn.functional.scaled_dot_product_attention(
                q0, k0, v0, is_causal=causal
            )[0]
            row["max_abs_diff_vs_sdpa"] = (
                (unshard(gathered, layout=layout).cpu() - ref).abs().max().item()
            )
    return row


def _print_rows(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    p = len(rows)
    fwd, bwd = ring_bytes(
        args.n,
        p,
        d_k=args.d,
        d_v=args.d,
        batch=args.heads,
        itemsize=torch.empty(0, dtype=getattr(torch, args.dtype)).element_size(),
    )
    print(
        f"ring attention: n={args.n:,}, {p} rank(s), {args.heads} head(s), d={args.d}, "
        f"{args.dtype}, causal={args.causal}, layout={args.layout}"
        f"{', forward + backward' if args.backward else ''}"
    )
    print(f"{'rank':>4} {'seconds':>8} {'peak MiB':>9} {'sent MiB':>9} {'tiles':>6}")
    for r in rows:
        peak = (
            "-"
            if r["peak_extra_bytes"] is None
            else f"{r['peak_extra_bytes'] / 2**20:.1f}"
        )
        sent = (r["bytes_sent_forward"] + r["bytes_sent_backward"]) / 2**20
        print(
            f"{r['rank']:>4} {r['seconds']:>8.2f} {peak:>9} {sent:>9.1f} {r['tiles']:>6}"
        )
    expected = fwd + (bwd if args.backward else 0)
    print(f"formula: {expected / 2**20:.1f} MiB sent per rank (ring_bytes)")
    if "max_abs_diff_vs_sdpa" in rows[0]:
        print(
            f"largest difference from SDPA on the whole sequence: "
            f"{rows[0]['max_abs_diff_vs_sdpa']:.2e}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m selfattn.ring",
        description="Run ring attention in local gloo processes (or under torchrun).",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=2,
        help="processes to start (ignored under torchrun)",
    )
    # Not "--n" or "--d" alone: torchrun's own parser reads them as abbreviations
    # of its options (--nnodes, ...) even after the module name.
    parser.add_argument(
        "--seq-len", "--n", dest="n", type=int, default=4096, help="sequence length n"
    )
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument(
        "--head-dim", "--d", dest="d", type=int, default=64, help="d_k = d_v"
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64", "bfloat16", "float16"],
    )
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--layout", default="contiguous", choices=LAYOUTS)
    parser.add_argument(
        "--backward", action="store_true", help="also run the backward pass"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with SDPA on the whole sequence (on rank 0)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda"],
        help="cuda: one GPU per process, NCCL (torchrun only)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds before every wait gives up",
    )
    args = parser.parse_args(argv)
    demo_args = (
        args.n,
        args.heads,
        args.d,
        args.dtype,
        args.causal,
        args.layout,
        args.backward,
        args.check,
    )
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # torchrun started us
        cuda = args.device == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(
            "nccl" if cuda else "gloo",
            timeout=datetime.timedelta(seconds=args.timeout),
        )
        try:
            row = demo(*demo_args, device="cuda" if cuda else "cpu")
            rows: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(rows, row)
        finally:
            dist.destroy_process_group()
        if int(os.environ["RANK"]) == 0:
            _print_rows(rows, args)
        return
    if args.device == "cuda":
        parser.error("--device cuda needs torchrun (one process per GPU, NCCL)")
    try:
        check_positive_int("--nproc", args.nproc)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    rows = run_on_ranks(demo, args.nproc, *demo_args, timeout=args.timeout)
    _print_rows(rows, args)


if __name__ == "__main__":
    main(sys.argv[1:])
