# %% [markdown]
# # all_at_once
# Runs the chapter end to end.

# %%
import selfattn

x = selfattn.toy_inputs()
print(selfattn.attention_weights(x, x, scale=1.0))
