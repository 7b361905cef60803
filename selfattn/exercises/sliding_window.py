"""Exercises of "Sliding windows": the rolling buffer's slots, reach through layers."""

from __future__ import annotations

from typing import Any

from selfattn._checks import check_positive_int, checked_by


def check_slot_args(length: Any, window: Any) -> None:
    """`length` >= 0 tokens decoded, `window` >= 1 slots."""
    check_positive_int("length", length, minimum=0)
    check_positive_int("window", window)


@checked_by(check_slot_args)
# --8<-- [start:slot_contents]
def slot_contents(length: int, window: int) -> list[int]:
    """The position each slot of a rolling buffer holds after `length`
    tokens (-1: still empty). Token `p` goes to slot `p % window`.
    """
    slots = [-1] * window
    for p in range(length):
        slots[p % window] = p  # over the token `window` places back
    return slots


# --8<-- [end:slot_contents]


def check_reach_args(n_layers: Any, window: Any) -> None:
    """Positive `n_layers` and `window`."""
    check_positive_int("n_layers", n_layers)
    check_positive_int("window", window)


@checked_by(check_reach_args)
# --8<-- [start:reach]
def reach(n_layers: int, window: int) -> int:
    """How many positions back a token's output can depend on, through
    `n_layers` of window attention: each layer looks `window - 1` back.
    """
    return n_layers * (window - 1)


# --8<-- [end:reach]
