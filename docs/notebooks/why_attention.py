# %% [markdown]
# # Why attention? (companion notebook)
#
# Runs the chapter [Why attention?](../../why-attention/) end to end. It needs only
# `selfattn` (and so PyTorch): `pip install -e .` from the repository root.

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()  # (6, 3): "Magic happens to those that believe"
print(selfattn.TOKENS)
print(inputs)

# %% [markdown]
# One vector for the whole sentence: every token would get the same summary.

# %%
sentence_vector = inputs.mean(dim=0)
print(sentence_vector)

# %% [markdown]
# Attention gives each token its own context vector, a weighted average of all six
# embeddings with weights that depend on the token.

# %%
context = selfattn.attention_matmul(inputs, inputs, inputs, scale=1.0)  # (6, 3)
for token, z in zip(selfattn.TOKENS, context, strict=True):
    print(f"{token:>8}  {z}")

# %% [markdown]
# No two tokens share a context vector, while the sentence average is one vector for
# all of them.

# %%
print(torch.cdist(context, context).fill_diagonal_(float("inf")).min())
