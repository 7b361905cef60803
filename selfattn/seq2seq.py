"""Cross-attention: a small encoder-decoder that learns to reverse strings.

The encoder reads a string of letters with self-attention that sees every position
(no causal mask; padding hidden). The decoder writes the reversed string one letter
at a time with causal self-attention over what it has written, and *cross-attention*
over the encoder's output: its queries come from the decoder, its keys and values
from the encoder. Reversing has a known right alignment: output letter `j` of a
string of length `L` is input letter `L - 1 - j`, so the cross-attention weights
should form an anti-diagonal, which `tests/test_seq2seq.py` checks.

Run `python -m selfattn.seq2seq` (or `nox -s train`) to train from the seed and write
`reverse.pt` and `reverse.json` into the package's checkpoint folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn._checks import (
    check_positive_int,
    check_sequence,
    checked_by,
    checked_module,
)
from selfattn.positions import sinusoidal_positions
from selfattn.simplified import attention_weights, context_vectors

PAD, BOS, EOS = 0, 1, 2  # special tokens; letter c (0 = "a") is token 3 + c
FIRST_LETTER = 3
IGNORE = -100  # cross_entropy skips targets with this value
NAME = "reverse"


# --8<-- [start:ReverseConfig]
@dataclass(frozen=True)
class ReverseConfig:
    """The task (strings of `min_len` to `max_len` random letters), the model's
    size and the training schedule."""

    letters: int = 26  # a .. z
    min_len: int = 4
    max_len: int = 12
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2  # encoder layers, and decoder layers
    steps: int = 1500
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0  # initial weights and training batches
    held_out_seed: int = 1  # the held-out strings: a seed training never uses
    held_out: int = 1000

    @property
    def vocab(self) -> int:
        return FIRST_LETTER + self.letters  # PAD, BOS, EOS, then the letters


# --8<-- [end:ReverseConfig]


def check_config(config: Any, *args: Any, **kwargs: Any) -> None:
    """A `ReverseConfig`."""
    if not isinstance(config, ReverseConfig):
        raise TypeError(f"config must be a ReverseConfig, got {type(config).__name__}")


def check_reverse_batch_args(
    config: Any, n_seq: Any, generator: Any = None, *args: Any, **kwargs: Any
) -> None:
    """A `ReverseConfig`, a positive number of strings, a generator or None."""
    check_config(config)
    check_positive_int("n_seq", n_seq)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got "
            f"{type(generator).__name__}"
        )


@checked_by(check_reverse_batch_args)
# --8<-- [start:reverse_batch]
def reverse_batch(
    config: ReverseConfig, n_seq: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random strings and their reversals, as token ids.

    `src` (n_seq, max_len): the letters, then `PAD`. `tgt_in`
    (n_seq, max_len + 1): `BOS`, then the reversed letters (what the
    decoder reads). `tgt_out`: the reversed letters, then `EOS` (what it
    must write), `-100` (ignored by the loss) after.
    """
    lengths = torch.randint(
        config.min_len, config.max_len + 1, (n_seq,), generator=generator
    )
    letters = torch.randint(
        config.letters, (n_seq, config.max_len), generator=generator
    )
    pos = torch.arange(config.max_len)  # (max_len,)
    real = pos < lengths[:, None]  # (n_seq, max_len): inside the string
    src = torch.where(real, letters + FIRST_LETTER, PAD)
    # Position j of the reversal reads position L - 1 - j of the string.
    mirror = (lengths[:, None] - 1 - pos).clamp(min=0)  # (n_seq, max_len)
    reverse = torch.where(real, src.gather(1, mirror), PAD)
    tgt_in = torch.cat([torch.full((n_seq, 1), BOS), reverse], dim=1)
    tgt_out = torch.cat([reverse, torch.full((n_seq, 1), PAD)], dim=1)
    tgt_out[torch.arange(n_seq), lengths] = EOS  # right after the last letter
    tgt_out[tgt_out == PAD] = IGNORE
    return src, tgt_in, tgt_out


# --8<-- [end:reverse_batch]


def check_attention_config(d_model: Any, n_heads: Any) -> None:
    """Positive sizes, `n_heads` dividing `d_model`."""
    check_positive_int("d_model", d_model)
    check_positive_int("n_heads", n_heads)
    if d_model % n_heads:
        raise ValueError(
            f"d_model must be divisible by n_heads, got d_model={d_model}, "
            f"n_heads={n_heads}"
        )


def check_attention_input(
    module: Any,
    x: Any,
    memory: Any = None,
    *,
    keep: Any = None,
    causal: Any = False,
) -> None:
    """`x` (..., n, d_model); `memory` (..., m, d_model) or None; `keep` bool."""
    check_sequence("x", x, module.d_model)
    if memory is not None:
        check_sequence("memory", memory, module.d_model)
    if keep is not None and (
        not isinstance(keep, torch.Tensor) or keep.dtype != torch.bool
    ):
        got = keep.dtype if isinstance(keep, torch.Tensor) else type(keep).__name__
        raise TypeError(f"keep must be a bool tensor or None, got {got}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {causal!r}")


@checked_module(init=check_attention_config, forward=check_attention_input)
# --8<-- [start:Attention]
class Attention(nn.Module):
    """Multi-head attention whose keys and values come from `memory`
    (cross-attention) or, when `memory` is None, from `x` itself
    (self-attention). `keep` (bool, broadcast to (..., n, m)) hides keys
    where it is False; `causal` also hides later keys. Shapes: `x`
    (..., n, d), `memory` (..., m, d) -> output (..., n, d) and
    weights (..., h, n, m).
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.W_query = nn.Linear(d_model, d_model, bias=False)
        self.W_key = nn.Linear(d_model, d_model, bias=False)
        self.W_value = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model)

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        t = t.view(*t.shape[:-1], self.n_heads, -1)  # (..., n, h, d_h)
        return t.transpose(-3, -2)  # (..., h, n, d_h)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        keep: torch.Tensor | None = None,
        causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        source = x if memory is None else memory  # where keys come from
        q = self.split_heads(self.W_query(x))  # (..., h, n, d_h)
        k = self.split_heads(self.W_key(source))  # (..., h, m, d_h)
        v = self.split_heads(self.W_value(source))  # (..., h, m, d_h)
        if keep is not None:
            keep = keep.unsqueeze(-3)  # (..., 1, n, m): the same for every head
        weights = attention_weights(q, k, mask=keep, causal=causal)
        z = context_vectors(weights, v)  # (..., h, n, d_h)
        z = z.transpose(-3, -2).reshape(x.shape)  # (..., n, d)
        out: torch.Tensor = self.out_proj(z)
        return out, weights


# --8<-- [end:Attention]


# --8<-- [start:layers]
def feed_forward(d_model: int) -> nn.Sequential:
    """The per-position MLP: `W_2 relu(W_1 x)`, 4x wider inside."""
    return nn.Sequential(
        nn.Linear(d_model, 4 * d_model), nn.ReLU(), nn.Linear(4 * d_model, d_model)
    )


class EncoderLayer(nn.Module):
    """Pre-norm self-attention over the whole string, then an MLP."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads)
        self.mlp = feed_forward(d_model)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), keep=keep)[0]  # sees every letter
        return x + self.mlp(self.norm2(x))  # type: ignore[no-any-return]


class DecoderLayer(nn.Module):
    """Causal self-attention over the output so far, cross-attention
    over the encoder's output, then an MLP; pre-norm, residual."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = Attention(d_model, n_heads)
        self.cross_attn = Attention(d_model, n_heads)
        self.mlp = feed_forward(d_model)

    def forward(
        self, y: torch.Tensor, memory: torch.Tensor, keep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y = y + self.self_attn(self.norms[0](y), causal=True)[0]
        # Queries from the decoder, keys and values from the encoder.
        z, cross = self.cross_attn(self.norms[1](y), memory, keep=keep)
        y = y + z
        return y + self.mlp(self.norms[2](y)), cross


# --8<-- [end:layers]


def check_src_tgt(module: Any, src: Any, tgt_in: Any) -> None:
    """Token ids `src` (b, m <= max_len) and `tgt_in` (b, n <= max_len + 1)."""
    config = module.config
    for name, ids, most in (
        ("src", src, config.max_len),
        ("tgt_in", tgt_in, config.max_len + 1),
    ):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"{name} must be a torch.long tensor, got {got}")
        if ids.dim() != 2 or not 1 <= ids.shape[1] <= most:
            raise ValueError(
                f"{name} must have shape (batch, n) with 1 <= n <= {most}, got "
                f"shape {tuple(ids.shape)}"
            )
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < config.vocab:
            raise ValueError(
                f"{name} must hold token ids in [0, {config.vocab}), got values "
                f"from {int(ids.min())} to {int(ids.max())}"
            )
    if src.shape[0] != tgt_in.shape[0]:
        raise ValueError(
            f"src and tgt_in must have the same batch size, got {src.shape[0]} "
            f"and {tgt_in.shape[0]}"
        )


@checked_module(init=check_config, forward=check_src_tgt)
# --8<-- [start:Reverser]
class Reverser(nn.Module):
    """Encoder-decoder: token and sinusoidal position embeddings, then
    `n_layers` encoder and `n_layers` decoder layers, a final norm and a
    linear head. `forward(src, tgt_in)` -> logits (b, n, vocab) and each
    decoder layer's cross-attention weights (b, h, n, m).
    """

    positions: torch.Tensor

    def __init__(self, config: ReverseConfig) -> None:
        super().__init__()
        self.config = config
        d, h = config.d_model, config.n_heads
        self.embed = nn.Embedding(config.vocab, d)  # shared by both sides
        pe = sinusoidal_positions(config.max_len + 1, d)  # Part III
        self.register_buffer("positions", pe, persistent=False)
        self.encoder = nn.ModuleList(EncoderLayer(d, h) for _ in range(config.n_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d, h) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.vocab)

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids) + self.positions[: ids.shape[-1]]  # type: ignore[no-any-return]

    def forward(
        self, src: torch.Tensor, tgt_in: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        keep = (src != PAD)[:, None, :]  # (b, 1, m): padding is never a key
        x = self.embed_ids(src)  # (b, m, d)
        for layer in self.encoder:
            x = layer(x, keep)
        y, crosses = self.embed_ids(tgt_in), []  # (b, n, d)
        for layer in self.decoder:
            y, cross = layer(y, x, keep)
            crosses.append(cross)  # (b, h, n, m)
        logits: torch.Tensor = self.head(self.norm(y))  # (b, n, vocab)
        return logits, crosses


# --8<-- [end:Reverser]


def check_model_src(model: Any, src: Any, *args: Any, **kwargs: Any) -> None:
    """A `Reverser` and token ids `src` (b, m)."""
    if not isinstance(model, Reverser):
        raise TypeError(f"model must be a Reverser, got {type(model).__name__}")
    tgt = torch.full((src.shape[0] if isinstance(src, torch.Tensor) else 1, 1), BOS)
    check_src_tgt(model, src, tgt)


@checked_by(check_model_src)
# --8<-- [start:greedy_reverse]
@torch.no_grad()
def greedy_reverse(model: Reverser, src: torch.Tensor) -> torch.Tensor:
    """Decode greedily: start from `BOS`, append the most likely token,
    `max_len + 1` times. Shapes: `src` (b, m) -> (b, max_len + 1), the
    tokens written (`EOS` ends a string; what follows it is ignored).
    """
    out = torch.full((src.shape[0], 1), BOS)
    for _ in range(model.config.max_len + 1):
        logits, _ = model(src, out)  # (b, n, vocab)
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)  # (b, 1)
        out = torch.cat([out, next_id], dim=1)
    return out[:, 1:]  # without BOS


# --8<-- [end:greedy_reverse]


def exact_match(written: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
    """Per string: True when every letter and the `EOS` are right.

    Shapes: `written` (b, n), `tgt_out` (b, n) with `-100` after `EOS`.
    """
    scored = tgt_out != IGNORE
    return ((written == tgt_out) | ~scored).all(dim=1)


def loss_fn(
    model: Reverser, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of every letter and the `EOS` (teacher forcing)."""
    logits, _ = model(src, tgt_in)
    return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=IGNORE)


def check_alignment_args(cross: Any, src: Any) -> None:
    """`cross` float (b, n, m) and `src` long (b, m)."""
    if not isinstance(cross, torch.Tensor) or not cross.dtype.is_floating_point:
        raise TypeError("cross must be a floating-point tensor (b, n, m)")
    if not isinstance(src, torch.Tensor) or src.dtype != torch.long:
        raise TypeError("src must be a torch.long tensor (b, m)")
    if cross.dim() != 3 or src.dim() != 2 or cross.shape[::2] != src.shape:
        raise ValueError(
            f"cross must be (b, n, m) and src (b, m), got {tuple(cross.shape)} and "
            f"{tuple(src.shape)}"
        )


@checked_by(check_alignment_args)
# --8<-- [start:mirrored_fraction]
def mirrored_fraction(cross: torch.Tensor, src: torch.Tensor) -> float:
    """The fraction of output letters whose cross-attention peaks on the
    mirrored input letter: `argmax_i A[j, i] == L - 1 - j` for the
    letters `j < L` of each string of length `L`.

    Shapes: `cross` (b, n, m) (one head, or the mean of the heads),
    `src` (b, m) padded with `PAD`.
    """
    lengths = (src != PAD).sum(dim=1, keepdim=True)  # (b, 1)
    j = torch.arange(cross.shape[1])  # output positions
    letters = j < lengths  # (b, n): outputs that write a letter
    mirrored = lengths - 1 - j  # (b, n): where each should look
    hit = cross.argmax(dim=-1) == mirrored  # (b, n)
    return float(hit[letters].float().mean())


# --8<-- [end:mirrored_fraction]


@dataclass
class ReverseResult:
    """What `train_reverser` returns."""

    model: Reverser
    losses: list[float]
    seconds: float


@checked_by(check_config)
# --8<-- [start:train_reverser]
def train_reverser(config: ReverseConfig) -> ReverseResult:
    """Train a `Reverser` from `config.seed` with AdamW, the learning rate
    decaying linearly to 0; deterministic on CPU."""
    torch.manual_seed(config.seed)
    model = Reverser(config)
    data = torch.Generator().manual_seed(config.seed)  # the training batches
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    # The learning rate falls linearly from `lr` to 0 over the run.
    decay = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 1 - step / config.steps
    )
    losses, start = [], time.perf_counter()
    for _ in range(config.steps):
        loss = loss_fn(model, *reverse_batch(config, config.batch, data))
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        decay.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    return ReverseResult(model.eval(), losses, seconds)


# --8<-- [end:train_reverser]


def held_out_strings(config: ReverseConfig) -> tuple[torch.Tensor, ...]:
    """Fresh strings to measure on: `config.held_out` of them from
    `held_out_seed`, a seed training never uses (a short string may still
    equal a training string by chance)."""
    generator = torch.Generator().manual_seed(config.held_out_seed)
    return reverse_batch(config, config.held_out, generator)


@torch.no_grad()
def evaluate(
    model: Reverser, src: torch.Tensor, tgt_out: torch.Tensor, tgt_in: torch.Tensor
) -> dict[str, Any]:
    """Exact match of greedy decoding, and the mirrored fraction of each
    decoder layer's cross-attention (mean of the heads, and each head)."""
    written = greedy_reverse(model, src)
    _, crosses = model(src, tgt_in)
    return {
        "exact_match": float(exact_match(written, tgt_out).float().mean()),
        "mirrored": [mirrored_fraction(c.mean(dim=1), src) for c in crosses],
        "mirrored_per_head": [
            [mirrored_fraction(c[:, h], src) for h in range(c.shape[1])]
            for c in crosses
        ],
    }


def checkpoint_dir() -> Path:
    """The package's checkpoint folder (shipped in the wheel)."""
    return Path(str(resources.files("selfattn") / "checkpoints"))


def load_reverser(directory: Path | None = None) -> tuple[Reverser, dict[str, Any]]:
    """The committed model and its metrics."""
    directory = checkpoint_dir() if directory is None else directory
    state = torch.load(directory / f"{NAME}.pt", weights_only=True)
    config = ReverseConfig(**state["config"])
    model = Reverser(config)
    model.load_state_dict(state["model"])
    metrics = json.loads((directory / f"{NAME}.json").read_text())
    return model.eval(), metrics


def save_reverser(
    result: ReverseResult, config: ReverseConfig, directory: Path
) -> dict[str, Any]:
    """Write `reverse.pt` (config and weights) and `reverse.json` (metrics)."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"config": asdict(config), "model": result.model.state_dict()},
        directory / f"{NAME}.pt",
    )
    src, tgt_in, tgt_out = held_out_strings(config)
    metrics = {
        "task": "reverse strings of random letters",
        "config": asdict(config),
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "train_seconds": round(result.seconds, 2),
        **evaluate(result.model, src, tgt_out, tgt_in),
        "losses": [round(x, 4) for x in result.losses[::10]],
    }
    (directory / f"{NAME}.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # same result on any machine's thread count
    config = ReverseConfig()
    if args.steps is not None:
        config = ReverseConfig(steps=args.steps)
    result = train_reverser(config)
    metrics = save_reverser(result, config, args.out or checkpoint_dir())
    print(
        f"reverser: {result.seconds:.1f} s, exact match "
        f"{metrics['exact_match']:.4f}, mirrored {metrics['mirrored']}"
    )


if __name__ == "__main__":
    main()


def _register_run() -> None:
    """Register the reverser with `selfattn.lm_train`, which `nox -s train` runs."""
    from selfattn.lm_train import training_run

    def run(out: Path) -> dict[str, Any]:
        config = ReverseConfig()
        return save_reverser(train_reverser(config), config, out)

    training_run(NAME)(run)


_register_run()
