"""Attention at inference (selfattn/inference.py): the KV cache, grouped-query attention,
sliding windows.

Every property compares the cached path with one causal forward, or our attention
with PyTorch's SDPA, in float64, where both sides round at ~1e-16 and sums run over
at most a few dozen terms: 1e-10 leaves a million-fold margin and still catches any
real mistake (a wrong key or position moves outputs by ~1e-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn import (
    GroupedQueryAttention,
    KVCache,
    MultiHeadAttention,
    band_mask,
    causal_mask,
    decode_step_plain,
    grouped_attention,
    grouped_attention_plain,
    kv_cache_bytes,
    repeat_kv,
    rope,
)
from tests.conftest import eps

TOL = 1e-10  # float64, see the module docstring
# The decode properties run dozens of module calls per example: a third of the
# profile's examples keeps this file near 10 s on two cores (the thorough profile
# still gets hundreds).
FEWER = settings(max_examples=max(10, settings().max_examples // 3))


def close(actual: torch.Tensor, expected: torch.Tensor, tol: float = TOL) -> None:
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


@dataclass
class Case:
    """A float64 module in eval mode and an input (batch, n, d_in)."""

    module: GroupedQueryAttention
    x: torch.Tensor

    @property
    def window(self) -> int | None:
        return self.module.window


@st.composite
def gqa_cases(
    draw: st.DrawFn,
    max_n: int = 16,
    window: bool | None = None,
    rope: bool | None = None,
    min_n: int = 1,
) -> Case:
    """Random sizes: n_kv_heads dividing n_heads, RoPE (even d_h) and a window or not."""
    use_rope = draw(st.booleans()) if rope is None else rope
    n_kv_heads = draw(st.integers(1, 3))
    n_heads = n_kv_heads * draw(st.integers(1, 3))
    head_dim = draw(st.sampled_from([2, 4] if use_rope else [1, 2, 3, 4]))
    use_window = draw(st.booleans()) if window is None else window
    n = draw(st.integers(min_n, max_n))
    module = GroupedQueryAttention(
        draw(st.integers(1, 6)),
        n_heads * head_dim,
        n_heads,
        n_kv_heads,
        context_length=n + draw(st.integers(0, 3)),
        window=draw(st.integers(1, 5)) if use_window else None,
        rope=use_rope,
        qkv_bias=draw(st.booleans()),
    )
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[-1]))
    batch = draw(st.integers(1, 2))
    x = torch.randn(batch, n, module.d_in, generator=gen, dtype=torch.float64)
    return Case(module.double().eval(), x)


def chunk_sizes(data: st.DataObject, n: int, most: int | None) -> list[int]:
    """Sizes that add up to n, each at most ``most`` (the window) if given."""
    sizes: list[int] = []
    while sum(sizes) < n:
        left = n - sum(sizes)
        sizes.append(data.draw(st.integers(1, min(left, most or left))))
    return sizes


def decode(module: GroupedQueryAttention, x: torch.Tensor, sizes: list[int]) -> Any:
    """Feed x through a fresh cache in chunks; yield (start, end, outputs)."""
    cache = module.new_cache(x.shape[0])
    start = 0
    for size in sizes:
        out = module(x[:, start : start + size], cache=cache)
        yield start, start + size, out
        start += size
    assert cache.length == x.shape[1]


# --8<-- [start:test_cached_equals_uncached]
@FEWER
@given(gqa_cases(), st.booleans(), st.data())
def test_cached_decode_equals_one_causal_forward_at_every_step(
    case: Case, one_at_a_time: bool, data: st.DataObject
) -> None:
    m, x = case.module, case.x
    n = x.shape[1]
    sizes = [1] * n if one_at_a_time else chunk_sizes(data, n, case.window)
    with torch.no_grad():
        full = m(x)  # one causal forward over the whole sequence
        for start, end, out in decode(m, x, sizes):
            close(out, full[:, start:end])
            close(out, m(x[:, :end])[:, start:])  # recomputing up to here


# --8<-- [end:test_cached_equals_uncached]


@given(gqa_cases(), st.data())
def test_plain_decode_step_equals_the_module_with_its_cache(
    case: Case, data: st.DataObject
) -> None:
    m, x = case.module, case.x
    past_k = past_v = x.new_zeros(x.shape[0], m.n_kv_heads, 0, m.head_dim)
    sizes = chunk_sizes(data, x.shape[1], case.window)
    with torch.no_grad():
        for start, end, out in decode(m, x, sizes):
            plain, past_k, past_v = decode_step_plain(
                m, x[:, start:end], past_k, past_v
            )
            close(plain, out)


@st.composite
def grouped_problems(draw: st.DrawFn) -> tuple[torch.Tensor, ...]:
    """q (b, h, n_q, d), k and v (b, h_kv, n_k, d) and a keep mask (n_q, n_k)."""
    h_kv = draw(st.integers(1, 3))
    h = h_kv * draw(st.integers(1, 4))
    b, n_q, n_k, d = (draw(st.integers(1, m)) for m in (2, 6, 6, 5))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    keep = torch.rand(n_q, n_k, generator=gen) < 0.6
    keep[:, 0] = True  # every query keeps a key
    return rand(b, h, n_q, d), rand(b, h_kv, n_k, d), rand(b, h_kv, n_k, d), keep


# --8<-- [start:test_gqa_equals_sdpa]
@given(grouped_problems())
def test_grouped_attention_equals_sdpa_with_enable_gqa(
    problem: tuple[torch.Tensor, ...],
) -> None:
    q, k, v, keep = problem
    sdpa = F.scaled_dot_product_attention
    expected = sdpa(q, k, v, attn_mask=keep, enable_gqa=True)
    close(grouped_attention(q, k, v, keep), expected)
    close(grouped_attention_plain(q, k, v, keep), expected)


# --8<-- [end:test_gqa_equals_sdpa]


@given(grouped_problems())
def test_repeat_kv_gives_query_head_i_the_kv_head_i_over_group(
    problem: tuple[torch.Tensor, ...],
) -> None:
    q, k, _, _ = problem
    group = q.shape[1] // k.shape[1]
    repeated = repeat_kv(k, group)
    for i in range(q.shape[1]):
        assert torch.equal(repeated[:, i], k[:, i // group])


# --8<-- [start:test_gqa_equals_mha]
@given(gqa_cases(rope=False, window=False))
def test_gqa_equals_multi_head_attention_with_each_kv_head_repeated(
    case: Case,
) -> None:
    gqa, x = case.module, case.x
    group = gqa.n_heads // gqa.n_kv_heads
    mha = MultiHeadAttention(
        gqa.d_in,
        gqa.d_out,
        gqa.context_length,
        gqa.n_heads,
        qkv_bias=gqa.W_query.bias is not None,
    )
    mha = mha.double().eval()
    state = dict(gqa.state_dict())
    for name in ("W_key", "W_value"):  # (h_kv d_h, ...) -> (h d_h, ...)
        for part in ("weight", "bias"):
            if f"{name}.{part}" in state:
                t = state[f"{name}.{part}"]
                heads = t.reshape(gqa.n_kv_heads, gqa.head_dim, *t.shape[1:])
                repeated = heads.repeat_interleave(group, 0)  # (h, d_h, ...)
                state[f"{name}.{part}"] = repeated.flatten(0, 1)
    mha.load_state_dict(state)
    with torch.no_grad():
        close(gqa(x), mha(x))


# --8<-- [end:test_gqa_equals_mha]


# --8<-- [start:test_window_equals_sdpa]
@given(gqa_cases(window=True))
def test_sliding_window_equals_sdpa_with_a_band_mask(case: Case) -> None:
    m, x = case.module, case.x
    n, w = x.shape[1], m.window
    assert w is not None
    band = torch.ones(n, n, dtype=torch.bool).tril().triu(-(w - 1))
    with torch.no_grad():
        q, k, v = m.project(x, torch.arange(n))
        sdpa = F.scaled_dot_product_attention
        z = sdpa(q, k, v, attn_mask=band, enable_gqa=True)
        expected = m.out_proj(z.transpose(1, 2).flatten(2))
        close(m(x), expected)


# --8<-- [end:test_window_equals_sdpa]


@given(gqa_cases(rope=True), st.sampled_from([2.0, 100.0, 500000.0]))
def test_rope_base_sets_the_rotation_of_queries_and_keys(
    case: Case, base: float
) -> None:
    # The reference rotates with `rope` itself, outside the module: a module that
    # ignored `rope_base` (kept 10,000) would differ by ~1e-1 for these bases.
    m, x = case.module, case.x
    n = x.shape[1]
    module = GroupedQueryAttention(
        m.d_in, m.d_out, m.n_heads, m.n_kv_heads,
        context_length=m.context_length, window=m.window, rope=True,
        qkv_bias=m.W_query.bias is not None, rope_base=base,
    ).double().eval()  # fmt: skip
    module.load_state_dict(m.state_dict())
    pos = torch.arange(n)
    with torch.no_grad():
        q = module.W_query(x).unflatten(-1, (m.n_heads, -1)).transpose(1, 2)
        k = module.W_key(x).unflatten(-1, (m.n_kv_heads, -1)).transpose(1, 2)
        v = module.W_value(x).unflatten(-1, (m.n_kv_heads, -1)).transpose(1, 2)
        q, k = rope(q, pos, base=base), rope(k, pos, base=base)
        z = grouped_attention(q, k, v, band_mask(pos, pos, m.window))
        expected = module.out_proj(z.transpose(1, 2).flatten(2))
        close(module(x), expected)
        cache = module.new_cache(x.shape[0])
        for i in range(n):  # and through the cache, token by token
            close(module(x[:, i : i + 1], cache=cache), expected[:, i : i + 1])


# --8<-- [start:test_rolling_cache]
@FEWER
@given(gqa_cases(window=True, max_n=4), st.integers(6, 10), st.data())
def test_rolling_cache_equals_recomputing_the_last_window_tokens(
    case: Case, times: int, data: st.DataObject
) -> None:
    m = case.module
    w = m.window
    assert w is not None
    n = times * w  # many times longer than the window
    m.context_length = n
    x = torch.randn(case.x.shape[0], n, m.d_in, dtype=torch.float64)
    sizes = chunk_sizes(data, n, w)
    with torch.no_grad():
        for start, end, out in decode(m, x, sizes):
            for p in range(start, end):  # the last w tokens, from position 0
                recomputed = m(x[:, max(0, p - w + 1) : p + 1])[:, -1]
                close(out[:, p - start], recomputed)


# --8<-- [end:test_rolling_cache]


@given(gqa_cases(window=True, max_n=4), st.integers(3, 6))
def test_rolling_cache_memory_stays_at_window_slots(case: Case, times: int) -> None:
    m = case.module
    w = m.window
    assert w is not None
    m.context_length = n = times * w
    cache = m.new_cache(1)
    nbytes = cache.nbytes
    with torch.no_grad():
        for p in range(n):
            m(torch.randn(1, 1, m.d_in, dtype=torch.float64), cache=cache)
            assert cache.keys.shape[2] == w
            assert cache.nbytes == nbytes
            expected = {q for q in range(max(0, p - w + 1), p + 1)}
            assert set(cache.positions.tolist()) - {-1} == expected


# --8<-- [start:test_reset]
@FEWER
@given(gqa_cases(min_n=2), st.integers(1, 12), st.data())
def test_position_pointer_restarts_after_reset_and_in_a_new_cache(
    case: Case, first: int, data: st.DataObject
) -> None:
    m, x = case.module, case.x
    m.context_length = max(m.context_length, first)
    other = torch.randn(x.shape[0], first, m.d_in, dtype=torch.float64)
    cache = m.new_cache(x.shape[0])
    with torch.no_grad():
        for size_start in range(0, first, m.window or first):
            m(other[:, size_start : size_start + (m.window or first)], cache=cache)
        cache.reset()  # a new sequence in the same cache
        assert cache.length == 0
        outs = [m(x[:, i : i + 1], cache=cache) for i in range(x.shape[1])]
        close(torch.cat(outs, dim=1), m(x))
        assert m.new_cache(x.shape[0]).length == 0


# --8<-- [end:test_reset]


def test_band_mask_without_a_window_is_the_causal_mask() -> None:
    for n in range(6):
        pos = torch.arange(n)
        assert torch.equal(band_mask(pos, pos), causal_mask(n, n))
        assert torch.equal(band_mask(pos, pos, window=n + 1), causal_mask(n, n))
    pos = torch.arange(6)
    expected = torch.ones(6, 6, dtype=torch.bool).tril().triu(-2)
    assert torch.equal(band_mask(pos, pos, window=3), expected)


@given(gqa_cases())
def test_cache_bytes_follow_the_formula_and_fall_by_the_group_size(
    case: Case,
) -> None:
    m = case.module
    cache = m.new_cache(1)
    expected = kv_cache_bytes(
        cache.capacity,
        n_layers=1,
        n_kv_heads=m.n_kv_heads,
        head_dim=m.head_dim,
        bytes_per_number=8,
    )
    assert cache.nbytes == expected
    mha = kv_cache_bytes(100, n_layers=4, n_kv_heads=m.n_heads, head_dim=m.head_dim)
    gqa = kv_cache_bytes(100, n_layers=4, n_kv_heads=m.n_kv_heads, head_dim=m.head_dim)
    assert mha == gqa * (m.n_heads // m.n_kv_heads)  # exactly


def test_empty_input_gives_empty_output_and_leaves_the_cache() -> None:
    m = GroupedQueryAttention(3, 4, 2, 1, context_length=4, window=2).double()
    x = torch.zeros(2, 0, 3, dtype=torch.float64)
    assert m(x).shape == (2, 0, 4)
    cache = m.new_cache(2)
    assert m(x, cache=cache).shape == (2, 0, 4)
    assert cache.length == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_decode_stays_within_its_dtype_of_float64(
    dtype: torch.dtype,
) -> None:
    torch.manual_seed(0)
    m = GroupedQueryAttention(8, 8, 4, 2, context_length=12, window=5, rope=True)
    x = torch.randn(2, 12, 8)
    with torch.no_grad():
        expected = m.double()(x.double())
        low = m.to(dtype)
        cache = low.new_cache(2)
        out = torch.cat(
            [low(x[:, i : i + 1].to(dtype), cache=cache) for i in range(12)], 1
        )
    # The module computes in its own dtype (no float32 detour): every projection,
    # product and the softmax round once or twice in it, so the outputs (of size ~1)
    # are known to a few units of eps(dtype); 8 units, relative to the largest.
    magnitude = float(expected.abs().max())
    tol = 8 * eps(dtype) * magnitude
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=tol)


def test_huge_inputs_stay_finite_and_cached_equals_uncached() -> None:
    torch.manual_seed(1)
    m = GroupedQueryAttention(4, 8, 2, 1, context_length=8).double()
    x = 1e4 * torch.randn(1, 8, 4, dtype=torch.float64)  # scores of ~1e8
    with torch.no_grad():
        full = m(x)
        cache = m.new_cache(1)
        out = torch.cat([m(x[:, i : i + 1], cache=cache) for i in range(8)], 1)
    assert torch.isfinite(full).all()
    close(out, full, tol=1e-10 * float(full.abs().max()))


def _module(**kw: Any) -> GroupedQueryAttention:
    args: dict[str, Any] = {"context_length": 4} | kw
    return GroupedQueryAttention(3, 4, 2, 1, **args)


BAD_CONFIGS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"n_kv_heads": 3}, ValueError, "n_heads must be divisible by n_kv_heads"),
    ({"d_out": 5}, ValueError, "d_out must be divisible by n_heads"),
    ({"n_heads": 0}, ValueError, "n_heads must be >= 1"),
    ({"context_length": 0}, ValueError, "context_length must be >= 1"),
    ({"window": 0}, ValueError, "window must be >= 1"),
    ({"window": 2.5}, TypeError, "window must be an int"),
    ({"rope": 1}, TypeError, "rope must be True or False"),
    ({"d_out": 6, "n_heads": 2, "rope": True}, ValueError, "even head size"),
    ({"rope_base": 1.0}, ValueError, "rope_base must be"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_CONFIGS)
def test_bad_configuration_is_refused(
    change: dict[str, Any], error: type[Exception], message: str
) -> None:
    args: dict[str, Any] = {"d_in": 3, "d_out": 4, "n_heads": 2, "n_kv_heads": 1}
    args |= {"context_length": 4}
    args |= change
    with pytest.raises(error, match=message):
        GroupedQueryAttention(**args)


def _decode_past_context() -> None:
    m = _module()
    cache = m.new_cache(1)
    m(torch.zeros(1, 3, 3), cache=cache)
    m(torch.zeros(1, 2, 3), cache=cache)


BAD_CALLS: list[tuple[Any, type[Exception], str]] = [
    (lambda: _module()(torch.zeros(1, 2, 5)), ValueError, "d_in=3"),
    (lambda: _module()(torch.zeros(1, 2, 3, dtype=torch.long)), TypeError, "x must"),
    (lambda: _module()(torch.zeros(1, 5, 3)), ValueError, "context_length=4"),
    (_decode_past_context, ValueError, "decoding past context_length=4"),
    (
        lambda: _module()(torch.zeros(1, 1, 3), cache=_module(window=2).new_cache(1)),
        ValueError,
        "cache must come from a module of this shape",
    ),
    (
        lambda: _module()(
            torch.zeros(1, 1, 3),
            cache=GroupedQueryAttention(3, 4, 2, 2, context_length=4).new_cache(1),
        ),
        ValueError,
        "cache must come from a module of this shape",
    ),
    (
        lambda: _module(window=2)(
            torch.zeros(1, 3, 3), cache=_module(window=2).new_cache(1)
        ),
        ValueError,
        "longer than the window",
    ),
    (
        lambda: _module()(torch.zeros(2, 1, 3), cache=_module().new_cache(1)),
        ValueError,
        "the cache's batch 1",
    ),
    (
        lambda: _module()(torch.zeros(1, 1, 3).double(), cache=_module().new_cache(1)),
        TypeError,
        "cache's dtype torch.float32",
    ),
    (
        lambda: _module()(torch.zeros(1, 1, 3), cache={}),
        TypeError,
        "cache must be a KVCache",
    ),
    (lambda: _module().new_cache(0), ValueError, "batch_size must be >= 1"),
    (lambda: band_mask(torch.arange(3.0), torch.arange(3)), TypeError, "q_pos"),
    (lambda: band_mask(torch.arange(3), torch.arange(3), 0), ValueError, "window"),
    (lambda: repeat_kv(torch.zeros(2, 3, 4), 0), ValueError, "group must be >= 1"),
    (
        lambda: grouped_attention(
            torch.zeros(1, 3, 2, 4),
            torch.zeros(1, 2, 2, 4),
            torch.zeros(1, 2, 2, 4),
            torch.ones(2, 2, dtype=torch.bool),
        ),
        ValueError,
        "key/value heads must divide q.s query heads",
    ),
    (
        lambda: KVCache(1, 1, 2, 2, rolling=True).roll(
            torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2)
        ),
        ValueError,
        "longer than the window",
    ),
    (
        lambda: kv_cache_bytes(-1, n_layers=1, n_kv_heads=1, head_dim=1),
        ValueError,
        "n_tokens must be >= 0",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_CALLS)
def test_bad_input_is_refused_with_a_clear_message(
    call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_the_cache_as_shown_refuses_what_does_not_fit_itself() -> None:
    # Sliding windows shows `KVCache` without the package's wrapper (`__wrapped__`):
    # copied, `append` must still refuse a full cache and `roll` a chunk longer
    # than the window, which would otherwise overwrite its own slots silently.
    append = KVCache.append.__wrapped__  # type: ignore[attr-defined]
    roll = KVCache.roll.__wrapped__  # type: ignore[attr-defined]
    k = torch.zeros(1, 1, 3, 2)
    with pytest.raises(ValueError, match="holds 0 of at most 2 tokens"):
        append(KVCache(1, 1, 2, 2), k, k)
    rolling = KVCache(1, 1, 2, 2, rolling=True)
    with pytest.raises(ValueError, match="longer than the window"):
        roll(rolling, k, k)
    assert rolling.length == 0
    roll(rolling, k[:, :, :2], k[:, :, :2])  # a chunk of the window's size fits
    assert rolling.positions.tolist() == [0, 1]
