"""Claims of docs/trained-model.md, read from the shipped checkpoint and its JSON."""

from __future__ import annotations

import inspect
import math

import torch

import tests.test_train as test_train
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
    assert abs(losses[0] - math.log(10)) < 0.01  # near a uniform guess over 10 tokens
    last = sum(losses[-10:]) / 10  # as the page prints it
    assert last < losses[0] / 1000
    assert max(losses[-10:]) < losses[0] / 1000  # every one of the ten, not the mean


def first_two_queries_have_little_choice() -> None:
    config, _, trained = load_look_back()
    after = mean_head_maps(trained, held_out_set(config)[0])
    rows = 0.5 * (after[0] - after[1]).abs().sum(dim=-1)  # distance per query
    assert rows[:2].max() < 0.05  # queries 0 and 1: the heads agree
    assert rows[2:].min() > 0.9  # every later query: the heads differ
    assert after[0, 1, 0] > 0.9  # query 1, head 0: one back, key 0
    assert after[1, 1, 0] > 0.9  # query 1, head 1: key 0 too (no key two back)


def thresholds_as_said() -> None:
    # "one head per offset with at least 90% of its weight there"
    assert test_train.HEAD_WEIGHT == 0.9
    heads_over_95_percent()


def retraining_test_allows_one_point() -> None:
    source = inspect.getsource(test_train)
    start = source.index("def test_retraining_from_the_seed")
    body = source[start:]
    assert 'metrics["held_out_accuracy"], abs=0.01' in body


def heads_over_95_percent() -> None:
    config, _, trained = load_look_back()
    maps = mean_head_maps(trained, held_out_set(config)[0])
    rows = torch.arange(2, config.length)  # the page's table: queries 2 to 11
    assert maps[0, rows, rows - 1].mean() > 0.95  # head 0: one back
    assert maps[1, rows, rows - 2].mean() > 0.95  # head 1: two back
    assert weight_on_offset(maps, 1)[0] > 0.95  # and over every query with the key
    assert weight_on_offset(maps, 2)[1] > 0.95


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


def two_means_of_head_one() -> None:
    config, _, trained = load_look_back()
    after = mean_head_maps(trained, held_out_set(config)[0])
    queries = torch.arange(1, config.length)
    one_back = after[1, queries, queries - 1]  # head 1, one back
    # weight_on_offset: queries 1..11; the table of "Where the heads look": 2..11.
    assert f"{weight_on_offset(after, 1)[1].item():.1%}" == "9.3%"
    assert f"{one_back.mean().item():.1%}" == "9.3%"
    assert f"{weight_on_offset(after, 1)[1].item():.4f}" == "0.0935"  # as printed
    assert f"{one_back[1:].mean().item():.1%}" == "0.4%"
    rows = torch.arange(2, config.length)
    assert f"{after[1, rows, rows - 1].mean().item():.1%}" == "0.4%"
    # Query 1 has no key two back: head 1 puts nearly all its weight on key 0.
    assert after[1, 1, 0] > 0.9
    assert one_back[0] == one_back.max()  # the one query that lifts the mean
    # "far larger here than in the table": more than ten times
    assert weight_on_offset(after, 1)[1] > 10 * after[1, rows, rows - 1].mean()


def uniform_guess_loss() -> None:
    uniform = torch.zeros(1, 10)  # equal scores for the 10 tokens
    loss = torch.nn.functional.cross_entropy(uniform, torch.tensor([3]))
    assert abs(loss.item() - math.log(10)) < 1e-6
    assert round(math.log(10), 1) == 2.3


CLAIMS = [
    Claim("for a uniform guess", uniform_guess_loss),
    Claim(
        "Head 1's weight one back is far larger here than in the table",
        two_means_of_head_one,
    ),
    Claim(
        "head 1 puts nearly all its weight on key 0, one back", two_means_of_head_one
    ),
    Claim(
        "its mean over the last ten steps is more than a thousand times lower",
        loss_curve,
    ),
    Claim("starts near the loss of a uniform guess", loss_curve),
    Claim(
        "the first two queries have little choice", first_two_queries_have_little_choice
    ),
    Claim("looks one back in both heads", first_two_queries_have_little_choice),
    Claim(
        "reaches the shipped accuracy to within one percentage point",
        retraining_test_allows_one_point,
    ),
    Claim("Head 0 puts over 95% of its weight one place back", heads_over_95_percent),
    Claim(
        "one head per offset with at least 90% of its weight there",
        thresholds_as_said,
    ),
    Claim("trained heads far apart where untrained ones are close", distances),
    Claim("must reach the shipped accuracy", held_out_accuracy),
    Claim("Untrained, the two heads look alike.", distances),
]

NOT_CLAIMS = {
    "Build a Large Language Model": "a book's title, in the references",
}
