# %% [markdown]
# # The KV cache (companion notebook)
#
# Runs the chapter [The KV cache](../../kv-cache/) end to end on the causal
# multi-head attention of Part II: a decode step without a cache recomputes rows it
# already had; with a cache, a prefill and then one token at a time give the causal
# forward over the whole sequence.

# %%
import torch

import selfattn
from selfattn import MultiHeadAttention, SimpleKVCache, cached_forward

torch.manual_seed(123)
mha = MultiHeadAttention(d_in=3, d_out=4, context_length=6, num_heads=2).eval()
x = selfattn.toy_inputs()[None]  # (1, 6, 3): x^(1) .. x^(6)

# %% [markdown]
# Two consecutive steps without a cache: the first four rows repeat.

# %%
with torch.no_grad():
    step4, step5 = mha(x[:, :4]), mha(x[:, :5])
print((step5[:, :4] - step4).abs().max())

# %% [markdown]
# With a cache: a prefill of three tokens, then one token per call.

# %%
cache = SimpleKVCache(batch_size=1, n_heads=2, head_dim=2, capacity=6)
with torch.no_grad():
    outs = [cached_forward(mha, x[:, :3], cache)]
    outs += [cached_forward(mha, x[:, t - 1 : t], cache) for t in (4, 5, 6)]
    full = mha(x)
print(cache.length, (torch.cat(outs, dim=1) - full).abs().max())

# %% [markdown]
# What a cache costs: bytes per token of a 32-layer model with 32 heads of 128
# features in float16, and the cache above (room for 6 tokens).

# %%
print(
    selfattn.kv_cache_bytes(
        1, n_layers=32, n_kv_heads=32, head_dim=128, bytes_per_number=2
    )
)
print(cache.keys.nbytes + cache.values.nbytes, "bytes for 6 tokens")
