"""Exercises of "Why attention, measured"."""

from __future__ import annotations

from typing import Any

from selfattn._checks import checked_by


def check_gain_args(curve: Any, start: Any) -> None:
    """`curve` a list of numbers; `start` an int with points on both sides."""
    if not isinstance(curve, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in curve
    ):
        raise TypeError(f"curve must be a list of numbers, got {type(curve).__name__}")
    if isinstance(start, bool) or not isinstance(start, int):
        raise TypeError(f"start must be an int, got {type(start).__name__}")
    if not 0 < start < len(curve):
        raise ValueError(
            f"start must lie in [1, {len(curve) - 1}] (points on both sides), "
            f"got {start}"
        )


@checked_by(check_gain_args)
# --8<-- [start:gain_past]
def gain_past(curve: list[float], start: int) -> float:
    """Mean loss before position `start` minus mean loss from it on:
    positive when the model does better with more context."""
    before = sum(curve[:start]) / start
    after = sum(curve[start:]) / (len(curve) - start)
    return before - after


# --8<-- [end:gain_past]
