# %% [markdown]
# # Cross-attention (companion notebook)
#
# Runs the chapter [Cross-attention](../../cross-attention/): the committed
# encoder-decoder that reverses strings (it ships inside the selfattn wheel), its
# exact match on fresh strings (from a seed training never uses), and its
# cross-attention, an anti-diagonal.

# %%
import matplotlib.pyplot as plt
import torch

from selfattn.seq2seq import (
    PAD,
    exact_match,
    greedy_reverse,
    held_out_strings,
    load_reverser,
    mirrored_fraction,
)

rev, rev_metrics = load_reverser()
src, tgt_in, tgt_out = held_out_strings(rev.config)
written = greedy_reverse(rev, src[:200])
print(
    f"exact match on {len(written)} fresh strings:",
    exact_match(written, tgt_out[:200]).float().mean().item(),
)

# %%
with torch.no_grad():
    _, crosses = rev(src, tgt_in)
print(
    "mirrored argmax per decoder layer",
    [round(mirrored_fraction(c.mean(dim=1), src), 3) for c in crosses],
)
longest = int((src != PAD).sum(dim=1).argmax())
plt.figure(figsize=(4, 4))
plt.imshow(crosses[-1][longest].mean(dim=0), cmap="viridis", vmin=0, vmax=1)
plt.xlabel("input position")
plt.ylabel("output position")
