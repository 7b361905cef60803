# %% [markdown]
# # Training: the backward pass (companion notebook)
#
# Runs the chapter [Training: the backward pass](../../backward-pass/): what
# autograd keeps, the plain FlashAttention backward against autograd, and
# `attention_tiled` training with the gradients of PyTorch's attention.

# %%
import torch
from torch.nn.functional import scaled_dot_product_attention as sdpa

from selfattn import attention_tiled
from selfattn.efficient import attention_backward_plain, attention_tiled_plain


def saved_mib(fn, n):
    """MiB autograd keeps for the backward pass of fn at length n."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    q, k, v = (torch.randn(2, n, 16, requires_grad=True) for _ in range(3))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(q, k, v)
    return total / 2**20


for n in (256, 512):
    loop = saved_mib(
        lambda q, k, v: attention_tiled_plain(q, k, v, block_q=64, block_k=64)[0], n
    )
    tiled = saved_mib(
        lambda q, k, v: attention_tiled(q, k, v, block_q=64, block_k=64), n
    )
    print(f"n = {n}: through the loop {loop:.2f} MiB, attention_tiled {tiled:.2f} MiB")

# %% [markdown]
# The plain backward, from the forward's output and log-sum-exp, against autograd.

# %%
torch.manual_seed(0)
q, k, v = (torch.randn(2, 200, 16, requires_grad=True) for _ in range(3))
grad_out = torch.randn(2, 200, 16)
with torch.no_grad():
    out, lse = attention_tiled_plain(q, k, v, block_q=64, block_k=48)
ours = attention_backward_plain(q, k, v, out, lse, grad_out, block_q=64, block_k=48)
expected = torch.autograd.grad(sdpa(q, k, v), (q, k, v), grad_out)
print(
    [f"{(a - b).abs().max().item():.1e}" for a, b in zip(ours, expected, strict=True)]
)

# %% [markdown]
# `attention_tiled` under autograd, causal, with a padding mask: the same gradients.

# %%
mask = torch.ones(200, 200, dtype=torch.bool)
mask[:, 150:] = False  # the last 50 keys are padding
got = torch.autograd.grad(attention_tiled(q, k, v, mask=mask), (q, k, v), grad_out)
want = torch.autograd.grad(sdpa(q, k, v, attn_mask=mask), (q, k, v), grad_out)
print([torch.allclose(a, b, atol=1e-5) for a, b in zip(got, want, strict=True)])

# %% [markdown]
# Exercise: the log-sum-exp one block at a time
# (solution: `selfattn.exercises.backward_pass.logsumexp_blocks`).

# %%
from selfattn.exercises.backward_pass import logsumexp_blocks  # noqa: E402

s = 400 * torch.randn(3, 10, dtype=torch.float64)
print(torch.allclose(logsumexp_blocks(s, 4), torch.logsumexp(s, -1)))
