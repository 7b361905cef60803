"""Claims of docs/masks-in-practice.md, each checked by computing it with selfattn."""

from __future__ import annotations

import torch

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


CLAIMS = [
    Claim("the causal mask alone already hides it from them", padding_changes_nothing),
    Claim(
        "gives such a fully masked query all-zero weights", fully_masked_rows_are_zero
    ),
]
