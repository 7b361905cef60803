"""Claims of docs/ring-attention.md, each checked by computing it.

The measured times are printed on the page from the newest benchmark JSON at build
time, with the comparisons computed there; the claims below hold for any run:
exact counts from the schedule, and what every run must show (memory, bytes)."""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from selfattn.exercises.ring_attention import slowest_rank_work
from selfattn.ring import merge_partials, scores_per_rank, tiles_per_rank
from tests.test_claims import Claim

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "figures"))

from _common import latest, load_result  # type: ignore[import-not-found]  # noqa: E402


def newest_run() -> dict[str, Any]:
    """The newest run of bench_ring.py, loaded and checked as the page loads it."""
    result: dict[str, Any] = load_result(latest("ring-cpu-*core-float32"))
    return result


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
    result = newest_run()
    n = max(r["n"] for r in result["results"])
    peaks = [
        max(x["peak_extra_bytes"] for x in row["ranks"])
        for p in (1, 2, 4)
        for row in result["results"]
        if row["impl"] == "ring-zigzag" and row["n"] == n and row["p"] == p
    ]
    assert len(peaks) == 3, peaks
    assert peaks == sorted(peaks, reverse=True), peaks
    assert peaks[0] > peaks[-1]


def page_n_is_the_largest_benchmarked() -> None:
    assert max(r["n"] for r in newest_run()["results"]) == 16_384


def bytes_follow_the_formula() -> None:
    for row in newest_run()["results"]:
        for rank in row.get("ranks", []):
            assert rank["bytes_sent_forward"] == row["bytes_formula"]


def zigzag_balances_tiles() -> None:
    for p in (2, 4, 8):
        assert len(set(tiles_per_rank(p, layout="zigzag", causal=True))) == 1
        assert len(set(tiles_per_rank(p, layout="contiguous", causal=True))) == p


def last_contiguous_rank_has_the_most_work() -> None:
    """Which rank is busiest at p = 2 and 4, per layout, from exact score counts."""
    n = 16_384
    for p, ratio in ((2, 3), (4, 7)):
        contiguous = scores_per_rank(n, p, layout="contiguous", causal=True)
        zigzag = scores_per_rank(n, p, layout="zigzag", causal=True)
        assert max(range(p), key=contiguous.__getitem__) == p - 1
        assert contiguous == sorted(contiguous)
        assert len(set(contiguous)) == p
        assert len(set(zigzag)) == 1  # every rank ties
        c = n // (2 * p)
        assert zigzag[0] == 2 * p * c * c + c
        assert sum(zigzag) == sum(contiguous) == n * (n + 1) // 2
        assert math.isclose(contiguous[-1] / contiguous[0], ratio, rel_tol=1e-2)


def zigzag_busiest_keeps_fractions() -> None:
    for p, fraction in ((2, Fraction(2, 3)), (4, Fraction(4, 7))):
        zigzag = max(scores_per_rank(16_384, p, layout="zigzag", causal=True))
        contiguous = max(scores_per_rank(16_384, p, layout="contiguous", causal=True))
        assert math.isclose(zigzag / contiguous, fraction, rel_tol=1e-3)


def bounds_on_two_cores() -> None:
    def bound(p: int, layout: str) -> float:
        return max(slowest_rank_work(p, layout=layout), p * p / 2 / 2)

    assert math.isclose(bound(2, "zigzag") / bound(2, "contiguous"), 2 / 3)
    assert bound(4, "zigzag") == bound(4, "contiguous") == 4.0
    # The busiest paths are the exercise's p - 1/2 and p / 2.
    assert slowest_rank_work(4, layout="contiguous") == 3.5
    assert slowest_rank_work(4, layout="zigzag") == 2.0


def ulysses_sends_two_over_p_of_the_ring() -> None:
    n, h, d_k, d_v, e = 16_384, 8, 64, 64, 2
    for p in (2, 4, 8):
        ring = (p - 1) * (n // p) * h * (d_k + d_v) * e
        ulysses = Fraction(p - 1, p) * (n // p) * h * (2 * d_k + 2 * d_v) * e
        assert ulysses / ring == Fraction(2, p)


def striped_pairs_are_close_to_half_masked() -> None:
    """Striped layout: rank r holds tokens r, r + p, ...; a pair of its queries
    with rank s's keys keeps c (c + 1) / 2 scores if s <= r, else c (c - 1) / 2."""
    p, c = 4, 256
    for r in range(p):
        queries = torch.arange(c) * p + r
        for s in range(p):
            keys = torch.arange(c) * p + s
            kept = int((keys.unsqueeze(0) <= queries.unsqueeze(1)).sum())
            assert kept == (c * (c + 1) // 2 if s <= r else c * (c - 1) // 2)
            assert abs(kept / c**2 - 0.5) <= 1 / c


CLAIMS = [
    Claim("Both weights are at most 1", merge_weights_at_most_one),
    Claim("memory per rank falls with", memory_per_rank_falls_with_p),
    Claim("the bytes follow the formula", bytes_follow_the_formula),
    Claim("the largest size of the benchmark below", page_n_is_the_largest_benchmarked),
    Claim(
        "whose lengths add up to the same total for every rank", zigzag_balances_tiles
    ),
    Claim("the last rank has the most work", last_contiguous_rank_has_the_most_work),
    Claim("about 3 times rank 0's", last_contiguous_rank_has_the_most_work),
    Claim("no rank more than another", last_contiguous_rank_has_the_most_work),
    Claim("of the scores of contiguous's busiest", zigzag_busiest_keeps_fractions),
    Claim("zigzag's bound is two thirds of contiguous's", bounds_on_two_cores),
    Claim("of what the ring sends", ulysses_sends_two_over_p_of_the_ring),
    Claim("close to half masked", striped_pairs_are_close_to_half_masked),
]

NOT_CLAIMS = {
    "with at least one score kept": "the definition of a tile that counts",
    "Faster Ring Attention for Causal Transformers": "a paper's title",
    "Faster Attention with Better Parallelism": "a paper's title",
}
