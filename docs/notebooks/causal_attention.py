# %% [markdown]
# # Causal attention (companion notebook)
#
# Runs the chapter [Causal attention](../../causal-attention/) end to end: masking
# before and after the softmax, the underflow pitfall, dropout, a decode step and the
# context length.

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()  # (6, 3)
scores = selfattn.attention_scores(inputs, inputs)

# %% [markdown]
# Masking before the softmax equals masking after it and renormalising...

# %%
before = selfattn.causal_softmax(scores)
print(before)
print(torch.allclose(selfattn.causal_softmax_renormalised(scores), before))

# %% [markdown]
# ...except when a future key scores far higher: the kept weights underflow.

# %%
extreme = torch.tensor([[0.0, 200.0], [0.0, 0.0]])
print(selfattn.causal_softmax(extreme)[0])
print(selfattn.causal_softmax_renormalised(extreme)[0])

# %% [markdown]
# Dropout: rows stop summing to one in training mode only.

# %%
torch.manual_seed(123)
module = selfattn.CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.5)
print(module.train().attention_weights(inputs).sum(dim=-1))
print(module.eval().attention_weights(inputs).sum(dim=-1))

# %% [markdown]
# A decode step needs the bottom-right alignment of the causal mask.

# %%
full = selfattn.attention_matmul(inputs, inputs, inputs, causal=True)
keep = selfattn.causal_mask(2, 6, align="bottom-right")
step = selfattn.attention_matmul(inputs[4:], inputs, inputs, mask=keep)
print(keep.int())
print(torch.allclose(step, full[4:]))

# %% [markdown]
# A sequence longer than the context length is refused.

# %%
try:
    selfattn.CausalAttention(d_in=3, d_out=2, context_length=4)(inputs)
except ValueError as error:
    print(error)
