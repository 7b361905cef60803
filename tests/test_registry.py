"""Every entry of selfattn.IMPLEMENTATIONS, against each other and against PyTorch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import IMPLEMENTATIONS, AttentionFn
from tests.conftest import (
    QKV,
    assert_agree,
    assert_close,
    assert_close_to_sdpa,
    qkv_problems,
    relative_tolerance,
    run_implementation,
    sdpa_reference,
)

NAMES = sorted(IMPLEMENTATIONS)
PAIRS = list(itertools.combinations(NAMES, 2))


# --8<-- [start:test_matches_sdpa]
@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems())
def test_implementation_matches_pytorch_sdpa(name: str, p: QKV) -> None:
    out = run_implementation(name, p)
    assert out.shape == (*p.q.shape[:-1], p.v.shape[-1])
    assert out.dtype == p.q.dtype
    assert_close_to_sdpa(out, p)  # twice SDPA's own error in p's dtype, + a floor


# --8<-- [end:test_matches_sdpa]


# --8<-- [start:test_implementations_agree]
@pytest.mark.parametrize(("first", "second"), PAIRS)
@given(p=qkv_problems())
def test_implementations_agree_with_each_other(first: str, second: str, p: QKV) -> None:
    assert_agree(run_implementation(first, p), run_implementation(second, p), p)


# --8<-- [end:test_implementations_agree]


# --8<-- [start:test_permutation]
@pytest.mark.parametrize("name", NAMES)
@given(
    p=qkv_problems(dtypes=(torch.float64,), allow_mask=False, allow_causal=False),
    seed=st.integers(0, 2**31 - 1),
)
def test_permuting_tokens_permutes_outputs(name: str, p: QKV, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    perm_q = torch.randperm(p.q.shape[-2], generator=gen)
    perm_kv = torch.randperm(p.k.shape[-2], generator=gen)
    fn = IMPLEMENTATIONS[name]
    out = fn(p.q, p.k, p.v, scale=p.scale)
    # Reordering the queries reorders the output rows; reordering the keys together
    # with their values changes nothing, since attention sees them as a set.
    shuffled = fn(
        p.q[..., perm_q, :], p.k[..., perm_kv, :], p.v[..., perm_kv, :], scale=p.scale
    )
    # Each output is an average of values, so its rounding error scales with the
    # largest |v|, however small cancellation makes the output itself.
    assert_close(
        shuffled,
        out[..., perm_q, :],
        condition=p.weight_condition(),
        magnitude=p.magnitude(),
    )


# --8<-- [end:test_permutation]


# --8<-- [start:test_convex]
@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems(dtypes=(torch.float64, torch.float32)))
def test_each_output_lies_within_the_range_of_the_values(name: str, p: QKV) -> None:
    out = run_implementation(name, p)  # (..., n_q, d_v)
    # Weights are non-negative and sum to one, so each output is a convex combination
    # of value rows: feature by feature, between the smallest and the largest value
    # (a query that may attend to no key gets a zero row instead).
    lo = p.v.amin(dim=-2, keepdim=True)  # (..., 1, d_v)
    hi = p.v.amax(dim=-2, keepdim=True)
    slack = relative_tolerance(p.q.dtype) * p.magnitude()  # rounding of the sum
    seen = p.allowed().any(dim=-1, keepdim=True)  # (..., n_q, 1)
    assert torch.where(seen, out >= lo - slack, out == 0).all()
    assert torch.where(seen, out <= hi + slack, out == 0).all()


# --8<-- [end:test_convex]


@pytest.mark.parametrize("name", NAMES)
@given(p=qkv_problems(dtypes=(torch.float64,)))
def test_default_scale_is_one_over_sqrt_dk(name: str, p: QKV) -> None:
    fn = IMPLEMENTATIONS[name]
    explicit = fn(
        p.q, p.k, p.v, mask=p.mask, causal=p.causal, scale=1 / math.sqrt(p.q.shape[-1])
    )
    got = fn(p.q, p.k, p.v, mask=p.mask, causal=p.causal)
    assert_close(got, explicit, condition=p.weight_condition())


@pytest.mark.parametrize("name", NAMES)
def test_simplified_self_attention_is_the_scale_one_call(name: str) -> None:
    from selfattn import toy_inputs
    from tests.test_simplified import PRINTED, SEED_CONTEXT_VECTORS

    x = toy_inputs()
    out = IMPLEMENTATIONS[name](x, x, x, scale=1.0)
    torch.testing.assert_close(out, SEED_CONTEXT_VECTORS, atol=PRINTED, rtol=0)


# --8<-- [start:test_edge_cases]
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_empty_sequence_gives_an_empty_output(
    name: str, batch: tuple[int, ...]
) -> None:
    q = torch.empty(*batch, 0, 4)
    out = IMPLEMENTATIONS[name](q, q, torch.empty(*batch, 0, 5))
    assert out.shape == (*batch, 0, 5)


@pytest.mark.parametrize("name", NAMES)
def test_a_single_token_attends_only_to_itself(name: str) -> None:
    q, k, v = torch.randn(1, 4), torch.randn(1, 4), torch.randn(1, 3)
    assert_close(IMPLEMENTATIONS[name](q, k, v), v)


@pytest.mark.parametrize("name", NAMES)
def test_huge_scores_stay_finite(name: str) -> None:
    # Scores of about 1e4: exp overflows float32 at 88.7, the stable softmax does not.
    x = torch.tensor([[100.0, 0.0], [0.0, 100.0], [70.0, 70.0]])
    out = IMPLEMENTATIONS[name](x, x, x, scale=1.0)
    assert torch.isfinite(out).all()
    assert_close(out, sdpa_reference(QKV(x, x, x, None, False, 1.0)).float())


@pytest.mark.parametrize("name", NAMES)
def test_float16_scores_past_its_range_stay_finite(name: str) -> None:
    # q.k = 2 * 200 * 200 = 80,000 overflows float16 (max 65,504): computed in float32.
    x = torch.tensor([[200.0, 200.0], [-200.0, 200.0]], dtype=torch.float16)
    out = IMPLEMENTATIONS[name](x, x, x, scale=1.0)
    assert out.dtype == torch.float16
    assert torch.isfinite(out).all()
    assert_close(out, x)  # each token's score with itself dominates: one-hot weights


@pytest.mark.parametrize("name", NAMES)
def test_nan_input_propagates_to_the_rows_it_reaches(name: str) -> None:
    q, k, v = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2)
    q[1, 0] = float("nan")
    out = IMPLEMENTATIONS[name](q, k, v)
    assert torch.isnan(out[1]).all()  # the query with NaN
    assert torch.isfinite(out[[0, 2]]).all()  # the other queries are untouched
    k[2, 3] = float("inf")
    assert not torch.isfinite(IMPLEMENTATIONS[name](q, k, v)).all()


@pytest.mark.parametrize("name", NAMES)
def test_fully_masked_query_gets_a_zero_output(name: str) -> None:
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False  # query 1 may attend to nothing
    out = IMPLEMENTATIONS[name](q, k, v, mask=mask)
    assert (out[1] == 0).all()
    # PyTorch's SDPA agrees from torch 2.5 on (pytorch/pytorch#133882); before
    # 2.5 it returned NaN there.
    assert_close(out, sdpa_reference(QKV(q, k, v, mask, False, None)).float())


@pytest.mark.parametrize("name", NAMES)
def test_masked_keys_have_no_influence(name: str) -> None:
    q, k, v = torch.randn(4, 3), torch.randn(6, 3), torch.randn(6, 2)
    mask = torch.tensor([True, False, True, True, False, True]).expand(4, 6)
    out = IMPLEMENTATIONS[name](q, k, v, mask=mask)
    k2, v2 = k.clone(), v.clone()
    k2[[1, 4]], v2[[1, 4]] = 1e3, -1e3  # anything at all in the masked slots
    assert_close(IMPLEMENTATIONS[name](q, k2, v2, mask=mask), out)


# --8<-- [end:test_edge_cases]

q3, k3, v3 = torch.randn(2, 5, 4), torch.randn(2, 6, 4), torch.randn(2, 6, 3)

BAD_INPUTS: list[tuple[str, Callable[[], dict[str, Any]], type[Exception], str]] = [
    (
        "q not a tensor",
        lambda: {"q": q3.tolist()},
        TypeError,
        r"q must be a torch\.Tensor, got list",
    ),
    (
        "q of rank 1",
        lambda: {"q": torch.randn(4)},
        ValueError,
        r"q must have shape \(\.\.\., n, d\), got shape \(4,\)",
    ),
    (
        "integer k",
        lambda: {"k": k3.long()},
        TypeError,
        r"k must have a floating-point dtype .*got torch\.int64",
    ),
    (
        "bool v",
        lambda: {"v": v3 > 0},
        TypeError,
        r"v must have a floating-point dtype .*got torch\.bool",
    ),
    (
        "mixed dtypes",
        lambda: {"v": v3.double()},
        TypeError,
        r"q, k, v must share one dtype, got q torch\.float32, k torch\.float32, "
        r"v torch\.float64",
    ),
    (
        "batch dims differ",
        lambda: {"k": torch.randn(3, 6, 4)},
        ValueError,
        r"share their leading \(batch\) dimensions, got q \(2,\), k \(3,\), v \(2,\)",
    ),
    (
        "d_k differs",
        lambda: {"k": torch.randn(2, 6, 5)},
        ValueError,
        r"q and k must have the same last dimension d_k, got q 4 .*k 5",
    ),
    (
        "n_k differs",
        lambda: {"v": torch.randn(2, 7, 3)},
        ValueError,
        r"k and v must hold the same number of tokens n_k, got k 6 .*v 7",
    ),
    (
        "no keys",
        lambda: {"k": torch.randn(2, 0, 4), "v": torch.randn(2, 0, 3)},
        ValueError,
        r"at least one token when q holds queries .*n_q=5, n_k=0",
    ),
    (
        "d_k zero",
        lambda: {"q": torch.randn(2, 5, 0), "k": torch.randn(2, 6, 0)},
        ValueError,
        r"d_k >= 1",
    ),
    (
        "mask not bool",
        lambda: {"mask": torch.ones(5, 6)},
        TypeError,
        r"mask must have dtype torch\.bool .*got torch\.float32",
    ),
    (
        "mask wrong shape",
        lambda: {"mask": torch.ones(6, 5, dtype=torch.bool)},
        ValueError,
        r"mask must broadcast to \(\.\.\., n_q, n_k\) = \(2, 5, 6\), "
        r"got shape \(6, 5\)",
    ),
    (
        "mask not a tensor",
        lambda: {"mask": [[True]]},
        TypeError,
        r"mask must be a torch\.Tensor or None, got list",
    ),
    (
        "scale a string",
        lambda: {"scale": "0.5"},
        TypeError,
        r"scale must be a float or None, got str '0\.5'",
    ),
    (
        "scale infinite",
        lambda: {"scale": math.inf},
        ValueError,
        r"scale must be finite, got inf",
    ),
    (
        "causal a tensor",
        lambda: {"causal": torch.tensor(True)},
        TypeError,
        r"causal must be True or False, got a tensor",
    ),
]


# --8<-- [start:test_bad_input]
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("change", "error", "message"),
    [pytest.param(c, e, m, id=i) for i, c, e, m in BAD_INPUTS],
)
def test_bad_input_raises_a_clear_error(
    name: str,
    change: Callable[[], dict[str, Any]],
    error: type[Exception],
    message: str,
) -> None:
    args: dict[str, Any] = {"q": q3, "k": k3, "v": v3, **change()}
    tensors = (args.pop("q"), args.pop("k"), args.pop("v"))
    fn: AttentionFn = IMPLEMENTATIONS[name]
    with pytest.raises(error, match=message):
        fn(*tensors, **args)


# --8<-- [end:test_bad_input]
