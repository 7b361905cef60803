"""Claims on "How we know it's right"."""

from __future__ import annotations

import inspect

import hypothesis
import torch

import selfattn
from tests import conftest, test_softmax
from tests.test_claims import Claim


def hypothesis_shrinks_to_the_smallest_failing_input() -> None:
    # "the smallest input that still fails": shrinking finds the boundary exactly.
    found = hypothesis.find(
        hypothesis.strategies.integers(0, 10**6), lambda n: n >= 4321
    )
    assert found == 4321
    assert "given" in inspect.getsource(test_softmax)


def the_attention_strategy_draws_what_the_page_says() -> None:
    source = inspect.getsource(conftest)  # until the strategy exports its bounds
    assert "st.integers(min_n, max_n)" in source
    assert "max_n: int = 8" in source
    assert "st.integers(1, 8)" in source  # d_k and d_v
    assert "[0.1, 1.0, 4.0]" in source
    assert "mask[..., 0] = True" in source


def a_weighted_average_lies_between_the_values() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(5, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    z = selfattn.attention_matmul(q, k, v)
    assert (z >= v.amin(dim=0)).all()
    assert (z <= v.amax(dim=0)).all()


CLAIMS = [
    Claim(
        "Hypothesis shrinks it to the smallest input that still fails",
        hypothesis_shrinks_to_the_smallest_failing_input,
    ),
    Claim(
        "1 to 8 queries and keys, 1 to 8 features, entries of magnitude 0.1, 1 or 4, "
        "and masks that always leave each query at least one key",
        the_attention_strategy_draws_what_the_page_says,
    ),
    Claim(
        "so feature by feature it lies between the smallest and the largest of them",
        a_weighted_average_lies_between_the_values,
    ),
]
