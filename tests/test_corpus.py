"""The corpus: the committed text is the pinned one, the split is fixed, and
encoding round-trips or fails by naming the character."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn import corpus
from selfattn.corpus import REPLACEMENT, Vocab, load_text, moby_dick, split


def test_the_shipped_text_hashes_to_the_pinned_sha256() -> None:
    raw = (
        importlib.resources.files("selfattn") / "corpora" / corpus.RESOURCE
    ).read_bytes()
    text = gzip.decompress(raw)
    assert hashlib.sha256(text).hexdigest() == corpus.TEXT_SHA256
    assert load_text().startswith("CHAPTER 1. Loomings.\n\nCall me Ishmael.")


def test_a_changed_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "TEXT_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="must hash to sha256"):
        load_text()


def test_vocab_and_split_are_the_documented_ones() -> None:
    vocab, train, val = moby_dick()
    text = load_text()
    assert len(text) == 1_190_317
    assert len(vocab) == 83
    assert list(vocab.chars) == sorted(vocab.chars)
    assert REPLACEMENT in vocab.chars
    assert len(train) == int(0.9 * len(text))
    assert len(train) + len(val) == len(text)
    assert vocab.decode(train[:20]) == text[:20]  # first 90% trains
    assert vocab.decode(val[-20:]) == text[-20:]  # last 10% validates


@given(st.text(alphabet="abc XYZ.,\n\u2014\u2019", max_size=40))
def test_encode_decode_round_trip(text: str) -> None:
    vocab = moby_dick()[0]
    ids = vocab.encode(text)
    assert ids.dtype == torch.long
    assert ids.shape == (len(text),)
    assert vocab.decode(ids) == text


def test_unknown_characters_strict_and_replace() -> None:
    vocab = moby_dick()[0]
    with pytest.raises(ValueError, match=r"'é' \(U\+00E9\) at index 3"):
        vocab.encode("caféx")
    ids = vocab.encode("café", errors="replace")
    assert vocab.decode(ids) == "caf" + REPLACEMENT


@pytest.mark.parametrize(
    ("call", "err", "word"),
    [
        (lambda v: v.encode(3), TypeError, "text must be a str"),
        (lambda v: v.encode("a", errors="ignore"), ValueError, "errors must be"),
        (lambda v: v.decode([0, 83]), ValueError, r"ids must lie in \[0, 83\)"),
        (lambda v: v.decode(torch.zeros(2)), TypeError, "integer tensor"),
        (lambda v: v.decode(torch.zeros(1, 2, dtype=torch.long)), ValueError, "1-D"),
        (lambda v: v.decode([1.0]), TypeError, "ids must hold ints"),
        (lambda v: Vocab("aa"), ValueError, "repeat"),
        (lambda v: Vocab(""), ValueError, "at least one"),
        (lambda v: Vocab(["ab"]), ValueError, "single characters"),
        (lambda v: split(torch.arange(5), 1.0), ValueError, "train_fraction"),
        (lambda v: split([1, 2]), TypeError, "ids must be a 1-D tensor"),
    ],
)
def test_bad_input_is_named(call, err, word) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(err, match=word):
        call(moby_dick()[0])
