"""The solutions of the exercises of "Why attention, measured"."""

from __future__ import annotations

import pytest

from selfattn.exercises.why_attention_measured import gain_past
from selfattn.lm_train import read_log


def test_gain_past_of_a_step_curve() -> None:
    assert gain_past([3.0, 3.0, 1.0, 1.0, 1.0], 2) == pytest.approx(2.0)
    assert gain_past([1.0, 1.0, 1.0], 1) == 0.0


def test_the_transformer_gains_more_past_the_window_than_the_mlp() -> None:
    lm = read_log("lm")["loss_by_position"]
    mlp = read_log("window-mlp")["loss_by_position"]
    assert gain_past(lm, 8) > gain_past(mlp, 8)


@pytest.mark.parametrize(
    ("curve", "start", "err"),
    [([1.0, 2.0], 0, ValueError), ([1.0, 2.0], 2, ValueError), ("ab", 1, TypeError)],
)
def test_bad_input_is_named(curve: object, start: object, err: type) -> None:
    with pytest.raises(err, match=r"curve|start"):
        gain_past(curve, start)  # type: ignore[arg-type]
