"""Claims of docs/generating-text.md, computed with the committed model."""

from __future__ import annotations

import functools
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


@functools.cache
def both_ways() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The page's 300 greedy steps, cached and uncached: ids and scores."""
    vocab = moby_dick()[0]
    model = load_pretrained("lm")
    prompt = vocab.encode("Call me Ishmael. ")[None]
    a, sa = generate(model, prompt, 300, use_cache=True)
    b, sb = generate(model, prompt, 300, use_cache=False)
    return a, sa, b, sb


def cache_same_tokens() -> None:
    a, sa, b, sb = both_ways()
    assert torch.equal(a, b)
    tol = 64 * torch.finfo(torch.float32).eps * float(sb.abs().max())
    assert float((sa - sb).abs().max()) < tol


def gap_far_larger() -> None:
    # No step came near a flip: the smallest gap between a step's two highest
    # scores is "far larger" (over a thousand times) than the largest difference.
    _, sa, _, sb = both_ways()
    top2 = sb.topk(2, dim=-1).values
    gap = float((top2[..., 0] - top2[..., 1]).min())
    assert gap > 1000 * float((sa - sb).abs().max())


CLAIMS = [
    Claim("Greedy decoding takes the highest.", greedy_takes_the_highest),
    Claim(
        "a long tail of unlikely characters can never be drawn",
        top_k_never_draws_the_tail,
    ),
    Claim("settles into a loop of its likeliest words", greedy_loops),
    Claim("their scores can differ by float32 rounding and no more", cache_same_tokens),
    Claim("The smallest gap is far larger than the largest difference", gap_far_larger),
    Claim(
        "it picks the same characters unless a step's two highest scores lie "
        "within that rounding of each other",
        gap_far_larger,
    ),
]
NOT_CLAIMS = {
    "a query sees at most the 64 latest": (
        "the masking rule, tested by tests/test_lm.py "
        "(test_past_the_context_a_token_sees_only_the_last_context_tokens)"
    ),
    "with the smallest gap between a step's two highest scores": (
        "names what the code below it prints"
    ),
    "keeps the fewest highest-scoring characters": "the definition of top-p",
    "times the cache": "says what the notebook does",
}
