"""Claims of docs/why-attention-measured.md, read from the committed training logs."""

from __future__ import annotations

import functools
import math
from typing import Any

from selfattn.corpus import moby_dick
from selfattn.induction import load_run
from selfattn.lm_train import BUDGET, data_mix, read_log
from tests.test_claims import Claim


def logs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return read_log("lm"), read_log("window-mlp"), read_log("ngrams")["orders"]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def uniform_guess() -> None:
    assert len(moby_dick()[0]) == 83
    assert round(math.log(83), 2) == 4.42


def same_size() -> None:
    lm, mlp, _ = logs()
    assert abs(lm["parameters"] - mlp["parameters"]) / lm["parameters"] < 0.01


def counts_win() -> None:
    lm, mlp, grams = logs()
    assert grams["5"]["val_loss"] < grams["4"]["val_loss"] < grams["3"]["val_loss"]
    assert grams["3"]["val_loss"] < min(lm["val_loss"], mlp["val_loss"])
    assert mlp["val_loss"] < lm["val_loss"]


def half_a_nat() -> None:
    lm, mlp, grams = logs()
    assert min(lm["val_loss"], mlp["val_loss"]) - grams["5"]["val_loss"] > 0.5


def worst_at_zero_then_flat() -> None:
    lm, mlp, grams = logs()
    for curve in (lm["loss_by_position"], mlp["loss_by_position"]):
        assert curve[0] == max(curve)
    assert grams["5"]["loss_by_position"][0] == max(grams["5"]["loss_by_position"])
    # "after a few positions every curve is flat": positions 8-15 and 48-63 agree
    # to 0.02 nats on each drawn curve
    for c in (lm["loss_by_position"], mlp["loss_by_position"]):
        assert abs(mean(c[48:]) - mean(c[8:16])) < 0.02
    for n in ("3", "5"):
        c = grams[n]["loss_by_position"]
        assert abs(mean(c[48:]) - mean(c[8:16])) < 0.02


def guess_among_26() -> None:
    lm, mlp, grams = logs()
    # cross-entropy on uniform random letters is at least ln 26 (up to sampling noise)
    for log in (lm, mlp, *grams.values()):
        assert log["first_copy_loss"] > math.log(26) - 0.05


def copy_quarter() -> None:
    lm, _, _ = logs()
    assert lm["copy_loss"] < lm["first_copy_loss"] / 4


def no_better_on_second() -> None:
    _, mlp, grams = logs()
    for log in (mlp, *grams.values()):
        assert log["copy_loss"] > log["first_copy_loss"] - 0.05


def ngrams_worse_than_guess() -> None:
    _, _, grams = logs()
    for n in ("3", "4", "5"):
        assert grams[n]["first_copy_loss"] > 2 * math.log(26)


def only_transformer_copies() -> None:
    lm, mlp, grams = logs()
    assert lm["copy_loss"] < 1.0
    assert min(mlp["copy_loss"], *(g["copy_loss"] for g in grams.values())) > 3.0


def appeared_late() -> None:
    lm, _, _ = logs()
    copy = {step: c for step, _, c in lm["evals"]}
    assert BUDGET.steps == 1500
    assert copy[1000] > 3.0
    assert copy[1500] < 1.0


@functools.cache
def mix() -> dict[str, int]:
    return data_mix(BUDGET)


def mostly_random() -> None:
    assert mix()["random"] > mix()["characters"] / 2


def fewer_book_characters() -> None:
    assert mix()["book"] < mix()["training_text"]


def validation_rises_a_little() -> None:
    lm, _, _ = logs()
    val = [v for _, v, _ in lm["evals"]]
    assert 0.0 < val[-1] - min(val) < 0.15  # "a little": under a sixth of a nat


def smaller_attention_only() -> None:
    lm, _, _ = logs()
    induction, metrics = load_run("induction-2l")
    assert not induction.config.mlp
    assert metrics["parameters"] < lm["parameters"]


def half_beats_all() -> None:
    lm, mlp, grams = logs()
    for log in (lm, mlp, *grams.values()):
        assert log["val_loss"] > -math.log(0.5)
    assert abs(lm["copy_loss"] - (-math.log(0.5))) < 0.1  # "about what ... reaches"


CLAIMS = [
    Claim("for a uniform guess over the 83 characters", uniform_guess),
    Claim("same number of parameters to within 1%", same_size),
    Claim("Average loss: the counts win", counts_win),
    Claim("The counts win.", counts_win),
    Claim("Even the 3-gram counts beat both trained models", counts_win),
    Claim("the window MLP beats the transformer", counts_win),
    Claim("Longer histories do help on this text", counts_win),
    Claim("the 5-gram beats the 3-gram", counts_win),
    Claim("The training data: mostly random letters", mostly_random),
    Claim("spend most of their training on random letters", mostly_random),
    Claim("fewer characters of the book than the n-grams count", fewer_book_characters),
    Claim("training characters were random letters", mostly_random),
    Claim("which spent most of their training on random letters", mostly_random),
    Claim("most of what it averages is random letters", mostly_random),
    Claim("rises a little from its lowest logged value", validation_rises_a_little),
    Claim("in a smaller attention-only model", smaller_attention_only),
    Claim("Every model does worst at position 0", worst_at_zero_then_flat),
    Claim("after a few positions every curve is flat", worst_at_zero_then_flat),
    Claim("within 0.02 nats of its loss at positions 8 to 15", worst_at_zero_then_flat),
    Claim("on plain text, it gains almost nothing", worst_at_zero_then_flat),
    Claim("no model can do better than a guess among 26 letters", guess_among_26),
    Claim("less than a quarter of its loss on the first", copy_quarter),
    Claim("do no better on the second copy than on the first", no_better_on_second),
    Claim(
        "The n-grams do far worse than a guess on random letters",
        ngrams_worse_than_guess,
    ),
    Claim("Where the n-grams win: average loss on plain text", half_a_nat),
    Claim("by more than half a nat per character", half_a_nat),
    Claim("Where attention wins: copying from context", only_transformer_copies),
    Claim("the transformer has the higher average loss", counts_win),
    Claim("in the last few hundred of the 1,500 steps", appeared_late),
    Claim("better than any of them on plain text", half_beats_all),
]
NOT_CLAIMS = {
    "the characters beyond the MLP's window": "names the window, no measurement",
}
