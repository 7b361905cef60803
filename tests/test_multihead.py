"""Multi-head attention: wrapper, fused module, nn.MultiheadAttention (selfattn/multihead.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn import (
    CausalAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    causal_mask,
    copy_wrapper_to_fused,
    to_torch_mha,
    torch_mha_forward,
)
from tests.conftest import assert_close


@dataclass
class Case:
    """A wrapper and a fused module sharing weights (float64, eval mode), and an input."""

    wrapper: MultiHeadAttentionWrapper
    fused: MultiHeadAttention
    x: torch.Tensor  # (batch, n, d_in)


@st.composite
def shared_modules(draw: st.DrawFn) -> Case:
    """Random sizes with d_in independent of d_out and num_heads dividing d_out."""
    d_in = draw(st.integers(1, 8))
    num_heads = draw(st.integers(1, 4))
    d_out = num_heads * draw(st.integers(1, 3))
    context_length = draw(st.integers(1, 8))
    n = draw(st.integers(1, context_length))
    batch = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    args = (d_in, d_out, context_length, num_heads)
    wrapper = MultiHeadAttentionWrapper(*args, qkv_bias=bias).double().eval()
    fused = MultiHeadAttention(*args, qkv_bias=bias).double().eval()
    copy_wrapper_to_fused(wrapper, fused)
    return Case(wrapper, fused, torch.randn(batch, n, d_in, dtype=torch.float64))


# --8<-- [start:test_wrapper_equals_fused]
@given(shared_modules())
def test_wrapper_and_fused_module_agree_when_weights_are_shared(case: Case) -> None:
    assert_close(case.fused(case.x), case.wrapper(case.x))


# --8<-- [end:test_wrapper_equals_fused]


# --8<-- [start:test_fused_matches_torch]
@given(shared_modules())
def test_fused_module_matches_torch_multihead_attention(case: Case) -> None:
    mha = to_torch_mha(case.fused).eval()
    assert_close(torch_mha_forward(mha, case.fused, case.x), case.fused(case.x))


@given(shared_modules())
def test_fused_module_matches_sdpa_head_by_head(case: Case) -> None:
    f, x = case.fused, case.x
    q, k, v = (f.split_heads(lin(x)) for lin in (f.W_query, f.W_key, f.W_value))
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (b, h, n, d_h)
    merged = heads.transpose(1, 2).reshape(*x.shape[:-1], f.d_out)  # (b, n, d_out)
    assert_close(f(x), f.out_proj(merged))


# --8<-- [end:test_fused_matches_torch]


@given(shared_modules(), st.data())
def test_later_tokens_never_change_earlier_outputs_of_either_module(
    case: Case, data: st.DataObject
) -> None:
    x = case.x
    i = data.draw(st.integers(0, x.shape[-2] - 1), label="i")
    changed = x.clone()
    changed[..., i + 1 :, :] = -3.0 * x[..., i + 1 :, :] + 1.0
    for module in (case.wrapper, case.fused):
        assert_close(module(changed)[..., : i + 1, :], module(x)[..., : i + 1, :])


def test_unbatched_and_extra_batch_dims_work() -> None:
    torch.manual_seed(0)
    fused = MultiHeadAttention(3, 4, 5, 2).double()
    x = torch.randn(2, 3, 5, 3, dtype=torch.float64)
    out = fused(x)
    assert out.shape == (2, 3, 5, 4)
    assert_close(fused(x[1, 2]), out[1, 2])


def test_head_i_owns_rows_i_dh_to_i_plus_one_dh_of_the_fused_weight() -> None:
    torch.manual_seed(0)
    wrapper = MultiHeadAttentionWrapper(3, 6, 4, 3).double()
    fused = MultiHeadAttention(3, 6, 4, 3).double()
    copy_wrapper_to_fused(wrapper, fused)
    x = torch.randn(4, 3, dtype=torch.float64)
    per_head = fused.split_heads(fused.W_query(x))  # (h, n, d_h)
    for i, head in enumerate(wrapper.heads):
        assert isinstance(head, CausalAttention)
        assert_close(per_head[i], head.W_query(x))


# --8<-- [start:test_fully_masked_rows]
def test_fully_masked_query_gets_zero_context_and_torch_mha_gives_nan_or_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_path = []  # calls of nn.MultiheadAttention's fast path (torch 2.13)
    native = torch._native_multi_head_attention

    def spy(*args: Any, **kwargs: Any) -> Any:
        fast_path.append(True)
        return native(*args, **kwargs)

    monkeypatch.setattr(torch, "_native_multi_head_attention", spy)
    torch.manual_seed(0)
    fused = MultiHeadAttention(4, 4, 5, 2).eval()
    mha = to_torch_mha(fused).eval()
    x = torch.randn(2, 5, 4)
    padding = torch.zeros(2, 5, dtype=torch.bool)
    padding[0, :2] = True  # sequence 0 is left-padded with two tokens
    # Query 0 and 1 of sequence 0 may see only earlier keys, all padding: nothing left.
    ours = fused(x, mask=~padding[:, None, :])  # (b, 1, n): the same for every query
    # Their context is zero, so the output is the output projection's bias.
    assert_close(ours[0, :2], fused.out_proj.bias.expand(2, 4))
    assert torch.isfinite(ours).all()
    # nn.MultiheadAttention in torch 2.13, on the same problem: it depends on the path.
    blocked = ~causal_mask(5, 5)
    default, _ = mha(x, x, x, attn_mask=blocked, key_padding_mask=padding)
    assert torch.isnan(default[0, :2]).all()  # need_weights=True (the default): NaN
    assert_close(torch_mha_forward(mha, fused, x, padding), ours)  # need_weights=False
    assert not fast_path  # autograd on: never the fast path
    with torch.no_grad():  # d_in = d_out, eval mode, no autograd: the fast path, NaN
        fast = torch_mha_forward(mha, fused, x, padding)
    assert torch.isnan(fast[0, :2]).all()
    assert fast_path == [True]
    # Rows with something to attend to agree everywhere.
    for other in (default, fast):
        assert_close(other[0, 2:], ours[0, 2:])
        assert_close(other[1], ours[1])


# --8<-- [end:test_fully_masked_rows]


@given(shared_modules(), st.integers(0, 2**31 - 1))
def test_masked_keys_have_no_influence_on_the_fused_module(
    case: Case, seed: int
) -> None:
    x, n = case.x, case.x.shape[-2]
    gen = torch.Generator().manual_seed(seed)
    keep_keys = torch.rand(x.shape[0], 1, n, generator=gen) < 0.6  # (b, 1, n)
    out = case.fused(x, mask=keep_keys)
    mha = to_torch_mha(case.fused).eval()
    assert_close(torch_mha_forward(mha, case.fused, x, ~keep_keys[:, 0]), out)


def test_dropout_on_the_weights_acts_only_in_training() -> None:
    torch.manual_seed(0)
    fused = MultiHeadAttention(3, 4, 6, 2, dropout=0.5)
    x = torch.randn(2, 6, 3)
    fused.eval()
    assert torch.equal(fused(x), fused(x))
    fused.train()
    assert not torch.equal(fused(x), fused(x))


BAD_CONFIGS = [
    ((4, 10, 8, 3), ValueError, r"d_out must be divisible by num_heads .*d_out=10, "),
    ((4, 8, 8, 0), ValueError, r"num_heads must be >= 1, got 0"),
    ((4, 8, 0, 2), ValueError, r"context_length must be >= 1, got 0"),
    ((4, 8, 8, 2.0), TypeError, r"num_heads must be an int, got float 2\.0"),
    ((4, 8, 8, 2, 1.5), ValueError, r"dropout must lie in \[0, 1\), got 1\.5"),
]


@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
@pytest.mark.parametrize(("args", "error", "message"), BAD_CONFIGS)
def test_bad_configuration_raises_a_clear_error(
    cls: type[MultiHeadAttention],
    args: tuple[object, ...],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        cls(*args)  # type: ignore[arg-type]


BAD_INPUTS = [
    ({"x": torch.randn(9, 4)}, ValueError, r"at most context_length=8 tokens, got n=9"),
    ({"x": torch.randn(5, 3)}, ValueError, r"x must have d_in=4 .*got shape \(5, 3\)"),
    ({"x": torch.randn(4)}, ValueError, r"x must have shape \(\.\.\., n, d\)"),
    ({"x": torch.ones(5, 4).long()}, TypeError, r"x must have a floating-point dtype"),
]
BAD_MASKS = [
    (
        {"mask": torch.ones(5, 5)},
        TypeError,
        r"mask must have dtype torch\.bool .*float32",
    ),
    (
        {"mask": torch.ones(5, 4, dtype=torch.bool)},
        ValueError,
        r"mask must broadcast to \(\.\.\., n_q, n_k\) = \(2, 5, 5\), got shape \(5, 4\)",
    ),
    (
        {"mask": torch.ones(3, 5, 5, dtype=torch.bool)},
        ValueError,
        r"mask must broadcast to .* = \(2, 5, 5\), got shape \(3, 5, 5\)",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_INPUTS + BAD_MASKS)
def test_bad_input_to_the_fused_module_raises_a_clear_error(
    kwargs: dict[str, torch.Tensor], error: type[Exception], message: str
) -> None:
    fused = MultiHeadAttention(4, 8, 8, 2)
    args = {"x": torch.randn(2, 5, 4), **kwargs}
    with pytest.raises(error, match=message):
        fused(**args)


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_INPUTS)
def test_bad_input_to_the_wrapper_raises_a_clear_error(
    kwargs: dict[str, torch.Tensor], error: type[Exception], message: str
) -> None:
    wrapper = MultiHeadAttentionWrapper(4, 8, 8, 2)
    with pytest.raises(error, match=message):
        wrapper(**kwargs)


def test_copies_reject_mismatched_modules() -> None:
    with pytest.raises(ValueError, match=r"same \(d_in, d_out, num_heads\), got"):
        copy_wrapper_to_fused(
            MultiHeadAttentionWrapper(4, 8, 8, 2), MultiHeadAttention(4, 8, 8, 4)
        )
    with pytest.raises(ValueError, match=r"must agree on qkv_bias, got False and True"):
        copy_wrapper_to_fused(
            MultiHeadAttentionWrapper(4, 8, 8, 2),
            MultiHeadAttention(4, 8, 8, 2, qkv_bias=True),
        )
    with pytest.raises(TypeError, match=r"fused must be a MultiHeadAttention, got"):
        to_torch_mha(MultiHeadAttentionWrapper(4, 8, 8, 2))
