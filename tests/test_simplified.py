"""Simplified self-attention on the seed's toy data (selfattn/simplified.py, data.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import (
    TOKENS,
    attention_matmul,
    attention_scores,
    attention_scores_loop,
    attention_weights,
    context_vector_loop,
    context_vectors,
    seed_loop_context_vector,
    seed_loop_weights,
    softmax_stable,
    toy_inputs,
)
from tests.conftest import assert_close

# The numbers the seed notebook printed (4 decimals), which we must reproduce.
# --8<-- [start:seed_numbers]
SEED_WEIGHTS = torch.tensor(
    [
        [0.2098, 0.2006, 0.1981, 0.1242, 0.1220, 0.1452],
        [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581],
        [0.1390, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565],
        [0.1435, 0.2074, 0.2046, 0.1462, 0.1263, 0.1720],
        [0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295],
        [0.1385, 0.2184, 0.2128, 0.1420, 0.0988, 0.1896],
    ]
)
SEED_CONTEXT_VECTORS = torch.tensor(
    [
        [0.4421, 0.5931, 0.5790],
        [0.4419, 0.6515, 0.5683],
        [0.4431, 0.6496, 0.5671],
        [0.4304, 0.6298, 0.5510],
        [0.4671, 0.5910, 0.5266],
        [0.4177, 0.6503, 0.5645],
    ]
)
# The seed's loop: scores divided by their sum, then softmaxed a second time.
SEED_PITFALL_WEIGHTS = torch.tensor([0.1763, 0.1745, 0.1740, 0.1567, 0.1561, 0.1623])
SEED_PITFALL_CONTEXT = torch.tensor([0.4338, 0.5860, 0.5401])
# --8<-- [end:seed_numbers]

# The seed printed four decimals, each within half a unit of the last (5e-5) of
# its true value; we allow one whole unit, the rest for float32 rounding.
PRINTED = 1e-4


def test_toy_data_is_six_tokens_of_three_features() -> None:
    x = toy_inputs()
    assert x.shape == (len(TOKENS), 3) == (6, 3)
    assert x.dtype == torch.float32
    assert toy_inputs(torch.float64).dtype == torch.float64
    x[0, 0] = 99.0  # a fresh tensor each call: mutating one copy leaves the next alone
    assert toy_inputs()[0, 0] == pytest.approx(0.43)


def test_seed_weights_reproduced() -> None:
    x = toy_inputs()
    weights = attention_weights(x, x, scale=1.0)
    torch.testing.assert_close(weights, SEED_WEIGHTS, atol=PRINTED, rtol=0)


def test_seed_context_vectors_reproduced() -> None:
    x = toy_inputs()
    torch.testing.assert_close(
        attention_matmul(x, x, x, scale=1.0), SEED_CONTEXT_VECTORS, atol=PRINTED, rtol=0
    )


def test_every_row_of_the_seed_is_pinned() -> None:
    # "happens" and "to" have nearly equal embeddings, so an off-by-one between them
    # changes the numbers only in the third decimal: still more than PRINTED.
    x = toy_inputs()
    swapped = attention_weights(x[[0, 2, 1, 3, 4, 5]], x, scale=1.0)
    assert (swapped - SEED_WEIGHTS).abs().amax() > 10 * PRINTED


# --8<-- [start:test_seed_pitfall]
def test_seed_pitfall_double_normalisation_gives_the_seeds_wrong_numbers() -> None:
    x = toy_inputs()
    wrong_weights = seed_loop_weights(x, query_index=0)
    wrong_context = seed_loop_context_vector(x, query_index=0)
    torch.testing.assert_close(
        wrong_weights, SEED_PITFALL_WEIGHTS, atol=PRINTED, rtol=0
    )
    torch.testing.assert_close(
        wrong_context, SEED_PITFALL_CONTEXT, atol=PRINTED, rtol=0
    )
    # ...and they are not the true ones: flatter weights, a different context vector.
    right_weights = attention_weights(x, x, scale=1.0)[0]
    assert (wrong_weights - right_weights).abs().amax() > 0.03
    assert wrong_weights.std() < right_weights.std()
    assert (wrong_context - SEED_CONTEXT_VECTORS[0]).abs().amax() > 0.03


# --8<-- [end:test_seed_pitfall]


@st.composite
def token_rows(draw: st.DrawFn) -> torch.Tensor:
    n, d = draw(st.integers(1, 10)), draw(st.integers(1, 8))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return torch.randn(n, d, generator=gen, dtype=torch.float64)


# --8<-- [start:test_loop_and_matrix_agree]
@given(x=token_rows())
def test_loop_and_matrix_scores_agree(x: torch.Tensor) -> None:
    by_matrix = attention_scores(x, x)  # (n, n)
    size = float((x.abs() @ x.abs().T).max())  # rounding errors scale with this
    for i, query in enumerate(x):
        assert_close(attention_scores_loop(query, x), by_matrix[i], magnitude=size)


@given(x=token_rows())
def test_loop_and_matrix_context_vectors_agree(x: torch.Tensor) -> None:
    weights = softmax_stable(attention_scores(x, x))  # (n, n)
    by_matrix = context_vectors(weights, x)  # (n, d)
    for i in range(x.shape[0]):
        by_loop = context_vector_loop(weights[i], x)
        assert_close(by_loop, by_matrix[i], magnitude=float(x.abs().max()))


# --8<-- [end:test_loop_and_matrix_agree]


def test_building_blocks_reject_mismatched_shapes() -> None:
    x = toy_inputs()
    with pytest.raises(ValueError, match=r"query must have shape \(d,\).*\(6, 3\)"):
        attention_scores_loop(x, x)
    with pytest.raises(ValueError, match="query and inputs must share d, got query 2"):
        attention_scores_loop(torch.ones(2), x)
    with pytest.raises(ValueError, match="6 weights and 5 value rows"):
        context_vector_loop(torch.ones(6), x[:5])
    with pytest.raises(ValueError, match=r"queries and keys must share d"):
        attention_scores(x, x[:, :2])
    with pytest.raises(ValueError, match="weights must have one column per value row"):
        context_vectors(torch.ones(6, 5), x)
    with pytest.raises(TypeError, match="inputs must have a floating-point dtype"):
        attention_scores_loop(x[0], x.int())
