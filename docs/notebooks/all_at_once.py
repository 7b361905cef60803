# %% [markdown]
# # All tokens at once (companion notebook)
#
# Runs the chapter [All tokens at once](../../all-at-once/) end to end: the score
# matrix, the row-wise softmax, the context vectors, and the evidence that the loop,
# the matrix form and PyTorch's attention agree.

# %%
import torch
from torch.nn.functional import scaled_dot_product_attention

import selfattn

inputs = selfattn.toy_inputs()  # X, (6, 3)
scores = selfattn.attention_scores(inputs, inputs)  # S = X X^T, (6, 6)
print(scores)

# %%
weights = selfattn.softmax_stable(scores, dim=-1)  # A, each row sums to one
print(weights)
print(weights.sum(dim=-1))

# %%
context = selfattn.context_vectors(weights, inputs)  # Z = A X, (6, 3)
print(context)

# %% [markdown]
# The loop of the previous chapter, for every query, against the matrix form and
# PyTorch's `scaled_dot_product_attention`.

# %%
by_loop = torch.stack(
    [
        selfattn.context_vector_loop(
            selfattn.softmax_stable(selfattn.attention_scores_loop(q, inputs)), inputs
        )
        for q in inputs
    ]
)
reference = scaled_dot_product_attention(inputs, inputs, inputs, scale=1.0)
print((by_loop - context).abs().max())
print((reference - context).abs().max())
print(torch.allclose(by_loop, context), torch.allclose(reference, context, atol=1e-6))
