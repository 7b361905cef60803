"""A small model trained on a task where where-to-look is the whole job.

The task, *look back*: a sequence of random tokens; at every position from the third
on, the model must name the token one position back **and** the token two positions
back. The only way information moves between positions is attention (there is no
residual path and no feed-forward layer), so the model must learn where to look.
It has two heads, and nothing in their code tells them apart: whether they end up
looking at different places is for training to decide, and for the tests to check.

Run `python -m selfattn.train` (or `nox -s train`) to train from the seed and
write the checkpoint and its metrics to `selfattn/checkpoints/`. They ship inside
the package (package data), so `load_look_back()` and `look_back_metrics()` read
them wherever `selfattn` is installed; the site draws its figures from them and
`tests/test_train.py` checks them.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn._checks import check_positive_int, checked_by, checked_module
from selfattn.multihead import MultiHeadAttention

# Inside the package, so that the wheel carries the checkpoint (package data).
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINT = CHECKPOINT_DIR / "look-back.pt"
METRICS = CHECKPOINT_DIR / "look-back.json"
IGNORE = -100  # cross_entropy skips targets with this value


# --8<-- [start:TaskConfig]
@dataclass(frozen=True)
class TaskConfig:
    """The data recipe, the model's size and the training schedule."""

    vocab: int = 10  # tokens are the integers 0 .. vocab - 1
    length: int = 12  # tokens per sequence
    offsets: tuple[int, ...] = (1, 2)  # name the tokens 1 and 2 back
    d_model: int = 32  # embedding size = d_out of the attention
    num_heads: int = 2
    steps: int = 600
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0  # model initialisation and training batches
    held_out_seed: int = 1  # a separate generator for the held-out set
    held_out: int = 1000  # held-out sequences


# --8<-- [end:TaskConfig]


def check_batch_args(
    config: Any, n_seq: Any, generator: Any = None, *args: Any, **kwargs: Any
) -> None:
    """A `TaskConfig` and a positive number of sequences."""
    if not isinstance(config, TaskConfig):
        raise TypeError(f"config must be a TaskConfig, got {type(config).__name__}")
    check_positive_int("n_seq", n_seq)


@checked_by(check_batch_args)
# --8<-- [start:look_back_batch]
def look_back_batch(
    config: TaskConfig,
    n_seq: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random sequences and, per position, the tokens `offsets` back.

    Shapes: tokens `(n_seq, length)`; targets
    `(n_seq, length, len(offsets))`, `-100` (ignored by the loss)
    where a position has no token that far back.
    """
    shape = (n_seq, config.length)
    tokens = torch.randint(config.vocab, shape, generator=generator)
    targets = torch.full((*shape, len(config.offsets)), IGNORE)
    for t, offset in enumerate(config.offsets):
        targets[:, offset:, t] = tokens[:, :-offset]  # `offset` back
    return tokens, targets


# --8<-- [end:look_back_batch]


def check_config(config: Any, *args: Any, **kwargs: Any) -> None:
    """A `TaskConfig`."""
    if not isinstance(config, TaskConfig):
        raise TypeError(f"config must be a TaskConfig, got {type(config).__name__}")


def check_tokens(module: Any, tokens: Any) -> None:
    """`tokens`: an integer tensor `(..., n)` with `n <= length`, values < vocab."""
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        got = (
            tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        )
        raise TypeError(f"tokens must be a torch.long tensor, got {got}")
    if tokens.dim() < 1 or not 1 <= tokens.shape[-1] <= module.config.length:
        raise ValueError(
            f"tokens must have shape (..., n) with 1 <= n <= {module.config.length}, "
            f"got shape {tuple(tokens.shape)}"
        )
    if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < (
        module.config.vocab
    ):
        raise ValueError(
            f"tokens must lie in [0, {module.config.vocab}), got values from "
            f"{int(tokens.min())} to {int(tokens.max())}"
        )


@checked_module(init=check_config, forward=check_tokens, head_weights=check_tokens)
# --8<-- [start:LookBackModel]
class LookBackModel(nn.Module):
    """Embeddings, one causal `MultiHeadAttention`, one linear read-out,
    no residual connection: an answer comes only from where the heads look.
    `tokens` (..., n) -> logits (..., n, len(offsets), vocab).
    """

    def __init__(self, config: TaskConfig) -> None:
        super().__init__()
        self.config = config
        d, n = config.d_model, config.length
        self.token_embedding = nn.Embedding(config.vocab, d)
        self.position_embedding = nn.Embedding(n, d)  # where a token is
        self.attn = MultiHeadAttention(d, d, n, config.num_heads)
        # One row of vocab scores per offset: the answers.
        self.readout = nn.Linear(d, len(config.offsets) * config.vocab)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[-1], device=tokens.device)
        x: torch.Tensor = self.token_embedding(tokens)  # (..., n, d)
        where: torch.Tensor = self.position_embedding(positions)  # (n, d)
        return x + where  # (..., n, d)

    def head_weights(self, tokens: torch.Tensor) -> torch.Tensor:
        """Every head's attention weights: (..., n) -> (..., h, n, n)."""
        x = self.embed(tokens)  # (..., n, d)
        weights: torch.Tensor = self.attn.attention_weights(x)
        return weights

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        context = self.attn(self.embed(tokens))  # (..., n, d)
        logits: torch.Tensor = self.readout(context)  # (..., n, k * vocab)
        k, vocab = len(self.config.offsets), self.config.vocab
        return logits.view(*logits.shape[:-1], k, vocab)  # (..., n, k, vocab)


# --8<-- [end:LookBackModel]


# --8<-- [start:train_step]
def loss_fn(
    model: LookBackModel, tokens: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of every answer, positions without one (-100) left out."""
    logits = model(tokens)  # (b, n, offsets, vocab)
    return F.cross_entropy(
        logits.flatten(0, -2), targets.flatten(), ignore_index=IGNORE
    )


# --8<-- [end:train_step]


@torch.no_grad()
def accuracy(
    model: LookBackModel, tokens: torch.Tensor, targets: torch.Tensor
) -> float:
    """Fraction of the answers (every position, every offset that has one) right."""
    predicted = model(tokens).argmax(dim=-1)  # (b, n, offsets)
    scored = targets != IGNORE
    return float((predicted == targets)[scored].float().mean())


@dataclass
class TrainResult:
    """What `train` returns: the model before and after, and the metrics."""

    initial: LookBackModel
    model: LookBackModel
    losses: list[float] = field(default_factory=list)
    held_out_accuracy: float = 0.0
    initial_accuracy: float = 0.0
    seconds: float = 0.0


@checked_by(check_config)
# --8<-- [start:train]
def train(config: TaskConfig) -> TrainResult:
    """Train a `LookBackModel` from `config.seed` with Adam. With one
    thread (as `main` sets), the same torch on a similar CPU repeats a
    run up to rounding."""
    torch.manual_seed(config.seed)  # the model's initial weights
    model = LookBackModel(config)
    initial = LookBackModel(config)
    initial.load_state_dict(model.state_dict())  # kept for the "before" maps
    data = torch.Generator().manual_seed(config.seed)  # the training batches
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses, start = [], time.perf_counter()
    for _ in range(config.steps):
        tokens, targets = look_back_batch(config, config.batch, data)
        loss = loss_fn(model, tokens, targets)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    held_out = held_out_set(config)  # sequences that training never saw
    return TrainResult(
        initial=initial.eval(),
        model=model.eval(),
        losses=losses,
        held_out_accuracy=accuracy(model, *held_out),
        initial_accuracy=accuracy(initial, *held_out),
        seconds=seconds,
    )


# --8<-- [end:train]


def held_out_generator(config: TaskConfig) -> torch.Generator:
    """The generator of the held-out sequences: a seed the training never uses."""
    return torch.Generator().manual_seed(config.held_out_seed)


def held_out_set(config: TaskConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out sequences and their answers."""
    return look_back_batch(config, config.held_out, held_out_generator(config))


@torch.no_grad()
def mean_head_maps(model: LookBackModel, tokens: torch.Tensor) -> torch.Tensor:
    """Each head's weights averaged over the sequences: (b, n) -> (h, n, n)."""
    return model.head_weights(tokens).mean(dim=0)


# --8<-- [start:head_distance]
def head_distance(maps: torch.Tensor, a: int = 0, b: int = 1) -> float:
    """How differently heads `a` and `b` look: the mean over the
    queries of the total variation distance of their rows,
    `0.5 * sum_j |alpha_aj - alpha_bj|`.

    0 when the heads put the same weight on every key, 1 when no key gets
    weight from both. Shapes: `maps` (h, n, n), rows that sum to one.
    """
    rows = 0.5 * (maps[a] - maps[b]).abs().sum(dim=-1)  # (n,)
    return float(rows.mean())


# --8<-- [end:head_distance]


def save(
    result: TrainResult, config: TaskConfig, directory: Path = CHECKPOINT_DIR
) -> None:
    """Write `look-back.pt` (both models' weights and the config) and `look-back.json`
    (seed, data recipe, versions, metrics)."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "config": asdict(config),
            "initial": result.initial.state_dict(),
            "trained": result.model.state_dict(),
        },
        directory / CHECKPOINT.name,
    )
    tokens, _ = held_out_set(config)
    before = mean_head_maps(result.initial, tokens)
    after = mean_head_maps(result.model, tokens)
    metrics = {
        "task": "look back: name the tokens 1 and 2 positions back",
        "config": asdict(config),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": _machine(),
        "threads": torch.get_num_threads(),
        "train_seconds": round(result.seconds, 2),
        "held_out_accuracy": result.held_out_accuracy,
        "initial_accuracy": result.initial_accuracy,
        "head_distance": {
            "untrained": head_distance(before),
            "trained": head_distance(after),
        },
        "losses": [round(x, 5) for x in result.losses],
    }
    (directory / METRICS.name).write_text(json.dumps(metrics, indent=1) + "\n")


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "unknown"
    threads = torch.get_num_threads()
    plural = "" if threads == 1 else "s"
    return f"{model}, {threads} torch thread{plural}, load average {load}"


def load_checkpoint(
    path: Path = CHECKPOINT,
) -> tuple[TaskConfig, LookBackModel, LookBackModel]:
    """The config, the untrained model and the trained model from a checkpoint
    file written by `save` (for the one shipped with the package, call
    `load_look_back()`)."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"path must be a checkpoint file written by selfattn.train.save, "
            f"got {str(path)!r}, which does not exist"
        )
    with open(path, "rb") as file:
        return _models_from(torch.load(file, weights_only=True))


def _models_from(
    state: dict[str, Any],
) -> tuple[TaskConfig, LookBackModel, LookBackModel]:
    raw = dict(state["config"])
    raw["offsets"] = tuple(raw["offsets"])
    config = TaskConfig(**raw)
    models = []
    for key in ("initial", "trained"):
        model = LookBackModel(config)
        model.load_state_dict(state[key])
        models.append(model.eval())
    return config, models[0], models[1]


# --8<-- [start:load_look_back]
def load_look_back() -> tuple[TaskConfig, LookBackModel, LookBackModel]:
    """The look-back model that ships inside `selfattn`: its config, the
    model before training and the model after, both in evaluation mode.

    Reads `selfattn/checkpoints/look-back.pt` with `importlib.resources`,
    so it works from the wheel, outside this repository.
    """
    shipped = importlib.resources.files("selfattn") / "checkpoints"
    with (shipped / "look-back.pt").open("rb") as file:
        state = torch.load(file, weights_only=True)
    return _models_from(state)


def look_back_metrics() -> dict[str, Any]:
    """What the shipped run measured (`look-back.json`): seed, data recipe,
    versions, machine, accuracy, head distances and the loss of every step."""
    shipped = importlib.resources.files("selfattn") / "checkpoints"
    metrics: dict[str, Any] = json.loads((shipped / "look-back.json").read_text())
    return metrics


# --8<-- [end:load_look_back]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # same result on any machine's thread count
    config = TaskConfig()
    result = train(config)
    save(result, config, args.out)
    print(
        f"trained in {result.seconds:.1f} s: held-out accuracy "
        f"{result.held_out_accuracy:.4f} (untrained {result.initial_accuracy:.4f}); "
        f"wrote {args.out}"
    )


if __name__ == "__main__":
    main()
