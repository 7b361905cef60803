"""Self-attention with trainable weights (selfattn/trainable.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn import (
    SelfAttentionLinear,
    SelfAttentionParams,
    copy_linear_to_params,
    copy_params_to_linear,
    score_variance,
    softmax_peak,
)
from tests.conftest import assert_close


@st.composite
def modules_and_inputs(
    draw: st.DrawFn,
) -> tuple[SelfAttentionParams, SelfAttentionLinear, torch.Tensor]:
    """A Params and a Linear module of the same random sizes (float64), and an input."""
    d_in, d_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(1, 6))
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    params = SelfAttentionParams(d_in, d_out).double()
    linear = SelfAttentionLinear(d_in, d_out).double()
    return params, linear, torch.randn(*batch, n, d_in, dtype=torch.float64)


# --8<-- [start:test_copy_between_forms]
@given(modules_and_inputs())
def test_linear_and_parameter_forms_agree_once_weights_are_copied(
    case: tuple[SelfAttentionParams, SelfAttentionLinear, torch.Tensor],
) -> None:
    params, linear, x = case
    copy_linear_to_params(linear, params)
    assert params.W_query.shape == linear.W_query.weight.T.shape  # (d_in, d_out)
    assert_close(params(x), linear(x))
    fresh = SelfAttentionLinear(linear.d_in, linear.d_out).double()
    copy_params_to_linear(params, fresh)  # and back: the transpose undoes itself
    assert torch.equal(fresh.W_key.weight, linear.W_key.weight)
    assert_close(fresh(x), linear(x))


# --8<-- [end:test_copy_between_forms]


def test_copying_without_the_transpose_gives_a_different_module() -> None:
    # A square W and its transpose have the same shape, so a forgotten .T would not
    # raise: only the numbers show it, which is why the copy test compares outputs.
    torch.manual_seed(0)
    linear, params = SelfAttentionLinear(4, 4), SelfAttentionParams(4, 4)
    with torch.no_grad():
        for name in ("W_query", "W_key", "W_value"):
            getattr(params, name).copy_(getattr(linear, name).weight)  # no .T
    x = torch.randn(5, 4)
    assert not torch.allclose(params(x), linear(x), atol=1e-3)


@given(modules_and_inputs())
def test_module_matches_pytorch_sdpa_on_its_projections(
    case: tuple[SelfAttentionParams, SelfAttentionLinear, torch.Tensor],
) -> None:
    _, linear, x = case
    q, k, v = linear.W_query(x), linear.W_key(x), linear.W_value(x)
    # SDPA's default scale is 1/sqrt(d_k), with d_k = d_out here.
    assert_close(linear(x), F.scaled_dot_product_attention(q, k, v))


@given(modules_and_inputs(), st.integers(0, 2**31 - 1))
def test_permuting_tokens_permutes_the_outputs_of_the_modules(
    case: tuple[SelfAttentionParams, SelfAttentionLinear, torch.Tensor], seed: int
) -> None:
    params, linear, x = case
    perm = torch.randperm(x.shape[-2], generator=torch.Generator().manual_seed(seed))
    for module in (params, linear):
        assert_close(module(x[..., perm, :]), module(x)[..., perm, :])


# --8<-- [start:test_scale]
# Fixed seeds make these exact reruns; the bounds would hold for almost any other
# seed too, though not for every one. The unscaled score is a sum of d_k products
# of unit variance, so its variance is d_k. With 20,000 samples the sample variance
# has a relative standard deviation of at most sqrt(8 / 20,000) = 2% (d_k = 1,
# where q_i k_i has fourth moment 9), so 10% is five standard deviations away.
@pytest.mark.parametrize("d_k", [1, 4, 16, 64, 256])
def test_score_variance_is_about_dk_unscaled_and_about_one_scaled(d_k: int) -> None:
    assert score_variance(d_k, scaled=False) == pytest.approx(d_k, rel=0.1)
    assert score_variance(d_k, scaled=True) == pytest.approx(1.0, rel=0.1)


def test_softmax_saturates_toward_one_hot_without_the_scale() -> None:
    dims = [1, 4, 16, 64, 256]
    unscaled = [softmax_peak(d, scaled=False) for d in dims]
    scaled = [softmax_peak(d, scaled=True) for d in dims]
    # Unscaled, the largest of 8 weights climbs toward 1 (one-hot) as d_k grows.
    assert unscaled == sorted(unscaled)
    assert unscaled[-1] > 0.9
    # Scaled, the scores keep unit variance and the peak stays put: with these seeds,
    # 0.31 at d_k = 1 and 0.35 to 0.37 beyond (1/8 would be perfectly flat).
    assert all(0.28 < p < 0.40 for p in scaled)


# --8<-- [end:test_scale]


def test_module_scales_by_one_over_sqrt_d_out() -> None:
    torch.manual_seed(1)
    linear = SelfAttentionLinear(3, 16).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    q, k, v = linear.W_query(x), linear.W_key(x), linear.W_value(x)
    unscaled = F.scaled_dot_product_attention(q, k, v, scale=1.0)
    assert_close(linear(x), F.scaled_dot_product_attention(q, k, v, scale=0.25))
    assert not torch.allclose(linear(x), unscaled)


@pytest.mark.parametrize("cls", [SelfAttentionParams, SelfAttentionLinear])
def test_bad_module_input_raises_a_clear_error(cls: type[SelfAttentionParams]) -> None:
    module = cls(3, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., n, d\), got"):
        module(torch.randn(3))
    with pytest.raises(ValueError, match=r"x must have d_in=3 features .*got shape"):
        module(torch.randn(5, 4))
    with pytest.raises(TypeError, match=r"x must have a floating-point dtype"):
        module(torch.ones(5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"d_out must be >= 1, got 0"):
        cls(3, 0)
    with pytest.raises(TypeError, match=r"d_in must be an int, got float 3\.0"):
        cls(3.0, 2)  # type: ignore[arg-type]


def test_copy_between_forms_rejects_mismatched_modules() -> None:
    with pytest.raises(ValueError, match=r"same \(d_in, d_out\), got \(3, 2\) and"):
        copy_linear_to_params(SelfAttentionLinear(3, 2), SelfAttentionParams(2, 3))
    with pytest.raises(ValueError, match=r"source must have no biases"):
        copy_linear_to_params(
            SelfAttentionLinear(3, 2, qkv_bias=True), SelfAttentionParams(3, 2)
        )
    with pytest.raises(TypeError, match=r"target must be a SelfAttentionParams"):
        copy_params_to_linear(SelfAttentionParams(3, 2), torch.nn.Linear(3, 2))


def test_scale_statistics_reject_bad_sizes() -> None:
    with pytest.raises(ValueError, match=r"d_k must be >= 1, got 0"):
        score_variance(0, scaled=True)
    with pytest.raises(ValueError, match=r"n_keys must be >= 1, got 0"):
        softmax_peak(4, scaled=True, n_keys=0)
    assert math.isfinite(softmax_peak(1, scaled=False, n_keys=1, n_samples=3))
