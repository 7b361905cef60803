"""The ring on `torch.distributed`: each rank runs its own row of the ring, passing
key/value blocks to the next rank (`exchange`, one `batch_isend_irecv` per step),
forward and backward (`ring_attention`, a `torch.autograd.Function`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from selfattn._checks import (
    _describe,
    check_attention_args,
    check_positive_int,
    checked_by,
)
from selfattn.efficient import tiled_attention_backward, tiled_attention_forward
from selfattn.ring.layout import Pair, check_layout, chunk_ids, pair_kind
from selfattn.ring.simulated import merge_partials
from selfattn.simplified import compute_dtype, default_scale

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


# --8<-- [start:exchange]
def exchange(
    sends: Sequence[torch.Tensor],
    recvs: Sequence[torch.Tensor],
    group: dist.ProcessGroup | None,
) -> list[dist.Work]:
    """Start sending each of `sends` to the next rank and receiving each
    of `recvs` from the previous one; returns the requests to wait on.

    One `batch_isend_irecv` of `P2POp`s: every rank posts its sends and
    its receives together. Posted one by one, a blocking NCCL send could
    wait for a receive its neighbour has not posted yet, and with every
    rank waiting the ring would deadlock.
    """
    _, _, nxt, prev = _neighbours(group)
    ops = [
        dist.P2POp(dist.isend, t, group=group, group_peer=nxt, tag=i)
        for i, t in enumerate(sends)
    ] + [
        dist.P2POp(dist.irecv, t, group=group, group_peer=prev, tag=i)
        for i, t in enumerate(recvs)
    ]
    return dist.batch_isend_irecv(ops) if ops else []


# --8<-- [end:exchange]


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
    kv = kv.to(q.dtype)  # float16/bfloat16 blocks: computed in float32
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
    """This rank's (out, lse) of ring attention, both in the dtype the
    work is done in (float32 for float16/bfloat16). q, k, v: this
    rank's shards, (..., n / p, d_k) and (..., n / p, d_v)."""
    rank, p, _, _ = _neighbours(group)
    mine = chunk_ids(rank, p, layout)
    record = None if stats is None else stats.forward_pairs
    work = compute_dtype(q.dtype)
    out = q.new_zeros((*q.shape[:-1], v.shape[-1]), dtype=work)
    lse = q.new_full(q.shape[:-1], -math.inf, dtype=work)
    kv = torch.cat([k, v], dim=-1)  # one message per step
    q_work = q.to(work)  # each block's output comes in q's dtype: float32
    for step in range(p):
        source = (rank - step) % p  # whose keys and values we hold
        if step < p - 1:  # the next block travels while we compute
            incoming = torch.empty_like(kv)
            works = exchange([kv], [incoming], group)
            _count(stats, kv, backward=False)
        theirs = chunk_ids(source, p, layout)
        pairs = _pairs(mine, theirs, causal, step, record)
        attend_block(q_work, kv, out, lse, pairs, len(mine), k.shape[-1], scale)
        if step < p - 1:
            _wait(works, stats)
            kv = incoming
    return out, lse  # in float32 for float16/bfloat16 inputs


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
    kv = kv.to(q.dtype)  # float16/bfloat16 blocks: computed in float32
    k, v = torch.split(kv, [d_k, kv.shape[-1] - d_k], dim=-1)
    part = torch.zeros_like(kv)
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
    work = compute_dtype(q.dtype)  # float32 for float16/bfloat16
    q_work, grad_work = q.to(work), grad_out.to(work)
    dq = torch.zeros_like(q, dtype=work)
    kv = torch.cat([k, v], dim=-1)
    acc = torch.zeros_like(kv, dtype=dq.dtype)  # dK | dV of the block held
    for step in range(p):
        source = (rank - step) % p
        sends: list[torch.Tensor] = []
        recvs: list[torch.Tensor] = []
        if step < p - 1:  # the next block travels while we compute
            incoming = torch.empty_like(kv)
            sends.append(kv)
            recvs.append(incoming)
        if step > 0:  # last step's accumulator moves on with its block
            acc_in = torch.empty_like(acc)
            sends.append(acc)
            recvs.append(acc_in)
        works = exchange(sends, recvs, group)  # one batch per step
        for sent in sends:
            _count(stats, sent, backward=True)
        pairs = _pairs(mine, chunk_ids(source, p, layout), causal, step, record)
        part = block_gradients(
            q_work, kv, out, lse, grad_work, dq, pairs, len(mine), d_k, scale
        )
        _wait(works, stats)
        if step > 0:
            acc = acc_in
        acc.add_(part)  # this rank's share joins the others'
        del part  # freed before the next step makes its own
        if step < p - 1:
            kv = incoming
    if p > 1:  # the accumulator we hold belongs to the next rank
        home = torch.empty_like(acc)
        _wait(exchange([acc], [home], group), stats)
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
        # The backward's D = rowsum(dO * O) takes O before rounding to q's dtype.
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.settings = (scale, causal, layout, group, stats)
        return out.to(q.dtype)

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
