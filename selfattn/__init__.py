"""selfattn: self-attention, one computation at a time, in plain PyTorch."""

from selfattn.data import EMBEDDINGS, TOKENS, toy_inputs
from selfattn.efficient import attention_online, attention_tiled, online_softmax_step
from selfattn.masks import causal_mask
from selfattn.pitfalls import seed_loop_context_vector, seed_loop_weights
from selfattn.registry import IMPLEMENTATIONS, AttentionFn
from selfattn.simplified import (
    attention_loop,
    attention_matmul,
    attention_scores,
    attention_scores_loop,
    attention_weights,
    context_vector_loop,
    context_vectors,
    default_scale,
)
from selfattn.softmax import (
    normalize_by_sum,
    softmax_masked,
    softmax_naive,
    softmax_stable,
)

__version__ = "0.1.0"

__all__ = [
    "EMBEDDINGS",
    "IMPLEMENTATIONS",
    "TOKENS",
    "AttentionFn",
    "attention_loop",
    "attention_matmul",
    "attention_online",
    "attention_scores",
    "attention_scores_loop",
    "attention_tiled",
    "attention_weights",
    "causal_mask",
    "context_vector_loop",
    "context_vectors",
    "default_scale",
    "normalize_by_sum",
    "online_softmax_step",
    "seed_loop_context_vector",
    "seed_loop_weights",
    "softmax_masked",
    "softmax_naive",
    "softmax_stable",
    "toy_inputs",
]
