"""Every complete attention function, by name, with one calling convention."""

from __future__ import annotations

from typing import Protocol

import torch

from selfattn.causal import attention_renormalised
from selfattn.efficient import attention_online, attention_tiled
from selfattn.simplified import attention_loop, attention_matmul


class AttentionFn(Protocol):
    """`fn(q, k, v, *, mask=None, scale=None, causal=False) -> Tensor`.

    `q` (..., n_q, d_k), `k` (..., n_k, d_k), `v` (..., n_k, d_v) -> (..., n_q, d_v);
    `mask` is bool, broadcastable to (..., n_q, n_k), True where a query may attend;
    `scale=None` means 1/sqrt(d_k); `causal` hides later keys (top-left aligned).
    """

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        scale: float | None = None,
        causal: bool = False,
    ) -> torch.Tensor: ...


# --8<-- [start:registry]
IMPLEMENTATIONS: dict[str, AttentionFn] = {
    "loop": attention_loop,  # Part I: one query, one key at a time
    "matmul": attention_matmul,  # Part I: two matrix products
    "renormalised": attention_renormalised,  # causal chapter: mask after the softmax
    "online": attention_online,  # Efficient attention: one pass over key blocks
    "tiled": attention_tiled,  # Efficient attention: query x key tiles (FlashAttention)
}
# --8<-- [end:registry]
