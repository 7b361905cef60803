"""Claims of docs/lm-in-browser.md, computed from the shipped checkpoint on the
page's example (the same model and text the panel shows)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import torch

from selfattn import corpus, lm
from tests.test_claims import Claim

PAGE = Path(__file__).resolve().parents[2] / "docs" / "lm-in-browser.md"
WORD = "vexquorblin"


@cache
def example() -> str:
    match = re.search(r'data-example="([^"]+)"', PAGE.read_text(encoding="utf-8"))
    assert match, "the page's panel has no data-example"
    return match.group(1)


@cache
def run() -> tuple[torch.Tensor, list[torch.Tensor]]:
    model = lm.load_pretrained()
    vocab = corpus.Vocab.from_text(corpus.load_text())
    with torch.no_grad():
        logits, maps = model(vocab.encode(example())[None], return_attention=True)
    return logits[0], [m[0] for m in maps]


def copies() -> tuple[int, int]:
    text = example()
    first = text.index(WORD)
    return first, text.index(WORD, first + 1)


def an_induction_head_in_layer_2() -> None:
    _, maps = run()
    a, b = copies()
    queries = range(b, b + len(WORD) - 1)  # each looks for what followed it
    best = max(
        sum(int(maps[1][h, i].argmax()) == a + (i - b) + 1 for i in queries)
        for h in range(maps[1].shape[0])
    )
    assert best > len(queries) / 2, f"best layer-2 head: {best} of {len(queries)}"


def a_previous_token_head_in_layer_1() -> None:
    _, maps = run()
    n = maps[0].shape[-1]
    mean = [
        sum(float(maps[0][h, i, i - 1]) for i in range(1, n)) / (n - 1)
        for h in range(maps[0].shape[0])
    ]
    assert max(mean) > 0.5, f"layer 1's mean weight one back: {mean}"


def second_copy_right_far_more_often() -> None:
    logits, _ = run()
    vocab = corpus.Vocab.from_text(corpus.load_text())
    a, b = copies()

    def right(start: int) -> int:
        return sum(
            int(logits[start + k - 1].argmax()) == vocab.index[WORD[k]]
            for k in range(1, len(WORD))
        )

    first, second = right(a), right(b)
    assert second >= 2 * first, (first, second)
    assert second > (len(WORD) - 1) / 2, (first, second)


CLAIMS = [
    Claim(
        "one of the heads puts its largest weight on the character that came right "
        "after the same character in the first copy",
        an_induction_head_in_layer_2,
    ),
    Claim(
        "one head puts most of its weight on the character just before the query",
        a_previous_token_head_in_layer_1,
    ),
    Claim("in the second it is right far more often", second_copy_right_far_more_often),
]

NOT_CLAIMS = {
    "within 1e-4": "asserted by the browser test, tests/browser/test_lm_demo.py "
    "(TOLERANCE), which compares the page's numbers with PyTorch's",
}
