"""The FlashAttention backward (selfattn/efficient.py): ``attention_tiled`` trains with
the gradients of PyTorch's attention, keeps O(n d) numbers for the backward pass, and
its backward works block by block from a global output and log-sum-exp."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import attention_matmul, attention_online, attention_tiled
from selfattn.efficient import (
    TiledAttention,
    attention_backward_plain,
    attention_tiled_plain,
    tiled_attention_backward,
    tiled_attention_forward,
)
from tests.conftest import QKV, assert_close, compute_dtype, largest, qkv_problems
from tests.test_efficient import LargestAllocation

Grads = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def kept(p: QKV) -> torch.Tensor | None:
    """The mask SDPA needs for ``p``: the boolean mask and the causal one combined."""
    n_q, n_k = p.q.shape[-2], p.k.shape[-2]
    mask = p.mask
    if p.causal:
        lower = torch.ones(n_q, n_k, dtype=torch.bool).tril()
        mask = lower if mask is None else mask & lower
    return mask


def sdpa_grads(p: QKV, grad_out: torch.Tensor, dtype: torch.dtype) -> Grads:
    """PyTorch's attention and its gradients in ``dtype``; a query with no kept key
    gets a zero output (our convention), so its gradients are zero too."""
    q, k, v = (t.detach().to(dtype).requires_grad_() for t in (p.q, p.k, p.v))
    mask = kept(p)
    out = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=p.scale
    )
    if mask is not None:
        out = torch.where(mask.any(-1, keepdim=True), out, 0.0)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), grad_out.to(dtype))
    return dq, dk, dv


def tiled_grads(p: QKV, grad_out: torch.Tensor, block_q: int, block_k: int) -> Grads:
    q, k, v = (t.detach().clone().requires_grad_() for t in (p.q, p.k, p.v))
    out = attention_tiled(q, k, v, **p.kwargs(), block_q=block_q, block_k=block_k)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), grad_out)
    return dq, dk, dv


def assert_grads_close(ours: Grads, p: QKV, grad_out: torch.Tensor) -> None:
    """Our error against a float64 oracle is at most twice PyTorch's own error in the
    same dtype, plus a floor of a few roundings in the dtype the work is done in
    (float32 for float16 and bfloat16) of the two sizes that rounding scales with:
    the largest score (float32's exp(s - L) is off by about eps * |s| relative when
    the scores s are large), and the terms that cancel in the score gradient
    dS = P (dP - D): dP_ij = dO_i . v_j and D_i, each up to sum_c |dO_ic| |v_jc|,
    whose rounding dq and dk carry times the summed sizes of k and q. (With one key,
    dk is exactly 0 by cancellation: only this second term bounds its rounding.)"""
    oracle = sdpa_grads(p, grad_out.double(), torch.float64)
    theirs = sdpa_grads(p, grad_out, p.q.dtype)
    scale = p.scale if p.scale is not None else 1 / math.sqrt(p.q.shape[-1])
    scores = scale * (p.q.double() @ p.k.double().transpose(-2, -1))
    eps = torch.finfo(compute_dtype(p.q.dtype)).eps
    cancel = largest(grad_out.double().abs() @ p.v.double().abs().transpose(-2, -1))
    rows = largest(p.q.double().abs().sum(-2), p.k.double().abs().sum(-2))
    for name, got, want, torch_own in zip("qkv", ours, oracle, theirs, strict=True):
        assert got.dtype == p.q.dtype
        assert got.shape == want.shape
        size = want.abs().max().item() + 1.0
        floor = (
            16
            * eps
            * ((1.0 + scores.abs().max().item()) * size + abs(scale) * cancel * rows)
        )
        error = (got.double() - want).abs().max().item()
        torch_error = (torch_own.double() - want).abs().max().item()
        assert error <= 2 * torch_error + floor, (
            f"d{name}: error {error:.3g} > 2 x torch's {torch_error:.3g} + {floor:.3g}"
        )


@st.composite
def training_problems(draw: st.DrawFn) -> QKV:
    """``qkv_problems`` plus what training meets: queries scaled to scores far past
    exp's range, and queries whose every key is masked."""
    p = draw(qkv_problems(dtypes=(torch.float64, torch.float32), max_n=20))
    boost = draw(st.sampled_from([1.0, 1.0, 300.0]))  # 300: scores of ~1e3 to 1e4
    q = p.q * boost
    mask = p.mask
    if mask is not None and draw(st.booleans()):
        mask = mask.clone()
        mask[..., draw(st.integers(0, q.shape[-2] - 1)), :] = False
    return QKV(q, p.k, p.v, mask, p.causal, p.scale)


# --8<-- [start:test_backward_matches_sdpa]
@given(
    p=training_problems(),
    block_q=st.integers(1, 9),
    block_k=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_gradients_match_pytorch_sdpa(
    p: QKV, block_q: int, block_k: int, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    shape = (*p.q.shape[:-1], p.v.shape[-1])
    grad_out = torch.randn(shape, generator=gen).to(p.q.dtype)
    ours = tiled_grads(p, grad_out, block_q, block_k)
    assert_grads_close(ours, p, grad_out)


# --8<-- [end:test_backward_matches_sdpa]


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_with_a_fully_masked_row_and_short_blocks(causal: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    q, k, v = (
        torch.randn(2, n, d, generator=gen, dtype=torch.float64, requires_grad=True)
        for n, d in ((6, 3), (9, 3), (9, 2))
    )
    mask = torch.rand(6, 9, generator=gen) < 0.7
    mask[:, 0] = True
    mask[4] = False  # query 4 keeps no key: zero output, zero gradients

    def fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return attention_tiled(q, k, v, mask=mask, causal=causal, block_q=4, block_k=4)

    assert torch.autograd.gradcheck(fn, (q, k, v))
    out = fn(q, k, v)
    (dq,) = torch.autograd.grad(out.sum(), q)
    assert (out[:, 4] == 0).all()
    assert (dq[:, 4] == 0).all()


def test_a_query_with_no_key_gets_zero_output_and_minus_inf_lse() -> None:
    q, k, v = torch.randn(5, 4), torch.randn(7, 4), torch.randn(7, 3)
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[2] = False
    out, lse = tiled_attention_forward(q, k, v, mask=mask, block_q=2, block_k=3)
    assert (out[2] == 0).all()
    assert lse[2] == -math.inf
    assert torch.isfinite(lse[[0, 1, 3, 4]]).all()
    expected = torch.logsumexp(q @ k.T / 2.0, dim=-1)  # scale 1/sqrt(4)
    torch.testing.assert_close(lse[[0, 1, 3, 4]], expected[[0, 1, 3, 4]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_forward_returns_out_in_qs_dtype_and_lse_in_the_compute_dtype(
    dtype: torch.dtype,
) -> None:
    q = torch.randn(2, 9, 4).to(dtype)
    out, lse = tiled_attention_forward(q, q, q, block_q=4, block_k=4)
    assert out.dtype == dtype
    assert out.shape == (2, 9, 4)
    assert lse.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert lse.shape == (2, 9)


# --8<-- [start:test_backward_blockwise]
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("split", [1, 6, 11])
def test_backward_per_key_block_from_the_global_out_and_lse(
    causal: bool, split: int
) -> None:
    # Ring attention's backward: each device holds some keys, and the output and
    # log-sum-exp of the whole attention. dS = P * (dP - D) holds block by block.
    gen = torch.Generator().manual_seed(split)
    q, k, v = (
        torch.randn(2, 3, 12, d, generator=gen, dtype=torch.float64) for d in (4, 4, 5)
    )
    mask = torch.rand(12, 12, generator=gen) < 0.7
    mask[7] = False  # one query keeps no key at all
    grad_out = torch.randn(2, 3, 12, 5, generator=gen, dtype=torch.float64)
    kw: dict[str, Any] = {"block_q": 5, "block_k": 4}
    # A block of keys holds its own positions 0, 1, ...: causal=True would align
    # the wrong keys, so each half gets the causal mask cut to its key positions.
    full_mask = mask & torch.ones(12, 12, dtype=torch.bool).tril() if causal else mask
    halves = [slice(0, split), slice(split, 12)]
    parts = [
        tiled_attention_forward(
            q, k[..., h, :], v[..., h, :], mask=full_mask[:, h], **kw
        )
        for h in halves
    ]
    # Merge the two halves by their log-sum-exps (the ring's combine step).
    lse = torch.logaddexp(parts[0][1], parts[1][1])
    weight = [torch.exp(part_lse - lse).nan_to_num(0.0) for _, part_lse in parts]
    out = sum(w.unsqueeze(-1) * o for w, (o, _) in zip(weight, parts, strict=True))
    assert isinstance(out, torch.Tensor)
    full_out, full_lse = tiled_attention_forward(
        q, k, v, mask=mask, causal=causal, **kw
    )
    torch.testing.assert_close(out, full_out)
    torch.testing.assert_close(lse, full_lse)
    grads = [
        tiled_attention_backward(
            q,
            k[..., h, :],
            v[..., h, :],
            out,
            lse,
            grad_out,
            mask=full_mask[:, h],
            **kw,
        )
        for h in halves
    ]
    dq = grads[0][0] + grads[1][0]
    dk = torch.cat([grads[0][1], grads[1][1]], dim=-2)
    dv = torch.cat([grads[0][2], grads[1][2]], dim=-2)
    full = tiled_attention_backward(
        q, k, v, out, lse, grad_out, mask=mask, causal=causal, **kw
    )
    p = QKV(q, k, v, mask, causal, None)
    assert_grads_close((dq, dk, dv), p, grad_out)
    for got, want in zip((dq, dk, dv), full, strict=True):
        torch.testing.assert_close(got, want)


# --8<-- [end:test_backward_blockwise]


class SavedBytes:
    """Counts the bytes autograd saves for the backward pass (saved-tensor hooks):
    each storage once, however many tensors saved view it (`x * x` saves `x`
    twice; a slice of `q` keeps all of `q` alive)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.seen: set[int] = set()
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, self.unpack)

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in self.seen:
            self.seen.add(storage.data_ptr())
            self.bytes += storage.nbytes()
        return t

    def unpack(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def __enter__(self) -> SavedBytes:
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hooks.__exit__(*exc)


def test_saved_bytes_counts_an_aliased_tensor_once() -> None:
    x = torch.randn(100, requires_grad=True)
    with SavedBytes() as saved:
        y = x * x  # saves x twice: as self and as other
        z = y[:10] * y[50:60]  # two views of y's one storage
    assert saved.bytes == x.nbytes + y.nbytes
    torch.autograd.grad(z.sum(), x)


def saved_bytes(fn: Any, n: int, causal: bool = False) -> int:
    q, k, v = (torch.randn(1, 2, n, 16, requires_grad=True) for _ in range(3))
    with SavedBytes() as saved:
        out = fn(q, k, v, causal=causal)
    out.sum().backward()  # the saved tensors are what this backward needs
    return saved.bytes


def tiled_64(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw: Any) -> Any:
    return attention_tiled(q, k, v, block_q=64, block_k=64, **kw)


def online_64(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw: Any) -> Any:
    return attention_online(q, k, v, block_k=64, **kw)


# --8<-- [start:test_saved_memory]
@pytest.mark.parametrize("causal", [False, True])
def test_memory_saved_for_the_backward_grows_linearly_with_n(causal: bool) -> None:
    sizes = (128, 256, 512)
    saved = [saved_bytes(tiled_64, n, causal) for n in sizes]
    for n, small, large in zip(sizes, saved, saved[1:], strict=False):
        assert large <= 2.05 * small, f"n = {n} -> {2 * n}: {small} -> {large} bytes"
    # q, k, v, the output (4 x n x 16 floats per head) and the lse (n floats):
    assert saved[-1] == 2 * 512 * (4 * 16 + 1) * 4


# --8<-- [end:test_saved_memory]


@pytest.mark.parametrize("fn", [attention_matmul, online_64], ids=["matmul", "online"])
def test_the_saved_bytes_counter_sees_quadratic_growth(fn: Any) -> None:
    # The counter can fail: autograd through the loop (or the matrix form) keeps
    # every tile's exponentials, n x n numbers in all.
    # Doubling n: x4 for the n x n part, x2 for q, k, v and the output (each
    # counted once); linear alone would be x2.
    small, large = saved_bytes(fn, 128), saved_bytes(fn, 256)
    assert large >= 3.2 * small


def test_double_backward_is_refused_with_a_clear_error() -> None:
    q, k, v = (
        torch.randn(6, 4, dtype=torch.float64, requires_grad=True) for _ in "qkv"
    )
    out = attention_tiled(q, k, v, block_q=4, block_k=4)
    with pytest.raises(RuntimeError, match=r"one backward pass only.*create_graph"):
        torch.autograd.grad(out.sum(), q, create_graph=True)
    # A plain backward still works after the refused one.
    out = attention_tiled(q, k, v, block_q=4, block_k=4)
    (dq,) = torch.autograd.grad(out.sum(), q)
    assert torch.isfinite(dq).all()


def test_without_autograd_nothing_is_saved() -> None:
    q = torch.randn(2, 64, 8)
    with SavedBytes() as saved, torch.no_grad():
        attention_tiled(q, q, q, block_q=16, block_k=16)
    assert saved.bytes == 0
    assert TiledAttention is not None


class LargestFloat32(LargestAllocation):  # type: ignore[no-untyped-call]
    """The largest float32 tensor any torch operation allocates (views excluded)."""

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        results = result if isinstance(result, (tuple, list)) else (result,)
        for t in results:
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
                if t.untyped_storage().data_ptr() in self.inputs:
                    continue
                self.largest = max(self.largest, t.untyped_storage().nbytes() // 4)
        return result


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_never_copies_q_k_or_v_whole_to_float32(
    dtype: torch.dtype,
) -> None:
    b, n, d, block = 2, 128, 16, 32
    q, k, v = (torch.randn(b, n, d).to(dtype).requires_grad_() for _ in range(3))
    with LargestFloat32(q, k, v) as forward:
        out = attention_tiled(q, k, v, block_q=block, block_k=block)
    # float32: blocks of q, k and v, one tile, and one lse per query.
    assert forward.largest <= max(b * block * block, b * n)
    grad_out = torch.randn_like(out)
    with LargestFloat32(q, k, v, out, grad_out) as backward:
        torch.autograd.grad(out, (q, k, v), grad_out)
    # The same in the backward: dQ is summed in float32 one query block at a time.
    assert backward.largest <= max(b * block * block, b * n)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("causal", [False, True])
def test_half_precision_gradients_match_pytorch_sdpa(
    dtype: torch.dtype, causal: bool
) -> None:
    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 4, 40, 16, generator=gen).to(dtype) for _ in "qkv")
    grad_out = torch.randn(2, 4, 40, 16, generator=gen).to(dtype)
    p = QKV(q, k, v, None, causal, None)
    ours = tiled_grads(p, grad_out, 16, 8)
    assert_grads_close(ours, p, grad_out)
    # The work is done in float32 and each gradient is rounded to `dtype` once, so
    # on average ours is closer to the float64 oracle than PyTorch's own `dtype`
    # gradients (0.5 to 0.75 of their mean error here). The largest error alone
    # cannot tell a log-sum-exp rounded to `dtype` on the way (1.8 to 3.4 times
    # PyTorch's mean error) from rounding noise; the mean can.
    oracle = sdpa_grads(p, grad_out.double(), torch.float64)
    theirs = sdpa_grads(p, grad_out, dtype)
    for got, want, torch_own in zip(ours, oracle, theirs, strict=True):
        error = (got.double() - want).abs().mean().item()
        torch_error = (torch_own.double() - want).abs().mean().item()
        assert error <= 1.25 * torch_error, (error, torch_error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lse": torch.zeros(3)}, r"lse must have one number per query"),
        ({"out": torch.zeros(4, 2)}, r"out must have the output's shape"),
        ({"grad_out": "x"}, r"grad_out must be a torch.Tensor"),
        ({"lse": torch.zeros(4, dtype=torch.int64)}, r"lse must have a floating"),
    ],
)
def test_backward_bad_input_names_the_argument(
    change: dict[str, Any], message: str
) -> None:
    q = torch.randn(4, 3)
    out, lse = tiled_attention_forward(q, q, q)
    args = {"out": out, "lse": lse, "grad_out": torch.ones_like(out)} | change
    with pytest.raises((TypeError, ValueError), match=message):
        tiled_attention_backward(q, q, q, args["out"], args["lse"], args["grad_out"])


# --8<-- [start:test_plain_forms]
@given(
    p=qkv_problems(
        dtypes=(torch.float64,), max_n=20, allow_mask=False, allow_causal=False
    ),
    block_q=st.integers(1, 9),
    block_k=st.integers(1, 9),
)
def test_the_plain_forms_equal_the_tuned_ones(
    p: QKV, block_q: int, block_k: int
) -> None:
    blocks = {"scale": p.scale, "block_q": block_q, "block_k": block_k}
    out, lse = attention_tiled_plain(p.q, p.k, p.v, **blocks)
    tuned_out, tuned_lse = tiled_attention_forward(p.q, p.k, p.v, **blocks)
    # The two differ only in the order of their roundings, which the scores
    # magnify: by the size of their terms, sum_l |q_l| |k_l| (p.condition()), not
    # by |q k^T|, which is small when the terms cancel.
    condition = p.condition()
    assert_close(out, tuned_out, condition=condition)
    assert_close(lse, tuned_lse, condition=condition)
    grad_out = torch.randn_like(out)
    plain = attention_backward_plain(p.q, p.k, p.v, out, lse, grad_out, **blocks)
    tuned = tiled_attention_backward(p.q, p.k, p.v, out, lse, grad_out, **blocks)
    for got, want in zip(plain, tuned, strict=True):
        assert_close(got, want, condition=condition, magnitude=largest(*tuned))


# --8<-- [end:test_plain_forms]
