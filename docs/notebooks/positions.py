# %% [markdown]
# # Where is each token? (companion notebook)
#
# Runs the chapter [Where is each token?](../../positions/) end to end: attention
# without positions only reorders its outputs, sinusoidal encodings and RoPE break
# that symmetry, and RoPE's scores depend on the offset between positions alone.

# %%
import torch

import selfattn

gen = torch.Generator().manual_seed(0)
x = torch.randn(6, 8, generator=gen, dtype=torch.float64)  # six tokens
rev = torch.tensor([5, 4, 3, 2, 1, 0])  # the sentence backwards
pos = torch.arange(6)

# %% [markdown]
# Without positions, the reversed sentence gives the reversed outputs.

# %%
z = selfattn.attention_matmul(x, x, x)
print(torch.allclose(selfattn.attention_matmul(x[rev], x[rev], x[rev]), z[rev]))

# %% [markdown]
# With RoPE on the queries and keys it does not.


# %%
def with_rope(x: torch.Tensor) -> torch.Tensor:
    q = k = selfattn.rope(x, pos)
    return selfattn.attention_matmul(q, k, x)


print(torch.allclose(with_rope(x[rev]), with_rope(x)[rev]))

# %% [markdown]
# The score of a query and a key after RoPE: the same for every pair of positions
# with the same offset. Change `offset` and `start` and watch.

# %%
q, k = torch.randn(2, 1, 8, generator=gen, dtype=torch.float64)
offset = 3
for start in (0, 10, 1000):
    i, j = torch.tensor([start]), torch.tensor([start + offset])
    score = selfattn.rope(q, i) @ selfattn.rope(k, j).T
    print(start, f"{float(score):.10f}")

# %% [markdown]
# The two layouts: the same rotations on reordered channels.

# %%
perm = selfattn.interleaved_to_half(8)
inter = selfattn.rope(x, pos, layout="interleaved")
half = selfattn.rope(x[:, perm], pos, layout="half")
print(perm.tolist(), torch.equal(half, inter[:, perm]))
