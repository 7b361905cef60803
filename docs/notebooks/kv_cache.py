# %% [markdown]
# # The KV cache (companion notebook)
#
# Runs the chapter [The KV cache](../../kv-cache/) end to end: a decode step without
# a cache recomputes rows it already had; with a cache, decoding one token (or a
# chunk) at a time gives the causal forward over the whole sequence.

# %%
import torch

import selfattn

torch.manual_seed(123)
module = selfattn.GroupedQueryAttention(3, 4, 2, 2, context_length=6, rope=True).eval()
x = selfattn.toy_inputs()[None]  # (1, 6, 3)

# %% [markdown]
# Two consecutive steps without a cache: the first four rows repeat.

# %%
with torch.no_grad():
    step4, step5 = module(x[:, :4]), module(x[:, :5])
print((step5[:, :4] - step4).abs().max())

# %% [markdown]
# With a cache: a prefill of three tokens, then one token per call.

# %%
cache = module.new_cache(batch_size=1)
with torch.no_grad():
    outs = [module(x[:, :3], cache=cache)]
    outs += [module(x[:, i : i + 1], cache=cache) for i in range(3, 6)]
    full = module(x)
print(cache.length, (torch.cat(outs, dim=1) - full).abs().max())

# %% [markdown]
# What a cache costs: bytes per token of a 32-layer model with 32 key/value heads
# of 128 features in float16, and the cache of the module above.

# %%
print(
    selfattn.kv_cache_bytes(
        1, n_layers=32, n_kv_heads=32, head_dim=128, bytes_per_number=2
    )
)
print(cache.nbytes, "bytes for", cache.capacity, "tokens")
