"""Simplified self-attention: scores, weights and context vectors, by loop and by matrix.

"Simplified" means no trainable weights: every token's embedding serves as its own
query, key and value, so `attention(x, x, x, scale=1.0)` is the whole computation.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch

from selfattn._checks import (
    check_attention_args,
    check_positive_int,
    check_same_dtype_and_device,
    check_tensor,
    checked_by,
)
from selfattn.masks import combined_mask
from selfattn.softmax import softmax_masked, softmax_stable


def _check_vector_and_rows(vec_name: str, vec: Any, rows_name: str, rows: Any) -> None:
    check_tensor(vec_name, vec)
    check_tensor(rows_name, rows, min_dims=2)
    check_same_dtype_and_device(**{vec_name: vec, rows_name: rows})
    if vec.dim() != 1 or rows.dim() != 2:
        raise ValueError(
            f"{vec_name} must have shape (d,) and {rows_name} shape (n, d), got "
            f"{tuple(vec.shape)} and {tuple(rows.shape)}"
        )


def check_query_and_inputs(query: Any, inputs: Any) -> None:
    """`query` (d,) and `inputs` (n, d) with the same d."""
    _check_vector_and_rows("query", query, "inputs", inputs)
    if query.shape[0] != inputs.shape[1]:
        raise ValueError(
            f"query and inputs must share d, got query {query.shape[0]}, "
            f"inputs {inputs.shape[1]}"
        )


def check_weights_and_values(weights: Any, values: Any) -> None:
    """`weights` (n,) and `values` (n, d_v), one weight per value row."""
    _check_vector_and_rows("weights", weights, "values", values)
    if weights.shape[0] != values.shape[0]:
        raise ValueError(
            f"weights and values must hold one entry per token, got "
            f"{weights.shape[0]} weights and {values.shape[0]} value rows"
        )


def check_queries_and_keys(queries: Any, keys: Any) -> None:
    """`queries` (..., n_q, d) and `keys` (..., n_k, d)."""
    check_tensor("queries", queries, min_dims=2)
    check_tensor("keys", keys, min_dims=2)
    check_same_dtype_and_device(queries=queries, keys=keys)
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"queries and keys must share d, got queries {tuple(queries.shape)}, "
            f"keys {tuple(keys.shape)}"
        )


def check_weight_matrix_and_values(weights: Any, values: Any) -> None:
    """`weights` (..., n_q, n_k) and `values` (..., n_k, d_v)."""
    check_tensor("weights", weights, min_dims=2)
    check_tensor("values", values, min_dims=2)
    check_same_dtype_and_device(weights=weights, values=values)
    if weights.shape[-1] != values.shape[-2]:
        raise ValueError(
            f"weights must have one column per value row, got weights "
            f"{tuple(weights.shape)}, values {tuple(values.shape)}"
        )


def check_weights_args(
    q: Any, k: Any, *, mask: Any = None, scale: Any = None, causal: Any = False
) -> None:
    """The checks of the calling convention, with k standing in for v."""
    check_attention_args(q, k, k, mask=mask, scale=scale, causal=causal)


@checked_by(check_query_and_inputs)
# --8<-- [start:attention_scores_loop]
def attention_scores_loop(query: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """One query's score for every token: `omega_j = x^(j) . q`.

    Shapes: `query` (d,), `inputs` (n, d) -> scores (n,).
    """
    scores = query.new_empty(inputs.shape[0])  # (n,)
    for j, x_j in enumerate(inputs):
        scores[j] = torch.dot(x_j, query)
    return scores


# --8<-- [end:attention_scores_loop]


@checked_by(check_weights_and_values)
# --8<-- [start:context_vector_loop]
def context_vector_loop(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """One query's context vector: `z = sum_j alpha_j v^(j)`.

    Shapes: `weights` (n,), `values` (n, d_v) -> context (d_v,).
    """
    context = values.new_zeros(values.shape[1])  # (d_v,)
    for w_j, v_j in zip(weights, values, strict=True):
        context += w_j * v_j
    return context


# --8<-- [end:context_vector_loop]


@checked_by(check_queries_and_keys)
# --8<-- [start:attention_scores]
def attention_scores(
    queries: torch.Tensor,
    keys: torch.Tensor,
) -> torch.Tensor:
    """Every query against every key at once: `Omega = Q K^T`.

    Shapes: `queries` (..., n_q, d), `keys` (..., n_k, d)
    -> scores (..., n_q, n_k).
    """
    # (..., n_q, d) @ (..., d, n_k) -> (..., n_q, n_k)
    return queries @ keys.transpose(-2, -1)


# --8<-- [end:attention_scores]


@checked_by(check_weight_matrix_and_values)
# --8<-- [start:context_vectors]
def context_vectors(
    weights: torch.Tensor,
    values: torch.Tensor,
) -> torch.Tensor:
    """Every context vector at once: `Z = A V`.

    Row `i` is `sum_j alpha_ij v^(j)`. Shapes: `weights`
    (..., n_q, n_k), `values` (..., n_k, d_v) -> (..., n_q, d_v).
    """
    return weights @ values


# --8<-- [end:context_vectors]


def check_d_k(d_k: Any) -> None:
    """`d_k` is a positive int (a number of features)."""
    check_positive_int("d_k", d_k)


@checked_by(check_d_k)
# --8<-- [start:default_scale]
def default_scale(d_k: int) -> float:
    """The scale used when `scale=None`: `1 / sqrt(d_k)`."""
    return 1.0 / math.sqrt(d_k)


# --8<-- [end:default_scale]


# --8<-- [start:compute_dtype]
def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16 and bfloat16 are computed in float32, as fused attention kernels do.

    bfloat16's precision and float16's range (it overflows at 65,504) are too
    small for a sum of many exponentials; the result is rounded back to the input
    dtype.
    """
    return torch.promote_types(dtype, torch.float32)


# --8<-- [end:compute_dtype]


@checked_by(check_weights_args)
# --8<-- [start:attention_weights]
def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Row-wise softmax of the scaled scores: `A = softmax(scale * Q K^T)`.

    Masked entries (`mask` False, or a later key when `causal`) get weight 0;
    a query with no key left gets a row of zeros. `scale=None` means 1/sqrt(d_k).
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k) -> (..., n_q, n_k).
    """
    scale = default_scale(q.shape[-1]) if scale is None else scale
    scores = attention_scores(q, k) * scale  # (..., n_q, n_k)
    keep = combined_mask(mask, causal, q.shape[-2], k.shape[-2], q.device)
    if keep is None:
        return softmax_stable(scores)
    return softmax_masked(scores, keep)


# --8<-- [end:attention_weights]


@checked_by(check_attention_args)
# --8<-- [start:attention_matmul]
def attention_matmul(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Attention by two matrix products: `Z = softmax(scale * Q K^T) V`.

    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k), `v` (..., n_k, d_v)
    -> (..., n_q, d_v). float16/bfloat16 are computed in float32 and rounded back.
    NaN or infinity in an input is not checked (that would sync with the device);
    it propagates as NaN to the rows it reaches.
    """
    out_dtype, work = q.dtype, compute_dtype(q.dtype)
    q, k, v = q.to(work), k.to(work), v.to(work)  # no copy when already float32/64
    weights = attention_weights(q, k, mask=mask, scale=scale, causal=causal)
    return context_vectors(weights, v).to(out_dtype)  # (..., n_q, d_v)


# --8<-- [end:attention_matmul]


@checked_by(check_attention_args)
# --8<-- [start:attention_loop]
def attention_loop(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Attention one query at a time: scores by dot products, softmax, weighted sum.

    The same result as `attention_matmul`, computed the way Part I first explains
    it. Slow (Python loops over every batch index, query and key): for teaching and
    for testing the matrix form, not for real sequences.
    Shapes: `q` (..., n_q, d_k), `k` (..., n_k, d_k), `v` (..., n_k, d_v)
    -> (..., n_q, d_v).
    """
    out_dtype, work = q.dtype, compute_dtype(q.dtype)
    q, k, v = q.to(work), k.to(work), v.to(work)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    n_q, n_k = q.shape[-2], k.shape[-2]
    keep = combined_mask(mask, causal, n_q, n_k, q.device)
    if keep is not None:
        keep = keep.expand(*q.shape[:-1], n_k)  # (..., n_q, n_k)
    out = v.new_zeros(*q.shape[:-1], v.shape[-1])  # (..., n_q, d_v)
    for b in itertools.product(*(range(size) for size in q.shape[:-2])):
        for i in range(n_q):
            scores = attention_scores_loop(q[b][i], k[b]) * scale  # (n_k,)
            if keep is None:
                weights = softmax_stable(scores)
            else:
                weights = softmax_masked(scores, keep[b][i])
            out[b][i] = context_vector_loop(weights, v[b])  # (d_v,)
    return out.to(out_dtype)


# --8<-- [end:attention_loop]
