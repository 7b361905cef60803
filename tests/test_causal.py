"""Causal attention: masks, renormalisation, dropout, decode steps (selfattn/causal.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn import (
    IMPLEMENTATIONS,
    CausalAttention,
    attention_matmul,
    attention_renormalised,
    attention_weights,
    causal_mask,
    causal_softmax,
    causal_softmax_renormalised,
    renormalise,
    softmax_all_keys,
)
from tests.conftest import QKV, assert_close, qkv_problems

NAMES = sorted(IMPLEMENTATIONS)


def scores_matrices(max_n: int = 7) -> st.SearchStrategy[torch.Tensor]:
    """Random float64 score matrices (..., n_q, n_k) of moderate size."""

    @st.composite
    def draw_scores(draw: st.DrawFn) -> torch.Tensor:
        batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
        n_q, n_k = draw(st.integers(1, max_n)), draw(st.integers(1, max_n))
        gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
        magnitude = draw(st.sampled_from([0.1, 1.0, 5.0]))
        return torch.randn(*batch, n_q, n_k, generator=gen, dtype=torch.float64) * (
            magnitude
        )

    return draw_scores()


# --8<-- [start:test_mask_before_equals_mask_after]
@given(scores_matrices())
def test_masking_before_and_after_the_softmax_give_the_same_weights(
    scores: torch.Tensor,
) -> None:
    assert_close(causal_softmax_renormalised(scores), causal_softmax(scores))


# --8<-- [end:test_mask_before_equals_mask_after]


@given(scores_matrices())
def test_future_weights_are_exactly_zero_and_rows_sum_to_one(
    scores: torch.Tensor,
) -> None:
    n_q, n_k = scores.shape[-2:]
    future = ~causal_mask(n_q, n_k)
    for weights in (causal_softmax(scores), causal_softmax_renormalised(scores)):
        assert (weights[..., future] == 0).all()  # exactly, not approximately
        assert_close(weights.sum(dim=-1), torch.ones(scores.shape[:-1]).double())


# --8<-- [start:test_renormalise_pitfall]
def test_softmax_over_the_future_first_can_underflow_the_kept_weights() -> None:
    # Query 0 may see only key 0, but key 1 scores 200 higher: softmax over both gives
    # key 0 exp(-200) ~ 1e-87, which float32 rounds to 0, so nothing is left to
    # renormalise. Masking first, or shifting by the largest kept score, is exact.
    scores = torch.tensor([[0.0, 200.0], [0.0, 0.0]])
    assert torch.equal(causal_softmax(scores)[0], torch.tensor([1.0, 0.0]))
    assert torch.equal(causal_softmax_renormalised(scores)[0], torch.tensor([0.0, 0.0]))
    keep = causal_mask(2, 2)
    fixed = renormalise(softmax_all_keys(scores, keep), keep)
    assert torch.equal(fixed[0], torch.tensor([1.0, 0.0]))


# --8<-- [end:test_renormalise_pitfall]


def test_renormalised_entry_survives_a_masked_key_that_scores_far_higher() -> None:
    # The registered "renormalised" entry shifts by the largest kept score, so the
    # pitfall above cannot reach it: query 0 sees only key 0 and gets v_0 exactly.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[0.0, 0.0], [300.0, 0.0]])  # key 1 scores 300 for query 0
    v = torch.tensor([[1.0], [5.0]])
    out = attention_renormalised(q, k, v, causal=True, scale=1.0)
    assert_close(out, attention_matmul(q, k, v, causal=True, scale=1.0))
    assert out[0, 0] == 1.0


def test_renormalise_leaves_a_row_with_nothing_kept_at_zero() -> None:
    weights = torch.full((2, 3), 1 / 3)
    keep = torch.tensor([[True, False, True], [False, False, False]])
    out = renormalise(weights, keep)
    assert_close(out, torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]))


# --8<-- [start:test_causality]
@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems(self_attention=True, allow_mask=False), data=st.data())
def test_later_tokens_never_change_earlier_outputs(
    name: str, p: QKV, data: st.DataObject
) -> None:
    n = p.q.shape[-2]
    i = data.draw(st.integers(0, n - 1), label="i")
    x = p.q
    changed = x.clone()
    changed[..., i + 1 :, :] = torch.randn_like(x[..., i + 1 :, :].float()).to(x.dtype)
    fn = IMPLEMENTATIONS[name]
    before = fn(x, x, x, causal=True, scale=p.scale)[..., : i + 1, :]
    after = fn(changed, changed, changed, causal=True, scale=p.scale)[..., : i + 1, :]
    assert_close(after, before, condition=p.condition())


# --8<-- [end:test_causality]


@st.composite
def causal_modules(draw: st.DrawFn) -> tuple[CausalAttention, torch.Tensor]:
    """A CausalAttention (float64, eval mode) and an input that fits its context."""
    d_in, d_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    context_length = draw(st.integers(1, 8))
    n = draw(st.integers(1, context_length))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    bias = draw(st.booleans())
    module = CausalAttention(d_in, d_out, context_length, qkv_bias=bias).double().eval()
    return module, torch.randn(*batch, n, d_in, dtype=torch.float64)


@given(causal_modules(), st.data())
def test_causal_module_later_tokens_never_change_earlier_outputs(
    case: tuple[CausalAttention, torch.Tensor], data: st.DataObject
) -> None:
    module, x = case
    i = data.draw(st.integers(0, x.shape[-2] - 1), label="i")
    changed = x.clone()
    changed[..., i + 1 :, :] += 10.0
    assert_close(module(changed)[..., : i + 1, :], module(x)[..., : i + 1, :])


# --8<-- [start:test_causal_module_matches_sdpa]
@given(causal_modules())
def test_causal_module_matches_pytorch_sdpa_with_is_causal(
    case: tuple[CausalAttention, torch.Tensor],
) -> None:
    module, x = case
    q, k, v = module.W_query(x), module.W_key(x), module.W_value(x)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(module(x), expected)


# --8<-- [end:test_causal_module_matches_sdpa]


@given(causal_modules())
def test_causal_module_weights_are_zero_in_the_future_and_rows_sum_to_one(
    case: tuple[CausalAttention, torch.Tensor],
) -> None:
    module, x = case
    weights = module.attention_weights(x)  # eval mode: no dropout
    n = x.shape[-2]
    assert (weights[..., ~causal_mask(n, n)] == 0).all()
    assert_close(weights.sum(dim=-1), torch.ones(x.shape[:-1]).double())


def test_a_causal_mask_breaks_permutation_equivariance() -> None:
    # Without a mask, permuting the tokens permutes the outputs (tests/test_registry.py).
    # With one, the first token after the shuffle sees only itself, not everyone.
    torch.manual_seed(0)
    x = torch.randn(4, 3, dtype=torch.float64)
    perm = torch.tensor([3, 2, 1, 0])
    plain = attention_matmul(x, x, x)
    assert_close(attention_matmul(x[perm], x[perm], x[perm]), plain[perm])
    causal = attention_matmul(x, x, x, causal=True)
    shuffled = attention_matmul(x[perm], x[perm], x[perm], causal=True)
    assert not torch.allclose(shuffled, causal[perm])
    module = CausalAttention(3, 2, context_length=4).double()
    assert not torch.allclose(module(x[perm]), module(x)[perm])


# --8<-- [start:test_dropout]
def test_dropout_zeroes_weights_and_rescales_the_rest_in_training_only() -> None:
    torch.manual_seed(0)
    p = 0.5
    module = CausalAttention(3, 4, context_length=6, dropout=p).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    clean = module.eval().attention_weights(x)
    dropped = module.train().attention_weights(x)
    kept = dropped != 0
    # Each kept weight is scaled by 1 / (1 - p), so the expected row sum stays one...
    assert_close(dropped[kept], clean[kept] / (1 - p))
    # ...but any one row in training mode sums to something else.
    assert not torch.allclose(
        dropped.sum(dim=-1), torch.ones(2, 6, dtype=torch.float64)
    )
    assert 0 < kept.sum() < (clean != 0).sum()  # some dropped, some kept
    # Back in eval mode, dropout is the identity: the same output every call.
    module.eval()
    assert torch.equal(module(x), module(x))
    assert_close(module.attention_weights(x), clean)


# --8<-- [end:test_dropout]


def test_dropout_draws_follow_the_seed() -> None:
    module = CausalAttention(3, 4, context_length=6, dropout=0.3).train()
    x = torch.randn(6, 3)
    torch.manual_seed(7)
    first = module(x)
    torch.manual_seed(7)
    assert torch.equal(module(x), first)  # same seed, same device: same draws


# --8<-- [start:test_decode_step]
@given(p=qkv_problems(dtypes=(torch.float64,), allow_mask=False, allow_causal=False))
def test_decode_step_needs_the_bottom_right_causal_mask(p: QKV) -> None:
    # The last m queries of a sequence, against every key so far: a decode step.
    n = p.k.shape[-2]
    full = attention_matmul(p.k, p.k, p.v, causal=True, scale=p.scale)  # (..., n, d_v)
    m = min(p.q.shape[-2], n)
    new = p.k[..., n - m :, :]  # (..., m, d_k)
    keep = causal_mask(m, n, align="bottom-right")  # last query sees every key
    step = attention_matmul(new, p.k, p.v, mask=keep, scale=p.scale)
    assert_close(step, full[..., n - m :, :], condition=p.condition())


# --8<-- [end:test_decode_step]


def test_sdpa_is_causal_aligns_top_left_like_causal_true() -> None:
    q, k, v = torch.randn(2, 4), torch.randn(5, 4), torch.randn(5, 3)
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    top_left = attention_matmul(q, k, v, mask=causal_mask(2, 5))
    bottom_right = attention_matmul(
        q, k, v, mask=causal_mask(2, 5, align="bottom-right")
    )
    assert_close(sdpa, top_left)
    assert_close(attention_matmul(q, k, v, causal=True), top_left)
    assert not torch.allclose(sdpa, bottom_right)


def test_causal_mask_alignments() -> None:
    assert causal_mask(2, 4).tolist() == [
        [True, False, False, False],
        [True, True, False, False],
    ]
    assert causal_mask(2, 4, align="bottom-right").tolist() == [
        [True, True, True, False],
        [True, True, True, True],
    ]
    # More queries than keys, bottom-right: the first query sees nothing.
    assert causal_mask(3, 2, align="bottom-right").tolist() == [
        [False, False],
        [True, False],
        [True, True],
    ]
    assert torch.equal(causal_mask(3, 3, align="bottom-right"), causal_mask(3, 3))


def test_causal_mask_rejects_bad_arguments() -> None:
    with pytest.raises(
        ValueError, match=r"align must be 'top-left' or 'bottom-right', "
    ):
        causal_mask(2, 2, align="top")
    with pytest.raises(ValueError, match=r"n_k must be >= 0, got -1"):
        causal_mask(2, -1)


# --8<-- [start:test_context_length]
def test_a_sequence_longer_than_the_context_length_is_refused() -> None:
    module = CausalAttention(3, 2, context_length=4)
    module(torch.randn(4, 3))  # fits
    with pytest.raises(ValueError, match=r"at most context_length=4 tokens, got n=5"):
        module(torch.randn(5, 3))


# --8<-- [end:test_context_length]


def test_the_mask_buffer_follows_the_module_but_is_not_trained() -> None:
    module = CausalAttention(3, 2, context_length=4)
    assert "mask" not in dict(module.named_parameters())
    assert "mask" in dict(module.named_buffers())
    assert module.mask.dtype == torch.bool
    assert module.mask.shape == (4, 4)


def test_bad_causal_module_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\), got 1\.0"):
        CausalAttention(3, 2, 4, dropout=1.0)
    with pytest.raises(ValueError, match=r"context_length must be >= 1, got 0"):
        CausalAttention(3, 2, 0)
    module = CausalAttention(3, 2, 4)
    with pytest.raises(
        ValueError, match=r"x must have d_in=3 features .*got shape \(4, 2\)"
    ):
        module(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., n, d\)"):
        module.attention_weights(torch.randn(3))


def test_renormalise_rejects_a_mask_of_the_wrong_shape_or_dtype() -> None:
    weights = torch.full((2, 3), 1 / 3)
    with pytest.raises(
        TypeError, match=r"keep must be a bool tensor .*got torch\.float32"
    ):
        renormalise(weights, torch.ones(2, 3))
    with pytest.raises(
        ValueError, match=r"keep must broadcast to the shape of weights \(2, 3\)"
    ):
        renormalise(weights, torch.ones(3, 2, dtype=torch.bool))


def test_registry_entry_matches_mask_first_weights() -> None:
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    weights = attention_weights(q, k, causal=True)
    assert_close(attention_renormalised(q, k, v, causal=True), weights @ v)
