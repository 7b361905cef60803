"""Gradients: every registry entry and every module, against each other and gradcheck."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import (
    IMPLEMENTATIONS,
    CausalAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttentionLinear,
    SelfAttentionParams,
    attention_matmul,
    copy_wrapper_to_fused,
    to_torch_mha,
    torch_mha_forward,
)
from tests.conftest import QKV, assert_close, largest, qkv_problems

NAMES = sorted(IMPLEMENTATIONS)


def grads(
    fn: Callable[..., torch.Tensor], p: QKV, upstream: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """d(sum(upstream * fn(q, k, v)))/d(q, k, v)."""
    q, k, v = (t.detach().clone().requires_grad_() for t in (p.q, p.k, p.v))
    out = fn(q, k, v, **p.kwargs())
    return torch.autograd.grad(out, (q, k, v), upstream, allow_unused=True)


# --8<-- [start:test_gradients_agree]
@pytest.mark.parametrize("name", [n for n in NAMES if n != "matmul"])
@given(p=qkv_problems(dtypes=(torch.float64,), max_n=5), seed=st.integers(0, 2**16))
def test_every_entry_has_the_gradients_of_matmul(name: str, p: QKV, seed: int) -> None:
    shape = (*p.q.shape[:-1], p.v.shape[-1])
    upstream = torch.randn(
        shape, generator=torch.Generator().manual_seed(seed)
    ).double()
    expected = grads(attention_matmul, p, upstream)
    got = grads(IMPLEMENTATIONS[name], p, upstream)
    sizes = p.gradient_sizes(upstream)  # errors scale with these, not with 1
    for ours, want, size in zip(got, expected, sizes, strict=True):
        assert_close(ours, want, condition=p.condition(), magnitude=size)


# --8<-- [end:test_gradients_agree]


# --8<-- [start:test_gradcheck]
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_registry_entry(name: str, causal: bool, masked: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, n, d, generator=gen, dtype=torch.float64, requires_grad=True)
        for n, d in ((3, 4), (4, 4), (4, 2))
    )
    mask = None
    if masked:
        mask = torch.rand(2, 3, 4, generator=gen) < 0.5
        mask[1, 1] = False  # a fully masked query: zero output, zero gradient
    fn = IMPLEMENTATIONS[name]
    assert torch.autograd.gradcheck(
        lambda q, k, v: fn(q, k, v, mask=mask, causal=causal), (q, k, v)
    )


# --8<-- [end:test_gradcheck]

MODULES: dict[str, Callable[[], torch.nn.Module]] = {
    "params": lambda: SelfAttentionParams(3, 4),
    "linear": lambda: SelfAttentionLinear(3, 4, qkv_bias=True),
    "causal": lambda: CausalAttention(3, 4, context_length=5, qkv_bias=True),
    "wrapper": lambda: MultiHeadAttentionWrapper(3, 4, 5, num_heads=2),
    "fused": lambda: MultiHeadAttention(3, 4, 5, num_heads=2, qkv_bias=True),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_gradcheck_module(name: str) -> None:
    torch.manual_seed(0)
    module = MODULES[name]().double().eval()  # eval: dropout off
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    weights = tuple(module.parameters())

    def run(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        values = dict(zip(dict(module.named_parameters()), params, strict=True))
        out: torch.Tensor = torch.func.functional_call(module, values, (x,))
        return out

    assert torch.autograd.gradcheck(run, (x, *weights))


def module_and_function_paths(
    module: SelfAttentionLinear,
    x: torch.Tensor,
    fn: Callable[..., torch.Tensor] | None,
) -> tuple[torch.Tensor, ...]:
    """Gradients w.r.t. x and the weights, through ``fn`` or (None) the module."""
    x = x.detach().clone().requires_grad_()
    ws = (module.W_query.weight, module.W_key.weight, module.W_value.weight)
    out = module(x) if fn is None else fn(x @ ws[0].T, x @ ws[1].T, x @ ws[2].T)
    return torch.autograd.grad(out.sum(), (x, *ws))


@settings(max_examples=20)
@given(
    d_in=st.integers(1, 4),
    d_out=st.integers(1, 4),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_module_loop_and_matmul_paths_give_the_same_weight_gradients(
    d_in: int, d_out: int, n: int, seed: int
) -> None:
    torch.manual_seed(seed)
    module = SelfAttentionLinear(d_in, d_out).double()
    x = torch.randn(n, d_in, dtype=torch.float64)
    via_module = module_and_function_paths(module, x, None)
    size = largest(*via_module)
    for name in ("loop", "matmul"):
        via_fn = module_and_function_paths(module, x, IMPLEMENTATIONS[name])
        for got, want in zip(via_fn, via_module, strict=True):
            assert_close(got, want, magnitude=size)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**16), heads=st.sampled_from([1, 2, 4]))
def test_wrapper_fused_and_torch_mha_give_the_same_input_gradients(
    seed: int, heads: int
) -> None:
    torch.manual_seed(seed)
    wrapper = MultiHeadAttentionWrapper(3, 4, 5, heads).double()
    fused = MultiHeadAttention(3, 4, 5, heads).double()
    copy_wrapper_to_fused(wrapper, fused)
    mha = to_torch_mha(fused)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    results = []
    for call in (wrapper, fused, lambda x: torch_mha_forward(mha, fused, x)):
        xg = x.clone().requires_grad_()
        (g,) = torch.autograd.grad((call(xg) ** 2).sum(), (xg,))
        results.append(g)
    assert_close(results[1], results[0])
    assert_close(results[2], results[0])
    # The output projection's weight sees the same gradient in both modules.
    for module in (wrapper, fused):
        module.zero_grad()
        (module(x) ** 2).sum().backward()
    assert wrapper.out_proj.weight.grad is not None
    assert fused.out_proj.weight.grad is not None
    assert_close(fused.out_proj.weight.grad, wrapper.out_proj.weight.grad)
    stacked = torch.cat([head.W_key.weight.grad for head in wrapper.heads])  # type: ignore[union-attr, misc]
    assert fused.W_key.weight.grad is not None
    assert_close(fused.W_key.weight.grad, stacked)
