"""Claims of docs/cross-attention.md, read from the committed reverser."""

from __future__ import annotations

from selfattn.seq2seq import ReverseConfig, load_reverser
from tests import test_seq2seq
from tests.test_claims import Claim


def layer_two_mirrored() -> None:
    _, metrics = load_reverser()
    assert metrics["mirrored"][1] >= test_seq2seq.MIRRORED
    assert metrics["exact_match"] >= test_seq2seq.EXACT_MATCH


def layer_one_not() -> None:
    _, metrics = load_reverser()
    assert metrics["mirrored"][0] < 0.5


def constants() -> None:
    assert test_seq2seq.FRESH_STRINGS == 300
    config = ReverseConfig()
    assert (config.steps, config.batch) == (1500, 64)
    assert (config.min_len, config.max_len, config.n_layers) == (4, 12, 2)


CLAIMS = [
    Claim(
        "for nearly every letter written, the heads' mean weight peaks on the "
        "mirrored input letter",
        layer_two_mirrored,
    ),
    Claim("The first layer's does not", layer_one_not),
    Claim("re-measures it on 300 fresh strings", constants),
    Claim("trained for 1,500 steps of 64 strings", constants),
    Claim("The source is 4 to 12 random letters", constants),
]
