"""Online softmax and tiled attention (selfattn/efficient.py): the same attention,
for any block sizes, with the reference's gradients and without the n x n scores."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from selfattn import attention_matmul, attention_online, attention_tiled
from tests.conftest import (
    QKV,
    assert_agree,
    assert_close,
    assert_close_to_sdpa,
    qkv_problems,
    sdpa_reference,
)

Attention = Callable[..., torch.Tensor]


def blocked(name: str, block_q: int, block_k: int) -> Attention:
    """The online (key blocks only) or tiled function with the given block sizes."""
    if name == "online":
        return functools.partial(attention_online, block_k=block_k)
    return functools.partial(attention_tiled, block_q=block_q, block_k=block_k)


NAMES = ["online", "tiled"]
blocks = st.integers(1, 9)  # with n up to 20: sizes that divide n, and many that do not


# --8<-- [start:test_blocks_match_sdpa]
@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems(max_n=20), block_q=blocks, block_k=blocks)
def test_any_block_sizes_match_pytorch_sdpa(
    name: str, p: QKV, block_q: int, block_k: int
) -> None:
    out = blocked(name, block_q, block_k)(p.q, p.k, p.v, **p.kwargs())
    assert out.shape == (*p.q.shape[:-1], p.v.shape[-1])
    assert out.dtype == p.q.dtype
    assert_close_to_sdpa(out, p)  # twice SDPA's own error in p's dtype, + a floor


# --8<-- [end:test_blocks_match_sdpa]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("n_q", "n_k", "block_q", "block_k"),
    [
        (12, 12, 4, 4),  # blocks divide n
        (12, 12, 5, 7),  # the last block of each is short
        (12, 12, 1, 1),  # one query and one key per block
        (12, 12, 12, 12),  # a single tile
        (12, 12, 32, 32),  # blocks longer than the sequence
        (7, 13, 3, 5),  # more keys than queries
        (13, 7, 5, 3),  # more queries than keys
    ],
)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_block_sizes_that_do_and_do_not_divide_n(
    name: str,
    n_q: int,
    n_k: int,
    block_q: int,
    block_k: int,
    causal: bool,
    masked: bool,
) -> None:
    gen = torch.Generator().manual_seed(n_q * 100 + block_q * 10 + block_k)
    q, k, v = (torch.randn(2, 3, n, 8, generator=gen) for n in (n_q, n_k, n_k))
    mask = torch.rand(n_q, n_k, generator=gen) < 0.5 if masked else None
    if mask is not None:
        mask[1] = False  # a query that may attend to nothing: a zero output row
    p = QKV(q, k, v, mask, causal, None)
    out = blocked(name, block_q, block_k)(q, k, v, mask=mask, causal=causal)
    assert_close(out, sdpa_reference(p).float())


@pytest.mark.parametrize("name", NAMES)
def test_a_single_token_in_blocks_attends_to_itself(name: str) -> None:
    q, k, v = torch.randn(3, 1, 4), torch.randn(3, 1, 4), torch.randn(3, 1, 5)
    for causal in (False, True):
        out = blocked(name, 2, 3)(q, k, v, causal=causal)
        assert_close(out, v)


@pytest.mark.parametrize("name", NAMES)
def test_a_larger_maximum_in_a_later_block_rescales_the_earlier_ones(name: str) -> None:
    # Scores of about 1e4 that grow block after block: exp(1e4) overflows float32,
    # and each new block's maximum exceeds the last, so every step must rescale
    # the running sum and accumulator by exp(m_old - m_new) (here ~e^-1000 = 0).
    q = torch.tensor([[100.0, 0.0], [0.0, 1.0]])  # (2, 2)
    k = torch.stack([torch.linspace(1.0, 100.0, 10), torch.zeros(10)], dim=-1)
    v = torch.randn(10, 3)
    out = blocked(name, 1, 3)(q, k, v, scale=1.0)
    assert torch.isfinite(out).all()
    assert_close(out, sdpa_reference(QKV(q, k, v, None, False, 1.0)).float())


@pytest.mark.parametrize("name", NAMES)
def test_scores_of_similar_size_in_many_blocks_sum_correctly(name: str) -> None:
    # Equal scores in every block: the weights are uniform only if every block's
    # terms are added to the running sum with the same (rescaled) weight.
    q, k = torch.zeros(4, 3), torch.zeros(10, 3)
    v = torch.arange(10.0).unsqueeze(-1)  # (10, 1)
    out = blocked(name, 3, 4)(q, k, v)
    assert_close(out, torch.full((4, 1), 4.5))


# --8<-- [start:test_gradients]
@pytest.mark.parametrize("name", NAMES)
@given(
    p=qkv_problems(dtypes=(torch.float64,), max_n=12), block_q=blocks, block_k=blocks
)
def test_gradients_equal_the_reference_gradients(
    name: str, p: QKV, block_q: int, block_k: int
) -> None:
    q, k, v = (t.clone().requires_grad_() for t in (p.q, p.k, p.v))
    out = blocked(name, block_q, block_k)(q, k, v, **p.kwargs())
    grad_out = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    ref = attention_matmul(q, k, v, **p.kwargs())
    ref_grads = torch.autograd.grad(ref, (q, k, v), grad_out)
    sizes = p.gradient_sizes(grad_out)  # errors scale with these, not with 1
    for got, expected, size in zip(grads, ref_grads, sizes, strict=True):
        assert_close(got, expected, condition=p.condition(), magnitude=size)


# --8<-- [end:test_gradients]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("causal", [False, True])
def test_gradients_pass_gradcheck(name: str, causal: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
        for n in (5, 7, 7)
    )
    mask = torch.rand(5, 7, generator=gen) < 0.7
    mask[:, 0] = True
    fn = blocked(name, 2, 3)
    assert torch.autograd.gradcheck(
        lambda q, k, v: fn(q, k, v, mask=mask, causal=causal), (q, k, v)
    )


@pytest.mark.parametrize("name", NAMES)
def test_results_without_autograd_equal_results_with_it(name: str) -> None:
    # Without autograd the tiled loop reuses one score buffer (out=); with it, it
    # does not. Both paths must give the same numbers.
    q, k, v = torch.randn(2, 11, 4), torch.randn(2, 9, 4), torch.randn(2, 9, 3)
    fn = blocked(name, 4, 3)
    with torch.no_grad():
        plain = fn(q, k, v, causal=True)
    tracked = fn(q.requires_grad_(), k, v, causal=True)
    assert tracked.requires_grad
    torch.testing.assert_close(tracked.detach(), plain, rtol=0, atol=0)


class LargestAllocation(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Records the largest tensor any torch operation allocates (views excluded)."""

    def __init__(self, *inputs: torch.Tensor) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.inputs = {t.untyped_storage().data_ptr() for t in inputs}
        self.largest = 0  # elements
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: Any = (),
        kwargs: Any = None,
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        self.calls[name] = self.calls.get(name, 0) + 1
        results = result if isinstance(result, (tuple, list)) else (result,)
        for t in results:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if storage.data_ptr() not in self.inputs:  # a view of an input is free
                    self.largest = max(
                        self.largest, storage.nbytes() // t.element_size()
                    )
        return result


# --8<-- [start:test_no_score_matrix]
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_tiled_never_allocates_more_than_the_output_and_one_tile(
    causal: bool, masked: bool
) -> None:
    b, n, d, block = (
        2,
        1024,
        16,
        64,
    )  # the scores would be b * n * n = 2,097,152 numbers
    q, k, v = (torch.randn(b, n, d) for _ in range(3))
    mask = torch.rand(n, n) < 0.9 if masked else None
    inputs = (q, k, v) if mask is None else (q, k, v, mask)
    with LargestAllocation(*inputs) as spy:
        attention_tiled(q, k, v, mask=mask, causal=causal, block_q=block, block_k=block)
    assert spy.largest <= max(b * n * d, b * block * block)  # 32,768 numbers


# --8<-- [end:test_no_score_matrix]


def test_online_never_allocates_more_than_n_times_the_block() -> None:
    b, n, d, block = 2, 1024, 16, 32
    q, k, v = (torch.randn(b, n, d) for _ in range(3))
    with LargestAllocation(q, k, v) as spy:
        attention_online(q, k, v, causal=True, block_k=block)
    assert spy.largest <= b * n * max(d, block)


def test_the_allocation_spy_sees_the_score_matrix_of_attention_matmul() -> None:
    # The spy itself can fail: the matrix form allocates all b * n * n scores.
    b, n, d = 2, 256, 16
    q, k, v = (torch.randn(b, n, d) for _ in range(3))
    with LargestAllocation(q, k, v) as spy:
        attention_matmul(q, k, v)
    assert spy.largest >= b * n * n


def test_causal_tiled_skips_the_key_blocks_after_each_query_block() -> None:
    # 8 query blocks x 8 key blocks; causal needs only those on or below the
    # diagonal: 1 + 2 + ... + 8 = 36 tiles, not 64.
    q = k = v = torch.randn(1, 64, 4)
    with LargestAllocation(q) as spy:
        attention_tiled(q, k, v, causal=True, block_q=8, block_k=8)
    assert spy.calls["bmm"] == 36  # scale * Q_i K_j^T, once per tile visited


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"block_k": 0}, ValueError, r"block_k must be >= 1, got 0"),
        ({"block_q": -3}, ValueError, r"block_q must be >= 1, got -3"),
        ({"block_k": 2.0}, TypeError, r"block_k must be an int, got float 2\.0"),
        ({"block_q": True}, TypeError, r"block_q must be an int, got bool True"),
    ],
)
def test_bad_block_size_raises_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    q = torch.randn(4, 3)
    with pytest.raises(error, match=message):
        attention_tiled(q, q, q, **kwargs)
    if "block_k" in kwargs:
        with pytest.raises(error, match=message):
            attention_online(q, q, q, **kwargs)


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device; none is available"
)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
def test_on_cuda_equals_on_cpu(name: str, dtype: torch.dtype, causal: bool) -> None:
    # Several tiles, short last blocks, and every head in one batched GEMM.
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 300, 64, generator=gen).to(dtype) for _ in range(3))
    mask = torch.rand(300, 300, generator=gen) < 0.8
    fn = blocked(name, 64, 100)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 at float32's precision
    try:
        on_gpu = fn(q.cuda(), k.cuda(), v.cuda(), mask=mask.cuda(), causal=causal)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    assert on_gpu.device.type == "cuda"
    assert on_gpu.dtype == dtype
    on_cpu = fn(q, k, v, mask=mask, causal=causal)
    assert_agree(on_gpu.cpu(), on_cpu, QKV(q, k, v, mask, causal, None))
    assert math.isfinite(on_gpu.float().abs().max().item())
