# %% [markdown]
# # Inside a transformer block (companion notebook)
#
# Runs the chapter [Inside a transformer block](../../transformer-block/): follows
# one piece of text through the committed Part IV model, part by part, and checks
# that the parts put together give the model's own logits.

# %%
import torch
from torch.nn import functional as F

from selfattn.corpus import moby_dick
from selfattn.lm import load_pretrained

vocab, _, val_ids = moby_dick()
model = load_pretrained("lm")
ids = vocab.encode("Call me Ishmael.")[None, :]

# %%
with torch.no_grad():
    x = model.embed(ids)  # (1, n, d)
    print("embedding", tuple(x.shape))
    for i, block in enumerate(model.blocks):
        a, _ = block.attn(block.norm1(x))
        x = x + a  # the residual stream
        if block.mlp is not None:
            x = x + block.mlp(block.norm2(x))
        size = x.norm(dim=-1).mean().item()
        print(f"after block {i + 1}: stream size {size:.2f}")
    logits = model.head(model.norm(x))
    print("same as the model:", torch.allclose(logits, model(ids), atol=1e-5))

# %% [markdown]
# The loss of the model on a stretch of validation text, against a uniform guess.

# %%
window = val_ids[:65][None]
with torch.no_grad():
    loss = F.cross_entropy(model(window[:, :-1])[0], window[0, 1:])
print(f"{loss.item():.3f} nats; uniform {torch.log(torch.tensor(83.0)).item():.3f}")

# %% [markdown]
# ## Exercises
#
# 1. LayerNorm of (1, 3) with gamma 1, beta 0?
# 2. Write `layer_norm(x, weight, bias, eps)` with plain tensor operations.
#
# Solutions below (try first).

# %%
print(torch.nn.LayerNorm(2)(torch.tensor([[1.0, 3.0]])))


# %%
def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return weight * (x - mu) / torch.sqrt(var + eps) + bias


ln = model.blocks[0].norm1
e = model.embed(ids)
print(torch.allclose(layer_norm(e, ln.weight, ln.bias), ln(e), atol=1e-6))
