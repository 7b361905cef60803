"""Claims of docs/kv-cache.md ("The KV cache"), checked against the committed
decode benchmark (benchmarks/results/decode-*.json) and the code."""

from __future__ import annotations

import json
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


def ten_times_faster_at_2048() -> None:
    row = next(r for r in decode_results()["speed"] if r["n"] == 2048)
    assert row["speedup_cpu"] >= 10, row["speedup_cpu"]  # CPU time
    assert row["speedup"] >= 10, row["speedup"]  # and the wall clock


CLAIMS = [
    Claim(
        "the cached step is at least 10x faster than recomputing",
        ten_times_faster_at_2048,
    ),
]
NOT_CLAIMS: dict[str, str] = {}
