"""Self-attention with trainable weights: queries, keys and values, and the 1/sqrt(d_k) scale.

Part I let every embedding be its own query, key and value. Here three learned
matrices project each token into the three roles, and the scores are divided by
`sqrt(d_k)` so that they do not grow with the width of the keys.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from selfattn._checks import (
    check_flag,
    check_positive_int,
    check_sequence,
    checked_by,
    checked_module,
)


def check_dims(d_in: Any, d_out: Any, *args: Any, **kwargs: Any) -> None:
    """`d_in` and `d_out` are positive ints (a module's constructor)."""
    check_positive_int("d_in", d_in)
    check_positive_int("d_out", d_out)


def check_input(module: Any, x: Any, *args: Any, **kwargs: Any) -> None:
    """`x` is `(..., n, d_in)` for the module's `d_in`."""
    check_sequence("x", x, module.d_in)


@checked_module(init=check_dims, forward=check_input)
# --8<-- [start:SelfAttentionParams]
class SelfAttentionParams(nn.Module):
    """Self-attention with three weight matrices used as `x @ W`.

    `Q = X W_q`, `K = X W_k`, `V = X W_v`, `Z = softmax(Q K^T / sqrt(d_out)) V`.
    Each `W` has shape `(d_in, d_out)`. Shapes: `x` (..., n, d_in) -> (..., n, d_out).
    """

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        # Random starting values, small enough that the first scores stay moderate.
        self.W_query = nn.Parameter(torch.randn(d_in, d_out) / math.sqrt(d_in))
        self.W_key = nn.Parameter(torch.randn(d_in, d_out) / math.sqrt(d_in))
        self.W_value = nn.Parameter(torch.randn(d_in, d_out) / math.sqrt(d_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        queries = x @ self.W_query  # (..., n, d_out)
        keys = x @ self.W_key  # (..., n, d_out)
        values = x @ self.W_value  # (..., n, d_out)
        scores = queries @ keys.transpose(-2, -1)  # (..., n, n)
        # Dividing by sqrt(d_k) keeps the scores' variance near 1 whatever d_k is.
        weights = torch.softmax(scores / math.sqrt(keys.shape[-1]), dim=-1)
        return weights @ values  # (..., n, d_out)


# --8<-- [end:SelfAttentionParams]


@checked_module(init=check_dims, forward=check_input)
# --8<-- [start:SelfAttentionLinear]
class SelfAttentionLinear(nn.Module):
    """The same self-attention with `nn.Linear` layers, which compute `x @ W.T`.

    `nn.Linear(d_in, d_out)` stores its weight as `(d_out, d_in)`: the transpose
    of `SelfAttentionParams`'s matrices. Shapes: `x` (..., n, d_in) -> (..., n, d_out).
    """

    def __init__(self, d_in: int, d_out: int, qkv_bias: bool = False) -> None:
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        queries = self.W_query(x)  # (..., n, d_out)
        keys = self.W_key(x)  # (..., n, d_out)
        values: torch.Tensor = self.W_value(x)  # (..., n, d_out)
        scores = queries @ keys.transpose(-2, -1)  # (..., n, n)
        weights = torch.softmax(scores / math.sqrt(keys.shape[-1]), dim=-1)
        return weights @ values  # (..., n, d_out)


# --8<-- [end:SelfAttentionLinear]


def check_copy_pair(source: Any, target: Any) -> None:
    """Both modules exist and have the same `d_in` and `d_out`."""
    for name, module in (("source", source), ("target", target)):
        if not isinstance(module, (SelfAttentionParams, SelfAttentionLinear)):
            raise TypeError(
                f"{name} must be a SelfAttentionParams or SelfAttentionLinear, got "
                f"{type(module).__name__}"
            )
    if (source.d_in, source.d_out) != (target.d_in, target.d_out):
        raise ValueError(
            "source and target must have the same (d_in, d_out), got "
            f"{(source.d_in, source.d_out)} and {(target.d_in, target.d_out)}"
        )
    if isinstance(source, SelfAttentionLinear) and source.W_query.bias is not None:
        raise ValueError(
            "source must have no biases (qkv_bias=False): SelfAttentionParams has none"
        )


@checked_by(check_copy_pair)
# --8<-- [start:copy_linear_to_params]
@torch.no_grad()
def copy_linear_to_params(
    source: SelfAttentionLinear, target: SelfAttentionParams
) -> None:
    """Give `target` the weights of `source`: `W = weight^T`.

    `nn.Linear` stores `(d_out, d_in)`; `x @ W` needs `(d_in, d_out)`.
    """
    target.W_query.copy_(source.W_query.weight.T)
    target.W_key.copy_(source.W_key.weight.T)
    target.W_value.copy_(source.W_value.weight.T)


# --8<-- [end:copy_linear_to_params]


@checked_by(check_copy_pair)
# --8<-- [start:copy_params_to_linear]
@torch.no_grad()
def copy_params_to_linear(
    source: SelfAttentionParams, target: SelfAttentionLinear
) -> None:
    """Give `target` the weights of `source`: `weight = W^T`.

    `x @ W` uses `(d_in, d_out)`; `nn.Linear` stores `(d_out, d_in)`.
    """
    target.W_query.weight.copy_(source.W_query.T)
    target.W_key.weight.copy_(source.W_key.T)
    target.W_value.weight.copy_(source.W_value.T)


# --8<-- [end:copy_params_to_linear]


def check_score_statistics_args(d_k: Any, *args: Any, **kwargs: Any) -> None:
    """`d_k` and the sample sizes are positive ints."""
    check_positive_int("d_k", d_k)
    if "scaled" in kwargs:
        check_flag("scaled", kwargs["scaled"])
    for name in ("n_samples", "n_keys"):
        if name in kwargs:
            check_positive_int(name, kwargs[name])


@checked_by(check_score_statistics_args)
# --8<-- [start:score_variance]
def score_variance(
    d_k: int, *, scaled: bool, n_samples: int = 20_000, seed: int = 0
) -> float:
    """Sample variance of `q . k` (times `1/sqrt(d_k)` if `scaled`), q, k ~ N(0, I).

    Each `q_i k_i` has variance 1 and the `d_k` terms are independent, so the
    unscaled score has variance `d_k` and the scaled one variance 1.
    """
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n_samples, d_k, generator=gen, dtype=torch.float64)
    k = torch.randn(n_samples, d_k, generator=gen, dtype=torch.float64)
    scores = (q * k).sum(dim=-1)  # (n_samples,): one dot product per pair
    if scaled:
        scores = scores / math.sqrt(d_k)
    return scores.var().item()


# --8<-- [end:score_variance]


@checked_by(check_score_statistics_args)
# --8<-- [start:softmax_peak]
def softmax_peak(
    d_k: int, *, scaled: bool, n_keys: int = 8, n_samples: int = 2_000, seed: int = 0
) -> float:
    """Mean of the largest softmax weight of one query over `n_keys` random keys.

    Near `1/n_keys` the weights are spread out; near 1 the softmax has saturated
    into a one-hot vector, and its gradient (`w (1 - w)`) vanishes.
    """
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n_samples, 1, d_k, generator=gen, dtype=torch.float64)
    k = torch.randn(n_samples, n_keys, d_k, generator=gen, dtype=torch.float64)
    scores = (q @ k.transpose(-2, -1)).squeeze(-2)  # (n_samples, n_keys)
    if scaled:
        scores = scores / math.sqrt(d_k)
    weights = torch.softmax(scores, dim=-1)
    return weights.amax(dim=-1).mean().item()


# --8<-- [end:softmax_peak]
