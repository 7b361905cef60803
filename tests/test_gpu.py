"""CPU and GPU agree: every registry entry on CUDA against the same entry on the CPU.

Run with ``pytest -m gpu``; without CUDA every test here is skipped with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from hypothesis import given

from selfattn import IMPLEMENTATIONS
from tests.conftest import (
    QKV,
    assert_agree,
    assert_close_to_sdpa,
    qkv_problems,
    run_implementation,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device; none is available"
    ),
]

NAMES = sorted(IMPLEMENTATIONS)


@pytest.fixture(autouse=True)
def no_tf32() -> Iterator[None]:
    """TF32 keeps only 10 mantissa bits in float32 matmuls: turn it off, so float32 on
    the GPU is compared at float32's own tolerance."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


# --8<-- [start:test_cpu_gpu_agree]
@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems())
def test_cpu_and_gpu_agree(name: str, p: QKV) -> None:
    on_cpu = run_implementation(name, p)
    on_gpu = run_implementation(name, p.to("cuda"))
    assert on_gpu.device.type == "cuda"  # computed there, not moved to the CPU
    # Both sides compute in float32 or float64 (half precision is upcast), summing in
    # different orders: each within the bound of PyTorch's own error (see conftest).
    assert_agree(on_gpu.cpu(), on_cpu, p)


# --8<-- [end:test_cpu_gpu_agree]


@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems())
def test_gpu_matches_pytorch_sdpa(name: str, p: QKV) -> None:
    assert_close_to_sdpa(run_implementation(name, p.to("cuda")).cpu(), p)
