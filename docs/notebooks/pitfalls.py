# %% [markdown]
# # Pitfalls (companion notebook)
#
# Runs the chapter [Pitfalls](../../pitfalls/) end to end: each mistake, the numbers
# it produces next to the right ones, the figure of the flat weights, and the
# chapter's exercises with their solutions. It needs `selfattn` (and so PyTorch) and
# matplotlib.

# %%
# %config InlineBackend.figure_formats = ["svg"]
import math

import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn import normalize_by_sum, softmax_stable

plt.rcParams["font.size"] = 14  # figures readable on a phone

inputs = selfattn.toy_inputs()
right = selfattn.attention_weights(inputs, inputs, scale=1.0)  # (6, 6)

# %% [markdown]
# 1. Normalising twice, as the seed notebook (the notebook this project grew from)
# did: flatter weights and a wrong context vector.

# %%
wrong = selfattn.seed_loop_weights(inputs, query_index=0)
print(wrong)
print(right[0])
print(selfattn.seed_loop_context_vector(inputs, query_index=0))
print(selfattn.context_vector_loop(right[0], inputs))

# %%
positions = torch.arange(6, dtype=torch.float32)
fig, ax = plt.subplots(figsize=(4.8, 3.6))
ax.bar((positions - 0.2).tolist(), right[0].tolist(), width=0.4, label="right")
ax.bar((positions + 0.2).tolist(), wrong.tolist(), width=0.4, label="normalised twice")
ax.axhline(1 / 6, color="black", lw=1, ls="--")
ax.set_xticks(range(6), selfattn.TOKENS, rotation=35, ha="right")
ax.set_ylabel("weight for the query Magic")
ax.legend(frameon=False)
plt.show()

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
print(softmax_stable(scores, dim=0).sum(dim=-1))
print(softmax_stable(scores, dim=-1).sum(dim=-1))

# %% [markdown]
# 4. The naive softmax overflows; the stable one does not.

# %%
big = torch.tensor([90.0, 89.0, 80.0])
print(selfattn.softmax_naive(big), softmax_stable(big))
half = torch.tensor([12.0, 11.0, 10.0], dtype=torch.float16)
print(selfattn.softmax_naive(half), softmax_stable(half))

# %% [markdown]
# ## Exercises
#
# 1. **By hand.** Two scores (1, 3): compute the right weights and the weights
#    normalised twice. Which are flatter?
# 2. **Write a function** `check_weights(weights)` that raises `ValueError` unless
#    every row is non-negative and sums to one. Which mistakes does it catch?
# 3. **Write a function** `overflow_threshold(dtype)`: the score above which the naive
#    softmax overflows.
#
# Try them before reading on.

# %% [markdown]
# ### Solution 1

# %%
two = torch.tensor([1.0, 3.0])
print(softmax_stable(two))  # about (0.12, 0.88)
print(softmax_stable(normalize_by_sum(two)))  # about (0.38, 0.62): flatter

# %% [markdown]
# ### Solution 2
#
# It catches mistake 3 (rows that do not sum to one) and mistake 4 (`nan` from an
# overflow), and the negative "weights" of dividing by the sum. Mistakes 1 and 2
# give valid (just wrong) weights, which only a comparison with the right numbers
# catches.

# %%
# --8<-- "selfattn/exercises/pitfalls.py:check_weights"

check_weights(right)  # passes silently
for wrong in (softmax_stable(scores, dim=0), selfattn.softmax_naive(big)):
    try:
        check_weights(wrong)
    except ValueError as error:
        print(error)

# %% [markdown]
# ### Solution 3

# %%
# --8<-- "selfattn/exercises/pitfalls.py:overflow_threshold"

for dtype in (torch.float32, torch.float16, torch.bfloat16):
    print(dtype, overflow_threshold(dtype))
