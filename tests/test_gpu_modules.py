"""CPU and GPU agree for the modules of Part II (trainable, causal, multi-head).

Run with ``pytest -m gpu``; without CUDA every test here is skipped with a reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import (
    CausalAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttentionLinear,
    SelfAttentionParams,
    to_torch_mha,
    torch_mha_forward,
)
from tests.conftest import assert_close
from tests.test_gpu import no_tf32  # noqa: F401  (autouse: float32 without TF32)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device; none is available"
    ),
]

MODULES: dict[str, Callable[[int, int, int, int], torch.nn.Module]] = {
    "params": lambda d_in, d_out, n, h: SelfAttentionParams(d_in, d_out),
    "linear": lambda d_in, d_out, n, h: SelfAttentionLinear(d_in, d_out, qkv_bias=True),
    "causal": lambda d_in, d_out, n, h: CausalAttention(d_in, d_out, n),
    "wrapper": lambda d_in, d_out, n, h: MultiHeadAttentionWrapper(d_in, d_out, n, h),
    "fused": lambda d_in, d_out, n, h: MultiHeadAttention(d_in, d_out, n, h),
}


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(
    d_in=st.integers(1, 8),
    heads=st.integers(1, 4),
    head_dim=st.integers(1, 4),
    n=st.integers(1, 16),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_module_on_cpu_and_gpu_agree(
    name: str,
    dtype: torch.dtype,
    d_in: int,
    heads: int,
    head_dim: int,
    n: int,
    batch: int,
    seed: int,
) -> None:
    torch.manual_seed(seed)
    on_cpu = MODULES[name](d_in, heads * head_dim, n, heads).to(dtype).eval()
    x = torch.randn(batch, n, d_in, dtype=dtype)
    on_gpu = copy.deepcopy(on_cpu).to("cuda")  # .to moves in place: keep the original
    out = on_gpu(x.cuda())
    assert out.device.type == "cuda"
    assert_close(out.cpu(), on_cpu(x))


def test_mask_buffer_moves_to_the_gpu_with_the_module() -> None:
    module = MultiHeadAttention(3, 4, 6, 2).to("cuda")
    assert module.mask.device.type == "cuda"
    assert module(torch.randn(2, 6, 3, device="cuda")).shape == (2, 6, 4)


def test_fused_module_matches_torch_multihead_attention_on_gpu() -> None:
    torch.manual_seed(0)
    fused = MultiHeadAttention(5, 8, 7, 4, qkv_bias=True).double().cuda().eval()
    mha = to_torch_mha(fused).eval()
    x = torch.randn(3, 7, 5, dtype=torch.float64, device="cuda")
    assert_close(torch_mha_forward(mha, fused, x), fused(x))
