"""Exercises of "Why attention?": averaging is attention with even weights."""

from __future__ import annotations

import torch

from selfattn._checks import check_positive_int, checked_by


@checked_by(lambda n: check_positive_int("n", n))
# --8<-- [start:uniform_weights]
def uniform_weights(n: int) -> torch.Tensor:
    """Every token gives every token the weight `alpha_ij = 1 / n`.

    Shape: (n, n). With these weights every context vector is the
    sentence average.
    """
    return torch.full((n, n), 1.0 / n)


# --8<-- [end:uniform_weights]
