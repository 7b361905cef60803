"""Claims of docs/sliding-window.md ("Sliding windows")."""

from __future__ import annotations

import pytest
import torch

from selfattn import GroupedQueryAttention, band_mask, kv_cache_bytes
from tests.claims.kv_cache import decode_results
from tests.test_claims import Claim


def rows_keep_at_most_window() -> None:
    for n in range(1, 12):
        pos = torch.arange(n)
        for w in range(1, 6):
            kept = band_mask(pos, pos, w).sum(dim=-1)
            assert int(kept.max()) == min(n, w)


def band_keeps_exactly() -> None:
    for n in range(1, 40):
        pos = torch.arange(n)
        for w in range(1, n + 1):  # n >= w
            kept = int(band_mask(pos, pos, w).sum())
            assert kept == n * w - w * (w - 1) // 2
            assert kept <= n * (n + 1) // 2


def module_computes_all_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    import selfattn.inference as inference

    seen: list[tuple[int, ...]] = []
    original = inference.grouped_attention

    def spy(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor):  # type: ignore[no-untyped-def]
        seen.append((q.shape[-2], k.shape[-2]))
        return original(q, k, v, keep)

    monkeypatch.setattr(inference, "grouped_attention", spy)
    module = GroupedQueryAttention(2, 4, 2, 1, context_length=12, window=3)
    with torch.no_grad():
        module(torch.zeros(1, 12, 2))
    assert seen == [(12, 12)]  # every query against every key: n^2 scores


def chunks_of_at_most_the_window() -> None:
    module = GroupedQueryAttention(2, 2, 1, 1, context_length=8, window=3)
    cache = module.new_cache(1)
    module(torch.zeros(1, 3, 2), cache=cache)  # a chunk of w tokens is fine
    with pytest.raises(ValueError, match="longer than the window"):
        module(torch.zeros(1, 4, 2), cache=cache)


def window_cache_is_an_eighth() -> None:
    rows = {r["config"]: r for r in decode_results()["memory"]}
    window = next(r for name, r in rows.items() if "window" in name)
    assert 8 * window["cache_bytes_at_n"] == rows["MHA"]["cache_bytes_at_n"]
    assert window["cache_bytes_at_n"] == rows["MQA"]["cache_bytes_at_n"]


def decode_cache_holds_at_most_window() -> None:
    # The cache keeps w slots; a step of c new tokens reads at most w + c keys.
    import selfattn.inference as inference

    w = 3
    read: list[tuple[int, int]] = []  # (new tokens c, keys read) per step
    original = inference.grouped_attention

    def spy(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor):  # type: ignore[no-untyped-def]
        read.append((q.shape[-2], k.shape[-2]))
        return original(q, k, v, keep)

    module = GroupedQueryAttention(2, 2, 1, 1, context_length=40, window=w)
    cache = module.new_cache(1)
    with pytest.MonkeyPatch.context() as monkeypatch, torch.no_grad():
        monkeypatch.setattr(inference, "grouped_attention", spy)
        for c in [1, 2, 3, 1, 1, 3, 2, 1] * 2:  # 28 tokens, chunks of 1 to w
            module(torch.randn(1, c, 2), cache=cache)
            assert cache.keys.shape[2] == w
            assert int((cache.positions >= 0).sum()) <= w
    assert all(n_k <= w + c for c, n_k in read), read
    assert max(n_k - c for c, n_k in read) == w  # the bound is reached


def window_keeps_a_64th() -> None:
    sizes = {"n_layers": 4, "n_kv_heads": 8, "head_dim": 32}
    full = kv_cache_bytes(32768, **sizes)
    assert 64 * kv_cache_bytes(32768, window=512, **sizes) == full


def all_scores_computed() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        module_computes_all_scores(monkeypatch)


CLAIMS = [
    Claim("a window of 512 keeps one sixty-fourth of the cache", window_keeps_a_64th),
    Claim(
        "the cache holds at most keys, and a step of new tokens reads at most",
        decode_cache_holds_at_most_window,
    ),
    Claim("for queries the band keeps exactly", band_keeps_exactly),
    Claim(
        "over a whole sequence it computes all scores and masks those outside the band",
        all_scores_computed,
    ),
    Claim("each row has at most", rows_keep_at_most_window),
    Claim("A long prompt is fed in chunks of at most", chunks_of_at_most_the_window),
    Claim(
        "holds an eighth of the bytes of the full one, as much as multi-query "
        "attention's",
        window_cache_is_an_eighth,
    ),
]
NOT_CLAIMS: dict[str, str] = {}
