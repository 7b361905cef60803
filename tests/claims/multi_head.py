"""Claims of docs/multi-head.md, each checked by computing it with selfattn."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

import selfattn
from selfattn.train import head_distance
from tests.test_claims import Claim

MHA_DOC = "torch.nn.MultiheadAttention"

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


class FastPathSpy:
    """Counts the calls of nn.MultiheadAttention's fast path in torch 2.13 (the
    native kernel its forward calls when every fast-path condition holds)."""

    def __init__(self) -> None:
        self.calls = 0
        self.original = torch._native_multi_head_attention

    def __enter__(self) -> FastPathSpy:
        def spy(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return self.original(*args, **kwargs)  # type: ignore[arg-type]

        torch._native_multi_head_attention = spy  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        torch._native_multi_head_attention = self.original


def run(
    mha: torch.nn.MultiheadAttention,
    fused: selfattn.MultiHeadAttention,
    x: torch.Tensor,
    padding: torch.Tensor,
    grad: bool,
) -> tuple[torch.Tensor, int]:
    with FastPathSpy() as spy, torch.set_grad_enabled(grad):
        out = selfattn.torch_mha_forward(mha, fused, x, padding)
    return out.detach(), spy.calls


def fast_path_never_taken_on_the_page() -> None:
    assert torch.__version__.startswith("2.13")
    fused = page_module()
    mha = selfattn.to_torch_mha(fused).eval()
    assert mha.kdim == 3 != mha.embed_dim == 4  # kdim differs from embed_dim
    x = selfattn.toy_inputs()
    batch = torch.stack([x, x.flip(0)])
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[0, :2] = True
    ours = fused(batch, mask=~padding[:, None, :]).detach()
    blocked = ~selfattn.causal_mask(6, 6)
    for grad in (True, False):
        out, calls = run(mha, fused, batch, padding, grad)
        assert calls == 0  # never the fast path
        torch.testing.assert_close(out, ours)  # our zeros (output = out_proj.bias)
        with FastPathSpy() as spy, torch.set_grad_enabled(grad):
            query = fused.W_query(batch)
            default, _ = mha(
                query, batch, batch, attn_mask=blocked, key_padding_mask=padding
            )  # need_weights=True
        assert spy.calls == 0
        assert default[0, :2].isnan().all()
        torch.testing.assert_close(default[0, 2:].detach(), ours[0, 2:])


def fast_path_when_every_condition_holds() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 6, 4)
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[0, :2] = True
    for heads in (2, 4, 1):
        square = selfattn.MultiHeadAttention(4, 4, 6, heads).eval()
        mha = selfattn.to_torch_mha(square).eval()
        ours = square(x, mask=~padding[:, None, :]).detach()
        out, calls = run(mha, square, x, padding, grad=False)
        if heads % 2:  # the source's extra condition: an even number of heads
            assert calls == 0
            torch.testing.assert_close(out, ours)
        else:  # every documented condition holds under no_grad: the fast path, NaN
            assert calls == 1
            assert out[0, :2].isnan().all()
            torch.testing.assert_close(out[0, 2:], ours[0, 2:])
            torch.testing.assert_close(out[1], ours[1])
        out, calls = run(mha, square, x, padding, grad=True)  # autograd on: not taken
        assert calls == 0
        torch.testing.assert_close(out, ours)
        mha.train()  # training mode: not taken, even without autograd
        out, calls = run(mha, square, x, padding, grad=False)
        assert calls == 0
    # torch.backends.mha.set_fastpath_enabled(False) turns it off: our zeros.
    square = selfattn.MultiHeadAttention(4, 4, 6, 2).eval()
    mha = selfattn.to_torch_mha(square).eval()
    ours = square(x, mask=~padding[:, None, :]).detach()
    assert torch.backends.mha.get_fastpath_enabled()  # the default
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        out, calls = run(mha, square, x, padding, grad=False)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert calls == 0
    torch.testing.assert_close(out, ours)
    # A floating-point mask (another of the source's conditions) blocks it too.
    square = selfattn.MultiHeadAttention(4, 4, 6, 2).eval()
    mha = selfattn.to_torch_mha(square).eval()
    float_mask = torch.zeros(6, 6).masked_fill(~selfattn.causal_mask(6, 6), -1e9)
    with FastPathSpy() as spy, torch.no_grad():
        mha(x, x, x, attn_mask=float_mask, need_weights=False)
    assert spy.calls == 0
    with FastPathSpy() as spy, torch.no_grad():
        mha(x, x, x, attn_mask=~selfattn.causal_mask(6, 6), need_weights=False)
    assert spy.calls == 1


CLAIMS = [
    Claim(
        "is never taken here",
        fast_path_never_taken_on_the_page,
    ),
    Claim(
        "every condition holds under torch.no_grad(): the fast path runs",
        fast_path_when_every_condition_holds,
    ),
    Claim(
        "Its source adds others, among them an even number of heads",
        fast_path_when_every_condition_holds,
    ),
    Claim(
        "turns the fast path off, and the NaN with it",
        fast_path_when_every_condition_holds,
    ),
    Claim(
        "On this page's problem, on the CPU, the first gives NaN",
        fast_path_never_taken_on_the_page,
    ),
    Claim(
        "the first gives NaN for the two fully masked queries",
        fast_path_never_taken_on_the_page,
    ),
    Claim(
        "every weight is within 0.1 of the even share", heads_close_to_even_and_alike
    ),
]

NOT_CLAIMS = {
    "Build a Large Language Model": "a book's title, in the references",
}
