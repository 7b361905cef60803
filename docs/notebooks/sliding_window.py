# %% [markdown]
# # Sliding windows (companion notebook)
#
# Runs the chapter [Sliding windows](../../sliding-window/) end to end: the band
# mask, the rolling buffer of a window cache, and the check that, in one layer, the
# cached decode equals recomputing over the last `window` tokens.

# %%
import torch

import selfattn

pos = torch.arange(8)
print(selfattn.band_mask(pos, pos, window=3).int())

# %%
torch.manual_seed(0)
module = selfattn.GroupedQueryAttention(
    4, 8, 4, 2, context_length=40, window=5, rope=True
).eval()
x = torch.randn(1, 40, 4)
cache = module.new_cache(batch_size=1)
worst = 0.0
with torch.no_grad():
    for p in range(40):
        out = module(x[:, p : p + 1], cache=cache)[:, 0]
        again = module(x[:, max(0, p - 4) : p + 1])[:, -1]
        worst = max(worst, float((out - again).abs().max()))
print(worst)
print(cache.keys.shape, cache.positions.tolist())  # 5 slots, the last 5 positions

# %% [markdown]
# Reusing the cache for a new sequence: `reset()` puts the position pointer back
# to 0.

# %%
cache.reset()
with torch.no_grad():
    outs = [module(x[:, i : i + 1], cache=cache) for i in range(10)]
    print((torch.cat(outs, dim=1) - module(x[:, :10])).abs().max())
