"""Multi-head attention: several causal attentions side by side, then one output projection.

First as a wrapper of independent `CausalAttention` heads, then as one module whose
projections serve every head at once (split by `view` and `transpose`), and how
to move weights between the two and into `torch.nn.MultiheadAttention`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from selfattn._checks import (
    check_mask,
    check_positive_int,
    check_probability,
    check_sequence,
    checked_by,
    checked_module,
)
from selfattn.causal import CausalAttention, check_context_length
from selfattn.masks import causal_mask
from selfattn.softmax import softmax_masked


def check_multihead_config(
    d_in: Any,
    d_out: Any,
    context_length: Any,
    num_heads: Any,
    dropout: Any = 0.0,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Positive sizes, `num_heads` dividing `d_out`, a dropout rate in [0, 1)."""
    check_positive_int("d_in", d_in)
    check_positive_int("d_out", d_out)
    check_positive_int("context_length", context_length)
    check_positive_int("num_heads", num_heads)
    check_probability("dropout", kwargs.get("dropout", dropout))
    if d_out % num_heads != 0:
        raise ValueError(
            f"d_out must be divisible by num_heads (each head gets d_out / num_heads "
            f"features), got d_out={d_out}, num_heads={num_heads} "
            f"(remainder {d_out % num_heads})"
        )


def check_multihead_input(module: Any, x: Any, mask: Any = None) -> None:
    """`x` (..., n, d_in) with `n <= context_length`; `mask` bool (..., n, n)."""
    check_sequence("x", x, module.d_in)
    check_context_length(x.shape[-2], module.context_length)
    check_mask(mask, x, x)


@checked_module(init=check_multihead_config, forward=check_multihead_input)
# --8<-- [start:MultiHeadAttentionWrapper]
class MultiHeadAttentionWrapper(nn.Module):
    """`num_heads` independent causal heads, `d_out / num_heads` features each.

    `Z = concat(head_1(x), ..., head_h(x)) W_o^T + b_o`.
    Shapes: `x` (..., n, d_in) -> (..., n, d_out), `n <= context_length`.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        num_heads: int,
        dropout: float = 0.0,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.d_in, self.d_out, self.context_length = d_in, d_out, context_length
        self.num_heads = num_heads
        head_dim = d_out // num_heads
        self.heads = nn.ModuleList(
            CausalAttention(d_in, head_dim, context_length, dropout, qkv_bias)
            for _ in range(num_heads)
        )
        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heads = [head(x) for head in self.heads]  # each (..., n, d_out / h)
        context = torch.cat(heads, dim=-1)  # (..., n, d_out)
        out: torch.Tensor = self.out_proj(context)
        return out


# --8<-- [end:MultiHeadAttentionWrapper]


@checked_module(
    init=check_multihead_config,
    forward=check_multihead_input,
    attention_weights=check_multihead_input,
)
# --8<-- [start:MultiHeadAttention]
class MultiHeadAttention(nn.Module):
    """Causal multi-head attention: one projection per role, split into heads
    of `d_out / num_heads` features. `mask` (bool, True = may attend) joins the
    causal mask; a query left with no key gets zero weights.
    `x` (..., n, d_in) -> (..., n, d_out), with `n <= context_length`.
    """

    mask: torch.Tensor  # for type checkers; registered as a buffer below

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        num_heads: int,
        dropout: float = 0.0,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.d_in, self.d_out, self.context_length = d_in, d_out, context_length
        self.num_heads, self.head_dim = num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        mask = causal_mask(context_length, context_length)
        self.register_buffer("mask", mask, persistent=False)

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """`(..., n, d_out)` -> `(..., num_heads, n, head_dim)`."""
        # (..., n, d_out) -> (..., n, h, d_h): no copy
        t = t.view(*t.shape[:-1], self.num_heads, self.head_dim)
        return t.transpose(-3, -2)  # (..., h, n, d_h): each head a batch

    def attention_weights(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`(..., n, d_in)` -> `(..., h, n, n)`: every head's weights."""
        n = x.shape[-2]
        queries = self.split_heads(self.W_query(x))  # (..., h, n, d_h)
        keys = self.split_heads(self.W_key(x))  # (..., h, n, d_h)
        keep = self.mask[:n, :n]  # (n, n)
        if mask is not None:
            keep = keep & mask.unsqueeze(-3)  # (..., 1, n, n): for every head
        scores = queries @ keys.transpose(-2, -1)  # (..., h, n, n)
        return softmax_masked(scores / math.sqrt(self.head_dim), keep)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        values = self.split_heads(self.W_value(x))  # (..., h, n, d_h)
        weights = self.attention_weights(x, mask)  # (..., h, n, n)
        context = self.dropout(weights) @ values  # (..., h, n, d_h)
        # Heads side by side again: not contiguous after the transpose, so
        # reshape() (not view()) copies the numbers into order.
        context = context.transpose(-3, -2)  # (..., n, h, d_h)
        context = context.reshape(*x.shape[:-1], self.d_out)  # (..., n, d_out)
        out: torch.Tensor = self.out_proj(context)  # (..., n, d_out)
        return out


# --8<-- [end:MultiHeadAttention]


def _has_qkv_bias(module: nn.Module) -> bool:
    return any(name.endswith("W_query.bias") for name, _ in module.named_parameters())


def check_wrapper_and_fused(wrapper: Any, fused: Any) -> None:
    """A wrapper and a fused module of the same sizes and biases."""
    if not isinstance(wrapper, MultiHeadAttentionWrapper):
        raise TypeError(
            f"wrapper must be a MultiHeadAttentionWrapper, got {type(wrapper).__name__}"
        )
    if not isinstance(fused, MultiHeadAttention):
        raise TypeError(
            f"fused must be a MultiHeadAttention, got {type(fused).__name__}"
        )
    sizes = ("d_in", "d_out", "num_heads")
    got_w = tuple(getattr(wrapper, s) for s in sizes)
    got_f = tuple(getattr(fused, s) for s in sizes)
    if got_w != got_f:
        raise ValueError(
            f"wrapper and fused must have the same (d_in, d_out, num_heads), got "
            f"{got_w} and {got_f}"
        )
    bias_w = _has_qkv_bias(wrapper)
    if bias_w != _has_qkv_bias(fused):
        raise ValueError(
            f"wrapper and fused must agree on qkv_bias, got {bias_w} and {not bias_w}"
        )


@checked_by(check_wrapper_and_fused)
# --8<-- [start:copy_wrapper_to_fused]
@torch.no_grad()
def copy_wrapper_to_fused(
    wrapper: MultiHeadAttentionWrapper, fused: MultiHeadAttention
) -> None:
    """Stack the heads' matrices: rows `i d_h : (i + 1) d_h` of `fused.W_query` are head i's.

    That is the slice `split_heads` hands to head `i`. Shapes: each head's weight
    `(d_h, d_in)`, stacked into `(d_out, d_in)`.
    """
    for name in ("W_query", "W_key", "W_value"):
        layers = [getattr(head, name) for head in wrapper.heads]
        getattr(fused, name).weight.copy_(torch.cat([lin.weight for lin in layers]))
        if layers[0].bias is not None:
            getattr(fused, name).bias.copy_(torch.cat([lin.bias for lin in layers]))
    fused.out_proj.load_state_dict(wrapper.out_proj.state_dict())


# --8<-- [end:copy_wrapper_to_fused]


def check_fused(fused: Any) -> None:
    """`fused` is a `MultiHeadAttention`."""
    if not isinstance(fused, MultiHeadAttention):
        raise TypeError(
            f"fused must be a MultiHeadAttention, got {type(fused).__name__}"
        )


@checked_by(check_fused)
# --8<-- [start:to_torch_mha]
@torch.no_grad()
def to_torch_mha(fused: MultiHeadAttention) -> nn.MultiheadAttention:
    """`nn.MultiheadAttention` (batch_first) holding `fused`'s weights.

    With `d_in == d_out` the three matrices are packed into one
    `in_proj_weight = [W_q; W_k; W_v]` of shape `(3 d_out, d_in)`. With `d_in != d_out`
    PyTorch keeps them apart but still projects the *query* from `d_out` features,
    so `q_proj_weight` is the identity and the query must arrive already projected by
    `fused.W_query` (`torch_mha_forward` does that).
    """
    weight = fused.out_proj.weight
    mha = nn.MultiheadAttention(
        fused.d_out,
        fused.num_heads,
        dropout=fused.dropout.p,
        kdim=fused.d_in,
        vdim=fused.d_in,
        batch_first=True,
        device=weight.device,
        dtype=weight.dtype,
    )
    w_q, w_k, w_v = (fused.W_query.weight, fused.W_key.weight, fused.W_value.weight)
    b_q, b_k, b_v = (
        torch.zeros_like(weight[:, 0]) if lin.bias is None else lin.bias.detach()
        for lin in (fused.W_query, fused.W_key, fused.W_value)
    )  # nn.MultiheadAttention always has biases: zeros stand in for none
    if fused.d_in == fused.d_out:
        mha.in_proj_weight.copy_(torch.cat([w_q, w_k, w_v]))  # (3 d_out, d_in)
    else:
        mha.q_proj_weight.copy_(torch.eye(fused.d_out))
        mha.k_proj_weight.copy_(w_k)  # (d_out, d_in)
        mha.v_proj_weight.copy_(w_v)
        b_q = torch.zeros_like(b_q)  # fused.W_query adds it before mha sees the query
    mha.in_proj_bias.copy_(torch.cat([b_q, b_k, b_v]))
    mha.out_proj.load_state_dict(fused.out_proj.state_dict())
    return mha


# --8<-- [end:to_torch_mha]


def check_torch_mha_call(
    mha: Any, fused: Any, x: Any, key_padding_mask: Any = None
) -> None:
    """`mha` built by `to_torch_mha(fused)`; `x` (batch, n, d_in) or (n, d_in)."""
    if not isinstance(mha, nn.MultiheadAttention):
        raise TypeError(
            f"mha must be an nn.MultiheadAttention, got {type(mha).__name__}"
        )
    check_fused(fused)
    check_sequence("x", x, fused.d_in)
    if x.dim() > 3:
        raise ValueError(
            "x must have shape (batch, n, d_in) or (n, d_in) for nn.MultiheadAttention, "
            f"got shape {tuple(x.shape)}"
        )


@checked_by(check_torch_mha_call)
# --8<-- [start:torch_mha_forward]
def torch_mha_forward(
    mha: nn.MultiheadAttention,
    fused: MultiHeadAttention,
    x: torch.Tensor,
    key_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal self-attention with `mha = to_torch_mha(fused)`: `fused(x)` again.

    PyTorch's masks say the opposite of ours: `attn_mask` and `key_padding_mask`
    are True where a query may *not* attend. Shapes: `x` (batch, n, d_in)
    -> (batch, n, d_out); `key_padding_mask` (batch, n), True = padding.
    """
    n = x.shape[-2]
    query = x if fused.d_in == fused.d_out else fused.W_query(x)  # see to_torch_mha
    blocked = ~causal_mask(n, n, x.device)  # (n, n), True = the future
    out: torch.Tensor = mha(
        query,
        x,
        x,
        attn_mask=blocked,
        key_padding_mask=key_padding_mask,
        need_weights=False,
    )[0]  # (output, weights); weights is None with need_weights=False
    return out


# --8<-- [end:torch_mha_forward]
