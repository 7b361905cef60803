"""The solutions of Part I's exercises (selfattn/exercises/), as embedded on the pages."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import selfattn
from selfattn.data import embed_words
from selfattn.exercises.all_at_once import attention_einsum, most_attended
from selfattn.exercises.pitfalls import check_weights, overflow_threshold
from selfattn.exercises.step_by_step import (
    context_vector_of,
    softmax_with_temperature,
)
from selfattn.exercises.why_attention import uniform_weights
from tests.conftest import assert_close

ROOT = Path(__file__).resolve().parent.parent
X = selfattn.toy_inputs()
SCORES = selfattn.attention_scores(X, X)


def random_inputs(seed: int, n: int, d: int, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64) * scale


# Why attention?


def test_uniform_weights_give_the_sentence_average_to_every_token() -> None:
    z = selfattn.context_vectors(uniform_weights(6), X)
    assert_close(z, X.mean(dim=0).expand(6, 3))


@given(st.integers(1, 40))
def test_uniform_weights_rows_sum_to_one(n: int) -> None:
    w = uniform_weights(n)
    assert w.shape == (n, n)
    assert_close(w.sum(dim=-1), torch.ones(n))


def test_embed_words_is_a_lookup_table() -> None:
    a = "The cat is sitting on the mat because it is warm".split()  # noqa: SIM905
    b = "The cat is sitting on the mat because it is tired".split()  # noqa: SIM905
    xa, xb = embed_words(a), embed_words(b)
    assert torch.equal(xa[8], xb[8])  # "it": the same embedding in both sentences
    assert torch.equal(xa[2], xa[9])  # "is" twice in one sentence
    za = selfattn.attention_matmul(xa, xa, xa, scale=1.0)
    zb = selfattn.attention_matmul(xb, xb, xb, scale=1.0)
    assert not torch.allclose(za[8], zb[8], atol=1e-3)  # its context is not


@pytest.mark.parametrize(
    ("words", "d", "error"),
    [("cat", 4, TypeError), ([], 4, ValueError), (["cat"], 0, ValueError)],
)
def test_embed_words_rejects_bad_input(words: object, d: object, error: type) -> None:
    with pytest.raises(error, match=r"words|d"):
        embed_words(words, d)


# Step by step


@given(st.integers(0, 2**31 - 1), st.integers(1, 9), st.integers(1, 6))
def test_context_vector_of_equals_the_matrix_form(seed: int, n: int, d: int) -> None:
    x = random_inputs(seed, n, d)
    expected = selfattn.attention_matmul(x, x, x, scale=1.0)
    by_loop = torch.stack([context_vector_of(i, x) for i in range(n)])
    # rounding grows with the size of the scores (see conftest.relative_tolerance)
    condition = 1 + float(selfattn.attention_scores(x, x).abs().max())
    assert_close(by_loop, expected, condition=condition)


def test_context_vector_of_magic_is_the_pages_number() -> None:
    assert_close(
        context_vector_of(0, X), selfattn.attention_matmul(X, X, X, scale=1.0)[0]
    )


@given(st.integers(0, 2**31 - 1), st.integers(2, 9))
def test_temperature_one_is_softmax_and_extremes_are_one_hot_and_even(
    seed: int, n: int
) -> None:
    scores = random_inputs(seed, 1, n)[0]
    assert_close(softmax_with_temperature(scores, 1.0), torch.softmax(scores, dim=-1))
    # Cold enough that the runner-up's weight, exp(-gap / T), is below float64's eps.
    top2 = scores.topk(2).values
    gap = float(top2[0] - top2[1])
    assume(gap > 1e-9)
    cold = softmax_with_temperature(scores, gap / 60)
    assert_close(cold, torch.nn.functional.one_hot(scores.argmax(), n).double())
    hot = softmax_with_temperature(scores, 1e6)
    # alpha_j = exp((omega_j - m) / T) / sum: within (max - min) / T of even
    spread = float(scores.max() - scores.min()) / 1e6
    even = torch.full((n,), 1 / n, dtype=hot.dtype)
    torch.testing.assert_close(hot, even, rtol=0, atol=spread + 1e-12)


def test_temperature_sharpens_and_flattens_magics_weights() -> None:
    scores = SCORES[0]
    peak = [float(softmax_with_temperature(scores, t).max()) for t in (0.1, 1, 10)]
    assert peak[0] > peak[1] > peak[2] > 1 / 6


def test_bad_temperature_is_rejected() -> None:
    with pytest.raises(ValueError, match="temperature"):
        softmax_with_temperature(SCORES[0], 0.0)
    with pytest.raises(TypeError, match="query_index"):
        context_vector_of(1.0, X)


# All tokens at once


@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(1, 3), max_size=2),
    st.integers(1, 9),
    st.integers(1, 6),
    st.sampled_from([0.1, 1.0, 10.0]),
)
def test_einsum_equals_the_matrix_form(
    seed: int, batch: list[int], n: int, d: int, scale: float
) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*batch, n, d, generator=gen, dtype=torch.float64) * scale
    condition = 1 + float(selfattn.attention_scores(x, x).abs().max())
    expected = selfattn.attention_matmul(x, x, x, scale=1.0)
    assert_close(attention_einsum(x), expected, condition=condition)


def test_most_attended_on_the_toy_sentence() -> None:
    weights = selfattn.attention_weights(X, X, scale=1.0)
    found = most_attended(weights, selfattn.TOKENS)
    assert found == ["Magic", "happens", "happens", "happens", "to", "happens"]


def test_most_attended_rejects_a_wrong_token_count() -> None:
    with pytest.raises(ValueError, match="tokens"):
        most_attended(torch.eye(3), ["a", "b"])


# Pitfalls


def test_check_weights_accepts_softmax_rows_and_catches_the_pitfalls() -> None:
    check_weights(selfattn.softmax_stable(SCORES, dim=-1))
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        check_weights(selfattn.softmax_stable(SCORES.to(dtype), dim=-1))
    with pytest.raises(ValueError, match="sums to 1"):
        check_weights(selfattn.softmax_stable(SCORES, dim=0))  # the wrong dimension
    with pytest.raises(ValueError, match="negative"):
        check_weights(selfattn.normalize_by_sum(torch.tensor([2.0, -1.0, 0.5])))
    with pytest.raises(ValueError, match="sums to 1"):
        check_weights(torch.full((6,), 0.17))


def test_check_weights_rejects_nan_and_infinite_rows() -> None:
    # NaN fails every comparison, so a check written as "error > tol" lets it pass
    for bad in (math.nan, math.inf):
        weights = selfattn.softmax_stable(SCORES, dim=-1)
        weights[2] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            check_weights(weights)


LONG_ROWS = [
    (dtype, n_k) for dtype in (torch.float16, torch.bfloat16) for n_k in (32, 256, 4096)
]


@pytest.mark.parametrize(("dtype", "n_k"), LONG_ROWS)
@pytest.mark.parametrize("spread", [0.1, 3.0, 30.0])
def test_check_weights_accepts_long_half_precision_softmax_rows(
    dtype: torch.dtype, n_k: int, spread: float
) -> None:
    gen = torch.Generator().manual_seed(n_k)
    scores = torch.randn(8, n_k, generator=gen) * spread
    check_weights(torch.softmax(scores, dim=-1).to(dtype))  # float32, rounded once
    check_weights(torch.softmax(scores.to(dtype), dim=-1))  # torch's own in dtype


@pytest.mark.parametrize(("dtype", "n_k"), LONG_ROWS)
def test_check_weights_rejects_a_wrong_long_half_precision_row(
    dtype: torch.dtype, n_k: int
) -> None:
    # A row 2% too heavy: 4 n_k eps, the old tolerance, passed it from n_k = 256 in
    # float16 and n_k = 32 in bfloat16 (there 4 n_k eps >= 1).
    gen = torch.Generator().manual_seed(n_k)
    weights = torch.softmax(torch.randn(8, n_k, generator=gen), dim=-1)
    weights[3] *= 1.02
    with pytest.raises(ValueError, match="sums to 1"):
        check_weights(weights.to(dtype))
    assert 4 * n_k * torch.finfo(dtype).eps > 0.02  # what the old one allowed


@pytest.mark.parametrize("n_k", [20_000, 50_000, 100_000])
def test_check_weights_accepts_equal_float16_weights_below_the_normal_range(
    n_k: int,
) -> None:
    # 1/n_k is below float16's smallest normal, 2**-14: each weight is rounded to
    # a multiple of 2**-24 and may be off by 2**-25, far more than eps/2 of itself.
    # At n_k = 100,000 the row sums to 1.00136, past eps + 4 sqrt(n_k) float32 eps.
    weights = torch.softmax(torch.zeros(2, n_k), dim=-1).to(torch.float16)
    assert float(weights[0, 0]) < torch.finfo(torch.float16).tiny
    check_weights(weights)
    wrong = torch.softmax(torch.zeros(2, n_k), dim=-1)
    wrong[1] *= 1.02  # still rejected: the subnormal term stays far below 2%
    with pytest.raises(ValueError, match="sums to 1"):
        check_weights(wrong.to(torch.float16))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_naive_softmax_overflows_just_past_the_threshold(dtype: torch.dtype) -> None:
    t = overflow_threshold(dtype)
    assert t == pytest.approx(math.log(torch.finfo(dtype).max))
    step = 0.1 * max(1.0, t * torch.finfo(dtype).eps * 8)
    below = torch.tensor([t - 2 * step, 0.0], dtype=dtype)
    above = torch.tensor([t + 2 * step, 0.0], dtype=dtype)
    assert selfattn.softmax_naive(below).isfinite().all()
    assert selfattn.softmax_naive(above).isnan().any()
    assert selfattn.softmax_stable(above).isfinite().all()


@pytest.mark.parametrize(
    "notebook", sorted((ROOT / "docs" / "notebooks").glob("*.py")), ids=lambda p: p.name
)
def test_notebook_includes_exist(notebook: Path) -> None:
    # The build expands `# --8<-- "path:section"` lines in notebook cells; a missing
    # section fails it, and this test says which notebook.
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    from notebooks import INCLUDE, expand_snippets  # type: ignore[import-not-found]

    source = notebook.read_text()
    expanded = expand_snippets(source, ROOT)
    assert not INCLUDE.search(expanded)
