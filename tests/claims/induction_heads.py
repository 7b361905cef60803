"""Claims of docs/induction-heads.md, read from the committed checkpoints and logs."""

from __future__ import annotations

from typing import Any

import torch

from selfattn.corpus import load_text
from selfattn.exercises.induction_heads import duplicate_token_score
from selfattn.induction import (
    RUNS,
    THRESHOLD,
    found_heads,
    load_run,
    phase_change_step,
    prefix_matching_score,
)
from tests import test_induction
from tests.test_claims import Claim


def final(name: str) -> dict[str, Any]:
    scores: dict[str, Any] = load_run(name)[1]["final"]
    return scores


def text_rarely_repeats() -> None:
    # Of the stretches of 8 characters in the first 300,000 of the book, under 1%
    # appeared already within the 64 characters before (0.43% when written).
    text = load_text()[:300_000]
    last: dict[str, int] = {}
    seen = 0
    for i in range(len(text) - 8):
        gram = text[i : i + 8]
        if last.get(gram, -1_000) >= i - 56:
            seen += 1
        last[gram] = i
    assert seen / (len(text) - 8) < 0.01


def uniform_near_003() -> None:
    config = RUNS["induction-2l"]
    n = config.period * config.repeats
    w = test_induction.causal_uniform(n)
    assert round(prefix_matching_score(w, config.period).item(), 2) == 0.03


def arena_threshold() -> None:
    assert THRESHOLD == 0.4


def induction_head_in_layer_two_only() -> None:
    prefix = torch.tensor(final("induction-2l")["prefix"])
    assert (prefix[1] >= THRESHOLD).sum() == 1  # one head
    assert (prefix[0] < THRESHOLD).all()


def previous_token_head() -> None:
    _, _, score = found_heads(final("induction-2l"))["previous"]
    assert score >= test_induction.PREVIOUS_TOKEN


def control_has_none() -> None:
    assert max(final("induction-1l")["prefix"][0]) < THRESHOLD


def phase_change_shape() -> None:
    log = load_run("induction-2l")[1]["log"]
    step = phase_change_step(log)
    assert step is not None
    best = [max(p[-1]) for p in log["prefix"]]
    # "for hundreds of steps no head scores high": the best score stays under 0.1
    # for at least 200 steps ...
    quiet = [s for s, b in zip(log["step"], best, strict=True) if b >= 0.1]
    assert quiet[0] >= 200
    # ... then climbs past 0.4 within a few hundred steps (at most 300) ...
    assert (
        step
        - max(s for s, b in zip(log["step"], best, strict=True) if b < 0.1 and s < step)
        <= 300
    )
    # ... and the repeat loss ends at a fraction (under half) of the first copy's.
    assert log["loss_repeat"][-1] < log["loss_first"][-1] / 2
    # "the repeats are hardly easier than the first copy" while no head scores
    # high: from step 50 to the last row with every score under 0.1, the repeat
    # loss is within 0.15 nats (about 5%) of the first copy's.
    calm = max(j for j, s in enumerate(log["step"]) if s < step and best[j] < 0.1)
    for j in range(1, calm + 1):
        assert log["loss_first"][j] - log["loss_repeat"][j] < 0.15


def ablation_loses_all_of_the_gain() -> None:
    # "loses all it gained ... and more: they become harder than the first copy"
    metrics = load_run("induction-2l")[1]
    scores, rise = metrics["final"], torch.tensor(metrics["ablation"])
    gain = scores["loss_first"] - scores["loss_repeat"]
    layer, head, _ = found_heads(scores)["induction"]
    assert rise[layer, head] > gain
    assert scores["loss_repeat"] + rise[layer, head] > scores["loss_first"]
    assert rise[layer, head] >= test_induction.ABLATION_RISE


def ablation_previous_at_least_as_hard() -> None:
    metrics = load_run("induction-2l")[1]
    rise = torch.tensor(metrics["ablation"])
    heads = found_heads(metrics["final"])
    prev, ind = heads["previous"][:2], heads["induction"][:2]
    assert rise[prev] >= rise[ind]


def one_second_layer_head_lowers() -> None:
    # the most negative rise is a second-layer head's, and it is below 0
    rise = torch.tensor(load_run("induction-2l")[1]["ablation"])
    layer, _ = divmod(int(rise.argmin()), rise.shape[1])
    assert layer == rise.shape[0] - 1
    assert rise.min() < 0


def control_is_smaller() -> None:
    assert (
        load_run("induction-1l")[1]["parameters"]
        < load_run("induction-2l")[1]["parameters"]
    )


def others_matter_less() -> None:
    metrics = load_run("induction-2l")[1]
    rise = torch.tensor(metrics["ablation"])
    heads = found_heads(metrics["final"])
    pair = {heads[k][:2] for k in ("induction", "previous")}
    others = [
        rise[la, h].item()
        for la in range(rise.shape[0])
        for h in range(rise.shape[1])
        if (la, h) not in pair
    ]
    smallest_of_pair = min(rise[la, h].item() for la, h in pair)
    assert max(others) < smallest_of_pair / 2


def constants() -> None:
    assert test_induction.PHASE_BAND == 0.25


def schedule() -> None:
    config = RUNS["induction-2l"]
    assert (config.steps, config.batch, config.log_every) == (1500, 32, 50)
    assert (config.context, config.min_run, config.max_run) == (64, 8, 32)
    assert (config.period, config.repeats, config.eval_seqs) == (25, 2, 200)
    assert RUNS["induction-1l"].n_layers == 1


def half_and_half() -> None:
    n, period = 50, 25
    w = torch.zeros(n, n)
    w[:period, 0] = 1.0
    i = torch.arange(period, n)
    w[i, i - period] = 0.5
    w[i, i - period + 1] = 0.5
    assert prefix_matching_score(w, period).item() == 0.5
    assert duplicate_token_score(w, period).item() == 0.5


CLAIMS = [
    Claim(
        "text rarely repeats a long stretch within 64 characters", text_rarely_repeats
    ),
    Claim("near 0.03 here", uniform_near_003),
    Claim("a causal uniform one the mean of", uniform_near_003),
    Claim(
        "This chapter counts a head scoring at least 0.4 as an induction head",
        arena_threshold,
    ),
    Claim(
        "One head of the second layer scores above 0.4, and none of the first "
        "layer does.",
        induction_head_in_layer_two_only,
    ),
    Claim("A first-layer head looks one token back instead.", previous_token_head),
    Claim("its best prefix-matching score stays below 0.4", control_has_none),
    Claim(
        "For hundreds of steps no head scores high and the repeats are hardly "
        "easier than the first copy; then, over a few hundred steps, one head's "
        "score jumps and the loss on the repeats drops to a fraction of the first "
        "copy's.",
        phase_change_shape,
    ),
    Claim(
        "Without the induction head the model loses all it gained on the repeats, "
        "and more",
        ablation_loses_all_of_the_gain,
    ),
    Claim("they become harder than the first copy", ablation_loses_all_of_the_gain),
    Claim(
        "Without the previous-token head the repeats are at least as hard",
        ablation_previous_at_least_as_hard,
    ),
    Claim(
        "Zeroing one head of the second layer (the last line) makes the repeats "
        "easier instead",
        one_second_layer_head_lowers,
    ),
    Claim("The control has one layer, and so fewer parameters", control_is_smaller),
    Claim("No other head matters as much.", others_matter_less),
    Claim("lands within 25% of the committed step", constants),
    Claim("0.5: only the weight on", half_and_half),
    Claim("1,500 steps of 32 sequences. Every 50 steps a probe", schedule),
    Claim("one run of 8 to 32 random letters", schedule),
    Claim("on 200 sequences of 25 letters repeated", schedule),
]

NOT_CLAIMS = {
    "score highest?": "a question to the reader; the solution prints the scores",
    "most likely next token": "defines the guess (the argmax), states no result",
}
