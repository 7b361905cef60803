"""The baselines: n-gram probabilities are distributions, the window MLP sees
only its window, and the compared models are of one size."""

from __future__ import annotations

import pytest
import torch

from selfattn.baselines import NGram, WindowMLP, window_mlp_parameters
from selfattn.lm import TransformerLM, count_parameters
from selfattn.lm_train import LM_SIZES, MLP_SIZES
from tests.conftest import eps


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_ngram_probabilities_sum_to_one_over_the_next_token(order: int) -> None:
    g = torch.Generator().manual_seed(0)
    V = 5
    data = torch.randint(0, V, (400,), generator=g)
    model = NGram(order, V).fit(data)
    prefix = data[:6]
    total = 0.0
    for w in range(V):
        window = torch.cat([prefix, torch.tensor([w])])[None]
        total += float(model.log_probs(window)[0, -1].exp())
    # log_probs rounds to float32 once per term: V terms, a few eps each
    assert total == pytest.approx(1.0, rel=4 * V * eps(torch.float32))


def test_ngram_order_two_is_counts_with_discount() -> None:
    data = torch.tensor([0, 1, 0, 1, 0, 2])  # after 0: 1 twice, 2 once
    model = NGram(2, 3).fit(data)
    uni = (torch.tensor([3.0, 2.0, 1.0]) + 1) / (6 + 3)
    D = 0.75
    expected = (2 - D) / 3 + D * 2 / 3 * uni[1]
    got = model.log_probs(torch.tensor([[0, 1]]))[0, 0].exp()
    assert float(got) == pytest.approx(float(expected), rel=1e-6)


def test_window_mlp_sees_only_its_window() -> None:
    torch.manual_seed(0)
    model = WindowMLP(7, window=3, d_embed=4, hidden=8).eval()
    x = torch.randint(0, 7, (1, 10))
    base = model(x)
    y = x.clone()
    y[0, 2] = (y[0, 2] + 1) % 7
    out = model(y)
    assert torch.equal(out[0, :2], base[0, :2])  # before: untouched
    assert not torch.equal(out[0, 2:5], base[0, 2:5])  # inside the window
    assert torch.equal(out[0, 5:], base[0, 5:])  # 3 or more later: blind to it


def test_compared_models_are_within_five_percent_in_size() -> None:
    lm = count_parameters(TransformerLM(83, **LM_SIZES))  # type: ignore[arg-type]
    mlp = count_parameters(WindowMLP(83, **MLP_SIZES))
    assert mlp == window_mlp_parameters(83, **MLP_SIZES)
    assert abs(mlp - lm) / lm < 0.05


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="order"):
        NGram(0, 3)
    with pytest.raises(ValueError, match="fit must be called"):
        NGram(2, 3).log_probs(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        NGram(2, 3).fit(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="window"):
        WindowMLP(5, window=0)
    with pytest.raises(TypeError, match="ids"):
        WindowMLP(5)(torch.zeros(1, 3))
