"""Claims of docs/sharing-kv.md ("Sharing keys and values")."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from selfattn import GroupedQueryAttention, kv_cache_bytes, repeat_kv
from tests.test_claims import Claim

KIB, MIB, GIB = 2**10, 2**20, 2**30
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def per_token(h_kv: int) -> int:
    # 32 layers, KV heads of 128 features, bfloat16: the page's table.
    return kv_cache_bytes(
        1, n_layers=32, n_kv_heads=h_kv, head_dim=128, bytes_per_number=2
    )


def context_costs() -> None:
    assert 8192 * per_token(32) == 4 * GIB
    assert 8192 * per_token(8) == 1 * GIB
    assert 8192 * per_token(1) == 128 * MIB
    assert 16 * 8192 * per_token(32) == 64 * GIB > 16 * 10**9


def bytes_and_parameters_fall_by_the_group() -> None:
    full = None
    for h_kv in (8, 4, 2, 1):
        m = GroupedQueryAttention(128, 128, 8, h_kv, context_length=1024)
        cache = m.new_cache(1)
        size = (cache.nbytes // cache.capacity, m.W_key.weight.numel())
        full = full or size
        assert size[0] * (8 // h_kv) == full[0]
        assert size[1] * (8 // h_kv) == full[1]


def repeat_is_group_times_larger() -> None:
    k = torch.zeros(2, 3, 5, 4)  # (batch, h_kv, n, d_h)
    for group in (1, 2, 4, 8):
        assert repeat_kv(k, group).numel() == group * k.numel()


def llama2_70b_mha_is_eight_times() -> None:
    def size(h_kv: int) -> int:
        return kv_cache_bytes(
            1, n_layers=80, n_kv_heads=h_kv, head_dim=128, bytes_per_number=2
        )

    assert size(64) == 8 * size(8)


def measured_peak_follows_the_kv_heads() -> None:
    paths = sorted(
        p for p in RESULTS.glob("decode-cpu-*.json") if "quick" not in p.name
    )
    rows = [r for r in json.loads(paths[-1].read_text())["memory"] if not r["window"]]
    rows.sort(key=lambda r: -r["n_kv_heads"])  # MHA, GQA, MQA
    peaks = [r["peak_rss_increase_bytes"] for r in rows]
    assert peaks == sorted(peaks, reverse=True)
    assert len(set(peaks)) == len(peaks)
    for r in rows:
        assert r["peak_rss_increase_bytes"] >= r["cache_tensor_bytes"]


CLAIMS = [
    Claim(
        "it falls along with the number of key/value heads",
        measured_peak_follows_the_kv_heads,
    ),
    Claim(
        "the repeated keys and values are times the size", repeat_is_group_times_larger
    ),
    Claim("eight times as many with 64 key/value heads", llama2_70b_mha_is_eight_times),
    Claim("costs 4 GiB per sequence with multi-head attention", context_costs),
    Claim(
        "The bytes per token fall by exactly, and so do the key and value projections' "
        "parameters",
        bytes_and_parameters_fall_by_the_group,
    ),
]
NOT_CLAIMS = {
    "comes close to the quality of multi-head attention": (
        "reports a published result (Ainslie et al. 2023, T5 XXL), not one of ours"
    ),
}
