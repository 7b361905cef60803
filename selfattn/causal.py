"""Causal attention: each token attends only to itself and the tokens before it.

Two ways to hide the future (mask the scores with -inf before the softmax, or zero
the weights after it and renormalise), dropout on the weights, and a module with a
maximum context length.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from selfattn._checks import (
    check_attention_args,
    check_positive_int,
    check_probability,
    check_sequence,
    check_tensor,
    checked_by,
    checked_module,
)
from selfattn.masks import causal_mask, combined_mask
from selfattn.simplified import (
    attention_scores,
    compute_dtype,
    context_vectors,
    default_scale,
)


def check_score_matrix(scores: Any) -> None:
    """`scores` is a floating-point `(..., n_q, n_k)` tensor."""
    check_tensor("scores", scores, min_dims=2)


def _check_matrix_and_keep(name: str, matrix: Any, keep: Any) -> None:
    check_tensor(name, matrix, min_dims=2)
    if not isinstance(keep, torch.Tensor) or keep.dtype != torch.bool:
        got = keep.dtype if isinstance(keep, torch.Tensor) else type(keep).__name__
        raise TypeError(f"keep must be a bool tensor (True = kept), got {got}")
    try:
        shape = torch.broadcast_shapes(keep.shape, matrix.shape)  # type: ignore[no-untyped-call]
    except RuntimeError:
        shape = None
    if shape != matrix.shape:
        raise ValueError(
            f"keep must broadcast to the shape of {name} {tuple(matrix.shape)}, got "
            f"{tuple(keep.shape)}"
        )


def check_weights_and_keep(weights: Any, keep: Any) -> None:
    """`weights` (..., n_q, n_k) and a bool `keep` that broadcasts to it."""
    _check_matrix_and_keep("weights", weights, keep)


def check_scores_and_keep(scores: Any, keep: Any) -> None:
    """`scores` (..., n_q, n_k) and a bool `keep` that broadcasts to it."""
    _check_matrix_and_keep("scores", scores, keep)


@checked_by(check_score_matrix)
# --8<-- [start:causal_softmax]
def causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Mask first: `A = softmax(S + M)`, `M_ij = -inf` where `j > i` (the future), else 0.

    `exp(-inf) = 0`, so a future key gets weight exactly 0 and the rest sum to one.
    Shapes: `scores` (..., n_q, n_k) -> weights (..., n_q, n_k).
    """
    keep = causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


# --8<-- [end:causal_softmax]


@checked_by(check_weights_and_keep)
# --8<-- [start:renormalise]
def renormalise(weights: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Zero masked weights, rescale rows to sum to 1: `A_ij = keep_ij P_ij / sum_l keep_il P_il`.

    A row with nothing kept stays all zeros (a fully masked query).
    Shapes: `weights` (..., n_q, n_k), `keep` bool broadcastable to it -> (..., n_q, n_k).
    """
    kept = weights.masked_fill(~keep, 0.0)
    total = kept.sum(dim=-1, keepdim=True)  # (..., n_q, 1)
    return kept / torch.where(total > 0, total, 1.0)  # nothing kept: 0 / 1 = 0


# --8<-- [end:renormalise]


@checked_by(check_score_matrix)
# --8<-- [start:causal_softmax_renormalised]
def causal_softmax_renormalised(scores: torch.Tensor) -> torch.Tensor:
    """Mask after: softmax over every key, then zero the future and renormalise.

    Equal to `causal_softmax` in exact arithmetic: the softmax's denominator cancels
    in the renormalisation. In floating point it can fail: a future key that scores
    far higher takes all the mass, and the weights of the kept keys underflow to 0.
    Shapes: `scores` (..., n_q, n_k) -> weights (..., n_q, n_k).
    """
    keep = causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
    return renormalise(torch.softmax(scores, dim=-1), keep)


# --8<-- [end:causal_softmax_renormalised]


@checked_by(check_scores_and_keep)
# --8<-- [start:softmax_all_keys]
def softmax_all_keys(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Softmax over every key, masked ones included, shifted by the largest *kept* score.

    `P_ij = exp(min(s_ij - m_i, 0)) / sum_l exp(min(s_il - m_i, 0))`, `m_i` the row's
    largest kept score. Only masked keys can lie above `m_i`, and they are capped at
    `exp(0) = 1`. The largest kept key contributes `exp(0) = 1` too, so each row's
    sum lies in `[1, n_k]` and that key's weight is at least `1 / n_k`: it cannot
    underflow. A kept key far below `m_i` can still underflow to 0, as in any
    softmax. `renormalise` drops the masked keys afterwards.
    Shapes: `scores` (..., n_q, n_k), `keep` broadcastable to it.
    """
    if scores.shape[-1] == 0:  # rows of no scores: nothing to normalise
        return scores.clone()
    top = scores.masked_fill(~keep, float("-inf")).amax(dim=-1, keepdim=True)
    # Nothing kept: shift by the row's largest score, so that its sum is >= 1
    # (a shift of 0 can underflow every term, and 0 / 0 poisons the gradients).
    top = torch.where(top == float("-inf"), scores.amax(-1, keepdim=True), top)
    exp = torch.exp((scores - top).clamp(max=0.0))  # every entry in [0, 1]
    return exp / exp.sum(dim=-1, keepdim=True)


# --8<-- [end:softmax_all_keys]


@checked_by(check_attention_args)
# --8<-- [start:attention_renormalised]
def attention_renormalised(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Attention masked after the softmax: `Z = renormalise(softmax(scale Q K^T), keep) V`.

    The same result as `attention_matmul`, which masks before the softmax.
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k), `v` (..., n_k, d_v)
    -> (..., n_q, d_v). float16/bfloat16 are computed in float32 and rounded back.
    """
    out_dtype, work = q.dtype, compute_dtype(q.dtype)
    q, k, v = q.to(work), k.to(work), v.to(work)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    scores = attention_scores(q, k) * scale  # (..., n_q, n_k)
    keep = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device)
    if keep is None:
        keep = torch.ones_like(scores, dtype=torch.bool)
    weights = renormalise(softmax_all_keys(scores, keep), keep)  # (..., n_q, n_k)
    return context_vectors(weights, v).to(out_dtype)  # (..., n_q, d_v)


# --8<-- [end:attention_renormalised]


def check_causal_attention_config(
    d_in: Any,
    d_out: Any,
    context_length: Any,
    dropout: Any = 0.0,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Positive sizes and a dropout rate in [0, 1)."""
    check_positive_int("d_in", d_in)
    check_positive_int("d_out", d_out)
    check_positive_int("context_length", context_length)
    check_probability("dropout", kwargs.get("dropout", dropout))


def check_causal_input(module: Any, x: Any) -> None:
    """`x` is `(..., n, d_in)` with `n` at most the module's context length."""
    check_sequence("x", x, module.d_in)
    check_context_length(x.shape[-2], module.context_length)


def check_context_length(n: int, context_length: int) -> None:
    """A sequence of `n` tokens fits a mask built for `context_length` tokens."""
    if n > context_length:
        raise ValueError(
            f"x must hold at most context_length={context_length} tokens, got n={n}; "
            "build the module with a larger context_length or split the sequence"
        )


@checked_module(
    init=check_causal_attention_config,
    forward=check_causal_input,
    attention_weights=check_causal_input,
)
# --8<-- [start:CausalAttention]
class CausalAttention(nn.Module):
    """Causal self-attention, one head: `Z = dropout(softmax(mask(Q K^T)
    / sqrt(d_out))) V`. `x` (..., n, d_in) -> (..., n, d_out), n <= context_length.
    """

    mask: torch.Tensor  # for type checkers; registered as a buffer below

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float = 0.0,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.d_in, self.d_out, self.context_length = d_in, d_out, context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        # Built once for the longest sequence, sliced to each input's length.
        mask = causal_mask(context_length, context_length)
        self.register_buffer("mask", mask, persistent=False)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., n, d_in)` -> `(..., n, n)`; rows sum to one in eval mode only."""
        n = x.shape[-2]
        queries: torch.Tensor = self.W_query(x)  # (..., n, d_out)
        keys = self.W_key(x)  # (..., n, d_out)
        scores = queries @ keys.transpose(-2, -1)  # (..., n, n)
        # -inf on every later key: exp(-inf) = 0, so the future gets weight 0.
        scores = scores.masked_fill(~self.mask[:n, :n], float("-inf"))
        weights = torch.softmax(scores / math.sqrt(keys.shape[-1]), dim=-1)
        # Training: zero each weight with probability p, scale the rest by
        # 1 / (1 - p). Evaluation mode (module.eval()): nothing.
        dropped: torch.Tensor = self.dropout(weights)
        return dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: torch.Tensor = self.W_value(x)  # (..., n, d_out)
        return self.attention_weights(x) @ values  # (..., n, d_out)


# --8<-- [end:CausalAttention]
