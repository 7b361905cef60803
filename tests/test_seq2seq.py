"""Cross-attention (selfattn/seq2seq.py): the reversal task, the attention module
against PyTorch's own attention, the alignment score on hand-made maps, and the
committed encoder-decoder (`selfattn/checkpoints/reverse.*`): its exact match, from
its metrics and re-measured on fresh strings, and the anti-diagonal of its
cross-attention.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn.seq2seq import (
    BOS,
    EOS,
    FIRST_LETTER,
    IGNORE,
    PAD,
    Attention,
    ReverseConfig,
    Reverser,
    exact_match,
    greedy_reverse,
    held_out_strings,
    load_reverser,
    mirrored_fraction,
    reverse_batch,
    train_reverser,
)
from tests.conftest import eps

# What the page says (tests/claims/induction_heads.py reads these).
EXACT_MATCH = 0.99
FRESH_STRINGS = 300
MIRRORED = 0.9  # of the output letters, the best decoder layer's mean cross-attention
# peaks on the mirrored input letter at least this often


def test_reverse_batch_targets_are_the_reversed_letters() -> None:
    config = ReverseConfig()
    src, tgt_in, tgt_out = reverse_batch(config, 50, torch.Generator().manual_seed(0))
    assert src.shape == (50, config.max_len)
    assert tgt_in.shape == tgt_out.shape == (50, config.max_len + 1)
    for s, ti, to in zip(src, tgt_in, tgt_out, strict=True):
        letters = s[s != PAD]
        length = len(letters)
        assert config.min_len <= length <= config.max_len
        assert (letters >= FIRST_LETTER).all()
        assert (s[length:] == PAD).all()  # padding only at the end
        assert ti[0] == BOS
        assert torch.equal(ti[1 : length + 1], letters.flip(0))
        assert torch.equal(to[:length], letters.flip(0))
        assert to[length] == EOS
        assert (to[length + 1 :] == IGNORE).all()


def test_attention_matches_pytorch_sdpa_for_self_and_cross_attention() -> None:
    torch.manual_seed(0)
    attn = Attention(16, 4).double()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    memory = torch.randn(2, 7, 16, dtype=torch.float64)
    keep = torch.ones(2, 1, 7, dtype=torch.bool)
    keep[1, :, 4:] = False  # the second memory is padded after 4 tokens

    def oracle(
        source: torch.Tensor, mask: torch.Tensor | None, causal: bool
    ) -> torch.Tensor:
        q, k, v = (
            attn.split_heads(w(s))
            for w, s in (
                (attn.W_query, x),
                (attn.W_key, source),
                (attn.W_value, source),
            )
        )
        m = None if mask is None else mask[:, None]
        z = F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)
        out: torch.Tensor = attn.out_proj(z.transpose(1, 2).reshape(x.shape))
        return out

    tol = 64 * eps(torch.float64)
    out, weights = attn(x, memory, keep=keep)
    assert weights.shape == (2, 4, 5, 7)
    assert torch.allclose(out, oracle(memory, keep, False), atol=tol, rtol=tol)
    assert (weights[1, ..., 4:] == 0).all()  # padding is never looked at
    out, weights = attn(x, causal=True)
    assert torch.allclose(out, oracle(x, None, True), atol=tol, rtol=tol)
    assert (weights.triu(1) == 0).all()  # no query sees a later key


def test_mirrored_fraction_of_hand_made_maps() -> None:
    src = torch.tensor([[5, 6, 7, 8, PAD, PAD], [5, 6, 7, 8, 9, 10]])
    n = 7
    anti = torch.zeros(2, n, 6)
    for b, length in enumerate((4, 6)):
        for j in range(length):
            anti[b, j, length - 1 - j] = 1.0
        anti[b, length:, 0] = 1.0  # after the letters: anywhere
    assert mirrored_fraction(anti, src) == 1.0
    diag = torch.eye(n, 6).expand(2, n, 6)  # output j looks at input j
    # Hits only where j == L - 1 - j: never for even lengths.
    assert mirrored_fraction(diag, src) == 0.0


def test_exact_match_ignores_what_follows_eos() -> None:
    tgt = torch.tensor([[7, 6, 5, EOS, IGNORE], [7, 6, 5, EOS, IGNORE]])
    written = torch.tensor([[7, 6, 5, EOS, 9], [7, 6, 6, EOS, EOS]])
    assert exact_match(written, tgt).tolist() == [True, False]


def test_bad_input_is_named() -> None:
    model = Reverser(ReverseConfig(d_model=8, n_heads=2, n_layers=1))
    with pytest.raises(TypeError, match=r"src must be a torch\.long tensor"):
        model(torch.zeros(1, 3), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"n <= 12"):
        model(torch.zeros(1, 13, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        Attention(10, 3)
    with pytest.raises(TypeError, match="config must be a ReverseConfig"):
        Reverser("small")  # type: ignore[arg-type]


# --- The committed model ----------------------------------------------------------


def test_the_committed_model_reverses_held_out_strings() -> None:
    model, metrics = load_reverser()
    assert metrics["exact_match"] >= EXACT_MATCH
    src, _, tgt_out = held_out_strings(model.config)
    first = slice(0, 100)  # a tenth of them, re-decoded: a few seconds
    written = greedy_reverse(model, src[first])
    assert exact_match(written, tgt_out[first]).float().mean() >= EXACT_MATCH


# --8<-- [start:test_fresh_strings_are_reversed]
def test_fresh_strings_are_reversed() -> None:
    model, _ = load_reverser()
    gen = torch.Generator().manual_seed(2026)  # neither training nor held-out
    src, _, tgt_out = reverse_batch(model.config, FRESH_STRINGS, gen)
    written = greedy_reverse(model, src)
    assert exact_match(written, tgt_out).float().mean() >= EXACT_MATCH


# --8<-- [end:test_fresh_strings_are_reversed]


# --8<-- [start:test_cross_attention_is_anti_diagonal]
def test_cross_attention_is_anti_diagonal() -> None:
    model, metrics = load_reverser()
    src, tgt_in, _ = held_out_strings(model.config)
    _, crosses = model(src, tgt_in)  # per decoder layer: (b, h, n, m)
    fractions = [mirrored_fraction(c.mean(dim=1), src) for c in crosses]
    assert max(fractions) >= MIRRORED
    assert fractions == pytest.approx(metrics["mirrored"])


# --8<-- [end:test_cross_attention_is_anti_diagonal]


@pytest.mark.slow
def test_retraining_from_the_seed_reaches_the_exact_match() -> None:
    torch.set_num_threads(1)
    config = ReverseConfig()
    result = train_reverser(config)
    src, _, tgt_out = held_out_strings(config)
    written = greedy_reverse(result.model, src)
    assert exact_match(written, tgt_out).float().mean() >= EXACT_MATCH
