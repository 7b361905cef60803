"""What the transformer is measured against: counts of n-grams, and an MLP that
sees a fixed window of characters.

* `NGram(order)`: count-based, interpolated absolute discounting (Ney, Essen and
  Kneser 1994): `P(w | h) = max(c(h w) - D, 0) / c(h) + D N(h) / c(h) P(w | h')`,
  where `h'` drops the oldest character of `h`, `N(h)` is how many different
  characters followed `h`, and `D = 0.75`. A history never seen falls back to
  `P(w | h')`; the unigram is add-one smoothed, so no character gets probability 0.
  Order 1 is the unigram, order 2 the bigram, ... order 5 looks 4 characters back.
* `WindowMLP(vocab_size, window, d_embed, hidden)`: the previous `window` characters
  (itself included), each embedded, side by side, through one hidden layer.
  Positions before the start are zero vectors. Nothing further back can matter.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn._checks import _describe, check_positive_int, checked_module

DISCOUNT = 0.75


def _check_ids(name: str, ids: Any, vocab_size: int, dims: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError(f"{name} must be a torch.long tensor, got {_describe(ids)}")
    if ids.dim() != dims:
        shape = "(n,)" if dims == 1 else "(B, n)"
        raise ValueError(f"{name} must have shape {shape}, got {tuple(ids.shape)}")
    if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < vocab_size:
        raise ValueError(
            f"{name} must lie in [0, {vocab_size}), got values from "
            f"{int(ids.min())} to {int(ids.max())}"
        )


class NGram:
    """Character n-gram counts with interpolated absolute discounting.

    `NGram(order, vocab_size).fit(ids)` counts; `log_probs(ids)` gives, for a
    batch of windows (B, n), the log-probability of each next token
    (B, n - 1): token `t + 1` given at most `order - 1` tokens before it inside
    its window.
    """

    def __init__(self, order: int, vocab_size: int, discount: float = DISCOUNT):
        check_positive_int("order", order)
        check_positive_int("vocab_size", vocab_size)
        if not isinstance(discount, float) or not 0.0 < discount < 1.0:
            raise ValueError(f"discount must be a float in (0, 1), got {discount!r}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        self.tables: list[dict[str, torch.Tensor]] = []
        self.unigram = torch.empty(0)

    def _keys(self, ids: torch.Tensor, k: int) -> torch.Tensor:
        """History keys: the k tokens ending at each position, as one int64."""
        key = torch.zeros(ids.shape[-1] - k + 1, dtype=torch.long)
        for j in range(k):
            key = key * self.vocab_size + ids[j : ids.shape[-1] - k + 1 + j]
        return key

    def fit(self, ids: torch.Tensor) -> NGram:
        """Count every n-gram of `ids` (n,) up to `order`."""
        _check_ids("ids", ids, self.vocab_size, 1)
        V = self.vocab_size
        counts = torch.bincount(ids, minlength=V).double()
        self.unigram = (counts + 1) / (counts.sum() + V)  # add-one
        self.tables = []
        for k in range(1, self.order):  # history length k
            h = self._keys(ids[:-1], k)  # histories ending before the last token
            w = ids[k:]
            pair, pair_count = torch.unique(h * V + w, return_counts=True)
            hist, hist_total = torch.unique(pair // V, return_counts=False), None
            # totals c(h) and distinct continuations N(h), per history
            owner = torch.searchsorted(hist, pair // V)
            hist_total = (
                torch.zeros(len(hist))
                .double()
                .index_add_(0, owner, pair_count.double())
            )
            distinct = torch.bincount(owner, minlength=len(hist)).double()
            self.tables.append(
                {
                    "pair": pair,
                    "pair_count": pair_count.double(),
                    "hist": hist,
                    "total": hist_total,
                    "distinct": distinct,
                }
            )
        return self

    @staticmethod
    def _lookup(
        sorted_keys: torch.Tensor, values: torch.Tensor, keys: torch.Tensor
    ) -> torch.Tensor:
        """values[key] where the key is present, else 0."""
        if len(sorted_keys) == 0:
            return torch.zeros(keys.shape, dtype=values.dtype)
        i = torch.searchsorted(sorted_keys, keys).clamp(max=len(sorted_keys) - 1)
        found = sorted_keys[i] == keys
        return torch.where(found, values[i], torch.zeros((), dtype=values.dtype))

    def log_probs(self, ids: torch.Tensor) -> torch.Tensor:
        """log P(ids[:, t+1] | up to order-1 tokens before, in the window)."""
        _check_ids("ids", ids, self.vocab_size, 2)
        if (not self.tables and self.order > 1) or len(self.unigram) == 0:
            raise ValueError("fit must be called before log_probs")
        V, D = self.vocab_size, self.discount
        targets = ids[:, 1:]  # (B, n - 1)
        p = self.unigram[targets]  # (B, n - 1)
        n = ids.shape[1]
        for k, table in enumerate(self.tables, start=1):
            if n - 1 < k:
                break
            # history of length k ending at position t, for t = k-1 .. n-2
            h = torch.zeros(ids.shape[0], n - k, dtype=torch.long)
            for j in range(k):
                h = h * V + ids[:, j : n - k + j]
            h = h[:, : n - k]  # (B, n - k): predicts targets[:, k-1:]
            w = targets[:, k - 1 :]
            total = self._lookup(table["hist"], table["total"], h)
            distinct = self._lookup(table["hist"], table["distinct"], h)
            c = self._lookup(table["pair"], table["pair_count"], h * V + w)
            lower = p[:, k - 1 :]
            seen = total > 0
            safe = total.clamp(min=1)
            mixed = (c - D).clamp(min=0) / safe + D * distinct / safe * lower
            p = p.clone()
            p[:, k - 1 :] = torch.where(seen, mixed, lower)
        return p.log().float()


def check_window_mlp_args(
    vocab_size: Any, window: Any = 8, d_embed: Any = 16, hidden: Any = 512
) -> None:
    """Positive sizes."""
    for name, value in (
        ("vocab_size", vocab_size),
        ("window", window),
        ("d_embed", d_embed),
        ("hidden", hidden),
    ):
        check_positive_int(name, value)


def check_window_forward(model: Any, ids: Any) -> None:
    """`ids` (B, n) long in [0, vocab_size)."""
    _check_ids("ids", ids, model.vocab_size, 2)


@checked_module(init=check_window_mlp_args, forward=check_window_forward)
# --8<-- [start:WindowMLP]
class WindowMLP(nn.Module):
    """Next-token scores from the last `window` tokens only.

    Shapes: ids (B, n) -> logits (B, n, vocab_size); position t sees
    tokens t - window + 1 .. t (zeros before the start).
    """

    def __init__(
        self, vocab_size: int, window: int = 8, d_embed: int = 16, hidden: int = 512
    ) -> None:
        super().__init__()
        self.vocab_size, self.window = vocab_size, window
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.hidden = nn.Linear(window * d_embed, hidden)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)  # (B, n, e)
        x = F.pad(x, (0, 0, self.window - 1, 0))  # zeros before the start
        x = x.unfold(1, self.window, 1)  # (B, n, e, window)
        x = x.transpose(-1, -2).flatten(-2)  # (B, n, window * e)
        h = F.gelu(self.hidden(x), approximate="tanh")  # (B, n, hidden)
        logits: torch.Tensor = self.head(h)  # (B, n, vocab_size)
        return logits


# --8<-- [end:WindowMLP]


def window_mlp_parameters(
    vocab_size: int, window: int, d_embed: int, hidden: int
) -> int:
    """`WindowMLP`'s parameter count for these sizes (`hidden` hidden units)."""
    return (
        vocab_size * d_embed
        + window * d_embed * hidden
        + hidden
        + hidden * vocab_size
        + vocab_size
    )
