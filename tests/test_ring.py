"""Ring attention (selfattn/ring/): in 1 to 4 gloo processes on 127.0.0.1, the
unsharded output and the q, k, v gradients equal SDPA's on the whole sequence; every
rank computes the blocks of the schedule and sends the bytes of the formula; zigzag
balances causal work; each rank's memory grows as n / p. Plus the single-process
parts: shard/unshard, the merge, the tile counts, the errors.

Starting processes is the slow part, so each world size starts ONE group, which runs
every case (``tests/ring_workers.py``) and returns numbers; every wait is bounded.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn.ring import (
    LAYOUTS,
    chunk_ids,
    merge_partials,
    pair_kind,
    ring_attention,
    ring_bytes,
    ring_schedule,
    ring_simulated,
    run_on_ranks,
    scores_per_rank,
    shard,
    tiles_per_rank,
    unshard,
)
from tests import ring_workers

WORLD_SIZES = (1, 2, 3, 4)
# n; zigzag chunks of >= 256 tokens (one tile) at p = 4, and n splits for p = 1..4.
MEMORY_SIZES = (3072, 6144)


@functools.cache
def group_results(p: int) -> dict[str, Any]:
    """Every distributed case for world size p, from one group of p processes."""
    ranks = run_on_ranks(
        ring_workers.run_all, p, MEMORY_SIZES, timeout=120.0, threads=1
    )
    return {
        key: [row for rank in ranks for row in rank[key]]
        for key in ("compare", "stats", "exchange", "memory", "cpu")
    }


@pytest.mark.parametrize("p", WORLD_SIZES)
def test_ring_matches_sdpa_in_outputs_and_gradients(p: int) -> None:
    rows = group_results(p)["compare"]
    # ranks x cases x (4 tensors x 3 dtypes + the plain form)
    assert len(rows) == p * 4 * (4 * 3 + 1)
    bad = [r for r in rows if not r["err"] <= r["tol"]]
    assert not bad, "\n".join(
        f"{r['case']}: error {r['err']:.3g} > tolerance {r['tol']:.3g}" for r in bad
    )


@pytest.mark.parametrize("p", WORLD_SIZES)
def test_each_rank_sends_the_bytes_of_the_formula(p: int) -> None:
    for row in group_results(p)["stats"]:
        where = f"p={p} rank {row['rank']} {row['layout']} {row['dtype']}"
        assert row["sent"] == row["formula"], where
        if p == 1:
            assert row["sent"] == (0, 0), where


@pytest.mark.parametrize("p", WORLD_SIZES)
def test_each_rank_computes_the_blocks_of_the_schedule(p: int) -> None:
    for row in group_results(p)["stats"]:
        assert row["pairs_forward"] == row["schedule"], row["rank"]
        assert row["pairs_backward"] == row["schedule"], row["rank"]


@pytest.mark.parametrize("p", WORLD_SIZES)
def test_every_message_goes_through_one_batch_isend_irecv_per_step(p: int) -> None:
    """Sends to the next rank and receives from the previous one are posted
    together, as P2POps of one batch_isend_irecv (the order that is safe on NCCL),
    and the batches carry every byte of the formula."""
    for row in group_results(p)["exchange"]:
        rank, batches = row["rank"], row["batches"]
        # Forward: p - 1 steps send. Backward: p steps, then the hop home.
        assert len(batches) == (0 if p == 1 else (p - 1) + p + 1), (rank, batches)
        for ops in batches:
            sends = [op for op in ops if op[0] == "send"]
            recvs = [op for op in ops if op[0] == "recv"]
            assert sends, ops
            assert len(sends) == len(recvs), ops
            assert {op[1] for op in sends} == {(rank + 1) % p}, ops
            assert {op[1] for op in recvs} == {(rank - 1) % p}, ops
            # A receive for every send, tag by tag, of the same size.
            assert sorted(op[2:] for op in sends) == sorted(op[2:] for op in recvs)
        posted = sum(op[2] for ops in batches for op in ops if op[0] == "send")
        assert posted == row["sent"] == row["formula"], (rank, posted, row)


# --8<-- [start:test_zigzag_balances_causal_tiles_and_contiguous_does_not]
@pytest.mark.parametrize("p", WORLD_SIZES)
def test_zigzag_balances_causal_tiles_and_contiguous_does_not(p: int) -> None:
    counted: dict[tuple[str, bool], list[int]] = {}
    for row in group_results(p)["stats"]:
        if row["dtype"] == "torch.float32":
            counted.setdefault((row["layout"], row["causal"]), []).append(row["tiles"])
    zigzag = counted[("zigzag", True)]
    contiguous = counted[("contiguous", True)]
    # Every rank: 2p - 1 full tiles and 2 diagonal ones; the grid's lower triangle.
    assert zigzag == [2 * p + 1] * p
    assert sum(zigzag) == sum(contiguous) == 2 * p * (2 * p + 1) // 2
    # Contiguous: rank r covers rows 2r and 2r+1 of the grid, 4r + 3 tiles.
    assert contiguous == [4 * r + 3 for r in range(p)]
    # Without the mask every rank computes the whole row block: 4p tiles.
    assert counted[("zigzag", False)] == counted[("contiguous", False)] == [4 * p] * p
    assert tiles_per_rank(p, layout="zigzag", causal=True) == zigzag
    assert tiles_per_rank(p, layout="contiguous", causal=True) == contiguous


# --8<-- [end:test_zigzag_balances_causal_tiles_and_contiguous_does_not]


def test_peak_memory_per_rank_grows_as_n_over_p() -> None:
    """Per rank, peak extra memory = a constant (the tiles) + b_p bytes per LOCAL
    token (n / p of them): b_p is a few buffers of d_k + d_v numbers, bounded for
    every p, and the same for p = 3 and 4 (the buffers in flight stop growing)."""
    per_token = {}
    for p in WORLD_SIZES:
        peak: dict[int, int] = {}
        for row in group_results(p)["memory"]:
            peak[row["n"]] = max(peak.get(row["n"], 0), row["peak"])
        small, large = MEMORY_SIZES
        per_token[p] = (peak[large] - peak[small]) / ((large - small) / p)
    one_buffer = (ring_workers.D_K + ring_workers.D_V) * 4  # float32, per token
    assert all(0 < b <= 10 * one_buffer for b in per_token.values()), per_token
    assert abs(per_token[4] - per_token[3]) <= 0.1 * per_token[3], per_token
    # Were it n (not n / p) tokens, b_4 would be 4 times b_1.
    assert per_token[4] < 2 * per_token[1], per_token


# ---- single process -----------------------------------------------------------


@given(
    p=st.integers(1, 5),
    layout=st.sampled_from(LAYOUTS),
    per_chunk=st.integers(0, 4),
    batch=st.lists(st.integers(1, 3), max_size=2),
)
def test_unshard_inverts_shard(
    p: int, layout: str, per_chunk: int, batch: list[int]
) -> None:
    chunks = p if layout == "contiguous" else 2 * p
    x = torch.arange(math.prod(batch) * chunks * per_chunk * 2, dtype=torch.float32)
    x = x.reshape(*batch, chunks * per_chunk, 2)
    shards = [shard(x, r, p, layout=layout) for r in range(p)]
    assert all(s.shape[-2] == chunks * per_chunk // p for s in shards)
    assert torch.equal(unshard(shards, layout=layout), x)


def test_zigzag_pairs_an_early_chunk_with_a_late_one() -> None:
    assert [chunk_ids(r, 4, "zigzag") for r in range(4)] == [
        (0, 7),
        (1, 6),
        (2, 5),
        (3, 4),
    ]
    x = torch.arange(16.0).reshape(16, 1)
    assert shard(x, 1, 4, layout="zigzag").flatten().tolist() == [2, 3, 12, 13]


@settings(max_examples=25)  # each example plays up to 4 ranks x 4 steps
@given(
    p=st.integers(1, 4),
    layout=st.sampled_from(LAYOUTS),
    causal=st.booleans(),
    per_chunk=st.integers(1, 3),
    d_v=st.integers(1, 4),
)
def test_ring_simulated_matches_sdpa(
    p: int, layout: str, causal: bool, per_chunk: int, d_v: int
) -> None:
    n = per_chunk * (p if layout == "contiguous" else 2 * p)
    g = torch.Generator().manual_seed(n + d_v)
    q, k = (torch.randn(2, n, 3, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, n, d_v, generator=g, dtype=torch.float64)
    ours = ring_simulated(q, k, v, world_size=p, causal=causal, layout=layout)
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


@given(split=st.integers(1, 9), big=st.sampled_from([1.0, 1e4]))
def test_merge_of_two_key_sets_is_attention_over_their_union(
    split: int, big: float
) -> None:
    g = torch.Generator().manual_seed(split)
    q = torch.randn(4, 3, generator=g, dtype=torch.float64) * big
    k = torch.randn(10, 3, generator=g, dtype=torch.float64)
    v = torch.randn(10, 2, generator=g, dtype=torch.float64)

    def partial(keys: slice) -> tuple[torch.Tensor, torch.Tensor]:
        s = q @ k[keys].T  # scale 1; scores up to ~1e4: a naive exp overflows
        lse = torch.logsumexp(s, dim=-1)
        return torch.softmax(s, dim=-1) @ v[keys], lse

    out, lse = merge_partials(*partial(slice(0, split)), *partial(slice(split, 10)))
    whole, whole_lse = partial(slice(0, 10))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, whole_lse, rtol=1e-12, atol=1e-12)


def test_merge_with_nothing_seen_is_zero_not_nan() -> None:
    empty_out, empty_lse = torch.zeros(3, 2), torch.full((3,), -math.inf)
    out, lse = merge_partials(empty_out, empty_lse, empty_out, empty_lse)
    assert torch.equal(out, empty_out)
    assert torch.isneginf(lse).all()
    some = torch.ones(3, 2)
    out, lse = merge_partials(empty_out, empty_lse, some, torch.zeros(3))
    assert torch.equal(out, some)


def test_pair_kinds_under_causal() -> None:
    assert [pair_kind(2, b, True) for b in range(4)] == [
        "full",
        "full",
        "diagonal",
        "skip",
    ]
    assert {pair_kind(0, b, False) for b in range(4)} == {"full"}


@pytest.mark.parametrize("p", [1, 2, 3, 4, 8])
def test_causal_contiguous_last_rank_computes_p_times_the_blocks_of_the_first(
    p: int,
) -> None:
    def computed(rank: int) -> int:
        pairs = ring_schedule(rank, p, layout="contiguous", causal=True)
        return sum(pair.kind != "skip" for pair in pairs)

    assert computed(p - 1) == p * computed(0)
    # Counted in tiles of n / 2p tokens: 4p - 1 against 3.
    assert tiles_per_rank(p, layout="contiguous", causal=True)[-1] == 4 * p - 1


@pytest.mark.parametrize("p", [1, 2, 3, 4, 8])
def test_scores_per_rank_count_the_causal_triangle(p: int) -> None:
    """Counted from the schedule, the kept scores of all ranks add up to the causal
    triangle (n (n + 1) / 2) or the full square, and equal a brute-force count."""
    for layout in LAYOUTS:
        n = 2 * p * 3
        causal_scores = scores_per_rank(n, p, layout=layout, causal=True)
        assert sum(causal_scores) == n * (n + 1) // 2
        assert scores_per_rank(n, p, layout=layout, causal=False) == [n * n // p] * p
        keep = torch.ones(n, n).tril()  # 1 where key j <= query i
        for r in range(p):
            rows = shard(keep, r, p, layout=layout)  # this rank's queries
            assert causal_scores[r] == int(rows.sum()), (layout, r)


def test_bytes_formula_by_hand() -> None:
    # p = 4, n = 65,536, d_k = d_v = 64, float32: 3 blocks of 16,384 x 128 numbers.
    forward, backward = ring_bytes(65_536, 4, d_k=64, d_v=64)
    assert forward == 3 * 16_384 * 128 * 4 == 24 * 2**20
    assert backward == forward + 4 * 16_384 * 128 * 4
    assert ring_bytes(100, 1, d_k=3, d_v=3) == (0, 0)


def test_without_a_process_group_the_error_says_how_to_start_one() -> None:
    x = torch.zeros(4, 2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        ring_attention(x, x, x)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: shard(torch.zeros(5, 2), 0, 2, layout="contiguous"),
            ValueError,
            "2 equal chunks",
        ),
        (
            lambda: shard(torch.zeros(6, 2), 0, 2, layout="zigzag"),
            ValueError,
            "4 equal chunks",
        ),
        (
            lambda: shard(torch.zeros(4, 2), 2, 2, layout="contiguous"),
            ValueError,
            "rank must lie",
        ),
        (
            lambda: shard(torch.zeros(4, 2), 0, 2, layout="ring"),
            ValueError,
            "layout must be one of",
        ),
        (
            lambda: shard(torch.zeros(4), 0, 2, layout="zigzag"),
            ValueError,
            "x must have shape",
        ),
        (lambda: unshard([], layout="zigzag"), TypeError, "non-empty list"),
        (
            lambda: unshard(
                [torch.zeros(2, 1), torch.zeros(4, 1)], layout="contiguous"
            ),
            ValueError,
            "share one shape",
        ),
        (
            lambda: ring_attention(
                torch.zeros(3, 2), torch.zeros(4, 2), torch.zeros(4, 2)
            ),
            ValueError,
            "same number of tokens",
        ),
        (
            lambda: ring_attention(
                torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), layout="zigzag"
            ),
            ValueError,
            "even number",
        ),
        (lambda: ring_bytes(10, 0, d_k=1, d_v=1), ValueError, "world_size"),
        (
            lambda: scores_per_rank(10, 4, layout="zigzag", causal=True),
            ValueError,
            "8 equal chunks",
        ),
        (
            lambda: scores_per_rank(16, 4, layout="zigzag", causal="yes"),
            TypeError,
            "causal",
        ),
    ],
)
def test_bad_input_names_the_argument(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_the_entry_point_runs_a_local_ring(capsys: pytest.CaptureFixture[str]) -> None:
    from selfattn.ring import main

    main(
        [
            "--nproc",
            "2",
            "--seq-len",
            "64",
            "--head-dim",
            "8",
            "--causal",
            "--layout",
            "zigzag",
            "--backward",
            "--check",
            "--timeout",
            "120",
        ]
    )
    printed = capsys.readouterr().out
    assert "2 rank(s)" in printed
    difference = float(printed.rsplit(":", 1)[1])
    assert difference < 1e-5, printed


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device; none is available"
)
def test_a_ring_of_one_rank_on_cuda_matches_sdpa() -> None:
    """One GPU cannot hold a multi-rank NCCL ring; a gloo group of one rank (this
    process, no transfer) runs every block of the ring code on CUDA tensors."""
    import datetime

    import torch.distributed as dist

    from selfattn.ring import free_port

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{free_port()}",
        rank=0,
        world_size=1,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        g = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = (
            torch.randn(2, 3, 512, 32, device="cuda", generator=g, requires_grad=True)
            for _ in range(3)
        )
        out = ring_attention(q, k, v, causal=True, layout="zigzag")
        out.sum().backward()  # type: ignore[no-untyped-call]
        ours = [out.detach(), *(t.grad for t in (q, k, v))]
        q2, k2, v2 = (t.detach().double().requires_grad_() for t in (q, k, v))
        ref = F.scaled_dot_product_attention(q2, k2, v2, is_causal=True)
        ref.sum().backward()  # type: ignore[no-untyped-call]
        for mine, theirs in zip(ours, (ref, q2.grad, k2.grad, v2.grad), strict=True):
            assert mine is not None
            assert theirs is not None
            torch.testing.assert_close(mine.double(), theirs, rtol=1e-4, atol=1e-4)
    finally:
        dist.destroy_process_group()
