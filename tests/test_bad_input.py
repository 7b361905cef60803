"""Bad input, everywhere: every callable in ``selfattn.__all__`` answers a wrong
argument with a TypeError or ValueError that names that argument, says what was
expected ("must ...") and what came ("got ..."), never with an AttributeError,
IndexError or RuntimeError from deep inside torch.

How the table works, and how to add a public name (one entry each):

* ``TABLE`` maps each public name to a function returning its valid calls: a list
  of ``Call(fn, {argument: valid value}, tied={argument: dims})``. Give tensors at
  their smallest valid rank (no batch dimensions unless required), so that one
  dimension fewer is always wrong. ``tied`` lists, for a tensor argument, the
  dimensions whose size must match another argument (q's last with k's last, ...):
  each is grown by one to make a mismatched shape. ``extra`` adds bad values that
  only this argument rejects (``{"dim": [5]}``: out of range).
* The bad values are derived from each valid value by its type (``mutations``):
  a float tensor gets a string, an integer tensor, a 0-d tensor, one dimension
  fewer and the tied mismatches; a bool mask a string and a float tensor; an int a
  string, a float and a bool; a flag a string and an int; a module a string and a
  module of another class; a dtype an integer dtype.
* A public name that is not a function (data, a Protocol) goes in ``NOT_CALLABLE``
  with the reason. ``test_every_public_name_has_an_entry`` fails for a name in
  ``__all__`` with no entry, so a new function cannot be left out.

Example, for a new ``selfattn.attention_ring(q, k, v, *, world_size)``::

    "attention_ring": lambda: [
        Call(selfattn.attention_ring, {**qkv(), "world_size": 2}, tied=QKV_TIED)
    ],
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

import selfattn


@dataclass
class Call:
    """One valid call ``fn(**args)``: every argument by name."""

    fn: Callable[..., Any]
    args: dict[str, Any]
    tied: dict[str, tuple[int, ...]] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)


def t(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def qkv(n_q: int = 3, n_k: int = 4, d_k: int = 2, d_v: int = 5) -> dict[str, Any]:
    return {"q": t(n_q, d_k), "k": t(n_k, d_k), "v": t(n_k, d_v)}


QKV_TIED = {"q": (-1,), "k": (-1, -2), "v": (-2,)}
MASK = torch.tensor([[True, False, True, True]] * 3)  # (n_q=3, n_k=4)


def attention(fn: Callable[..., Any], **extra: Any) -> list[Call]:
    """An entry of the common calling convention (plus ``extra`` keywords)."""
    args = {**qkv(), "mask": MASK, "scale": 0.5, "causal": True, **extra}
    return [Call(fn, args, tied={**QKV_TIED, "mask": (-1, -2)})]


def module_calls(cls: type[nn.Module], init: dict[str, Any]) -> list[Call]:
    """The constructor, and ``forward`` on an (n, d_in) input."""

    def forward(x: torch.Tensor) -> Any:
        return cls(**init)(x)

    return [
        Call(cls, init, extra={"d_in": [0], "d_out": [0]}),
        Call(forward, {"x": t(4, init["d_in"])}, tied={"x": (-1,)}),
    ]


def multihead_calls(cls: type[nn.Module]) -> list[Call]:
    init = {"d_in": 3, "d_out": 4, "context_length": 6, "num_heads": 2}
    calls = module_calls(cls, init)
    calls[0].extra.update({"num_heads": [3, 0], "context_length": [0]})
    return calls


def pair(source: type[nn.Module], target: type[nn.Module], *a: int) -> dict[str, Any]:
    return {"source": source(*a), "target": target(*a)}


def to_mha_forward() -> list[Call]:
    fused = selfattn.MultiHeadAttention(3, 4, 6, 2)
    mha = selfattn.to_torch_mha(fused)
    args = {"mha": mha, "fused": fused, "x": t(5, 3)}
    return [Call(selfattn.torch_mha_forward, args, tied={"x": (-1,)})]


def online_step() -> list[Call]:
    b, n_q, b_k, d_v = 1, 2, 3, 4
    args = {
        "m": torch.zeros(b, n_q, 1),
        "l": torch.ones(b, n_q, 1),
        "acc": torch.zeros(b, n_q, d_v),
        "s": t(b, n_q, b_k),
        "v_j": t(b, b_k, d_v),
    }
    tied = {"m": (-2,), "l": (-2,), "acc": (-1, -2), "s": (-1, -2), "v_j": (-1, -2)}
    return [Call(selfattn.online_softmax_step, args, tied=tied)]


def tiled_backward() -> list[Call]:
    """``tiled_attention_backward``: the forward's arguments plus out, lse and
    grad_out, shaped (n_q, d_v), (n_q,) and (n_q, d_v)."""
    args = {
        **qkv(),
        "out": t(3, 5),
        "lse": t(3),
        "grad_out": t(3, 5),
        "mask": MASK,
        "scale": 0.5,
        "causal": True,
        "block_q": 2,
        "block_k": 2,
    }
    tied = {**QKV_TIED, "mask": (-1, -2), "out": (-1, -2), "lse": (-1,)}
    return [
        Call(
            selfattn.tiled_attention_backward, args, tied={**tied, "grad_out": (-1, -2)}
        )
    ]


def causal_attention_calls() -> list[Call]:
    init: dict[str, Any] = {"d_in": 3, "d_out": 4, "context_length": 6}
    calls = module_calls(selfattn.CausalAttention, init)
    calls[0].extra.update({"context_length": [0], "dropout": [1.5]})

    def weights(x: torch.Tensor) -> Any:
        return selfattn.CausalAttention(**init).attention_weights(x)

    calls.append(Call(weights, {"x": t(4, 3)}, tied={"x": (-1,)}))
    return calls


def statistics(fn: Callable[..., Any]) -> list[Call]:
    return [Call(fn, {"d_k": 4, "scaled": True}, extra={"d_k": [0]})]


def gqa_calls() -> list[Call]:
    init: dict[str, Any] = {
        "d_in": 8,
        "d_out": 8,
        "n_heads": 4,
        "n_kv_heads": 2,
        "context_length": 12,
    }

    def forward(x: torch.Tensor) -> Any:
        return selfattn.GroupedQueryAttention(**init)(x)

    extra = {"n_kv_heads": [3, 0], "n_heads": [0], "context_length": [0]}
    return [
        Call(selfattn.GroupedQueryAttention, init, extra=extra),
        Call(forward, {"x": t(5, 8)}, tied={"x": (-1,)}),
    ]


def decode_calls() -> list[Call]:
    module = selfattn.GroupedQueryAttention(8, 8, 4, 2, context_length=12)
    args = {
        "module": module,
        "x": t(1, 2, 8),
        "past_k": t(1, 2, 3, 2),
        "past_v": t(1, 2, 3, 2),
    }
    tied = {"x": (-1,), "past_k": (-1, -2, -3), "past_v": (-1, -2, -3)}
    return [Call(selfattn.decode_step_plain, args, tied=tied)]


def grouped(fn: Callable[..., Any]) -> list[Call]:
    args = {
        "q": t(4, 3, 2),
        "k": t(2, 5, 2),
        "v": t(2, 5, 2),
        "keep": torch.ones(3, 5, dtype=torch.bool),
    }
    tied = {"q": (-1, -2, -3), "k": (-1, -2, -3), "v": (-2, -3), "keep": (-1, -2)}
    return [Call(fn, args, tied=tied)]


def rope_calls(fn: Callable[..., Any], **extra: Any) -> list[Call]:
    args = {"x": t(5, 4), "positions": torch.arange(5), **extra}
    return [Call(fn, args, tied={"x": (-1, -2), "positions": (-1,)})]


def sizes(fn: Callable[..., Any], **args: Any) -> list[Call]:
    """A function of sizes (ints); n and n_tokens may be 0, the others may not."""
    zero_ok = {"n", "n_tokens"}
    return [Call(fn, args, extra={k: [-1 if k in zero_ok else 0] for k in args})]


# name -> its valid calls (a function, so that each test gets fresh tensors)
TABLE: dict[str, Callable[[], list[Call]]] = {
    "CausalAttention": causal_attention_calls,
    "MultiHeadAttention": lambda: multihead_calls(selfattn.MultiHeadAttention),
    "MultiHeadAttentionWrapper": lambda: multihead_calls(
        selfattn.MultiHeadAttentionWrapper
    ),
    "SelfAttentionLinear": lambda: module_calls(
        selfattn.SelfAttentionLinear, {"d_in": 3, "d_out": 2}
    ),
    "SelfAttentionParams": lambda: module_calls(
        selfattn.SelfAttentionParams, {"d_in": 3, "d_out": 2}
    ),
    "attention_loop": lambda: attention(selfattn.attention_loop),
    "attention_matmul": lambda: attention(selfattn.attention_matmul),
    "attention_online": lambda: attention(selfattn.attention_online, block_k=2),
    "attention_renormalised": lambda: attention(selfattn.attention_renormalised),
    "attention_tiled": lambda: attention(
        selfattn.attention_tiled, block_q=2, block_k=2
    ),
    "tiled_attention_forward": lambda: attention(
        selfattn.tiled_attention_forward, block_q=2, block_k=2
    ),
    "tiled_attention_backward": tiled_backward,
    "attention_weights": lambda: [
        Call(
            selfattn.attention_weights,
            {"q": t(3, 2), "k": t(4, 2), "mask": MASK, "scale": 0.5, "causal": True},
            tied={"q": (-1,), "k": (-1,), "mask": (-1, -2)},
        )
    ],
    "attention_scores": lambda: [
        Call(
            selfattn.attention_scores,
            {"queries": t(3, 2), "keys": t(4, 2)},
            tied={"queries": (-1,), "keys": (-1,)},
        )
    ],
    "attention_scores_loop": lambda: [
        Call(
            selfattn.attention_scores_loop,
            {"query": t(2), "inputs": t(4, 2)},
            tied={"query": (-1,), "inputs": (-1,)},
        )
    ],
    "context_vector_loop": lambda: [
        Call(
            selfattn.context_vector_loop,
            {"weights": t(4).softmax(-1), "values": t(4, 2)},
            tied={"weights": (-1,), "values": (-2,)},
        )
    ],
    "context_vectors": lambda: [
        Call(
            selfattn.context_vectors,
            {"weights": t(3, 4).softmax(-1), "values": t(4, 2)},
            tied={"weights": (-1,), "values": (-2,)},
        )
    ],
    "causal_mask": lambda: [
        Call(
            selfattn.causal_mask,
            {"n_q": 3, "n_k": 4, "device": "cpu", "align": "top-left"},
            extra={"n_q": [-1], "align": ["left"], "device": ["no-such-device"]},
        )
    ],
    "causal_softmax": lambda: [Call(selfattn.causal_softmax, {"scores": t(3, 4)})],
    "causal_softmax_renormalised": lambda: [
        Call(selfattn.causal_softmax_renormalised, {"scores": t(3, 4)})
    ],
    "copy_linear_to_params": lambda: [
        Call(
            selfattn.copy_linear_to_params,
            pair(selfattn.SelfAttentionLinear, selfattn.SelfAttentionParams, 3, 2),
        )
    ],
    "copy_params_to_linear": lambda: [
        Call(
            selfattn.copy_params_to_linear,
            pair(selfattn.SelfAttentionParams, selfattn.SelfAttentionLinear, 3, 2),
        )
    ],
    "copy_wrapper_to_fused": lambda: [
        Call(
            selfattn.copy_wrapper_to_fused,
            {
                "wrapper": selfattn.MultiHeadAttentionWrapper(3, 4, 6, 2),
                "fused": selfattn.MultiHeadAttention(3, 4, 6, 2),
            },
        )
    ],
    "default_scale": lambda: [
        Call(selfattn.default_scale, {"d_k": 4}, extra={"d_k": [0]})
    ],
    "normalize_by_sum": lambda: [
        Call(selfattn.normalize_by_sum, {"scores": t(4), "dim": -1}, extra={"dim": [1]})
    ],
    "online_softmax_step": online_step,
    "renormalise": lambda: [
        Call(
            selfattn.renormalise,
            {"weights": t(3, 4).softmax(-1), "keep": MASK},
            tied={"weights": (-1, -2), "keep": (-1, -2)},
        )
    ],
    "score_variance": lambda: statistics(selfattn.score_variance),
    "seed_loop_context_vector": lambda: [
        Call(
            selfattn.seed_loop_context_vector,
            {"inputs": t(4, 3), "query_index": 1},
            extra={"query_index": [4, -5]},
        )
    ],
    "seed_loop_weights": lambda: [
        Call(
            selfattn.seed_loop_weights,
            {"inputs": t(4, 3), "query_index": 1},
            extra={"query_index": [4, -5]},
        )
    ],
    "softmax_all_keys": lambda: [
        Call(
            selfattn.softmax_all_keys,
            {"scores": t(3, 4), "keep": MASK},
            tied={"scores": (-1, -2), "keep": (-1, -2)},
        )
    ],
    "softmax_masked": lambda: [
        Call(
            selfattn.softmax_masked,
            {"scores": t(3, 4), "keep": MASK},
            tied={"scores": (-1, -2), "keep": (-1, -2)},
        )
    ],
    "softmax_naive": lambda: [
        Call(selfattn.softmax_naive, {"scores": t(4), "dim": -1}, extra={"dim": [1]})
    ],
    "softmax_peak": lambda: statistics(selfattn.softmax_peak),
    "softmax_stable": lambda: [
        Call(selfattn.softmax_stable, {"scores": t(4), "dim": -1}, extra={"dim": [1]})
    ],
    "to_torch_mha": lambda: [
        Call(selfattn.to_torch_mha, {"fused": selfattn.MultiHeadAttention(3, 4, 6, 2)})
    ],
    "torch_mha_forward": to_mha_forward,
    # Part II: inference, positions, the efficient backward
    "GroupedQueryAttention": gqa_calls,
    "KVCache": lambda: [
        Call(
            selfattn.KVCache,
            {"batch_size": 1, "n_kv_heads": 2, "head_dim": 4, "capacity": 8},
            extra={"capacity": [0], "head_dim": [0]},
        )
    ],
    "band_mask": lambda: [
        Call(
            selfattn.band_mask,
            {"q_pos": torch.arange(3), "k_pos": torch.arange(4), "window": 2},
            extra={"window": [0]},
        )
    ],
    "decode_step_plain": decode_calls,
    "SimpleKVCache": lambda: [
        Call(
            selfattn.SimpleKVCache,
            {"batch_size": 1, "n_heads": 2, "head_dim": 2, "capacity": 6},
            extra={"capacity": [0], "n_heads": [0]},
        )
    ],
    "cached_forward": lambda: [
        Call(
            selfattn.cached_forward,
            {
                "mha": selfattn.MultiHeadAttention(3, 4, 6, 2).eval(),
                "x": t(1, 2, 3),
                "cache": selfattn.SimpleKVCache(1, 2, 2, 6),
            },
            tied={"x": (-1,)},
        )
    ],
    "grouped_attention": lambda: grouped(selfattn.grouped_attention),
    "grouped_attention_plain": lambda: grouped(selfattn.grouped_attention_plain),
    "repeat_kv": lambda: [
        Call(selfattn.repeat_kv, {"t": t(2, 5, 4), "group": 2}, extra={"group": [0]})
    ],
    "rope": lambda: rope_calls(selfattn.rope, base=100.0, layout="half"),
    "rope_complex": lambda: rope_calls(selfattn.rope_complex, base=100.0),
    "rope_frequencies": lambda: [
        Call(selfattn.rope_frequencies, {"d": 8, "base": 100.0}, extra={"d": [0, 3]})
    ],
    "sinusoidal_positions": lambda: sizes(selfattn.sinusoidal_positions, n=4, d=8),
    "half_to_interleaved": lambda: [
        Call(selfattn.half_to_interleaved, {"d": 8}, extra={"d": [0, 3]})
    ],
    "interleaved_to_half": lambda: [
        Call(selfattn.interleaved_to_half, {"d": 8}, extra={"d": [0, 3]})
    ],
    "kv_cache_bytes": lambda: sizes(
        selfattn.kv_cache_bytes, n_tokens=100, n_layers=2, n_kv_heads=2, head_dim=4
    ),
    "toy_inputs": lambda: [
        Call(
            selfattn.toy_inputs,
            {"dtype": torch.float64, "device": "cpu"},
            extra={"device": ["no-such-device"]},
        )
    ],
}

NOT_CALLABLE = {
    "EMBEDDINGS": "data: a tuple of rows",
    "TOKENS": "data: a tuple of words",
    "IMPLEMENTATIONS": "a dict of functions, each with its own entry above",
    "AttentionFn": "a Protocol (a type for annotations), never called",
}


def mutations(value: Any, tied: tuple[int, ...]) -> Iterator[tuple[str, Any]]:
    """Bad values derived from a valid one: (label, value)."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool:
        yield "a string", "not a tensor"
        yield "a float tensor", value.float()
    elif isinstance(value, torch.Tensor) and not value.dtype.is_floating_point:
        yield "a string", "not a tensor"  # integer tensors: positions
        yield "a float tensor", value.float() + 0.5
    elif isinstance(value, torch.Tensor):
        yield "a string", "not a tensor"
        yield "an integer tensor", value.round().long()
        yield "a 0-d tensor", value.sum()
        if value.dim() > 1:
            yield "one dimension fewer", value[0]
    elif isinstance(value, bool):
        yield "a string", "yes"
        yield "an int", 1
    elif isinstance(value, int):
        yield "a string", str(value)
        yield "a float", value + 0.5
        yield "a bool", True
    elif isinstance(value, float):
        yield "a string", str(value)
        yield "a bool", True
    elif isinstance(value, nn.Module):
        yield "a string", "not a module"
        yield "a module of another class", nn.Identity()
    elif isinstance(value, torch.dtype):
        yield "a string", "float32"
        yield "an integer dtype", torch.int64
    elif isinstance(value, str):
        yield "an int", 3
    for dim in tied:
        grown = list(value.shape)
        grown[dim] += 1
        bigger = torch.zeros(grown, dtype=value.dtype)
        yield f"a mismatched size in dimension {dim}", bigger


def cases() -> Iterator[Any]:
    for name in sorted(TABLE):
        for index, call in enumerate(TABLE[name]()):
            for arg, value in call.args.items():
                bad = list(mutations(value, call.tied.get(arg, ())))
                bad += [(f"{x!r}", x) for x in call.extra.get(arg, [])]
                for label, _ in bad:
                    yield pytest.param(
                        name, index, arg, label, id=f"{name}-{arg}-{label}"
                    )


def test_every_public_name_has_an_entry() -> None:
    missing = set(selfattn.__all__) - set(TABLE) - set(NOT_CALLABLE)
    assert not missing, f"add these public names to TABLE (or NOT_CALLABLE): {missing}"
    stale = (set(TABLE) | set(NOT_CALLABLE)) - set(selfattn.__all__)
    assert not stale, f"entries for names not in selfattn.__all__: {stale}"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_valid_calls_run(name: str) -> None:
    for call in TABLE[name]():
        call.fn(**call.args)


@pytest.mark.parametrize(("name", "index", "arg", "label"), list(cases()))
def test_bad_input_is_reported_by_name(
    name: str, index: int, arg: str, label: str
) -> None:
    call = TABLE[name]()[index]
    bad = dict(mutations(call.args[arg], call.tied.get(arg, ())))
    bad.update({f"{x!r}": x for x in call.extra.get(arg, [])})
    args = {**call.args, arg: bad[label]}
    with pytest.raises((TypeError, ValueError)) as caught:
        call.fn(**args)
    message = str(caught.value)
    assert re.search(rf"(?<![\w.]){re.escape(arg)}(?!\w)", message), (
        f"the error does not name {arg!r}: {message}"
    )
    assert "must" in message, f"the error does not say what was expected: {message}"
    assert "got" in message, f"the error does not say what came: {message}"
