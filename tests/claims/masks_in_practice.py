"""Claims of docs/masks-in-practice.md, each checked by computing it with selfattn."""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right, causal_upper_left

import selfattn
from tests.test_claims import Claim


def padding_changes_nothing() -> None:
    x = selfattn.toy_inputs()
    short = torch.cat([x[:4], torch.zeros(2, 3)])
    batch = torch.stack([x, short])
    keep = (torch.arange(6) < torch.tensor([6, 4])[:, None])[:, None, :]
    alone = selfattn.attention_matmul(x[:4], x[:4], x[:4])
    masked = selfattn.attention_matmul(batch, batch, batch, mask=keep)
    torch.testing.assert_close(masked[1, :4], alone)
    unmasked = selfattn.attention_matmul(batch, batch, batch)
    assert not torch.allclose(unmasked[1, :4], alone)
    # Causal with right padding: the causal mask alone hides the padding.
    causal = selfattn.attention_matmul(batch, batch, batch, causal=True)
    torch.testing.assert_close(
        causal[1, :4], selfattn.attention_matmul(x[:4], x[:4], x[:4], causal=True)
    )


def fully_masked_rows_are_zero() -> None:
    x = selfattn.toy_inputs()
    left = torch.cat([torch.zeros(2, 3), x[:4]])
    keep = (torch.arange(6) >= 2)[None, :]
    out = selfattn.attention_matmul(left, left, left, mask=keep, causal=True)
    assert (out[:2] == 0).all()
    assert not out.isnan().any()
    # "as PyTorch's scaled_dot_product_attention does in torch 2.13"
    assert torch.__version__.startswith("2.13")
    both = keep & selfattn.causal_mask(6, 6)
    sdpa = F.scaled_dot_product_attention(left, left, left, attn_mask=both)
    assert (sdpa[:2] == 0).all()
    torch.testing.assert_close(sdpa, out)
    # "both of its CPU kernels": the plain (math) one and the fused FlashAttention-
    # style one, which needs 4-D (batch, heads, n, d) inputs; each forced in turn.
    q = left[None, None]  # (1, 1, 6, 3)
    for backend in (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION):
        with sdpa_kernel(backend):
            fused = F.scaled_dot_product_attention(q, q, q, attn_mask=both)
        assert (fused[0, 0, :2] == 0).all(), backend
        torch.testing.assert_close(fused[0, 0], out)


def lower_right_is_the_decode_alignment() -> None:
    for n_q, n_k in ((2, 6), (1, 6), (6, 6), (3, 5)):
        lower = causal_lower_right(n_q, n_k)._materialize()
        upper = causal_upper_left(n_q, n_k)._materialize()
        assert torch.equal(lower, selfattn.causal_mask(n_q, n_k, align="bottom-right"))
        assert torch.equal(upper, selfattn.causal_mask(n_q, n_k))
    x = selfattn.toy_inputs()
    full = selfattn.attention_matmul(x, x, x, causal=True)
    out = F.scaled_dot_product_attention(
        x[4:], x, x, attn_mask=causal_lower_right(2, 6)
    )
    torch.testing.assert_close(out, full[4:])


CLAIMS = [
    Claim("the causal mask alone already hides it from them", padding_changes_nothing),
    Claim(
        "gives such a fully masked query all-zero weights", fully_masked_rows_are_zero
    ),
    Claim("a test checks both of its CPU kernels", fully_masked_rows_are_zero),
    Claim(
        "causal_lower_right(n_q, n_k) (the decode step's)",
        lower_right_is_the_decode_alignment,
    ),
]

NOT_CLAIMS = {
    "Build a Large Language Model": "a book's title, in the references",
}
