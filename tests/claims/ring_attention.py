"""Claims of docs/ring-attention.md, each checked by computing it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from selfattn.ring import merge_partials, tiles_per_rank
from tests.test_claims import Claim

RESULTS = (
    Path(__file__).resolve().parents[2]
    / "benchmarks"
    / "results"
    / "ring-cpu-2core-float32-2026-11-29.json"
)


def merge_weights_at_most_one() -> None:
    # Log-sum-exps far beyond exp's range on either side, and a side with no keys.
    lse = torch.tensor([1e4, -1e4, 0.0, -math.inf, 500.0])
    lse_b = torch.tensor([-1e4, 1e4, 0.0, 3.0, -math.inf])
    out, out_b = torch.ones(5, 2), -torch.ones(5, 2)
    merged, lse_new = merge_partials(out, lse, out_b, lse_b)
    assert torch.isfinite(merged).all()
    assert (torch.exp(lse - lse_new) <= 1).all()
    assert (torch.exp(lse_b - lse_new) <= 1).all()
    # The weights sum to one: the merged output is a convex combination.
    assert (merged.abs() <= 1 + 1e-6).all()


def memory_per_rank_falls_with_p() -> None:
    result = json.loads(RESULTS.read_text())
    n = max(r["n"] for r in result["results"])
    peaks = [
        max(x["peak_extra_bytes"] for x in row["ranks"])
        for p in (1, 2, 4)
        for row in result["results"]
        if row["impl"] == "ring-zigzag" and row["n"] == n and row["p"] == p
    ]
    assert peaks == sorted(peaks, reverse=True), peaks
    assert peaks[0] > peaks[-1]


def bytes_follow_the_formula() -> None:
    result = json.loads(RESULTS.read_text())
    for row in result["results"]:
        for rank in row.get("ranks", []):
            assert rank["bytes_sent_forward"] == row["bytes_formula"]


def contiguous_ranks_finish_at_different_times() -> None:
    result = json.loads(RESULTS.read_text())
    n = max(r["n"] for r in result["results"])
    (row,) = [
        r
        for r in result["results"]
        if r["impl"] == "ring-contiguous" and r["n"] == n and r["p"] == 2
    ]
    first, last = (r["seconds"] for r in row["ranks"])
    assert last > 1.5 * first, (first, last)


def zigzag_balances_tiles() -> None:
    for p in (2, 4, 8):
        assert len(set(tiles_per_rank(p, layout="zigzag", causal=True))) == 1
        assert len(set(tiles_per_rank(p, layout="contiguous", causal=True))) == p


CLAIMS = [
    Claim("Both weights are at most 1", merge_weights_at_most_one),
    Claim("memory per rank falls with", memory_per_rank_falls_with_p),
    Claim("the bytes follow the formula", bytes_follow_the_formula),
    Claim(
        "with contiguous chunks the ranks of one causal ring finish at different times",
        contiguous_ranks_finish_at_different_times,
    ),
    Claim(
        "whose lengths add up to the same total for every rank", zigzag_balances_tiles
    ),
]

NOT_CLAIMS = {
    "with at least one score kept": "the definition of a tile that counts",
}
