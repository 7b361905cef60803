"""Claims of docs/kv-cache.md ("The KV cache"), checked against the committed
decode benchmark (benchmarks/results/decode-*.json) and the code."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from tests.test_claims import Claim

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def decode_results() -> dict[str, Any]:
    """The newest full (not --quick) decode benchmark, as the page reads it."""
    paths = sorted(
        p for p in RESULTS.glob("decode-cpu-*.json") if "quick" not in p.name
    )
    assert paths, "no committed decode benchmark in benchmarks/results/"
    result: dict[str, Any] = json.loads(paths[-1].read_text())
    return result


def speedup_grows_in_every_row() -> None:
    rows = sorted(decode_results()["speed"], key=lambda r: r["n"])
    assert len(rows) >= 3, "too few sizes to speak of growth"
    for key in ("speedup", "speedup_cpu"):  # the wall clock, and CPU time
        ups = [r[key] for r in rows]
        assert all(a < b for a, b in pairwise(ups)), (key, ups)
    assert rows[0]["speedup"] > 1  # the cache wins from the first row on
    for r in rows:  # and both steps computed the same last row
        assert r["max_abs_difference"] < 1e-5, r


def uncached_grew_faster_than_n_squared() -> None:
    rows = sorted(decode_results()["speed"], key=lambda r: r["n"])
    first, last = rows[0], rows[-1]
    for per_s in ("uncached_tokens_per_s", "uncached_tokens_per_cpu_s"):
        slowed = first[per_s] / last[per_s]  # time per step, last / first
        assert slowed > (last["n"] / first["n"]) ** 2, (per_s, slowed)


CLAIMS = [
    Claim("and it does, in every row of the table", speedup_grows_in_every_row),
    Claim(
        "the measured time grew faster than the count of its scores",
        uncached_grew_faster_than_n_squared,
    ),
]
NOT_CLAIMS: dict[str, str] = {}
