"""The trained look-back model (selfattn/train.py) and its shipped checkpoint.

The fast tests read `selfattn/checkpoints/look-back.pt` (package data) and check
what the page "A trained model" says about it; the slow one (`-m slow`, run by
`nox -s train`) retrains from the seed and must reach the shipped accuracy.
"""

from __future__ import annotations

import json

import pytest
import torch

from selfattn.train import (
    CHECKPOINT,
    IGNORE,
    METRICS,
    LookBackModel,
    TaskConfig,
    accuracy,
    head_distance,
    held_out_set,
    load_checkpoint,
    load_look_back,
    look_back_batch,
    look_back_metrics,
    mean_head_maps,
    train,
)

# The page's claims: every answer right, each head puts at least this much weight
# on its own offset (averaged over held-out sequences and queries), and the trained
# heads are at least this far apart while the untrained ones are at most ...
ACCURACY = 0.99
HEAD_WEIGHT = 0.9
TRAINED_DISTANCE = 0.7
UNTRAINED_DISTANCE = 0.3


def offset_weight(maps: torch.Tensor, offset: int, first: int) -> torch.Tensor:
    """Each head's mean weight on the key ``offset`` back, over queries >= first."""
    n = maps.shape[-1]
    rows = torch.arange(first, n)
    return maps[:, rows, rows - offset].mean(dim=-1)  # (h,)


def test_look_back_batch_answers_are_the_earlier_tokens() -> None:
    config = TaskConfig()
    tokens, targets = look_back_batch(config, 5, torch.Generator().manual_seed(3))
    assert tokens.shape == (5, config.length)
    for t, offset in enumerate(config.offsets):
        assert torch.equal(targets[:, offset:, t], tokens[:, :-offset])
        assert (targets[:, :offset, t] == IGNORE).all()


def test_checkpoint_reaches_the_accuracy_the_page_shows() -> None:
    config, initial, trained = load_checkpoint()
    tokens, targets = held_out_set(config)
    assert accuracy(trained, tokens, targets) >= ACCURACY
    # Untrained, it guesses: about 1 / vocab.
    assert accuracy(initial, tokens, targets) < 2 / config.vocab
    metrics = json.loads(METRICS.read_text())
    assert metrics["held_out_accuracy"] == pytest.approx(
        accuracy(trained, tokens, targets)
    )


# --8<-- [start:test_each_trained_head_looks_at_one_offset]
def test_each_trained_head_looks_at_one_offset() -> None:
    config, _, trained = load_checkpoint()
    tokens, _ = held_out_set(config)
    maps = mean_head_maps(trained, tokens)  # (h, n, n)
    first = max(config.offsets)
    on_offset = torch.stack([offset_weight(maps, o, first) for o in config.offsets])
    # One head per offset: the best head of each offset is a different head.
    best = on_offset.argmax(dim=-1)
    assert len(set(best.tolist())) == len(config.offsets)
    assert (on_offset.amax(dim=-1) >= HEAD_WEIGHT).all(), on_offset


# --8<-- [end:test_each_trained_head_looks_at_one_offset]


# --8<-- [start:test_trained_heads_differ_and_untrained_do_not]
def test_trained_heads_differ_and_untrained_do_not() -> None:
    config, initial, trained = load_checkpoint()
    tokens, _ = held_out_set(config)
    assert head_distance(mean_head_maps(trained, tokens)) >= TRAINED_DISTANCE
    assert head_distance(mean_head_maps(initial, tokens)) <= UNTRAINED_DISTANCE


# --8<-- [end:test_trained_heads_differ_and_untrained_do_not]


def test_head_distance_is_zero_for_equal_heads_and_one_for_disjoint() -> None:
    eye = torch.eye(4)
    shifted = torch.roll(eye, 1, dims=-1)
    assert head_distance(torch.stack([eye, eye])) == 0.0
    assert head_distance(torch.stack([eye, shifted])) == 1.0


def test_the_shipped_checkpoint_is_package_data() -> None:
    # load_look_back reads it through importlib.resources, as from the wheel ...
    config, initial, trained = load_look_back()
    same_config, same_initial, same_trained = load_checkpoint(CHECKPOINT)
    assert config == same_config
    for a, b in ((initial, same_initial), (trained, same_trained)):
        for (name, p), (_, q) in zip(
            a.state_dict().items(), b.state_dict().items(), strict=True
        ):
            assert torch.equal(p, q), name
        assert not a.training  # evaluation mode, as the page uses it
    assert look_back_metrics() == json.loads(METRICS.read_text())
    # ... and pyproject.toml declares both files, so the wheel carries them.
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"][
        "package-data"
    ]["selfattn"]
    assert f"checkpoints/{CHECKPOINT.name}" in package_data
    assert f"checkpoints/{METRICS.name}" in package_data


def test_a_missing_checkpoint_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="path must be a checkpoint file"):
        load_checkpoint(CHECKPOINT.with_name("nowhere.pt"))
    with pytest.raises(TypeError, match="path must be a str or Path"):
        load_checkpoint(3)  # type: ignore[arg-type]


def test_bad_tokens_are_refused() -> None:
    model = LookBackModel(TaskConfig())
    with pytest.raises(TypeError, match=r"tokens must be a torch\.long tensor"):
        model(torch.zeros(3))
    with pytest.raises(ValueError, match="tokens must lie in"):
        model(torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="tokens must have shape"):
        model(torch.zeros(13, dtype=torch.long))
    with pytest.raises(TypeError, match="config must be a TaskConfig"):
        LookBackModel({"vocab": 10})  # type: ignore[arg-type]


# --8<-- [start:test_retraining_from_the_seed_reaches_the_committed_accuracy]
@pytest.mark.slow
def test_retraining_from_the_seed_reaches_the_committed_accuracy() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as python -m selfattn.train does
    try:
        config, _, _ = load_checkpoint(CHECKPOINT)
        result = train(config)
    finally:
        torch.set_num_threads(threads)
    metrics = json.loads(METRICS.read_text())
    assert result.held_out_accuracy >= ACCURACY
    assert result.held_out_accuracy == pytest.approx(
        metrics["held_out_accuracy"], abs=0.01
    )


# --8<-- [end:test_retraining_from_the_seed_reaches_the_committed_accuracy]
