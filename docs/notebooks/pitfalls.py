# %% [markdown]
# # Pitfalls (companion notebook)
#
# Runs the chapter [Pitfalls](../../pitfalls/) end to end: each mistake, the numbers
# it produces, and the right numbers next to them.

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()
right = selfattn.attention_weights(inputs, inputs, scale=1.0)  # (6, 6)

# %% [markdown]
# 1. Normalising twice: flatter weights and a wrong context vector.

# %%
print(selfattn.seed_loop_weights(inputs, query_index=0))
print(right[0])
print(selfattn.seed_loop_context_vector(inputs, query_index=0))
print(selfattn.context_vector_loop(right[0], inputs))

# %% [markdown]
# 2. *happens* and *to* are almost the same vector, so a swap between them barely
# moves the weights.

# %%
print(inputs[1], inputs[2])
print((right[1] - right[2]).abs().max())

# %% [markdown]
# 3. Softmax over the wrong dimension: rows no longer sum to one.

# %%
scores = selfattn.attention_scores(inputs, inputs)
print(selfattn.softmax_stable(scores, dim=0).sum(dim=-1))
print(selfattn.softmax_stable(scores, dim=-1).sum(dim=-1))

# %% [markdown]
# 4. The naive softmax overflows; the stable one does not.

# %%
big = torch.tensor([90.0, 89.0, 80.0])
print(selfattn.softmax_naive(big), selfattn.softmax_stable(big))
half = torch.tensor([12.0, 11.0, 10.0], dtype=torch.float16)
print(selfattn.softmax_naive(half), selfattn.softmax_stable(half))
