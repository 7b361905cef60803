"""Claims of docs/backward-pass.md, checked against selfattn and the committed
forward + backward benchmark."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.test_claims import Claim

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "figures"))

from _common import is_quick, latest, load_result  # type: ignore[import-not-found]  # noqa: E402


def train_run(full_only: bool = False) -> dict[str, Any]:
    """The newest forward + backward benchmark, as the page loads it. With
    `full_only`, a `--quick` smoke run (n = 256, 512 on a busy machine: too small
    for the growth a claim states) skips the check, as the page says."""
    path = latest("cpu-*core-float32-backward")
    if full_only and is_quick(path):
        pytest.skip(f"{path.name} is a --quick smoke run: re-run the benchmark")
    result: dict[str, Any] = load_result(path)
    return result


def products_take_most_of_the_backward() -> None:
    prof = train_run()["profile"]
    ops = prof["ops_ms"]
    assert sum(ops[name] for name in prof["products"]) > 0.5 * sum(ops.values())


def error_at_most_twice_torch() -> None:
    from tests.conftest import QKV
    from tests.test_backward import assert_grads_close, tiled_grads

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 37, 8, generator=gen) for _ in range(3))
    mask = torch.rand(37, 37, generator=gen) < 0.7
    mask[3] = False
    p = QKV(300 * q, k, v, mask, True, None)
    grad_out = torch.randn(2, 37, 8, generator=gen)
    assert_grads_close(tiled_grads(p, grad_out, 16, 8), p, grad_out)


def saved_bytes_quadruple_and_double() -> None:
    """What autograd saves, as the page counts it: each storage once."""
    from selfattn import attention_tiled
    from selfattn.efficient import attention_tiled_plain

    def saved(fn: Any, n: int) -> int:
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        q, k, v = (torch.randn(2, n, 16, requires_grad=True) for _ in range(3))
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(q, k, v, block_q=64, block_k=64)
        return sum(storages.values())

    def loop(q: Any, k: Any, v: Any, **kw: Any) -> Any:
        return attention_tiled_plain(q, k, v, **kw)[0]

    for n in (256, 512):
        assert 3.6 <= saved(loop, 2 * n) / saved(loop, n) <= 4.0, n
        assert 1.9 <= saved(attention_tiled, 2 * n) / saved(attention_tiled, n) <= 2.0


CLAIMS = [
    Claim(
        "quadruple through the loop and double for attention_tiled",
        saved_bytes_quadruple_and_double,
    ),
    Claim(
        "The five matrix products take most of the backward's time.",
        products_take_most_of_the_backward,
    ),
    Claim("our error is at most twice PyTorch's own error", error_at_most_twice_torch),
]

NOT_CLAIMS = {
    "Faster Attention with Better Parallelism": "the title of a cited paper",
    "measured their forward and recomputing backward faster than standard": (
        "a cited paper's measurement (Dao et al. 2022, on an A100), not this site's"
    ),
}
