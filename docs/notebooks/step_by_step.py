# %% [markdown]
# # Step by step (companion notebook)
#
# Runs the chapter [Simplified self-attention, step by step](../../step-by-step/) end
# to end, for the query *Magic*: scores, weights, context vector, the figure, and the
# chapter's exercises with their solutions. Change `query_index` to follow another
# token. It needs `selfattn` (and so PyTorch) and matplotlib.

# %%
# %config InlineBackend.figure_formats = ["svg"]
import math

import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn import attention_scores_loop, context_vector_loop, softmax_stable

plt.rcParams["font.size"] = 14  # figures readable on a phone

inputs = selfattn.toy_inputs()  # (6, 3)
query_index = 0
query = inputs[query_index]
print(selfattn.TOKENS[query_index], query)

# %% [markdown]
# Step 1: one score ωⱼ per token, a dot product with the query.

# %%
scores = attention_scores_loop(query, inputs)  # (6,)
print(scores)

# %% [markdown]
# Step 2: scores to weights αⱼ. Dividing by the sum, the naive softmax and the
# stable softmax; the two softmaxes agree with each other and with `torch.softmax`.

# %%
print(selfattn.normalize_by_sum(scores))
weights = softmax_stable(scores)
print(weights, weights.sum())
print(selfattn.softmax_naive(scores))
print(torch.softmax(scores, dim=-1))

# %% [markdown]
# The naive softmax fails at both ends: overflow (inf / inf) and underflow (0 / 0).
# The stable one does not.

# %%
for big in (torch.tensor([1000.0, 999.0]), torch.tensor([-1000.0, -1001.0])):
    print(selfattn.softmax_naive(big), softmax_stable(big))

# %% [markdown]
# Step 3: the context vector z, the weighted sum of the embeddings.

# %%
z = context_vector_loop(weights, inputs)  # (3,)
print(z)

# %%
tokens = selfattn.TOKENS
fig, ax = plt.subplots(figsize=(4.8, 3.4))
bars = ax.bar(range(6), weights.tolist(), color="#5c6bc0")
ax.bar_label(bars, fmt="%.2f")
ax.set_xticks(range(6), tokens, rotation=35, ha="right")
ax.set_yticks([])
ax.set_title(f"weights of the query {tokens[query_index]} (sum 1)")
ax.spines[["top", "right", "left"]].set_visible(False)
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. **By hand.** Compute the score ω₂ of *Magic* for *happens* from their
#    embeddings, (0.43, 0.15, 0.89) and (0.55, 0.87, 0.66).
# 2. **By hand.** What are the softmax weights of the scores (1, 1, 1 + ln 2)?
# 3. **Write a function** `context_vector_of(query_index, inputs)` that runs the three
#    steps for any token.
# 4. **Write a function** `softmax_with_temperature(scores, temperature)` for
#    softmax(ω / T); try T = 0.1, 1 and 10.
#
# Try them before reading on.

# %% [markdown]
# ### Solution 1

# %%
print(0.43 * 0.55 + 0.15 * 0.87 + 0.89 * 0.66, scores[1].item())

# %% [markdown]
# ### Solution 2
#
# Only differences matter: (0, 0, ln 2) gives exponentials (1, 1, 2), so the
# weights are (1/4, 1/4, 1/2).

# %%
print(softmax_stable(torch.tensor([1.0, 1.0, 1.0 + math.log(2.0)])))

# %% [markdown]
# ### Solution 3

# %%
# --8<-- "selfattn/exercises/step_by_step.py:context_vector_of"

for i, token in enumerate(tokens):
    print(f"{token:>8}  {context_vector_of(i, inputs)}")

# %% [markdown]
# ### Solution 4

# %%
# --8<-- "selfattn/exercises/step_by_step.py:softmax_with_temperature"

for t in (0.1, 1.0, 10.0):
    print(t, softmax_with_temperature(scores, t))
