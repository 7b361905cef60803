"""Training and measuring Part IV's models: the data recipe, the loop, the metrics,
and the registry of training runs that `nox -s train` replays.

Data: windows of `context + 1` characters cut at random from the training 90% of
Moby Dick; into every window goes one run of 8 to 32 random lowercase letters,
written twice (the second copy after the first, at a random gap). Every compared
model sees the same windows in the same order (one generator, `DATA_SEED`).

Metrics, on the validation 10%:

* `val_loss`: mean cross-entropy (nats per character) over non-overlapping windows
  of plain text, each token predicted from the tokens before it in its window;
* `loss_by_position`: the same, per position in the window (0 .. context - 1);
* `copy_loss`: on windows that carry a run of `COPY_RUN` random letters twice
  (first copy at `COPY_FIRST`, second at `COPY_SECOND`), the mean loss on the
  letters of the second copy after its first (`first_copy_loss`: the same letters
  in the first copy, where nothing tells what comes).

Reproducibility: `torch.set_num_threads(THREADS)` before training (float sums
change with the thread count), one seed for the model's initial weights and one for
the data. Run `python -m selfattn.lm_train [NAME ...]` to retrain; each run writes
`selfattn/checkpoints/<name>.pt` (if it has weights) and `<name>.json` (its log).

Other modules add runs with `@training_run("name")` and put their module name in
`RUN_MODULES`, so that `main` imports them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn.baselines import NGram, WindowMLP
from selfattn.corpus import Vocab, moby_dick
from selfattn.lm import TransformerLM, count_parameters

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
THREADS = 1  # one thread: the same float sums on every machine
DATA_SEED = 1234  # the training windows and their random runs
EVAL_SEED = 99  # the copy-test windows
RUN_MIN, RUN_MAX = 8, 32  # random run lengths in training windows
COPY_RUN, COPY_FIRST, COPY_SECOND = 16, 8, 40  # the copy test's run and places
COPY_WINDOWS = 256
LETTERS = "abcdefghijklmnopqrstuvwxyz"
RUN_MODULES: list[str] = ["selfattn.lm_train", "selfattn.induction", "selfattn.seq2seq"]


# --8<-- [start:TrainConfig]
@dataclass(frozen=True)
class TrainConfig:
    """The training budget: the same for every compared model."""

    steps: int = 1500
    batch: int = 16
    context: int = 64  # characters per training window
    lr: float = 3e-3  # AdamW
    weight_decay: float = 0.01
    seed: int = 0  # initial weights
    data_seed: int = DATA_SEED
    eval_every: int = 50


# --8<-- [end:TrainConfig]


def letter_ids(vocab: Vocab) -> torch.Tensor:
    """The ids of a .. z."""
    return vocab.encode(LETTERS)


def insert_run(
    window: torch.Tensor, run: torch.Tensor, first: int, second: int
) -> torch.Tensor:
    """`window` with `run` written at `first` and again at `second`."""
    out = window.clone()
    out[..., first : first + len(run)] = run
    out[..., second : second + len(run)] = run
    return out


# --8<-- [start:training_batch]
def training_batch(
    ids: torch.Tensor,
    letters: torch.Tensor,
    batch: int,
    context: int,
    g: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` windows of text, each carrying one random run repeated once.

    Shapes: inputs (batch, context), targets (batch, context): the
    same characters shifted by one.
    """
    starts = torch.randint(0, len(ids) - context - 1, (batch,), generator=g)
    rows = []
    for s in starts.tolist():
        window = ids[s : s + context + 1]
        n = int(torch.randint(RUN_MIN, RUN_MAX + 1, (), generator=g))
        run = letters[torch.randint(0, len(letters), (n,), generator=g)]
        first = int(torch.randint(0, context + 2 - 2 * n, (), generator=g))
        second = int(torch.randint(first + n, context + 2 - n, (), generator=g))
        rows.append(insert_run(window, run, first, second))
    x = torch.stack(rows)  # (batch, context + 1)
    return x[:, :-1], x[:, 1:]


# --8<-- [end:training_batch]


def _check_config(config: Any) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"config must be a TrainConfig (e.g. BUDGET), got {type(config).__name__}"
        )


def run_places(config: TrainConfig, g: torch.Generator | None = None) -> torch.Tensor:
    """Where `fit`'s training windows put their random runs, without building
    the windows: the draws of `training_batch`, replayed from
    `config.data_seed` (or from `g`).

    Shape: (steps * batch, 3), one row `(length, first, second)` per window.
    """
    _check_config(config)
    if g is not None and not isinstance(g, torch.Generator):
        raise TypeError(f"g must be a torch.Generator or None, got {type(g).__name__}")
    if g is None:
        g = torch.Generator().manual_seed(config.data_seed)
    _, train_ids, _ = moby_dick()
    n = config.context + 1  # the inputs and the one target after them
    rows: list[tuple[int, int, int]] = []
    for _ in range(config.steps):
        top = len(train_ids) - config.context - 1
        torch.randint(0, top, (config.batch,), generator=g)  # the starts
        for _ in range(config.batch):
            r = int(torch.randint(RUN_MIN, RUN_MAX + 1, (), generator=g))
            torch.randint(0, len(LETTERS), (r,), generator=g)  # the letters
            first = int(torch.randint(0, n + 1 - 2 * r, (), generator=g))
            second = int(torch.randint(first + r, n + 1 - r, (), generator=g))
            rows.append((r, first, second))
    return torch.tensor(rows, dtype=torch.long).view(-1, 3)


def data_mix(config: TrainConfig) -> dict[str, int]:
    """What the neural models train on, counted: the characters of all the
    training windows, how many are the random letters of the repeated runs
    and how many are book text; and, for comparison, the length of the
    training text that the n-grams count."""
    _check_config(config)
    _, train_ids, _ = moby_dick()
    places = run_places(config)
    total = config.steps * config.batch * (config.context + 1)
    random = 2 * int(places[:, 0].sum())  # each run is written twice
    return {
        "characters": total,
        "random": random,
        "book": total - random,
        "training_text": len(train_ids),
    }


def validation_windows(context: int = 64) -> torch.Tensor:
    """The validation text cut into non-overlapping windows (W, context + 1)."""
    _, _, val = moby_dick()
    n = (len(val) - 1) // (context + 1)
    return val[: n * (context + 1)].view(n, context + 1)


def copy_windows(
    context: int = 64, count: int = COPY_WINDOWS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validation windows carrying a run of `COPY_RUN` random letters twice.

    Returns the windows (count, context + 1) and two boolean masks over the
    targets (count, context): the letters of the first copy and of the second,
    each after its first letter.
    """
    vocab, _, _ = moby_dick()
    windows = validation_windows(context)
    g = torch.Generator().manual_seed(EVAL_SEED)
    letters = letter_ids(vocab)
    pick = torch.randint(0, len(windows), (count,), generator=g)
    rows = []
    for i in pick.tolist():
        run = letters[torch.randint(0, len(letters), (COPY_RUN,), generator=g)]
        rows.append(insert_run(windows[i], run, COPY_FIRST, COPY_SECOND))
    first = torch.zeros(context, dtype=torch.bool)
    second = torch.zeros(context, dtype=torch.bool)
    # target t is character t + 1: a copy at p covers targets p - 1 .. p + L - 2
    first[COPY_FIRST : COPY_FIRST + COPY_RUN - 1] = True
    second[COPY_SECOND : COPY_SECOND + COPY_RUN - 1] = True
    return torch.stack(rows), first.expand(count, -1), second.expand(count, -1)


LogProbFn = Callable[[torch.Tensor], torch.Tensor]


def neural_log_probs(model: nn.Module, chunk: int = 64) -> LogProbFn:
    """For windows (W, n + 1): log P of each next token (W, n) from `model`."""

    @torch.no_grad()
    def fn(windows: torch.Tensor) -> torch.Tensor:
        model.eval()
        parts = []
        for i in range(0, len(windows), chunk):
            x, y = windows[i : i + chunk, :-1], windows[i : i + chunk, 1:]
            logits = model(x)
            parts.append(-F.cross_entropy(logits.transpose(1, 2), y, reduction="none"))
        return torch.cat(parts)

    return fn


def ngram_log_probs(model: NGram) -> LogProbFn:
    return model.log_probs


# --8<-- [start:measure]
def measure(log_prob: LogProbFn, context: int = 64) -> dict[str, Any]:
    """Validation loss, loss by position and copy loss (nats per char)."""
    lp = log_prob(validation_windows(context))  # (W, context)
    windows, first, second = copy_windows(context)
    cp = log_prob(windows)  # (count, context)
    return {
        "val_loss": -float(lp.mean()),
        "loss_by_position": [round(-float(v), 4) for v in lp.mean(0)],
        "first_copy_loss": -float(cp[first].mean()),
        "copy_loss": -float(cp[second].mean()),
    }


# --8<-- [end:measure]


def progress(steps: int, desc: str) -> Iterator[int]:
    """range(steps) with a tqdm bar when tqdm is installed, else a line per 10%."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        every = max(steps // 10, 1)
        for i in range(steps):
            if i % every == 0:
                print(f"{desc}: step {i}/{steps}", file=sys.stderr, flush=True)
            yield i
        return
    yield from tqdm(range(steps), desc=desc, mininterval=1.0)


# --8<-- [start:fit]
def fit(model: nn.Module, config: TrainConfig, desc: str = "train") -> dict[str, Any]:
    """Train `model` on `training_batch` windows with AdamW.

    Each step: forward, mean cross-entropy over every position, backward,
    clip the gradient norm at 1, one AdamW step.
    """
    vocab, train_ids, _ = moby_dick()
    letters = letter_ids(vocab)
    g = torch.Generator().manual_seed(config.data_seed)
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    losses, evals, running = [], [], 0.0
    small = neural_log_probs(model)
    start = time.perf_counter()
    for step in progress(config.steps, desc):
        model.train()
        x, y = training_batch(train_ids, letters, config.batch, config.context, g)
        logits = model(x)  # (B, n, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        if (step + 1) % 25 == 0:
            losses.append([step + 1, round(running / 25, 4)])
            running = 0.0
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            evals.append([step + 1, *quick_eval(small, config.context)])
    seconds = time.perf_counter() - start
    return {"losses": losses, "evals": evals, "train_seconds": round(seconds, 1)}


# --8<-- [end:fit]


def quick_eval(log_prob: LogProbFn, context: int) -> list[float]:
    """Validation loss on 64 windows and copy loss on 64 copy windows."""
    lp = log_prob(validation_windows(context)[:64])
    windows, _, second = copy_windows(context, 64)
    cp = log_prob(windows)
    return [round(-float(lp.mean()), 4), round(-float(cp[second].mean()), 4)]


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


# --8<-- [start:training_runs]
TRAINING_RUNS: dict[str, Callable[[Path], dict[str, Any]]] = {}


def training_run(
    name: str,
) -> Callable[[Callable[[Path], dict[str, Any]]], Callable[[Path], dict[str, Any]]]:
    """Register `fn(out_dir) -> log` as the training run `name`."""

    def register(
        fn: Callable[[Path], dict[str, Any]],
    ) -> Callable[[Path], dict[str, Any]]:
        TRAINING_RUNS[name] = fn
        return fn

    return register


# --8<-- [end:training_runs]

LM_SIZES = {"d_model": 48, "n_layers": 2, "n_heads": 4, "context": 64}
MLP_SIZES = {"window": 8, "d_embed": 16, "hidden": 300}
BUDGET = TrainConfig()


def save_run(
    out: Path,
    name: str,
    model: nn.Module | None,
    model_config: dict[str, Any],
    log: dict[str, Any],
) -> dict[str, Any]:
    """Write `<name>.pt` (config and weights) and `<name>.json` (the log)."""
    out.mkdir(parents=True, exist_ok=True)
    if model is not None:
        torch.save(
            {"config": model_config, "state_dict": model.state_dict()},
            out / f"{name}.pt",
        )
    (out / f"{name}.json").write_text(json.dumps(log, indent=1) + "\n")
    return log


def _header(name: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "model_config": config,
        "machine": machine(),
        "load_average_before": load_average(),
    }


@training_run("lm")
def train_transformer(out: Path) -> dict[str, Any]:
    """The 2-layer transformer with MLPs, context 64."""
    vocab, _, _ = moby_dick()
    torch.manual_seed(BUDGET.seed)
    model = TransformerLM(len(vocab), **LM_SIZES)  # type: ignore[arg-type]
    config = asdict(model.config)
    log = _header("lm", "transformer", config)
    log["parameters"] = count_parameters(model)
    log["train"] = asdict(BUDGET)
    log.update(fit(model, BUDGET, "lm"))
    log["load_average_after"] = load_average()
    log.update(measure(neural_log_probs(model), BUDGET.context))
    return save_run(out, "lm", model, config, log)


@training_run("window-mlp")
def train_window_mlp(out: Path) -> dict[str, Any]:
    """The fixed-window MLP: 8 characters, about the transformer's size."""
    vocab, _, _ = moby_dick()
    torch.manual_seed(BUDGET.seed)
    model = WindowMLP(len(vocab), **MLP_SIZES)
    config = {"vocab_size": len(vocab), **MLP_SIZES}
    log = _header("window-mlp", "window MLP", config)
    log["parameters"] = count_parameters(model)
    log["train"] = asdict(BUDGET)
    log.update(fit(model, BUDGET, "window-mlp"))
    log["load_average_after"] = load_average()
    log.update(measure(neural_log_probs(model), BUDGET.context))
    return save_run(out, "window-mlp", model, config, log)


@training_run("ngrams")
def count_ngrams(out: Path) -> dict[str, Any]:
    """n-gram counts, orders 1 to 5, on the plain training text."""
    vocab, train_ids, _ = moby_dick()
    log = _header("ngrams", "n-gram counts", {"orders": [1, 2, 3, 4, 5]})
    start = time.perf_counter()
    log["orders"] = {}
    for order in range(1, 6):
        model = NGram(order, len(vocab)).fit(train_ids)
        log["orders"][str(order)] = measure(ngram_log_probs(model), BUDGET.context)
    log["train_seconds"] = round(time.perf_counter() - start, 1)
    log["load_average_after"] = load_average()
    return save_run(out, "ngrams", None, log["model_config"], log)


def read_log(name: str) -> dict[str, Any]:
    """The committed training log `<name>.json` (package data)."""
    res = importlib.resources.files("selfattn") / "checkpoints" / f"{name}.json"
    data: dict[str, Any] = json.loads(res.read_text())
    return data


def load_window_mlp(name: str = "window-mlp") -> WindowMLP:
    """The committed `WindowMLP` checkpoint, in eval mode."""
    import io

    from selfattn.lm import checkpoint_bytes

    state = torch.load(io.BytesIO(checkpoint_bytes(name)), weights_only=True)
    model = WindowMLP(**state["config"])
    model.load_state_dict(state["state_dict"])
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    for module in RUN_MODULES:
        importlib.import_module(module)
    # Under `python -m selfattn.lm_train` this file runs as `__main__`, and the other
    # modules register their runs in the imported `selfattn.lm_train`: use its table.
    registry = importlib.import_module("selfattn.lm_train").TRAINING_RUNS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"runs (default: all) of {sorted(registry)}"
    )
    parser.add_argument("--out", type=Path, default=CHECKPOINTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    names = args.names or list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        parser.error(f"unknown runs {unknown}; known: {sorted(registry)}")
    total = time.perf_counter()
    for name in names:
        log = registry[name](args.out)
        summary = {k: log[k] for k in ("val_loss", "copy_loss") if k in log}
        print(f"{name}: {log.get('train_seconds')} s {summary}", flush=True)
    print(f"all runs: {time.perf_counter() - total:.0f} s", flush=True)


if __name__ == "__main__":
    main()
