# %% [markdown]
# # Efficient attention (companion notebook)
#
# Runs the chapter [Efficient attention](../../efficient-attention/): the online
# softmax block by block, the tiled forward in its plain and tuned forms, and the
# chapter's exercises.

# %%
import math

import torch
from torch.nn.functional import scaled_dot_product_attention as sdpa

import selfattn
from selfattn.efficient import attention_tiled_plain, tiled_attention_forward

# %% [markdown]
# One query, three key blocks of four: the running max `m`, sum `l` and
# accumulator `acc` after each block (the values are one number per key).

# %%
scores = torch.tensor([0.5, 1.5, 0.2, 1.0, 2.8, 0.4, 1.9, -0.3, 1.2, 2.2, 0.6, 0.9])
values = torch.tensor([1.0, 3.0, 0.0, 2.0, 4.0, 1.0, 2.5, 0.5, 3.5, 1.5, 2.0, 0.0])
m = torch.full((1, 1, 1), -math.inf)
total, acc = torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)
for j0 in range(0, 12, 4):
    block = scores[j0 : j0 + 4].view(1, 1, 4).clone()
    m = selfattn.online_softmax_step(
        m, total, acc, block, values[j0 : j0 + 4].view(1, 4, 1)
    )
    print(
        f"after keys {j0}-{j0 + 3}: m = {m.item():.2f}, l = {total.item():.2f}, "
        f"acc = {acc.item():.2f}"
    )
print(
    "acc / l =",
    (acc / total).item(),
    " softmax . v =",
    (scores.softmax(0) @ values).item(),
)

# %% [markdown]
# The plain tiled forward and the tuned one agree, and both equal SDPA.

# %%
torch.manual_seed(1)
q, k, v = (torch.randn(2, 4, 500, 32) for _ in range(3))
plain, plain_lse = attention_tiled_plain(q, k, v, block_q=64, block_k=96)
tuned, tuned_lse = tiled_attention_forward(q, k, v, block_q=64, block_k=96)
print(torch.allclose(plain, tuned, atol=1e-6), torch.allclose(plain_lse, tuned_lse))
print((tuned - sdpa(q, k, v)).abs().max())

# %% [markdown]
# Exercise: merge the online-softmax states of two halves of the keys
# (solution: `selfattn.exercises.efficient_attention.merge_states`).

# %%
from selfattn.exercises.efficient_attention import merge_states  # noqa: E402


def state(s, v):
    m = torch.full((*s.shape[:-1], 1), -math.inf)
    total, acc = torch.zeros(m.shape), torch.zeros(*s.shape[:-1], v.shape[-1])
    return selfattn.online_softmax_step(m, total, acc, s.clone(), v), total, acc


s, v = 50 * torch.randn(1, 3, 10), torch.randn(1, 10, 4)
m, total, acc = merge_states(state(s[..., :4], v[:, :4]), state(s[..., 4:], v[:, 4:]))
print(torch.allclose(acc / total, torch.softmax(s, -1) @ v, atol=1e-6))
