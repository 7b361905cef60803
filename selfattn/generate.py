"""Generating text with a `TransformerLM`: greedy, temperature and top-k sampling,
with or without the KV cache.

Without the cache every step runs the model over the whole text so far and keeps
the last position's scores. With it, the prompt goes through once (in chunks of at
most `context` tokens), then each step feeds one token and reuses every earlier
key and value. Both see exactly the same keys (the model's window of `context`
tokens), so their scores agree to float32 rounding and greedy decoding picks the
same tokens (`tests/test_generate.py` checks it at every step).
"""

from __future__ import annotations

from typing import Any

import torch

from selfattn._checks import _describe, check_positive_int, checked_by
from selfattn.corpus import Vocab
from selfattn.lm import TransformerLM


def check_sample_args(
    logits: Any,
    *,
    temperature: Any = 0.0,
    top_k: Any = None,
    generator: Any = None,
) -> None:
    """`logits` a float (B, V) tensor; `temperature` >= 0; `top_k` None or in
    1 .. V; `generator` None or a `torch.Generator`."""
    if not isinstance(logits, torch.Tensor) or not logits.dtype.is_floating_point:
        raise TypeError(
            f"logits must be a float tensor (B, V), got {_describe(logits)}"
        )
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a float, got {_describe(temperature)}")
    if not temperature >= 0.0 or temperature == float("inf"):
        raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
    if top_k is not None:
        check_positive_int("top_k", top_k)
        if top_k > logits.shape[-1]:
            raise ValueError(
                f"top_k must be at most the vocabulary size {logits.shape[-1]}, "
                f"got {top_k}"
            )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {_describe(generator)}"
        )


@checked_by(check_sample_args)
# --8<-- [start:next_token]
def next_token(
    logits: torch.Tensor,
    *,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token from scores (B, V) -> ids (B,).

    `temperature=0`: greedy, the highest score (ties: the lowest id).
    Otherwise sample from `softmax(logits / temperature)`, keeping only
    the `top_k` highest scores when `top_k` is given.
    """
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    scaled = logits / temperature
    if top_k is not None:
        kth = scaled.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = scaled.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


# --8<-- [end:next_token]


def check_generate_args(
    model: Any,
    ids: Any,
    n_new: Any,
    *,
    temperature: Any = 0.0,
    top_k: Any = None,
    seed: Any = None,
    use_cache: Any = True,
) -> None:
    """A `TransformerLM`, ids (B, n) long with n >= 1, `n_new` >= 0, a seed int or
    None, `use_cache` a bool (the sampling arguments as `next_token`)."""
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must be a TransformerLM, got {_describe(model)}")
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError(f"ids must be a torch.long tensor (B, n), got {_describe(ids)}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(f"ids must have shape (B, n), n >= 1, got {tuple(ids.shape)}")
    check_positive_int("n_new", n_new, minimum=0)
    if seed is not None:
        check_positive_int("seed", seed, minimum=0)
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {_describe(use_cache)}")
    fake = torch.zeros(1, model.config.vocab_size)
    check_sample_args(fake, temperature=temperature, top_k=top_k)


@checked_by(check_generate_args)
# --8<-- [start:generate]
@torch.no_grad()
def generate(
    model: TransformerLM,
    ids: torch.Tensor,
    n_new: int,
    *,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append `n_new` tokens to `ids` (B, n), one at a time.

    Returns the ids (B, n + n_new) and the scores each step chose
    from (B, n_new, V).
    """
    g = None if seed is None else torch.Generator().manual_seed(seed)
    out, scores = ids, []
    if use_cache:
        cache = model.new_cache(ids.shape[0])
        step = model.config.context  # the prompt in chunks that fit
        for i in range(0, ids.shape[1], step):
            logits = model(ids[:, i : i + step], cache=cache)
    for i in range(n_new):
        if not use_cache:
            logits = model(out)  # the whole text, every step
        elif i > 0:
            logits = model(out[:, -1:], cache=cache)  # one token in
        last = logits[:, -1]  # (B, V): scores for the next token
        new = next_token(last, temperature=temperature, top_k=top_k, generator=g)
        out = torch.cat([out, new[:, None]], dim=1)
        scores.append(last)
    empty = ids.new_zeros((ids.shape[0], 0, model.config.vocab_size)).float()
    return out, torch.stack(scores, dim=1) if scores else empty


# --8<-- [end:generate]


def generate_text(
    model: TransformerLM,
    vocab: Vocab,
    prompt: str,
    n_new: int,
    **options: Any,
) -> str:
    """`prompt` and `n_new` generated characters; unknown characters of the
    prompt become `corpus.REPLACEMENT`. `options` go to `generate`."""
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a Vocab, got {_describe(vocab)}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
    ids = vocab.encode(prompt, errors="replace")[None, :]  # (1, n)
    out, _ = generate(model, ids, n_new, **options)
    return vocab.decode(out[0])
