# %% [markdown]
# # Multi-head attention (companion notebook)
#
# Runs the chapter [Multi-head attention](../../multi-head/) end to end: the wrapper
# and the fused module agree, both equal `torch.nn.MultiheadAttention`, the heads'
# weights as a figure, and the chapter's exercises.

# %%
import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn.exercises.multi_head import count_parameters, merge_heads

inputs = selfattn.toy_inputs()
batch = torch.stack([inputs, inputs.flip(0)])  # (b=2, n=6, 3)

# %%
torch.manual_seed(123)
wrapper = selfattn.MultiHeadAttentionWrapper(3, 4, context_length=6, num_heads=2)
fused = selfattn.MultiHeadAttention(3, 4, context_length=6, num_heads=2)
wrapper = wrapper.eval()  # evaluation mode: dropout off
fused = fused.eval()
selfattn.copy_wrapper_to_fused(wrapper, fused)
print(torch.allclose(fused(batch), wrapper(batch), atol=1e-6))

# %% [markdown]
# The split: (b, n, d_out) -> (b, h, n, d_h).

# %%
print(fused.W_query(batch).shape, "->", fused.split_heads(fused.W_query(batch)).shape)

# %% [markdown]
# The two heads' weights on the six tokens (the chapter's figure): untrained, they
# look alike.

# %%
heads = fused.attention_weights(inputs).detach()  # (h, n, n)
fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6))
for h, ax in enumerate(axes):
    ax.imshow(heads[h], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}")
    ax.set_xticks(range(6), selfattn.TOKENS, rotation=45, ha="right")
    ax.set_yticks(range(6), selfattn.TOKENS if h == 0 else [])
fig.tight_layout()

# %%
mha = selfattn.to_torch_mha(fused).eval()
out = selfattn.torch_mha_forward(mha, fused, batch)
print(torch.allclose(out, fused(batch), atol=1e-6))

# %% [markdown]
# A fully masked query (left padding): our module gives zero context, so the output
# is the output projection's bias.

# %%
padding = torch.zeros(2, 6, dtype=torch.bool)
padding[0, :2] = True
print(fused(batch, mask=~padding[:, None, :])[0, :2])
print(fused.out_proj.bias)

# %% [markdown]
# ## Exercises
#
# 1. With d_out = 12 and h = 3 heads, what is d_h, and the queries' shape after
#    `split_heads` for 2 sequences of 5 tokens?
# 2. Write `merge_heads(t)`, the inverse of `split_heads`.
# 3. Write `count_parameters(module)`; do the wrapper and the fused module agree?
#
# Solutions below (try first).

# %%
twelve = selfattn.MultiHeadAttention(d_in=3, d_out=12, context_length=5, num_heads=3)
print(twelve.split_heads(torch.zeros(2, 5, 12)).shape)

# %%
t = torch.randn(2, 6, 4)
print(torch.equal(merge_heads(fused.split_heads(t)), t))
print(count_parameters(wrapper), count_parameters(fused))
