"""Claims of docs/generating-text.md, computed with the committed model."""

from __future__ import annotations

import re

import torch

from selfattn.corpus import moby_dick
from selfattn.generate import generate, next_token
from selfattn.lm import load_pretrained
from tests.test_claims import Claim


def greedy_takes_the_highest() -> None:
    logits = torch.randn(5, 83, generator=torch.Generator().manual_seed(0))
    assert torch.equal(next_token(logits), logits.argmax(-1))


def top_k_never_draws_the_tail() -> None:
    logits = torch.randn(1, 83, generator=torch.Generator().manual_seed(1))
    top = set(logits[0].topk(5).indices.tolist())
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        assert int(next_token(logits, temperature=1.5, top_k=5, generator=g)) in top


def greedy_loops() -> None:
    vocab = moby_dick()[0]
    model = load_pretrained("lm")
    out, _ = generate(model, vocab.encode("Call me Ishmael. ")[None], 120)
    text = vocab.decode(out[0, 17:])
    assert re.search(r"(.{3,12}?)\1{4,}", text), text  # a piece repeated 5 times


def cache_same_tokens() -> None:
    vocab = moby_dick()[0]
    model = load_pretrained("lm")
    prompt = vocab.encode("Call me Ishmael. ")[None]
    a, sa = generate(model, prompt, 300, use_cache=True)
    b, sb = generate(model, prompt, 300, use_cache=False)
    assert torch.equal(a, b)
    tol = 64 * torch.finfo(torch.float32).eps * float(sb.abs().max())
    assert float((sa - sb).abs().max()) < tol


CLAIMS = [
    Claim("Greedy decoding takes the highest.", greedy_takes_the_highest),
    Claim(
        "a long tail of unlikely characters can never be drawn",
        top_k_never_draws_the_tail,
    ),
    Claim("settles into a loop of its likeliest words", greedy_loops),
    Claim("their scores can differ by float32 rounding and no more", cache_same_tokens),
]
NOT_CLAIMS = {
    "keeps the fewest highest-scoring characters": "the definition of top-p",
    "times the cache": "says what the notebook does",
}
