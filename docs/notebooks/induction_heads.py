# %% [markdown]
# # Induction heads (companion notebook)
#
# Runs the chapter [Induction heads](../../induction-heads/): the committed 2-layer
# attention-only model and its 1-layer control (both ship inside the selfattn
# wheel, with their training logs), scored, drawn and ablated.

# %%
import matplotlib.pyplot as plt
import torch

from selfattn.induction import (
    RUNS,
    ablation_effect,
    eval_ids,
    found_heads,
    head_scores,
    load_run,
    phase_change_step,
)

model, metrics = load_run("induction-2l")
control, _ = load_run("induction-1l")
config = RUNS["induction-2l"]
probe = eval_ids(config)  # 25 random letters, repeated
for name, m in (("2 layers", model), ("1 layer", control)):
    s = head_scores(m, probe, config.period)
    print(
        name,
        "prefix-matching scores:",
        [[round(x, 2) for x in layer] for layer in s["prefix"]],
    )

# %% [markdown]
# The previous-token head and the induction head on one sequence.

# %%
heads = found_heads(metrics["final"])
with torch.no_grad():
    _, maps = model(probe[:1], return_attention=True)
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, kind in zip(axes, ("previous", "induction"), strict=True):
    layer, head, score = heads[kind]
    ax.imshow(maps[layer][0, head], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"{kind}: layer {layer + 1}, head {head + 1}")
fig.tight_layout()

# %% [markdown]
# The phase change, from the committed training log.

# %%
log = metrics["log"]
prefix = torch.tensor(log["prefix"])  # (logged steps, layers, heads)
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
top.plot(log["step"], prefix[:, -1])
top.axhline(0.4, ls=":")
top.set_ylabel("prefix-matching score")
bottom.plot(log["step"], log["loss_first"], label="first copy")
bottom.plot(log["step"], log["loss_repeat"], label="repeat")
bottom.set_ylabel("loss")
bottom.set_xlabel("step")
bottom.legend()
print("phase change at step", phase_change_step(log))

# %% [markdown]
# Ablation: the rise of the loss on the repeat when each head is zeroed.

# %%
print(ablation_effect(model, probe, config.period))
