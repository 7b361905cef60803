"""The solutions of the exercises of "Inside a transformer block"."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from selfattn.exercises.transformer_block import layer_norm
from tests.conftest import assert_close


def test_layer_norm_equals_torch() -> None:
    torch.manual_seed(0)
    ln = nn.LayerNorm(8)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    x = torch.randn(3, 5, 8) * 4 + 2
    assert_close(layer_norm(x, ln.weight, ln.bias, ln.eps), ln(x))


def test_layer_norm_by_hand() -> None:
    out = layer_norm(torch.tensor([[1.0, 3.0]]), torch.ones(2), torch.zeros(2), 1e-12)
    assert out[0].tolist() == pytest.approx([-1.0, 1.0])


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="weight must have shape"):
        layer_norm(torch.ones(2, 3), torch.ones(2), torch.zeros(3))
    with pytest.raises(ValueError, match="eps"):
        layer_norm(torch.ones(2, 3), torch.ones(3), torch.zeros(3), 0.0)
