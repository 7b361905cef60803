"""Claims of docs/multi-head.md, each checked by computing it with selfattn."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

import selfattn
from selfattn.train import head_distance
from tests.test_claims import Claim

FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"


def page_module() -> selfattn.MultiHeadAttention:
    """The page's module, built as the page builds it (the figure uses the same)."""
    torch.manual_seed(123)
    wrapper = selfattn.MultiHeadAttentionWrapper(
        d_in=3, d_out=4, context_length=6, num_heads=2
    ).eval()
    fused = selfattn.MultiHeadAttention(
        d_in=3, d_out=4, context_length=6, num_heads=2
    ).eval()
    selfattn.copy_wrapper_to_fused(wrapper, fused)
    return fused


def figure_module() -> selfattn.MultiHeadAttention:
    sys.path.insert(0, str(FIGURES))
    try:
        spec = importlib.util.spec_from_file_location(
            "figures_part2", FIGURES / "part2.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fused: selfattn.MultiHeadAttention = module.page_multihead_module()
    finally:
        sys.path.remove(str(FIGURES))
    return fused


def heads_close_to_even_and_alike() -> None:
    x = selfattn.toy_inputs()
    with torch.no_grad():
        weights = page_module().attention_weights(x)  # (h, n, n)
        drawn = figure_module().attention_weights(x)
    torch.testing.assert_close(drawn, weights)  # the figure shows the page's module
    even = torch.tril(torch.ones(6, 6)) / torch.arange(1, 7)[:, None]
    assert (weights - even).abs().max() < 0.1
    assert head_distance(weights) < 0.1  # alike: a twentieth of the trained model's


CLAIMS = [
    Claim(
        "every weight is within 0.1 of the even share", heads_close_to_even_and_alike
    ),
]
