# %% [markdown]
# # Multi-head attention (companion notebook)
#
# Runs the chapter [Multi-head attention](../../multi-head/) end to end: the wrapper
# and the fused module agree, and both equal `torch.nn.MultiheadAttention`.

# %%
import torch

import selfattn

inputs = selfattn.toy_inputs()
batch = torch.stack([inputs, inputs.flip(0)])  # (2, 6, 3)

# %%
torch.manual_seed(123)
wrapper = selfattn.MultiHeadAttentionWrapper(3, 4, context_length=6, num_heads=2)
fused = selfattn.MultiHeadAttention(3, 4, context_length=6, num_heads=2)
wrapper = wrapper.eval()  # evaluation mode: dropout off
fused = fused.eval()
selfattn.copy_wrapper_to_fused(wrapper, fused)
print(torch.allclose(fused(batch), wrapper(batch), atol=1e-6))

# %%
mha = selfattn.to_torch_mha(fused).eval()
out = selfattn.torch_mha_forward(mha, fused, batch)
print(torch.allclose(out, fused(batch), atol=1e-6))

# %% [markdown]
# A fully masked query (left padding): our module gives zero context, so the output
# is the output projection's bias.

# %%
padding = torch.zeros(2, 6, dtype=torch.bool)
padding[0, :2] = True
print(fused(batch, mask=~padding[:, None, :])[0, :2])
print(fused.out_proj.bias)
