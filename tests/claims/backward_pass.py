"""Claims of docs/backward-pass.md, checked against selfattn and the committed
forward + backward benchmark."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import torch

from tests.test_claims import Claim

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "benchmarks" / "results" / "cpu-2core-float32-backward-2026-11-29.json"


def memory_linear_within_twice_sdpa() -> None:
    run = json.loads(TRAIN.read_text())
    mem = {
        (r["impl"], r["n"]): r["peak_extra_bytes"]
        for r in run["results"]
        if r["mode"] == "fwd+bwd" and r["peak_extra_bytes"]
    }
    ns = sorted(n for impl, n in mem if impl == "tiled" and n >= 1024)
    assert ns
    for n in ns:
        assert mem[("tiled", n)] <= 2 * mem[("sdpa", n)], n
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
        "attention_tiled grows linearly, within twice SDPA's",
        memory_linear_within_twice_sdpa,
    ),
    Claim("our error is at most twice PyTorch's own error", error_at_most_twice_torch),
]

NOT_CLAIMS = {
    "times as medians": "'times' is the noun: how the timings are summarised",
}
