# %% [markdown]
# # Why attention, measured (companion notebook)
#
# Runs the chapter [Why attention, measured](../../why-attention-measured/): reads
# the training logs that ship with selfattn (the n-gram counts, the window MLP and
# the transformer, trained on Moby Dick) and draws their loss by position and their
# loss on a repeated random string. Counting the n-grams again takes seconds.

# %%
import matplotlib.pyplot as plt
import torch

from selfattn.baselines import NGram
from selfattn.corpus import moby_dick
from selfattn.lm_train import measure, ngram_log_probs, read_log

vocab, train_ids, val_ids = moby_dick()
lm, mlp = read_log("lm"), read_log("window-mlp")
grams = read_log("ngrams")["orders"]
for name, log in (("5-gram", grams["5"]), ("window MLP", mlp), ("transformer", lm)):
    print(f"{name:11} validation {log['val_loss']:.3f}, copy {log['copy_loss']:.2f}")

# %% [markdown]
# Loss at each position of the 64-character windows.

# %%
plt.figure(figsize=(6, 3.6))
for name, log in (("5-gram", grams["5"]), ("window MLP", mlp), ("transformer", lm)):
    plt.plot(log["loss_by_position"], label=name)
plt.axvline(7.5, color="grey", lw=1)
plt.xlabel("position")
plt.ylabel("loss (nats)")
plt.legend()

# %% [markdown]
# The 3-gram, counted here from the training text (a few seconds).

# %%
three = measure(ngram_log_probs(NGram(3, len(vocab)).fit(train_ids)))
print(f"3-gram: {three['val_loss']:.3f} (the log says {grams['3']['val_loss']:.3f})")

# %% [markdown]
# ## Exercises
#
# 1. A model gives the right character probability 0.5 everywhere: its loss?
# 2. Write `gain_past(curve, start)`: mean loss before `start` minus mean loss after.
#
# Solutions below (try first).

# %%
print(-torch.tensor(0.5).log().item())


# %%
def gain_past(curve, start):
    before = sum(curve[:start]) / start
    after = sum(curve[start:]) / (len(curve) - start)
    return before - after


for name, log in (("window MLP", mlp), ("transformer", lm)):
    print(name, round(gain_past(log["loss_by_position"], 8), 3))
