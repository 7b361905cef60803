"""The toy sentence of Part I and its three-dimensional embeddings, and made-up
embeddings for any other words."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import torch

from selfattn._checks import (
    check_device,
    check_float_dtype,
    check_positive_int,
    checked_by,
)


def check_toy_args(dtype: Any = torch.float32, device: Any = None) -> None:
    """`dtype` a floating-point dtype, `device` a device or None."""
    check_float_dtype("dtype", dtype)
    check_device("device", device)


# --8<-- [start:toy_data]
TOKENS: tuple[str, ...] = ("Magic", "happens", "to", "those", "that", "believe")

EMBEDDINGS: tuple[tuple[float, float, float], ...] = (
    (0.43, 0.15, 0.89),  # Magic
    (0.55, 0.87, 0.66),  # happens
    (0.57, 0.85, 0.64),  # to
    (0.22, 0.58, 0.33),  # those
    (0.77, 0.25, 0.10),  # that
    (0.05, 0.80, 0.55),  # believe
)


def toy_inputs(
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The six token embeddings as a fresh `(6, 3)` tensor."""
    # one row per token: n = 6 tokens, d = 3 numbers each
    return torch.tensor(EMBEDDINGS, dtype=dtype, device=device)


# --8<-- [end:toy_data]


def check_words(words: Any, d: Any = 4) -> None:
    """`words` is a non-empty list or tuple of strings, `d` a positive int."""
    if not isinstance(words, (list, tuple)) or not all(
        isinstance(w, str) for w in words
    ):
        raise TypeError(
            f"words must be a list or tuple of str, got {type(words).__name__} "
            f"{words!r}"
        )
    if not words:
        raise ValueError("words must hold at least one word, got an empty sequence")
    check_positive_int("d", d)


@checked_by(check_words)
# --8<-- [start:embed_words]
def embed_words(words: Sequence[str], d: int = 4) -> torch.Tensor:
    """Made-up embeddings for any words, like a model's lookup table.

    Each word gets d random numbers in [0, 1) seeded by the word
    itself, so the same word has the same embedding in every sentence.
    Shapes: n words -> (n, d).
    """
    rows = []
    for word in words:
        seed = zlib.crc32(word.lower().encode())  # same word, same seed
        gen = torch.Generator().manual_seed(seed)
        rows.append(torch.rand(d, generator=gen))
    return torch.stack(rows)  # (n, d)


# --8<-- [end:embed_words]
# The checks, outside the snippet the page shows (as @checked_by does elsewhere).
toy_inputs = checked_by(check_toy_args)(toy_inputs)
