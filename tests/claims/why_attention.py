"""Claims on "Why attention?"."""

from __future__ import annotations

import torch

import selfattn
from selfattn.data import embed_words
from selfattn.exercises.why_attention import uniform_weights
from tests.claims._toy import X
from tests.test_claims import Claim

WARM = "The cat is sitting on the mat because it is warm".split()  # noqa: SIM905
TIRED = "The cat is sitting on the mat because it is tired".split()  # noqa: SIM905
IT = WARM.index("it")


def same_embedding_different_context() -> None:
    xw, xt = embed_words(WARM), embed_words(TIRED)
    assert torch.equal(xw[IT], xt[IT])
    zw = selfattn.attention_matmul(xw, xw, xw, scale=1.0)
    zt = selfattn.attention_matmul(xt, xt, xt, scale=1.0)
    assert not torch.allclose(zw[IT], zt[IT], atol=1e-3)


def random_weights_do_not_single_out_mat() -> None:
    xw = embed_words(WARM)
    weights = selfattn.attention_weights(xw, xw, scale=1.0)[IT]
    assert WARM[int(weights.argmax())] != "mat"


def average_is_the_same_for_every_token_and_attention_is_not() -> None:
    z = selfattn.context_vectors(uniform_weights(6), X)
    assert torch.allclose(z, X.mean(dim=0).expand(6, 3))
    context = selfattn.attention_matmul(X, X, X, scale=1.0)
    assert torch.cdist(context, context).fill_diagonal_(float("inf")).min() > 0


CLAIMS = [
    Claim(
        "Same embedding, two different context vectors",
        same_embedding_different_context,
    ),
    Claim("they do not single out mat", random_weights_do_not_single_out_mat),
    Claim(
        "every token would get exactly the same vector",
        average_is_the_same_for_every_token_and_attention_is_not,
    ),
    Claim(
        "check that these weights give every token the sentence average",
        average_is_the_same_for_every_token_and_attention_is_not,
    ),
]
NOT_CLAIMS = {
    "Build a Large Language Model (From Scratch)": "a book's title",
}
