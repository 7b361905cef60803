"""Claims of docs/sharing-kv.md ("Sharing keys and values")."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

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


def _decode_benchmark() -> ModuleType:
    path = RESULTS.parent / "decode.py"
    spec = importlib.util.spec_from_file_location("decode_benchmark", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def caches_hold_prompt_and_decoded_tokens() -> None:
    # The benchmark's own fill: a prompt of n - 8 tokens, then 8 decode steps.
    bench = _decode_benchmark()
    for h_kv, window in ((8, None), (2, None), (1, None), (8, 16)):
        layers = bench.build_gqa(h_kv, window)
        with torch.no_grad():
            caches = bench.fill_and_decode(layers, 40)
        assert bench.DECODED == 8
        assert [c.length for c in caches] == [40] * len(layers)
        assert sorted(int(p) for p in caches[0].positions if p >= 0)[-1] == 39
    for row in _newest()["memory"]:  # and what the committed run recorded
        if "cache_length" in row:
            assert row["prompt_tokens"] == row["n"] - 8
            assert row["decoded_tokens"] == 8
            assert row["cache_length"] == row["n"]


def bytes_fall_by_the_group_size() -> None:
    rows = {r["config"]: r for r in _newest()["memory"]}
    mha = rows["MHA"]["bytes_per_cached_token"]
    for name, times in (("GQA", 4), ("MQA", 8)):
        row = rows[name]
        assert row["n_heads"] // row["n_kv_heads"] == times
        assert mha == times * row["bytes_per_cached_token"]  # exactly


def _newest() -> dict[str, Any]:
    paths = sorted(
        p for p in RESULTS.glob("decode-cpu-*.json") if "quick" not in p.name
    )
    result: dict[str, Any] = json.loads(paths[-1].read_text())
    return result


CLAIMS = [
    Claim(
        "the caches take a prompt of tokens (the prefill) and 8 more tokens are "
        "decoded, tokens in all",
        caches_hold_prompt_and_decoded_tokens,
    ),
    Claim(
        "fall by n_heads / n_kv_heads exactly (8 to 2 to 1 key/value heads: 4 and 8 "
        "times less)",
        bytes_fall_by_the_group_size,
    ),
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
