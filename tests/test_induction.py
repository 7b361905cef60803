"""Induction heads (selfattn/induction.py): the scores on hand-made attention patterns,
the in-context losses on hand-made logits, and the committed runs.

The fast tests read the committed checkpoints and logs (`selfattn/checkpoints/
induction-2l.*` and `induction-1l.*`) and check what the page "Induction heads"
says about them; the slow one (``-m slow``, run by ``nox -s train``) retrains the
2-layer model from its seed and checks where its phase change lands.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from selfattn.induction import (
    RUNS,
    THRESHOLD,
    ablation_effect,
    eval_ids,
    head_scores,
    in_context_losses,
    induction_batch,
    letter_pool,
    load_run,
    phase_change_step,
    prefix_matching_score,
    previous_token_score,
    repeated_tokens,
    train_induction,
)
from tests.conftest import eps

# What the page says about the committed runs (tests/claims/induction_heads.py
# checks the page's sentences against these).
PREVIOUS_TOKEN = 0.4  # the layer-1 head that feeds the induction head, at least
ABLATION_RISE = 1.0  # nats: zeroing the induction head raises the repeat loss this much
PHASE_BAND = 0.25  # a retrained run's phase change within 25% of the committed step


def causal_uniform(n: int) -> torch.Tensor:
    """Every query spreads its weight evenly over itself and the keys before it."""
    w = torch.tril(torch.ones(n, n, dtype=torch.float64))
    return w / w.sum(dim=-1, keepdim=True)


def induction_pattern(n: int, period: int) -> torch.Tensor:
    """A perfect induction head: query i >= T on key i - T + 1, earlier queries on
    themselves."""
    w = torch.eye(n, dtype=torch.float64)
    i = torch.arange(period, n)
    w[i] = 0.0
    w[i, i - period + 1] = 1.0
    return w


def previous_pattern(n: int) -> torch.Tensor:
    """A perfect previous-token head (query 0 has only itself)."""
    w = torch.diag(torch.ones(n - 1, dtype=torch.float64), -1)
    w[0, 0] = 1.0
    return w


def test_a_perfect_induction_pattern_scores_one() -> None:
    w = induction_pattern(50, 25)
    assert prefix_matching_score(w, 25).item() == 1.0
    # ... and is no previous-token head: its weight one back is only on query 1..24?
    # No: queries 1..24 look at themselves, so it puts no weight one back.
    assert previous_token_score(w).item() == 0.0


def test_a_previous_token_pattern_scores_one_and_matches_no_prefix() -> None:
    w = previous_pattern(50)
    assert previous_token_score(w).item() == 1.0
    assert prefix_matching_score(w, 25).item() == 0.0


def test_a_uniform_causal_pattern_scores_the_mean_of_one_over_i_plus_one() -> None:
    n, period = 50, 25
    w = causal_uniform(n)
    want = sum(1 / (i + 1) for i in range(period, n)) / (n - period)
    tol = 8 * eps(torch.float64)
    assert prefix_matching_score(w, period).item() == pytest.approx(want, rel=tol)
    assert want < 2 / period  # about 1/n: nothing stands out
    want_prev = sum(1 / (i + 1) for i in range(1, n)) / (n - 1)
    assert previous_token_score(w).item() == pytest.approx(want_prev, rel=tol)


def test_a_fully_uniform_pattern_scores_one_over_n() -> None:
    n = 40
    w = torch.full((n, n), 1 / n, dtype=torch.float64)
    assert prefix_matching_score(w, 10).item() == pytest.approx(1 / n)
    assert previous_token_score(w).item() == pytest.approx(1 / n)


@given(
    n=st.integers(3, 24),
    heads=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_scores_of_any_attention_lie_between_zero_and_one(
    n: int, heads: int, seed: int, data: st.DataObject
) -> None:
    period = data.draw(st.integers(1, n - 1))
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(2, heads, n, n, generator=gen).softmax(dim=-1)
    for score in (prefix_matching_score(w, period), previous_token_score(w)):
        assert score.shape == (2, heads)
        assert ((score >= 0) & (score <= 1 + 8 * eps(torch.float32))).all()


def test_scores_batch_like_their_inputs() -> None:
    n, period = 30, 10
    w = torch.stack([induction_pattern(n, period), causal_uniform(n)])[:, None]
    score = prefix_matching_score(w, period)  # (2, 1)
    assert score.shape == (2, 1)
    assert score[0, 0] == 1.0
    assert score[1, 0] == prefix_matching_score(causal_uniform(n), period)


def test_repeated_tokens_repeat_a_block_of_distinct_ids() -> None:
    pool = torch.arange(5, 31)
    ids = repeated_tokens(
        pool, 4, period=25, repeats=3, generator=torch.Generator().manual_seed(0)
    )
    assert ids.shape == (4, 75)
    assert torch.equal(ids[:, :25], ids[:, 25:50])
    assert torch.equal(ids[:, :25], ids[:, 50:])
    for row in ids[:, :25]:
        assert len(set(row.tolist())) == 25  # no id twice in a block
    assert set(ids.flatten().tolist()) <= set(pool.tolist())


def perfect_copier_logits(ids: torch.Tensor, period: int, vocab: int) -> torch.Tensor:
    """Logits that are uniform on the first copy and certain of the right next
    token on the repeats (what a perfect induction model predicts)."""
    b, n = ids.shape
    logits = torch.zeros(b, n, vocab, dtype=torch.float64)
    t = torch.arange(period, n - 1)  # positions that predict a repeated token
    logits[:, t, :] = -1e4
    logits[torch.arange(b)[:, None], t, ids[:, t + 1]] = 0.0
    return logits


def test_in_context_losses_of_a_perfect_copier() -> None:
    vocab, period = 26, 25
    ids = repeated_tokens(
        torch.arange(vocab), 3, period, 2, torch.Generator().manual_seed(1)
    )
    first, repeat = in_context_losses(
        perfect_copier_logits(ids, period, vocab), ids, period
    )
    assert first == pytest.approx(math.log(vocab))  # a uniform guess
    assert repeat == pytest.approx(0.0, abs=1e-12)


def test_in_context_losses_count_the_token_after_the_first_copy_in_neither() -> None:
    # Only position T - 1 (predicting token T) is wrong: neither loss sees it.
    vocab, period = 26, 25
    ids = repeated_tokens(
        torch.arange(vocab), 2, period, 2, torch.Generator().manual_seed(2)
    )
    logits = perfect_copier_logits(ids, period, vocab)
    logits[:, : period - 1] = -1e4  # the first copy too: certain and right
    rows = torch.arange(2)[:, None]
    logits[rows, torch.arange(period - 1), ids[:, 1:period]] = 0.0
    logits[:, period - 1] = 0.0  # position T - 1 predicts token T: uniform
    first, repeat = in_context_losses(logits, ids, period)
    assert first == pytest.approx(0.0, abs=1e-12)
    assert repeat == pytest.approx(0.0, abs=1e-12)


def test_induction_batch_writes_one_run_twice_into_the_text() -> None:
    config = RUNS["induction-2l"]
    text = torch.full((500,), 99)  # a text of one id: the runs stand out
    pool = torch.arange(10)
    inputs, targets = induction_batch(
        text, pool, config, torch.Generator().manual_seed(0)
    )
    assert inputs.shape == targets.shape == (config.batch, config.context)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    full = torch.cat([inputs, targets[:, -1:]], dim=1)  # (batch, context + 1)
    written = (full != 99).sum(dim=1)
    assert (written % 2 == 0).all()  # the run and its copy, as long as each other
    assert (written >= 2 * config.min_run).all()
    assert (written <= 2 * config.max_run).all()
    for row in full:
        run = row[row != 99]
        half = len(run) // 2
        assert torch.equal(run[:half], run[half:])  # the second copy repeats the first


def test_bad_period_is_named() -> None:
    with pytest.raises(ValueError, match="period must be less than"):
        prefix_matching_score(torch.eye(4), 4)
    with pytest.raises(TypeError, match="weights must"):
        previous_token_score([[1.0]])


# --- The committed runs ---------------------------------------------------------


def test_the_committed_scores_are_what_the_checkpoint_computes() -> None:
    for name in RUNS:
        model, metrics = load_run(name)
        scores = head_scores(model, eval_ids(RUNS[name]), RUNS[name].period)
        for key in ("prefix", "previous"):
            assert torch.allclose(
                torch.tensor(scores[key]),
                torch.tensor(metrics["final"][key]),
                atol=1e-5,
            ), key


# --8<-- [start:test_the_second_layer_has_an_induction_head]
def test_the_second_layer_has_an_induction_head() -> None:
    model, _ = load_run("induction-2l")
    config = RUNS["induction-2l"]
    scores = head_scores(model, eval_ids(config), config.period)
    prefix = torch.tensor(scores["prefix"])  # (layers, heads)
    assert prefix[1].max() >= THRESHOLD  # ARENA's threshold
    assert prefix[0].max() < THRESHOLD  # none in the first layer
    previous = torch.tensor(scores["previous"])
    assert previous[0].max() >= PREVIOUS_TOKEN  # the head it builds on
    assert scores["loss_repeat"] < scores["loss_first"] / 2  # it copies


# --8<-- [end:test_the_second_layer_has_an_induction_head]


# --8<-- [start:test_the_one_layer_control_has_none]
def test_the_one_layer_control_has_none() -> None:
    model, _ = load_run("induction-1l")
    config = RUNS["induction-1l"]
    scores = head_scores(model, eval_ids(config), config.period)
    assert max(scores["prefix"][0]) < THRESHOLD
    assert scores["loss_repeat"] > scores["loss_first"] / 2  # it cannot copy


# --8<-- [end:test_the_one_layer_control_has_none]


# --8<-- [start:test_ablating_the_induction_head_raises_the_repeat_loss]
def test_ablating_the_induction_head_raises_the_repeat_loss() -> None:
    model, metrics = load_run("induction-2l")
    config = RUNS["induction-2l"]
    ids = eval_ids(config)
    rise = ablation_effect(model, ids, config.period)  # (layers, heads)
    head = int(torch.tensor(metrics["final"]["prefix"][1]).argmax())
    assert rise[1, head] >= ABLATION_RISE
    assert rise[1, head] == rise[1].max()  # no other layer-2 head matters as much
    assert torch.allclose(rise, torch.tensor(metrics["ablation"]), atol=1e-4)


# --8<-- [end:test_ablating_the_induction_head_raises_the_repeat_loss]


def test_the_phase_change_step_is_read_from_the_log() -> None:
    _, metrics = load_run("induction-2l")
    step = phase_change_step(metrics["log"])
    assert step is not None
    assert step == metrics["phase_change_step"]
    i = metrics["log"]["step"].index(step)
    assert (
        max(metrics["log"]["prefix"][i - 1][-1])
        < THRESHOLD
        <= max(metrics["log"]["prefix"][i][-1])
    )
    _, control = load_run("induction-1l")
    assert phase_change_step(control["log"]) is None


def test_letter_pool_is_the_26_lowercase_letters() -> None:
    pool = letter_pool()
    assert pool.shape == (26,)
    assert len(set(pool.tolist())) == 26


@pytest.mark.slow
def test_retraining_lands_the_phase_change_within_its_band() -> None:
    torch.set_num_threads(1)
    _, metrics = load_run("induction-2l")
    run = train_induction(RUNS["induction-2l"])
    committed = metrics["phase_change_step"]
    step = phase_change_step(run.log)
    assert step is not None
    assert abs(step - committed) <= PHASE_BAND * committed
    final = max(run.log["prefix"][-1][-1])
    assert final >= THRESHOLD
