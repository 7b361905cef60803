# %% [markdown]
# # Why attention? (companion notebook)
#
# Runs the chapter [Why attention?](../../why-attention/) end to end: one word in two
# sentences (the same embedding, two different context vectors), the sentence average
# that gives every token the same vector, and the chapter's exercises with their
# solutions. It needs `selfattn` (and so PyTorch) and matplotlib.

# %%
# %config InlineBackend.figure_formats = ["svg"]
import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn.data import embed_words

plt.rcParams["font.size"] = 14  # figures readable on a phone

# %% [markdown]
# ## One word, two sentences
#
# `embed_words` gives each word four made-up numbers seeded by the word itself, like a
# model's lookup table: the same word always gets the same embedding.

# %%
warm = "The cat is sitting on the mat because it is warm".split()
tired = "The cat is sitting on the mat because it is tired".split()
it = warm.index("it")
x_warm, x_tired = embed_words(warm), embed_words(tired)  # (11, 4) each
print(torch.equal(x_warm[it], x_tired[it]))  # the embedding of "it": identical

# queries, keys, values: in Part I, all three are the embeddings;
# scale=1.0 leaves the scores as they are (Part II explains the scale)
z_warm = selfattn.attention_matmul(x_warm, x_warm, x_warm, scale=1.0)
z_tired = selfattn.attention_matmul(x_tired, x_tired, x_tired, scale=1.0)
print(z_warm[it])  # its context vectors: different
print(z_tired[it])

# %%
rows = torch.stack([x_warm[it], z_warm[it], x_tired[it], z_tired[it]])
names = ["x (… warm)", "z (… warm)", "x (… tired)", "z (… tired)"]
fig, ax = plt.subplots(figsize=(4.8, 3.0))
ax.imshow(rows.tolist(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
for r in range(4):
    for c in range(4):
        value = float(rows[r, c])
        colour = "white" if value < 0.6 else "black"
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", color=colour)
ax.set_yticks(range(4), names)
ax.set_xticks([])
ax.set_title('the token "it": embedding x, context z')
plt.show()

# %% [markdown]
# The embeddings are random numbers, so the weights of *it* mean nothing yet and do
# not single out *mat*: weights that mean something come from training.

# %%
weights = selfattn.attention_weights(x_warm, x_warm, scale=1.0)[it]
for word, alpha in zip(warm, weights, strict=True):
    print(f"{word:>8}  {alpha:.3f}")

# %% [markdown]
# ## One vector for the whole sentence
#
# The average of the embeddings would give every token the same vector; attention
# gives each token its own.

# %%
inputs = selfattn.toy_inputs()  # (6, 3): "Magic happens to those that believe"
print(inputs)  # one row per token
print(inputs.mean(dim=0))
context = selfattn.attention_matmul(inputs, inputs, inputs, scale=1.0)  # (6, 3)
for token, z in zip(selfattn.TOKENS, context, strict=True):
    print(f"{token:>8}  {z}")

# %% [markdown]
# ## Exercises
#
# 1. **By hand.** *Magic* gives half its attention to itself and half to *happens*:
#    α₁₁ = α₁₂ = 0.5, the others 0. Compute its context vector z⁽¹⁾ from the
#    embeddings printed above.
# 2. **Averaging is attention too.** Write `uniform_weights(n)`, the n × n
#    weights of a sentence in which every token attends evenly to all n tokens,
#    and check that they give every token the sentence average.
#
# Try them before reading on.

# %% [markdown]
# ### Solution 1
#
# Half of each embedding, added feature by feature: the midpoint of the two.

# %%
alpha = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0, 0.0])
print(alpha @ inputs)
print((inputs[0] + inputs[1]) / 2)

# %% [markdown]
# ### Solution 2

# %%
# --8<-- "selfattn/exercises/why_attention.py:uniform_weights"

print(selfattn.context_vectors(uniform_weights(6), inputs))
print(inputs.mean(dim=0))
