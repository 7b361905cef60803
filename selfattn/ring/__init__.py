"""Attention across processes: ring attention on `torch.distributed`.

A sequence too long for one device is split along its tokens: each of `p`
processes (ranks) holds `n / p` queries, keys and values. Every rank keeps its
queries and passes its key/value block to the next rank in a ring; after `p`
steps each rank has seen every block and folded it into its output with the same
online softmax as the tiled forward (`merge_partials`). The backward pass sends
the key/value blocks around again, together with their gradients, so that each
rank ends with the gradients of its own shard.

The package, in the order a reader meets it:

- `layout`: which rank holds which tokens (`shard`, `unshard`), and the schedule
  of blocks each rank meets (`ring_schedule`, `tiles_per_rank`, `scores_per_rank`);
- `simulated`: the algorithm itself, `merge_partials` and `ring_simulated`, the
  whole ring played in one process;
- `distributed`: `ring_attention`, the ring on `torch.distributed` (gloo on CPUs,
  NCCL on GPUs), forward and backward, and `ring_bytes`;
- `launch`: `run_on_ranks`, local gloo processes on 127.0.0.1;
- `cli`: `python -m selfattn.ring --nproc 4`, or `torchrun -m selfattn.ring`.
"""

from __future__ import annotations

from selfattn.ring.cli import demo, demo_chunk, main
from selfattn.ring.distributed import (
    NO_GROUP,
    RingStats,
    attend_block,
    block_gradients,
    exchange,
    ring_attention,
    ring_backward,
    ring_bytes,
    ring_forward,
)
from selfattn.ring.launch import free_port, run_on_ranks
from selfattn.ring.layout import (
    LAYOUTS,
    Pair,
    chunk_ids,
    num_chunks,
    pair_kind,
    pair_tiles,
    ring_schedule,
    scores_per_rank,
    shard,
    tiles_per_rank,
    unmasked_tiles,
    unshard,
)
from selfattn.ring.simulated import merge_partials, ring_simulated

__all__ = [
    "LAYOUTS",
    "NO_GROUP",
    "Pair",
    "RingStats",
    "attend_block",
    "block_gradients",
    "chunk_ids",
    "demo",
    "demo_chunk",
    "exchange",
    "free_port",
    "main",
    "merge_partials",
    "num_chunks",
    "pair_kind",
    "pair_tiles",
    "ring_attention",
    "ring_backward",
    "ring_bytes",
    "ring_forward",
    "ring_schedule",
    "ring_simulated",
    "run_on_ranks",
    "scores_per_rank",
    "shard",
    "tiles_per_rank",
    "unmasked_tiles",
    "unshard",
]
