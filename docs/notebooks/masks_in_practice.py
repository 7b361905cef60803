# %% [markdown]
# # Masks in practice (companion notebook)
#
# Runs the chapter [Masks in practice](../../masks-in-practice/) end to end: dropout
# in training and evaluation mode, padding masks, a decode step, the context length,
# the chapter's figure and its exercises.

# %%
import matplotlib.pyplot as plt
import torch

import selfattn
from selfattn.exercises.masks_in_practice import decode_mask, padding_keep

inputs = selfattn.toy_inputs()  # (6, 3)

# %% [markdown]
# Dropout: rows stop summing to one in training mode only.

# %%
torch.manual_seed(123)
module = selfattn.CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.5)
print(module.train().attention_weights(inputs).sum(dim=-1))
print(module.eval().attention_weights(inputs).sum(dim=-1))

# %% [markdown]
# Padding: the second sequence has 4 real tokens and 2 padding; in attention that
# looks both ways, the padding mask makes its real tokens give what they give alone.

# %%
batch = torch.stack([inputs, torch.cat([inputs[:4], torch.zeros(2, 3)])])
keep = (torch.arange(6) < torch.tensor([6, 4])[:, None])[:, None, :]  # (2, 1, 6)
out = selfattn.attention_matmul(batch, batch, batch, mask=keep)  # both ways
alone = selfattn.attention_matmul(inputs[:4], inputs[:4], inputs[:4])
print(torch.allclose(out[1, :4], alone))

# %% [markdown]
# A decode step needs the bottom-right alignment of the causal mask: the chapter's
# figure.

# %%
fig, axes = plt.subplots(2, 1, figsize=(5.6, 3.6))
for ax, align in zip(axes, ("top-left", "bottom-right"), strict=True):
    ax.imshow(
        selfattn.causal_mask(2, 6, align=align).int(), cmap="viridis", vmin=0, vmax=1
    )
    ax.set_title(f'align="{align}"')
    ax.set_yticks([0, 1], ["q 0", "q 1"])
axes[1].set_xlabel("key j")
fig.tight_layout()

# %%
full = selfattn.attention_matmul(inputs, inputs, inputs, causal=True)
right = selfattn.causal_mask(2, 6, align="bottom-right")
step = selfattn.attention_matmul(inputs[4:], inputs, inputs, mask=right)
print(torch.allclose(step, full[4:]))

# %% [markdown]
# A sequence longer than the context length is refused.

# %%
try:
    selfattn.CausalAttention(d_in=3, d_out=2, context_length=4)(inputs)
except ValueError as error:
    print(error)

# %% [markdown]
# ## Exercises
#
# 1. Dropout with p = 0.5 drops the second of the weights (0.5, 0.3, 0.2). What comes out?
# 2. Write `padding_keep(lengths, n)`, the (b, 1, n) keep mask of right-padded sequences.
# 3. Write `decode_mask(n_q, n_k)`, the bottom-right causal mask, with `torch.arange`.
#
# Solutions below (try first).

# %%
print(torch.tensor([0.5, 0.3, 0.2]) * torch.tensor([True, False, True]) / (1 - 0.5))

# %%
print(torch.equal(padding_keep(torch.tensor([6, 4]), 6), keep))
print(torch.equal(decode_mask(2, 6), right))
