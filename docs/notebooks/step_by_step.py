# %% [markdown]
# # Step by step (companion notebook)
#
# Runs the chapter [Simplified self-attention, step by step](../../step-by-step/) end
# to end, for the query *Magic*. Change `query_index` to follow another token.

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()  # (6, 3)
query_index = 0
query = inputs[query_index]
print(selfattn.TOKENS[query_index], query)

# %% [markdown]
# Step 1: one score per token, a dot product with the query.

# %%
scores = selfattn.attention_scores_loop(query, inputs)  # (6,)
print(scores)

# %% [markdown]
# Step 2: scores to weights. Dividing by the sum, the naive softmax and the stable
# softmax; the two softmaxes agree with each other and with `torch.softmax`.

# %%
print(selfattn.normalize_by_sum(scores))
weights = selfattn.softmax_stable(scores)
print(weights, weights.sum())
print(selfattn.softmax_naive(scores))
print(torch.softmax(scores, dim=-1))

# %% [markdown]
# Only the stable softmax survives large scores.

# %%
big = torch.tensor([1000.0, 999.0])
print(selfattn.softmax_naive(big), selfattn.softmax_stable(big))

# %% [markdown]
# Step 3: the context vector, the weighted sum of the embeddings.

# %%
z = selfattn.context_vector_loop(weights, inputs)  # (3,)
print(z)
