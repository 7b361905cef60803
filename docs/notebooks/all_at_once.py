# %% [markdown]
# # All tokens at once (companion notebook)
#
# Runs the chapter [All tokens at once](../../all-at-once/) end to end: the score
# matrix Ω = X Xᵀ, the row-wise softmax, the context vectors Z = A X, the
# weights heatmap, the evidence that the loop, the matrix form and PyTorch's attention
# agree, and the chapter's exercises with their solutions. It needs `selfattn` (and
# so PyTorch) and matplotlib.

# %%
# %config InlineBackend.figure_formats = ["svg"]
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from torch.nn.functional import scaled_dot_product_attention

import selfattn
from selfattn import softmax_stable

plt.rcParams["font.size"] = 14  # figures readable on a phone

inputs = selfattn.toy_inputs()  # X, (6, 3)
scores = selfattn.attention_scores(inputs, inputs)  # Omega = X X^T, (6, 6)
print(scores)

# %%
weights = softmax_stable(scores, dim=-1)  # A, each row sums to one
print(weights)
print(weights.sum(dim=-1))

# %%
context = selfattn.context_vectors(weights, inputs)  # Z = A X, (6, 3)
print(context)

# %%
tokens = selfattn.TOKENS
fig, ax = plt.subplots(figsize=(4.8, 4.8))
ax.imshow(weights.tolist(), cmap="viridis")
lo, hi = float(weights.min()), float(weights.max())
for i in range(6):
    for j in range(6):
        value = float(weights[i, j])
        colour = "white" if (value - lo) / (hi - lo) < 0.6 else "black"
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=colour)
ax.set_xticks(range(6), tokens, rotation=40, ha="right")
ax.set_yticks(range(6), tokens)
ax.set_xlabel("key j")
ax.set_ylabel("query i")
ax.set_title("weights, each row sums to 1")
plt.show()

# %% [markdown]
# The loop of the previous chapter, for every query, against the matrix form and
# PyTorch's `scaled_dot_product_attention`.

# %%
by_loop = torch.stack(
    [
        selfattn.context_vector_loop(
            softmax_stable(selfattn.attention_scores_loop(q, inputs)), inputs
        )
        for q in inputs
    ]
)
reference = scaled_dot_product_attention(inputs, inputs, inputs, scale=1.0)
print((by_loop - context).abs().max())
print((reference - context).abs().max())
# float32 entries below 1 (eps 1.2e-7): allow a few units of rounding
print(torch.allclose(by_loop, context, rtol=0, atol=1e-6))
print(torch.allclose(reference, context, rtol=0, atol=1e-6))

# %% [markdown]
# ## Exercises
#
# 1. **By hand.** With n = 10 tokens of d = 4 numbers, what are the shapes of X,
#    Ω, A and Z? How many dot products does Ω hold?
# 2. **Write a function** `attention_einsum(x)` that computes
#    softmax(X Xᵀ) X with `torch.einsum`.
# 3. **Write a function** `most_attended(weights, tokens)` that names, for each query,
#    the token with its largest weight. Does every token attend most to itself?
#
# Try them before reading on.

# %% [markdown]
# ### Solution 1
#
# X and Z are 10 × 4, Ω and A are 10 × 10: 100 dot products.

# %%
x10 = torch.rand(10, 4)
omega = selfattn.attention_scores(x10, x10)
print(
    x10.shape, omega.shape, selfattn.context_vectors(softmax_stable(omega), x10).shape
)

# %% [markdown]
# ### Solution 2

# %%
# --8<-- "selfattn/exercises/all_at_once.py:attention_einsum"

print((attention_einsum(inputs) - context).abs().max())

# %% [markdown]
# ### Solution 3

# %%
# --8<-- "selfattn/exercises/all_at_once.py:most_attended"

for query, key in zip(tokens, most_attended(weights, tokens), strict=True):
    print(f"{query:>8} attends most to {key}")
