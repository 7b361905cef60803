# %% [markdown]
# # Trainable weights (companion notebook)
#
# Runs the chapter [Self-attention with trainable weights](../../trainable-weights/)
# end to end: the two forms of the module, moving weights between them, why the
# scores are divided by sqrt(d_k), the chapter's figure and its exercises.

# %%
import math

import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn.exercises.trainable_weights import self_attention

inputs = selfattn.toy_inputs()  # X, (6, 3)

# %% [markdown]
# `nn.Parameter` stores each W as (d_in, d_out); `nn.Linear` stores the transpose.
# Q = X W_q, K = X W_k, V = X W_v are each (n, d_out) = (6, 2).

# %%
torch.manual_seed(123)
params = selfattn.SelfAttentionParams(d_in=3, d_out=2)
linear = selfattn.SelfAttentionLinear(d_in=3, d_out=2)
print(params.W_query.shape, linear.W_query.weight.shape)
Q, K, V = inputs @ params.W_query, inputs @ params.W_key, inputs @ params.W_value
print(Q.shape, K.shape, V.shape)

# %% [markdown]
# Copy with the transpose, and the two modules agree.

# %%
selfattn.copy_linear_to_params(linear, params)
print(torch.allclose(params(inputs), linear(inputs)))

# %% [markdown]
# The variance of the scores q.k grows with d_k; divided by sqrt(d_k) it stays near 1,
# and the softmax does not saturate: the chapter's figure, drawn here.

# %%
dims = [1, 2, 4, 8, 16, 32, 64, 128, 256]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.6, 6.5))
for scaled, label in ((False, "unscaled"), (True, "scaled by 1/sqrt(d_k)")):
    top.plot(
        dims,
        [selfattn.score_variance(d, scaled=scaled) for d in dims],
        "o-",
        label=label,
    )
    bottom.plot(
        dims, [selfattn.softmax_peak(d, scaled=scaled) for d in dims], "o-", label=label
    )
top.set(xscale="log", yscale="log", xlabel="d_k", ylabel="variance of the scores")
bottom.set(xscale="log", xlabel="d_k", ylabel="largest of 8 weights", ylim=(0, 1.05))
bottom.axhline(1 / 8, ls="--", color="grey")
top.legend()
fig.tight_layout()

# %% [markdown]
# ## Exercises
#
# 1. One query has the scores (2, 0) with d_k = 4. Compute its weights without and
#    with the scale.
# 2. Write `self_attention(x, W_q, W_k, W_v)`, the module as a plain function.
# 3. Write `copy_params_to_linear`, the reverse of `copy_linear_to_params`.
#
# Solutions below (try first).

# %%
omega = torch.tensor([2.0, 0.0])
print(torch.softmax(omega, dim=-1), torch.softmax(omega / math.sqrt(4), dim=-1))

# %%
print(
    torch.allclose(
        self_attention(inputs, params.W_query, params.W_key, params.W_value),
        params(inputs),
    )
)

# %%
fresh = selfattn.SelfAttentionLinear(d_in=3, d_out=2)
selfattn.copy_params_to_linear(params, fresh)
print(torch.allclose(fresh(inputs), params(inputs)))
