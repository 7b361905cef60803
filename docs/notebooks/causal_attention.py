# %% [markdown]
# # Causal attention (companion notebook)
#
# Runs the chapter [Causal attention](../../causal-attention/) end to end: masking
# before and after the softmax, the underflow pitfall and its fix, the causal module,
# the chapter's figure and its exercises.

# %%
import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn.exercises.causal_attention import causal_weights_loop

inputs = selfattn.toy_inputs()  # (6, 3)
scores = selfattn.attention_scores(inputs, inputs)

# %% [markdown]
# Masking before the softmax equals masking after it and renormalising...

# %%
before = selfattn.causal_softmax(scores)
print(before)
print(torch.allclose(selfattn.causal_softmax_renormalised(scores), before))

# %% [markdown]
# The causal weights as a picture: zero above the diagonal.

# %%
fig, ax = plt.subplots(figsize=(5.6, 5))
ax.imshow(before, cmap="viridis", vmin=0, vmax=1)
for i in range(6):
    for j in range(6):
        value = before[i, j].item()
        ax.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            color="white" if value < 0.6 else "black",
        )
ax.set_xticks(range(6), selfattn.TOKENS, rotation=45, ha="right")
ax.set_yticks(range(6), selfattn.TOKENS)
ax.set(xlabel="key j", ylabel="query i")
fig.tight_layout()

# %% [markdown]
# ...except when a future key scores far higher: the kept weights underflow. The fix
# shifts by the largest kept score.

# %%
extreme = torch.tensor([[0.0, 200.0], [0.0, 0.0]])
keep = selfattn.causal_mask(2, 2)
print(selfattn.causal_softmax(extreme)[0])
print(selfattn.causal_softmax_renormalised(extreme)[0])
print(selfattn.renormalise(selfattn.softmax_all_keys(extreme, keep), keep)[0])

# %% [markdown]
# The causal module (no dropout: rate 0 by default).

# %%
torch.manual_seed(123)
module = selfattn.CausalAttention(d_in=3, d_out=2, context_length=6)
print(module.attention_weights(inputs).sum(dim=-1))

# %% [markdown]
# ## Exercises
#
# 1. Query 1 of three has the scores (1, 1, 5). What are its causal weights?
# 2. Write `causal_weights_loop(scores)`: a softmax per query over the keys it may see.
# 3. What is the first token's context vector in causal self-attention?
#
# Solutions below (try first).

# %%
row = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 5.0], [0.0, 0.0, 0.0]])
print(selfattn.causal_softmax(row)[1])

# %%
print(torch.allclose(causal_weights_loop(scores), before))

# %%
print(torch.allclose(module(inputs)[0], module.W_value(inputs)[0]))  # z(1) = v(1)
