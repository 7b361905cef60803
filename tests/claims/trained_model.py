"""Claims of docs/trained-model.md, read from the shipped checkpoint and its JSON."""

from __future__ import annotations

import math

from selfattn.exercises.trained_model import weight_on_offset
from selfattn.train import (
    head_distance,
    held_out_set,
    load_look_back,
    look_back_metrics,
    mean_head_maps,
)
from tests.test_claims import Claim


def metrics() -> dict[str, object]:
    return look_back_metrics()


def loss_curve() -> None:
    losses = metrics()["losses"]
    assert isinstance(losses, list)
    assert abs(losses[0] - math.log(10)) < 0.1  # a uniform guess over 10 tokens
    assert losses[-1] < losses[0] / 1000


def heads_over_95_percent() -> None:
    config, _, trained = load_look_back()
    maps = mean_head_maps(trained, held_out_set(config)[0])
    assert weight_on_offset(maps, 1)[0] > 0.95  # head 0: one back
    assert weight_on_offset(maps, 2)[1] > 0.95  # head 1: two back


def distances() -> None:
    config, untrained, trained = load_look_back()
    tokens = held_out_set(config)[0]
    before = head_distance(mean_head_maps(untrained, tokens))
    after = head_distance(mean_head_maps(trained, tokens))
    assert before < 0.3 < 0.7 < after
    distance = metrics()["head_distance"]
    assert isinstance(distance, dict)
    assert round(distance["untrained"], 2) == round(before, 2) == 0.17  # the alt text
    assert round(distance["trained"], 2) == round(after, 2) == 0.83


def held_out_accuracy() -> None:
    assert float(metrics()["held_out_accuracy"]) >= 0.99  # type: ignore[arg-type]


CLAIMS = [
    Claim("ends more than a thousand times lower", loss_curve),
    Claim("Head 0 puts over 95% of its weight one place back", heads_over_95_percent),
    Claim(
        "one head per offset with at least 90% of its weight there",
        heads_over_95_percent,
    ),
    Claim("trained heads far apart where untrained ones are close", distances),
    Claim("must reach the committed accuracy", held_out_accuracy),
    Claim("Untrained, the two heads are the same blur.", distances),
]
