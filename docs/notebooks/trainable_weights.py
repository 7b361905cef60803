# %% [markdown]
# # Trainable weights (companion notebook)
#
# Runs the chapter [Self-attention with trainable weights](../../trainable-weights/)
# end to end: the two forms of the module, moving weights between them, and why the
# scores are divided by sqrt(d_k).

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()  # (6, 3)

# %% [markdown]
# `nn.Parameter` stores each W as (d_in, d_out); `nn.Linear` stores the transpose.

# %%
torch.manual_seed(123)
params = selfattn.SelfAttentionParams(d_in=3, d_out=2)
linear = selfattn.SelfAttentionLinear(d_in=3, d_out=2)
print(params.W_query.shape, linear.W_query.weight.shape)

# %% [markdown]
# Copy with the transpose, and the two modules agree.

# %%
selfattn.copy_linear_to_params(linear, params)
print(torch.allclose(params(inputs), linear(inputs)))

# %% [markdown]
# The variance of q.k grows with d_k; divided by sqrt(d_k) it stays near 1, and the
# softmax does not saturate.

# %%
for d_k in (1, 4, 16, 64, 256):
    print(
        d_k,
        round(selfattn.score_variance(d_k, scaled=False), 2),
        round(selfattn.score_variance(d_k, scaled=True), 2),
        round(selfattn.softmax_peak(d_k, scaled=False), 2),
        round(selfattn.softmax_peak(d_k, scaled=True), 2),
    )
