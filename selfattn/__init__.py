"""selfattn: self-attention, one computation at a time, in plain PyTorch."""

from selfattn.causal import (
    CausalAttention,
    attention_renormalised,
    causal_softmax,
    causal_softmax_renormalised,
    renormalise,
    softmax_all_keys,
)
from selfattn.data import EMBEDDINGS, TOKENS, toy_inputs
from selfattn.efficient import (
    attention_online,
    attention_tiled,
    online_softmax_step,
    tiled_attention_backward,
    tiled_attention_forward,
)
from selfattn.inference import (
    GroupedQueryAttention,
    KVCache,
    band_mask,
    decode_step_plain,
    grouped_attention,
    grouped_attention_plain,
    kv_cache_bytes,
    repeat_kv,
)
from selfattn.kvcache import SimpleKVCache, cached_forward
from selfattn.masks import causal_mask
from selfattn.multihead import (
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_wrapper_to_fused,
    to_torch_mha,
    torch_mha_forward,
)
from selfattn.pitfalls import seed_loop_context_vector, seed_loop_weights
from selfattn.positions import (
    half_to_interleaved,
    interleaved_to_half,
    rope,
    rope_complex,
    rope_frequencies,
    sinusoidal_positions,
)
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
from selfattn.trainable import (
    SelfAttentionLinear,
    SelfAttentionParams,
    copy_linear_to_params,
    copy_params_to_linear,
    score_variance,
    softmax_peak,
)

__version__ = "0.1.0"

__all__ = [
    "EMBEDDINGS",
    "IMPLEMENTATIONS",
    "TOKENS",
    "AttentionFn",
    "CausalAttention",
    "GroupedQueryAttention",
    "KVCache",
    "MultiHeadAttention",
    "MultiHeadAttentionWrapper",
    "SelfAttentionLinear",
    "SelfAttentionParams",
    "SimpleKVCache",
    "attention_loop",
    "attention_matmul",
    "attention_online",
    "attention_renormalised",
    "attention_scores",
    "attention_scores_loop",
    "attention_tiled",
    "attention_weights",
    "band_mask",
    "cached_forward",
    "causal_mask",
    "causal_softmax",
    "causal_softmax_renormalised",
    "context_vector_loop",
    "context_vectors",
    "copy_linear_to_params",
    "copy_params_to_linear",
    "copy_wrapper_to_fused",
    "decode_step_plain",
    "default_scale",
    "grouped_attention",
    "grouped_attention_plain",
    "half_to_interleaved",
    "interleaved_to_half",
    "kv_cache_bytes",
    "normalize_by_sum",
    "online_softmax_step",
    "renormalise",
    "repeat_kv",
    "rope",
    "rope_complex",
    "rope_frequencies",
    "score_variance",
    "seed_loop_context_vector",
    "seed_loop_weights",
    "sinusoidal_positions",
    "softmax_all_keys",
    "softmax_masked",
    "softmax_naive",
    "softmax_peak",
    "softmax_stable",
    "tiled_attention_backward",
    "tiled_attention_forward",
    "to_torch_mha",
    "torch_mha_forward",
    "toy_inputs",
]
