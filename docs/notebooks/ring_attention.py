# %% [markdown]
# # Attention across devices (companion notebook)
#
# Runs the chapter [Attention across devices](../../ring-attention/): who holds which
# tokens, the merge of partial results, the ring played in one process, the causal
# tiles per rank, and `ring_attention` itself in a gloo process group of one rank
# (this process), which is what a ring of one is.

# %%
import datetime

import torch
import torch.distributed as dist
from torch.nn.functional import scaled_dot_product_attention as sdpa

from selfattn.efficient import tiled_attention_forward
from selfattn.ring import (
    free_port,
    merge_partials,
    ring_attention,
    ring_bytes,
    ring_simulated,
    scores_per_rank,
    shard,
    tiles_per_rank,
)

# %% [markdown]
# Which tokens each of 2 ranks holds, in both layouts:

# %%
positions = torch.arange(8.0).unsqueeze(-1)
for layout in ("contiguous", "zigzag"):
    print(
        layout,
        [
            shard(positions, r, 2, layout=layout).flatten().int().tolist()
            for r in range(2)
        ],
    )

# %% [markdown]
# Two halves of the keys, merged by their log-sum-exp, give attention over all keys:

# %%
torch.manual_seed(0)
q, k, v = torch.randn(1, 4, 8), torch.randn(1, 10, 8), torch.randn(1, 10, 3)
out, lse = merge_partials(
    *tiled_attention_forward(q, k[:, :6], v[:, :6]),
    *tiled_attention_forward(q, k[:, 6:], v[:, 6:]),
)
print((out - sdpa(q, k, v)).abs().max().item())

# %% [markdown]
# The whole ring for 4 ranks, played in one process, causal, zigzag, float64:

# %%
q, k, v = (torch.randn(2, 32, 8, dtype=torch.float64) for _ in range(3))
ring = ring_simulated(q, k, v, world_size=4, causal=True, layout="zigzag")
print((ring - sdpa(q, k, v, is_causal=True)).abs().max().item())

# %% [markdown]
# Causal tiles and kept scores per rank at n = 16,384, and the bytes each rank sends
# (forward, backward) at n = 65,536 with d_k = d_v = 64 in float32:

# %%
for layout in ("contiguous", "zigzag"):
    print(layout, tiles_per_rank(4, layout=layout, causal=True))
    print(layout, scores_per_rank(16_384, 4, layout=layout, causal=True))
print([b / 2**20 for b in ring_bytes(65_536, 4, d_k=64, d_v=64)], "MiB")

# %% [markdown]
# `ring_attention` in a real process group: one gloo rank, this process, on
# 127.0.0.1. Its output and gradients equal SDPA's. (More ranks need more processes:
# `python -m selfattn.ring --nproc 4` starts them.)

# %%
dist.init_process_group(
    "gloo",
    init_method=f"tcp://127.0.0.1:{free_port()}",
    rank=0,
    world_size=1,
    timeout=datetime.timedelta(seconds=60),
)
try:
    q, k, v = (
        torch.randn(2, 16, 8, dtype=torch.float64, requires_grad=True) for _ in range(3)
    )
    out = ring_attention(q, k, v, causal=True, layout="zigzag")
    out.sum().backward()
    grads = [t.grad for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    sdpa(q, k, v, is_causal=True).sum().backward()
    print((out - sdpa(q, k, v, is_causal=True)).abs().max().item())
    print(
        max(
            (g - t.grad).abs().max().item()
            for g, t in zip(grads, (q, k, v), strict=True)
        )
    )
finally:
    dist.destroy_process_group()
