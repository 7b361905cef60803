"""Generation: the KV cache changes nothing but the speed (same greedy tokens,
scores within float32 rounding at every step), and sampling is seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.corpus import Vocab
from selfattn.generate import generate, generate_text, next_token
from selfattn.lm import TransformerLM
from tests.conftest import assert_close

V = 13


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


MODELS: dict[int, TransformerLM] = {}


def model(seed: int) -> TransformerLM:
    if seed not in MODELS:
        torch.manual_seed(seed)
        MODELS[seed] = TransformerLM(V, 16, 2, 2, context=6).eval()
    return MODELS[seed]


# --8<-- [start:cache_property]
# Each example runs the model a few dozen times: a third of the profile's examples.
@settings(max_examples=max(10, settings().max_examples // 3))
@given(
    seed=st.integers(0, 2),
    n=st.integers(1, 9),
    n_new=st.integers(1, 10),
    batch=st.integers(1, 2),
)
def test_cached_and_uncached_greedy_agree_at_every_step(
    seed: int, n: int, n_new: int, batch: int
) -> None:
    m = model(seed)
    prompt = torch.randint(0, V, (batch, n), generator=torch.Generator().manual_seed(n))
    a, sa = generate(m, prompt, n_new, use_cache=True)
    b, sb = generate(m, prompt, n_new, use_cache=False)
    assert torch.equal(a, b)  # the same tokens, past the context (6) too
    assert sa.shape == (batch, n_new, V)
    assert_close(sa, sb)  # float32: the same sums, cache slots in another order


# --8<-- [end:cache_property]


def test_sampling_is_seeded_and_top_k_keeps_k() -> None:
    m = model(0)
    prompt = torch.tensor([[1, 2, 3]])
    one, _ = generate(m, prompt, 12, temperature=1.0, top_k=3, seed=7)
    two, _ = generate(m, prompt, 12, temperature=1.0, top_k=3, seed=7, use_cache=False)
    assert torch.equal(one, two)
    logits = torch.tensor([[0.0, 5.0, 4.0, 3.0, -1.0]])
    g = torch.Generator().manual_seed(0)
    picks = {
        int(next_token(logits, temperature=2.0, top_k=2, generator=g))
        for _ in range(200)
    }
    assert picks == {1, 2}


def test_greedy_takes_the_highest_score_and_low_temperature_approaches_it() -> None:
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, 3.0, 0.0]])
    assert next_token(logits).tolist() == [1, 0]  # a tie goes to the lowest id
    g = torch.Generator().manual_seed(0)
    cold = [
        int(next_token(logits[:1], temperature=0.05, generator=g)) for _ in range(50)
    ]
    assert cold == [1] * 50


def test_generate_text_replaces_unknown_prompt_characters() -> None:
    vocab = Vocab("abcdefghijkl*")
    out = generate_text(model(0), vocab, "aé", 4)
    assert out.startswith("a*")
    assert len(out) == 6


@pytest.mark.parametrize(
    ("kw", "err", "word"),
    [
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": V + 1}, ValueError, "top_k"),
        ({"n_new": -1}, ValueError, "n_new"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"use_cache": 1}, TypeError, "use_cache"),
        ({"ids": torch.zeros(1, 3)}, TypeError, "ids"),
        ({"ids": torch.zeros(3, dtype=torch.long)}, ValueError, "ids"),
        ({"model": "gpt"}, TypeError, "model"),
    ],
)
def test_bad_input_is_named(kw: dict[str, object], err: type, word: str) -> None:
    args: dict[str, object] = {
        "model": model(0),
        "ids": torch.tensor([[1]]),
        "n_new": 2,
    }
    args.update(kw)
    with pytest.raises(err, match=word):
        generate(**args)  # type: ignore[arg-type]
