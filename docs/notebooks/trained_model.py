# %% [markdown]
# # A trained model (companion notebook)
#
# Runs the chapter [A trained model](../../trained-model/): a two-head attention-only
# model that learns to name the tokens one and two places back. The trained model
# ships inside the selfattn package: `load_look_back()` reads it anywhere. Set
# `RETRAIN = True` to train it again from the seed instead (seconds on a CPU; on one
# thread, as `python -m selfattn.train` uses, it repeats the shipped run up to
# rounding on the same torch and a similar CPU).

# %%
import matplotlib.pyplot as plt
import torch

from selfattn.exercises.trained_model import weight_on_offset
from selfattn.train import (
    TaskConfig,
    accuracy,
    head_distance,
    held_out_set,
    load_look_back,
    look_back_metrics,
    mean_head_maps,
    train,
)

RETRAIN = False
if RETRAIN:
    torch.set_num_threads(1)  # as python -m selfattn.train does
    config = TaskConfig()
    result = train(config)
    untrained, trained, losses = result.initial, result.model, result.losses
else:
    config, untrained, trained = load_look_back()
    losses = look_back_metrics()["losses"]
tokens, targets = held_out_set(config)
print(f"held-out accuracy {accuracy(trained, tokens, targets):.1%}")

# %% [markdown]
# Each head's weights, averaged over the held-out sequences, before and after.

# %%
fig, axes = plt.subplots(2, 2, figsize=(6.2, 6.4))
for r, (model, when) in enumerate(((untrained, "untrained"), (trained, "trained"))):
    maps = mean_head_maps(model, tokens)
    for head, ax in enumerate(axes[r]):
        ax.imshow(maps[head], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{when}, head {head}")
fig.tight_layout()

# %%
if losses:
    plt.figure(figsize=(5.6, 3.4))
    plt.semilogy(losses)
    plt.xlabel("training step")
    plt.ylabel("loss")

# %%
before = head_distance(mean_head_maps(untrained, tokens))
after_distance = head_distance(mean_head_maps(trained, tokens))
print(
    f"distance between the heads: untrained {before:.2f}, trained {after_distance:.2f}"
)

# %% [markdown]
# ## Exercises
#
# 1. For query 5, which keys should the two trained heads look at?
# 2. Head A puts (0, 1) on two keys, head B (0.5, 0.5): what is their distance?
# 3. Write `weight_on_offset(maps, offset)`: each head's mean weight `offset` back.
#
# Solutions below (try first).

# %%
after = mean_head_maps(trained, tokens)
print(after[:, 5].argmax(dim=-1))  # keys 4 and 3

# %%
print(
    head_distance(torch.stack([torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]])]))
)

# %%
print(weight_on_offset(after, 1), weight_on_offset(after, 2))
