"""Induction heads: the scores that find them, the ablation that tests them, and the
training runs in which they form.

An *induction head* (Elhage et al. 2021; Olsson et al. 2022) completes a pattern
seen earlier in the context: having seen `... A B ...`, at a later `A` it looks at
the `B` that followed the earlier `A` and copies it. It needs a *previous-token head*
in an earlier layer (each position learns which token came just before it), so a
1-layer attention-only model cannot form one.

Scores, all on attention weights `A` of shape `(..., n, n)` (query down, key across):

* `prefix_matching_score`: on a block of `T` random tokens repeated, the mean weight
  from each query `i >= T` on key `i - T + 1`, the token after its previous occurrence;
* `previous_token_score`: the mean weight on key `i - 1`;
* `in_context_losses`: the loss on the first copy against the loss on the repeats;
* `ablation_effect`: how much the loss on the repeats rises when one head's output
  is zeroed (`head_mask` of `selfattn.lm.TransformerLM`).

Run `python -m selfattn.induction` (or `nox -s train`) to train the 2-layer
attention-only model and the 1-layer control from their seeds and write their
checkpoints and training logs into the package's checkpoint folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn._checks import check_positive_int, check_tensor, checked_by
from selfattn.lm import LMConfig, TransformerLM, model_from_config

LETTERS = "abcdefghijklmnopqrstuvwxyz"  # the random runs are lowercase letters
THRESHOLD = 0.4  # a rule of thumb: ARENA's exercise flags heads scoring above 0.4


def _check_period(period: Any, n: int) -> None:
    check_positive_int("period", period)
    if period >= n:
        raise ValueError(
            f"period must be less than the sequence length n={n} (the tokens must "
            f"repeat at least once), got period={period}"
        )


def check_weights_period(weights: Any, period: Any) -> None:
    """`weights` float (..., n, n) and a `period` in [1, n)."""
    check_tensor("weights", weights, min_dims=2)
    if weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"weights must be square in its last two dimensions (..., n, n), got "
            f"shape {tuple(weights.shape)}"
        )
    _check_period(period, weights.shape[-1])


def check_weights(weights: Any) -> None:
    """`weights` float (..., n, n) with n >= 2."""
    check_tensor("weights", weights, min_dims=2)
    if weights.shape[-1] != weights.shape[-2] or weights.shape[-1] < 2:
        raise ValueError(
            f"weights must have shape (..., n, n) with n >= 2, got shape "
            f"{tuple(weights.shape)}"
        )


@checked_by(check_weights_period)
# --8<-- [start:prefix_matching_score]
def prefix_matching_score(weights: torch.Tensor, period: int) -> torch.Tensor:
    """On a block of `T = period` tokens repeated, the mean weight from
    each query `i >= T` on the key right after its previous occurrence:

    `score = 1 / (n - T) * sum_{i=T}^{n-1} A[i, i - T + 1]`

    1 for a perfect induction head. Shapes: `weights` (..., n, n) -> (...).
    """
    n = weights.shape[-1]
    queries = torch.arange(period, n)  # every token of a repeat
    keys = queries - period + 1  # the token after its previous occurrence
    return weights[..., queries, keys].mean(dim=-1)


# --8<-- [end:prefix_matching_score]


@checked_by(check_weights)
# --8<-- [start:previous_token_score]
def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """The mean weight from each query on the token just before it:

    `score = 1 / (n - 1) * sum_{i=1}^{n-1} A[i, i - 1]`

    Shapes: `weights` (..., n, n) -> (...).
    """
    n = weights.shape[-1]
    queries = torch.arange(1, n)
    return weights[..., queries, queries - 1].mean(dim=-1)


# --8<-- [end:previous_token_score]


def check_repeated_args(
    pool: Any, n_seq: Any, period: Any = 25, repeats: Any = 2, generator: Any = None
) -> None:
    """A 1-D long `pool` of at least two ids, positive sizes, `repeats >= 2`."""
    if (
        not isinstance(pool, torch.Tensor)
        or pool.dtype != torch.long
        or pool.dim() != 1
    ):
        got = (
            f"shape {tuple(pool.shape)} and dtype {pool.dtype}"
            if isinstance(pool, torch.Tensor)
            else type(pool).__name__
        )
        raise TypeError(f"pool must be a 1-D torch.long tensor of token ids, got {got}")
    if pool.numel() < 2:
        raise ValueError(f"pool must hold at least 2 token ids, got {pool.numel()}")
    check_positive_int("n_seq", n_seq)
    check_positive_int("period", period)
    check_positive_int("repeats", repeats, minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got "
            f"{type(generator).__name__}"
        )


@checked_by(check_repeated_args)
# --8<-- [start:repeated_tokens]
def repeated_tokens(
    pool: torch.Tensor,
    n_seq: int,
    period: int = 25,
    repeats: int = 2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`n_seq` sequences, each a block of `period` random ids from `pool`
    repeated `repeats` times. Within a block no id comes twice while the
    pool has enough ids, so each token's previous occurrence is unique.

    Shapes: `pool` (p,) -> (n_seq, period * repeats).
    """
    blocks = []
    for _ in range(n_seq):
        if period <= len(pool):  # distinct ids: a random order of the pool
            pick = torch.randperm(len(pool), generator=generator)[:period]
        else:
            pick = torch.randint(len(pool), (period,), generator=generator)
        blocks.append(pool[pick])
    return torch.stack(blocks).repeat(1, repeats)  # (n_seq, period * repeats)


# --8<-- [end:repeated_tokens]


def check_logits_ids_period(logits: Any, ids: Any, period: Any) -> None:
    """`logits` float (b, n, V), `ids` long (b, n), a `period` in [1, n - 1)."""
    check_tensor("logits", logits, min_dims=3)
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError("ids must be a torch.long tensor (b, n)")
    if logits.dim() != 3 or ids.shape != logits.shape[:2]:
        raise ValueError(
            f"logits must be (b, n, V) and ids (b, n), got {tuple(logits.shape)} and "
            f"{tuple(ids.shape)}"
        )
    _check_period(period, ids.shape[1] - 1)


@checked_by(check_logits_ids_period)
# --8<-- [start:in_context_losses]
def in_context_losses(
    logits: torch.Tensor, ids: torch.Tensor, period: int
) -> tuple[float, float]:
    """Mean cross-entropy of the next token on the first copy and on the
    repeats of a block of `T = period` tokens.

    Position `i` predicts token `i + 1`. First copy: tokens `1 .. T - 1`
    (token 0 has no context). Repeats: tokens `T + 1 .. n - 1`, each one
    the successor of a token seen before (token `T` is not: the last
    token of the first copy has no earlier occurrence).
    Shapes: `logits` (b, n, V), `ids` (b, n).
    """
    losses = F.cross_entropy(
        logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none"
    )  # (b, n - 1): loss of predicting token t + 1 at position t
    first = losses[:, : period - 1].mean()  # tokens 1 .. T - 1
    repeat = losses[:, period:].mean()  # tokens T + 1 .. n - 1
    return first.item(), repeat.item()


# --8<-- [end:in_context_losses]


def check_model_ids_period(model: Any, ids: Any, period: Any) -> None:
    """A `TransformerLM`, ids long (b, n), a `period` in [1, n - 1)."""
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM, got {type(model).__name__}")
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.dim() != 2:
        raise TypeError("ids must be a torch.long tensor (b, n)")
    _check_period(period, ids.shape[1] - 1)


@checked_by(check_model_ids_period)
@torch.no_grad()
def head_scores(model: TransformerLM, ids: torch.Tensor, period: int) -> dict[str, Any]:
    """Every head's prefix-matching and previous-token score (each a list per
    layer of a list per head, averaged over the sequences), and the in-context
    losses, on `ids` made of a block of `period` tokens repeated."""
    logits, maps = model(ids, return_attention=True)
    first, repeat = in_context_losses(logits, ids, period)
    return {
        "prefix": [prefix_matching_score(w, period).mean(0).tolist() for w in maps],
        "previous": [previous_token_score(w).mean(0).tolist() for w in maps],
        "loss_first": first,
        "loss_repeat": repeat,
    }


@checked_by(check_model_ids_period)
# --8<-- [start:ablation_effect]
@torch.no_grad()
def ablation_effect(
    model: TransformerLM, ids: torch.Tensor, period: int
) -> torch.Tensor:
    """How much the loss on the repeats rises when one head's output is
    zeroed, for every head: `L_repeat(without head l, h) - L_repeat`.

    Shapes: `ids` (b, n) -> (n_layers, n_heads).
    """
    layers, heads = model.config.n_layers, model.config.n_heads
    _, base = in_context_losses(model(ids), ids, period)
    rise = torch.zeros(layers, heads)
    for layer in range(layers):
        for head in range(heads):
            keep = torch.ones(layers, heads)
            keep[layer, head] = 0.0  # this head's output is zeroed
            logits = model(ids, head_mask=keep)
            _, repeat = in_context_losses(logits, ids, period)
            rise[layer, head] = repeat - base
    return rise


# --8<-- [end:ablation_effect]


# --8<-- [start:InductionConfig]
@dataclass(frozen=True)
class InductionConfig:
    """An attention-only model trained on Moby Dick with one random run of
    letters, repeated once, in every training sequence."""

    name: str = "induction-2l"
    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 4
    context: int = 64  # tokens per training sequence
    min_run: int = 8  # the random run: 8 to 32 letters
    max_run: int = 32
    steps: int = 1500
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0  # initial weights and training batches
    log_every: int = 50  # steps between two rows of the training log
    period: int = 25  # the scores: 25 random letters,
    repeats: int = 2  # repeated twice (the context holds 64)
    eval_seqs: int = 200
    eval_seed: int = 1  # a generator training never uses


# --8<-- [end:InductionConfig]

# The runs `nox -s train` makes: the model and its 1-layer control.
RUNS = {
    "induction-2l": InductionConfig(),
    "induction-1l": InductionConfig(name="induction-1l", n_layers=1),
}


def check_batch_args(text: Any, pool: Any, config: Any, generator: Any = None) -> None:
    """A 1-D long `text`, a 1-D long `pool`, an `InductionConfig`."""
    for name, t in (("text", text), ("pool", pool)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.long or t.dim() != 1:
            raise TypeError(f"{name} must be a 1-D torch.long tensor of token ids")
    if not isinstance(config, InductionConfig):
        raise TypeError(
            f"config must be an InductionConfig, got {type(config).__name__}"
        )
    if len(text) <= config.context + 1:
        raise ValueError(
            f"text must hold more than context + 1 = {config.context + 1} tokens, "
            f"got {len(text)}"
        )
    if 2 * config.max_run > config.context + 1:
        raise ValueError(
            f"config.max_run must fit twice in context + 1 = {config.context + 1}, "
            f"got max_run={config.max_run}"
        )


@checked_by(check_batch_args)
# --8<-- [start:induction_batch]
def induction_batch(
    text: torch.Tensor,
    pool: torch.Tensor,
    config: InductionConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`config.batch` windows of the text, each with one run of `r` random
    ids from `pool` (`min_run <= r <= max_run`) written over the text
    twice: at `s`, and again at a later `s2 >= s + r`.

    Shapes: inputs and targets (batch, context); targets are the inputs
    one token later.
    """
    n = config.context + 1  # inputs and the one token after
    starts = torch.randint(len(text) - n, (config.batch,), generator=generator)
    rows = []
    for start in starts.tolist():
        row = text[start : start + n].clone()
        r = int(
            torch.randint(config.min_run, config.max_run + 1, (1,), generator=generator)
        )
        run = pool[torch.randint(len(pool), (r,), generator=generator)]
        s = int(torch.randint(n - 2 * r + 1, (1,), generator=generator))
        s2 = int(torch.randint(s + r, n - r + 1, (1,), generator=generator))
        row[s : s + r] = run  # the first copy
        row[s2 : s2 + r] = run  # the repeat
        rows.append(row)
    batch = torch.stack(rows)  # (batch, context + 1)
    return batch[:, :-1], batch[:, 1:]


# --8<-- [end:induction_batch]


def letter_pool() -> torch.Tensor:
    """The ids of the lowercase letters in the Moby Dick vocabulary."""
    from selfattn.corpus import moby_dick

    vocab, _, _ = moby_dick()
    return vocab.encode(LETTERS)


def eval_ids(config: InductionConfig) -> torch.Tensor:
    """The scoring sequences: `eval_seqs` blocks of `period` random letters,
    repeated `repeats` times, from `eval_seed`."""
    generator = torch.Generator().manual_seed(config.eval_seed)
    return repeated_tokens(
        letter_pool(), config.eval_seqs, config.period, config.repeats, generator
    )


def check_config(config: Any, *args: Any, **kwargs: Any) -> None:
    """An `InductionConfig`."""
    if not isinstance(config, InductionConfig):
        raise TypeError(
            f"config must be an InductionConfig, got {type(config).__name__}"
        )


@dataclass
class InductionRun:
    """What `train_induction` returns: the model and its training log."""

    model: TransformerLM
    log: dict[str, Any]


@checked_by(check_config)
# --8<-- [start:train_induction]
def train_induction(config: InductionConfig, progress: bool = False) -> InductionRun:
    """Train an attention-only `TransformerLM` from `config.seed` with AdamW
    and log every head's scores every `log_every` steps."""
    from selfattn.corpus import moby_dick

    _, text, _ = moby_dick()  # the training split
    pool, probe = letter_pool(), eval_ids(config)
    torch.manual_seed(config.seed)
    model = TransformerLM(
        len(moby_dick()[0]),
        config.d_model,
        config.n_layers,
        config.n_heads,
        config.context,
        mlp=False,
        attention="sdpa",
    )  # the fastest on a CPU
    data = torch.Generator().manual_seed(config.seed)  # the batches
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    log: dict[str, list[Any]] = {
        "step": [],
        "seconds": [],
        "train_loss": [],
        "prefix": [],
        "previous": [],
        "loss_first": [],
        "loss_repeat": [],
    }
    start, recent = time.perf_counter(), list[float]()
    for step in range(config.steps + 1):
        if step % config.log_every == 0:  # score before this step's update
            model.eval()
            scores = head_scores(model, probe, config.period)
            model.train()
            log["step"].append(step)
            log["seconds"].append(round(time.perf_counter() - start, 2))
            log["train_loss"].append(sum(recent) / len(recent) if recent else None)
            for key in ("prefix", "previous", "loss_first", "loss_repeat"):
                log[key].append(scores[key])
            recent = []
            if progress:
                _progress(step, config, scores)
        if step == config.steps:
            break
        inputs, targets = induction_batch(text, pool, config, data)
        logits = model(inputs)  # (batch, context, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        recent.append(loss.item())
    return InductionRun(model.eval(), log)


# --8<-- [end:train_induction]


def _progress(step: int, config: InductionConfig, scores: dict[str, Any]) -> None:
    best = max(scores["prefix"][-1])
    width = 30
    done = int(width * step / config.steps)
    print(
        f"\r{config.name} [{'#' * done}{'.' * (width - done)}] step {step:5d} "
        f"best last-layer prefix score {best:.2f}, repeat loss "
        f"{scores['loss_repeat']:.2f}",
        end="\n" if step == config.steps else "",
        flush=True,
    )


def phase_change_step(log: dict[str, Any], threshold: float = THRESHOLD) -> int | None:
    """The first logged step at which a last-layer head's prefix-matching score
    reaches `threshold`; None if none does."""
    for step, prefix in zip(log["step"], log["prefix"], strict=True):
        if max(prefix[-1]) >= threshold:
            return int(step)
    return None


def found_heads(final: dict[str, Any]) -> dict[str, tuple[int, int, float]]:
    """From `head_scores`' output: the last layer's best prefix-matching head
    (the induction head) and the first layer's best previous-token head, each as
    `(layer, head, score)`."""
    prefix, previous = final["prefix"][-1], final["previous"][0]
    i = max(range(len(prefix)), key=prefix.__getitem__)
    p = max(range(len(previous)), key=previous.__getitem__)
    return {
        "induction": (len(final["prefix"]) - 1, i, prefix[i]),
        "previous": (0, p, previous[p]),
    }


def checkpoint_dir() -> Path:
    """The package's checkpoint folder (shipped in the wheel)."""
    return Path(str(resources.files("selfattn") / "checkpoints"))


def save_run(
    run: InductionRun, config: InductionConfig, directory: Path
) -> dict[str, Any]:
    """Write `<name>.pt` (in `load_pretrained`'s format) and `<name>.json`
    (config, versions, final scores, ablation and the training log)."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(
        {"config": asdict(run.model.config), "state_dict": run.model.state_dict()},
        buffer,
    )
    (directory / f"{config.name}.pt").write_bytes(buffer.getvalue())
    probe = eval_ids(config)
    final = head_scores(run.model, probe, config.period)
    metrics = {
        "task": "attention-only LM on Moby Dick, one random run repeated per sequence",
        "config": asdict(config),
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "train_seconds": run.log["seconds"][-1],
        "final": final,
        "ablation": ablation_effect(run.model, probe, config.period).tolist(),
        "phase_change_step": phase_change_step(run.log),
        "log": run.log,
    }
    text = json.dumps(metrics, indent=1)
    (directory / f"{config.name}.json").write_text(text + "\n")
    return metrics


def load_run(name: str) -> tuple[TransformerLM, dict[str, Any]]:
    """The committed model `name` and its metrics and training log."""
    if name not in RUNS:
        raise ValueError(f"name must be one of {sorted(RUNS)}, got {name!r}")
    folder = resources.files("selfattn") / "checkpoints"
    state = torch.load(
        io.BytesIO((folder / f"{name}.pt").read_bytes()), weights_only=True
    )
    model = model_from_config(LMConfig(**state["config"]))
    model.load_state_dict(state["state_dict"])
    metrics = json.loads((folder / f"{name}.json").read_text())
    return model.eval(), metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(RUNS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # same result on any machine's thread count
    for name in args.names:
        config = RUNS[name]
        if args.steps is not None:
            config = InductionConfig(**{**asdict(config), "steps": args.steps})
        run = train_induction(config, progress=True)
        metrics = save_run(run, config, args.out or checkpoint_dir())
        print(
            f"{name}: {metrics['train_seconds']} s, phase change at step "
            f"{metrics['phase_change_step']}, final prefix scores "
            f"{[[round(s, 2) for s in layer] for layer in metrics['final']['prefix']]}"
        )


if __name__ == "__main__":
    main()


def _register_runs() -> None:
    """Register both runs with `selfattn.lm_train`, which `nox -s train` runs."""
    from selfattn.lm_train import training_run

    for name, config in RUNS.items():

        def run(out: Path, config: InductionConfig = config) -> dict[str, Any]:
            return save_run(train_induction(config, progress=True), config, out)

        training_run(name)(run)


_register_runs()
