# %% [markdown]
# # Sharing keys and values (companion notebook)
#
# Runs the chapter [Sharing keys and values](../../sharing-kv/) end to end: grouped
# attention equals PyTorch's `enable_gqa=True` (torch 2.5 or later), and the KV
# cache shrinks by the group size. Change `n_kv_heads` and watch.

# %%
import torch
from torch.nn.functional import scaled_dot_product_attention

import selfattn

n_heads, n_kv_heads = 8, 2
gen = torch.Generator().manual_seed(0)
q = torch.randn(1, n_heads, 6, 16, generator=gen)  # (batch, h, n, d_h)
k, v = torch.randn(2, 1, n_kv_heads, 6, 16, generator=gen)  # (batch, h_kv, n, d_h)
keep = selfattn.band_mask(torch.arange(6), torch.arange(6))  # causal

# %%
ours = selfattn.grouped_attention(q, k, v, keep)
sdpa = scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
print(torch.allclose(ours, sdpa, atol=1e-6))

# %% [markdown]
# Which key/value head each query head reads:

# %%
kv = torch.arange(float(n_kv_heads)).reshape(1, n_kv_heads, 1, 1)
print(selfattn.repeat_kv(kv, n_heads // n_kv_heads).flatten().tolist())

# %% [markdown]
# The cache of one module, per token, for each grouping (float32):

# %%
for h_kv in (8, 4, 2, 1):
    m = selfattn.GroupedQueryAttention(128, 128, 8, h_kv, context_length=512)
    cache = m.new_cache(batch_size=1)
    print(h_kv, "KV heads:", cache.nbytes // cache.capacity, "bytes per token")
