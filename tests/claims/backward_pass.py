"""Claims of docs/backward-pass.md, checked against selfattn and the committed
forward + backward benchmark."""

from __future__ import annotations

import itertools
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


def memory_loop_quadratic_tiled_linear() -> None:
    run = train_run(full_only=True)
    mem = {
        (r["impl"], r["n"]): r["peak_extra_bytes"]
        for r in run["results"]
        if r["mode"] == "fwd+bwd" and r["peak_extra_bytes"]
    }
    ns = sorted(n for impl, n in mem if impl == "tiled" and n >= 1024)
    assert ns
    loop = sorted(n for impl, n in mem if impl == "tiled_autograd" and n >= 1024)
    for small, large in itertools.pairwise(loop):  # n^2: x4 per doubling
        growth = mem[("tiled_autograd", large)] / mem[("tiled_autograd", small)]
        assert growth >= 0.75 * (large / small) ** 2, (small, large)
    for small, large in itertools.pairwise(ns):  # n: x2 per doubling
        assert mem[("tiled", large)] / mem[("tiled", small)] <= 1.25 * large / small


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


CLAIMS = [
    Claim(
        "autograd through the loop grows with , attention_tiled grows linearly",
        memory_loop_quadratic_tiled_linear,
    ),
    Claim(
        "The five matrix products take most of the backward's time.",
        products_take_most_of_the_backward,
    ),
    Claim("our error is at most twice PyTorch's own error", error_at_most_twice_torch),
]

NOT_CLAIMS = {
    "Faster Attention with Better Parallelism": "the title of a cited paper",
    "times as medians": "'times' is the noun: how the timings are summarised",
}
