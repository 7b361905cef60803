"""Claims of docs/sliding-window.md ("Sliding windows")."""

from __future__ import annotations

import pytest
import torch

from selfattn import GroupedQueryAttention, band_mask
from tests.claims.kv_cache import decode_results
from tests.test_claims import Claim


def rows_keep_at_most_window() -> None:
    for n in range(1, 12):
        pos = torch.arange(n)
        for w in range(1, 6):
            kept = band_mask(pos, pos, w).sum(dim=-1)
            assert int(kept.max()) == min(n, w)


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


CLAIMS = [
    Claim("each row has at most", rows_keep_at_most_window),
    Claim("A long prompt is fed in chunks of at most", chunks_of_at_most_the_window),
    Claim(
        "holds an eighth of the bytes of the full one, as much as multi-query "
        "attention's",
        window_cache_is_an_eighth,
    ),
]
NOT_CLAIMS: dict[str, str] = {}
