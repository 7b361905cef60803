# %% [markdown]
# # Generating text (companion notebook)
#
# Runs the chapter [Generating text](../../generating-text/): text from the committed
# Part IV model, greedy and sampled, with and without the KV cache. Change the
# prompt, the temperature and top-k and run again.

# %%
import time

import torch

from selfattn.corpus import moby_dick
from selfattn.generate import generate, generate_text
from selfattn.lm import load_pretrained

vocab, _, _ = moby_dick()
model = load_pretrained("lm")
print(generate_text(model, vocab, "The whale ", 120))

# %%
print(generate_text(model, vocab, "The whale ", 120, temperature=0.8, top_k=5, seed=1))

# %% [markdown]
# The cache: the same characters, and the time each way.

# %%
prompt = vocab.encode("Call me Ishmael. ")[None, :]
for use_cache in (True, False):
    start = time.perf_counter()
    out, scores = generate(model, prompt, 200, use_cache=use_cache)
    print(f"cache={use_cache}: {time.perf_counter() - start:.2f} s")
a, _ = generate(model, prompt, 200, use_cache=True)
print("same characters:", torch.equal(a, out))

# %% [markdown]
# ## Exercises
#
# 1. Scores (2, 1, 0): the first character's probability at T = 1 and T = 0.5?
# 2. Write `top_p_filter(logits, p)` (nucleus sampling's filter).
#
# Solutions below (try first).

# %%
s = torch.tensor([2.0, 1.0, 0.0])
print(s.softmax(-1)[0].item(), (s / 0.5).softmax(-1)[0].item())


# %%
def top_p_filter(logits, p):
    probs = logits.softmax(dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p
    drop_sorted = before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


with torch.no_grad():
    kept = top_p_filter(model(prompt)[0, -1], 0.9).isfinite()
print(int(kept.sum()), "characters kept")
