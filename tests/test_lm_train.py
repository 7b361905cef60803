"""The committed Part IV logs: what the chapters say about them, and (slow) a rerun
from the seed that lands on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from selfattn.corpus import moby_dick
from selfattn.lm import count_parameters, load_pretrained
from selfattn.lm_train import (
    BUDGET,
    LETTERS,
    THREADS,
    TRAINING_RUNS,
    TrainConfig,
    copy_windows,
    data_mix,
    letter_ids,
    read_log,
    run_places,
    training_batch,
)

# How far a rerun may land from the committed figures (nats per character): the
# same seed and thread count give the same numbers on one torch version; another
# version or CPU changes float rounding, and 600 steps amplify it a little.
VAL_BAND = 0.05
COPY_BAND = 0.25


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def test_every_training_window_carries_one_repeated_run() -> None:
    vocab, train_ids, _ = moby_dick()
    g = torch.Generator().manual_seed(0)
    x, y = training_batch(train_ids, letter_ids(vocab), 8, BUDGET.context, g)
    assert x.shape == y.shape == (8, BUDGET.context)
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row in torch.cat([x, y[:, -1:]], dim=1):
        text = vocab.decode(row)
        runs = [r for r in _letter_runs(text) if len(r) >= 8]
        assert any(text.count(r) >= 2 for r in runs), text


def _letter_runs(text: str) -> list[str]:
    """Every substring of 8 lowercase letters (candidates for the random run)."""
    return [
        text[i : i + 8]
        for i in range(len(text) - 7)
        if all(c in LETTERS for c in text[i : i + 8])
    ]


def test_run_places_replay_the_training_windows() -> None:
    # The replay must draw exactly what training_batch draws: the same runs in
    # the same places, and the generator left in the same state.
    vocab, train_ids, _ = moby_dick()
    config = TrainConfig(steps=3, batch=5)
    g_train = torch.Generator().manual_seed(config.data_seed)
    rows = []
    for _ in range(config.steps):
        x, y = training_batch(
            train_ids, letter_ids(vocab), config.batch, config.context, g_train
        )
        rows += list(torch.cat([x, y[:, -1:]], dim=1))
    g_replay = torch.Generator().manual_seed(config.data_seed)
    places = run_places(config, g_replay)
    assert torch.equal(g_train.get_state(), g_replay.get_state())
    assert len(places) == len(rows) == config.steps * config.batch
    for row, (r, first, second) in zip(rows, places.tolist(), strict=True):
        run = row[first : first + r]
        assert torch.equal(run, row[second : second + r])
        assert set(vocab.decode(run)) <= set(LETTERS)


def test_data_mix_counts_every_character_once() -> None:
    config = TrainConfig(steps=4, batch=3)
    mix = data_mix(config)
    places = run_places(config)
    assert mix["random"] == 2 * int(places[:, 0].sum())
    assert mix["random"] + mix["book"] == mix["characters"] == 4 * 3 * 65
    assert mix["training_text"] == len(moby_dick()[1])


def test_copy_windows_repeat_the_run_where_documented() -> None:
    vocab = moby_dick()[0]
    windows, first, second = copy_windows(BUDGET.context, 4)
    for w in windows:
        assert torch.equal(w[8:24], w[40:56])
    assert first.sum(1).tolist() == second.sum(1).tolist() == [15] * 4
    assert vocab.decode(windows[0, 8:24]).isalpha()


def test_committed_models_load_and_match_their_logs() -> None:
    model = load_pretrained("lm")
    log = read_log("lm")
    assert count_parameters(model) == log["parameters"]
    assert not model.training
    assert len(log["loss_by_position"]) == BUDGET.context


@pytest.mark.slow
def test_retraining_the_transformer_lands_on_the_committed_figures(
    tmp_path: Path,
) -> None:
    fresh = TRAINING_RUNS["lm"](tmp_path)
    committed = read_log("lm")
    assert abs(fresh["val_loss"] - committed["val_loss"]) < VAL_BAND
    assert abs(fresh["copy_loss"] - committed["copy_loss"]) < COPY_BAND


def test_the_command_line_sees_every_registered_run() -> None:
    # `python -m selfattn.lm_train` runs this file as `__main__`; the runs of
    # induction.py and seq2seq.py register in the imported module. `nox -s train`
    # once replayed only this file's runs because of that.
    import subprocess
    import sys

    from selfattn import lm_train

    for module in lm_train.RUN_MODULES:
        __import__(module)
    done = subprocess.run(
        [sys.executable, "-m", "selfattn.lm_train", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    listed = " ".join(done.stdout.split())
    for name in lm_train.TRAINING_RUNS:
        assert repr(name) in listed, f"{name} is missing from: {listed}"


@pytest.mark.parametrize("fn", [run_places, data_mix])
def test_the_data_replay_names_a_bad_config(fn: Any) -> None:
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        fn({"steps": 1})
