"""Which rank holds which tokens, and which blocks meet at each step of the ring.

The sequence is cut into equal chunks (`p` of them for the `"contiguous"` layout,
`2p` for `"zigzag"`); `ring_schedule` lists the (query chunk, key chunk) pairs a
rank meets, and `tiles_per_rank` / `scores_per_rank` count the work they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from selfattn._checks import (
    _describe,
    check_flag,
    check_positive_int,
    check_tensor,
    checked_by,
)

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


def check_scores_args(n: Any, world_size: Any, *, layout: Any, causal: Any) -> None:
    check_positive_int("n", n, minimum=0)
    check_schedule_args(0, world_size, layout=layout, causal=causal)
    check_divisible("n", n, world_size, layout)


@checked_by(check_scores_args)
# --8<-- [start:scores_per_rank]
def scores_per_rank(n: int, world_size: int, *, layout: str, causal: bool) -> list[int]:
    """The scores each rank computes and keeps for `n` tokens, counted
    from its schedule: a full pair of chunks of c tokens keeps c^2
    scores, a diagonal one c (c + 1) / 2, a skipped one none."""
    c = n // num_chunks(world_size, layout)  # tokens per chunk
    kept = {"full": c * c, "diagonal": c * (c + 1) // 2, "skip": 0}
    return [
        sum(
            kept[pair.kind]
            for pair in ring_schedule(r, world_size, layout=layout, causal=causal)
        )
        for r in range(world_size)
    ]


# --8<-- [end:scores_per_rank]
