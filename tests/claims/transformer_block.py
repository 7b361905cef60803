"""Claims of docs/transformer-block.md."""

from __future__ import annotations

from tests.test_claims import Claim

NOT_CLAIMS = {
    "A block can therefore leave a token's vector almost as it was": (
        "what a residual connection allows, an architectural fact, not a measurement"
    ),
    "at most context of them": (
        "the masking rule, tested by tests/test_lm.py "
        "(test_past_the_context_a_token_sees_only_the_last_context_tokens)"
    ),
    "The layout of a small decoder-only model": "a reference's description",
}
CLAIMS: list[Claim] = []
