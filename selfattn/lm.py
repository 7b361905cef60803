"""A decoder-only transformer language model, built from the package's own parts.

The contract (the induction-heads chapter and the in-browser port rely on it):

* `TransformerLM(vocab_size, d_model, n_layers, n_heads, context, mlp=True,
  attention="matmul")`: token embedding (no learned positions: RoPE, half layout,
  base 10000, rotates q and k inside attention), `n_layers` pre-norm blocks
  `x = x + attn(LN(x))`, `x = x + mlp(LN(x))` (LayerNorm eps 1e-5; MLP
  `Linear(d, 4d) -> GELU(tanh) -> Linear(4d, d)`; no MLP and no second norm when
  `mlp=False`), a final LayerNorm and an untied output head `Linear(d, vocab)`.
  Attention: `qkv = Linear(d, 3d, bias=False)` split into q, k, v in that order,
  each `(B, n, H, d/H)` -> heads first; `out = Linear(d, d)` (with bias).
* Which keys a query sees: token `p` attends to tokens `p - context + 1 .. p`
  (causal; at most `context` of them). For `n <= context` that is the plain causal
  mask; longer inputs slide a window of `context` tokens, so the model is never
  asked about distances it did not train on. The KV cache keeps exactly those
  `context` tokens (a rolling buffer), so cached and uncached logits agree at any
  length.
* `attention` names an entry of `selfattn.IMPLEMENTATIONS` (one calling convention)
  or `"sdpa"` (PyTorch's `scaled_dot_product_attention`); the logits do not depend
  on the choice beyond float rounding.
* `forward(ids, *, return_attention=False, head_mask=None, cache=None)`: ids
  `(B, n)` long -> logits `(B, n, vocab)`, and with `return_attention=True` also a
  list (one per layer) of attention weights `(B, H, n, n_keys)`. `head_mask`
  `(n_layers, n_heads)` of 0/1 multiplies each head's output before the output
  projection (ablation: 0 removes that head).
* `load_pretrained(name)` loads a committed checkpoint (package data
  `selfattn/checkpoints/<name>.pt`, read with `importlib.resources`) and returns
  the model in eval mode.
"""

from __future__ import annotations

import importlib.resources
import io
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)

from selfattn._checks import (
    _describe,
    check_flag,
    check_positive_int,
    checked_module,
)
from selfattn.inference import KVCache, band_mask
from selfattn.positions import rope
from selfattn.registry import IMPLEMENTATIONS, AttentionFn


def attention_sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """PyTorch's `scaled_dot_product_attention` in the registry's convention."""
    out: torch.Tensor = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal and mask is None, scale=scale
    )
    return out


def attention_function(name: str) -> AttentionFn:
    """The attention function called `name`: a registry entry or `"sdpa"`."""
    if name == "sdpa":
        return attention_sdpa
    return IMPLEMENTATIONS[name]


# --8<-- [start:LMConfig]
@dataclass(frozen=True)
class LMConfig:
    """The sizes of a `TransformerLM` (what a checkpoint stores)."""

    vocab_size: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 128  # the most tokens a query sees
    mlp: bool = True
    attention: str = "matmul"


# --8<-- [end:LMConfig]


def check_lm_config(
    vocab_size: Any,
    d_model: Any,
    n_layers: Any,
    n_heads: Any,
    context: Any,
    mlp: Any = True,
    attention: Any = "matmul",
) -> None:
    """Positive sizes, `n_heads` dividing `d_model` into even head sizes (RoPE
    turns channel pairs), a known attention name."""
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("d_model", d_model)
    check_positive_int("n_layers", n_layers)
    check_positive_int("n_heads", n_heads)
    check_positive_int("context", context)
    check_flag("mlp", mlp)
    if d_model % n_heads or (d_model // n_heads) % 2:
        raise ValueError(
            f"d_model must split into n_heads heads of an even size (RoPE turns "
            f"pairs of channels), got d_model={d_model}, n_heads={n_heads}"
        )
    names = [*IMPLEMENTATIONS, "sdpa"]
    if not isinstance(attention, str) or attention not in names:
        raise ValueError(f"attention must be one of {names}, got {attention!r}")


# --8<-- [start:MLP]
class MLP(nn.Module):
    """Position-wise feed-forward: each token on its own, d -> 4d -> d.

    GELU in its tanh form (a JavaScript port has no `erf`).
    Shapes: (..., n, d) -> (..., n, d).
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, 4 * d_model)
        self.down = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.up(x), approximate="tanh")  # (..., n, 4d)
        out: torch.Tensor = self.down(h)  # (..., n, d)
        return out


# --8<-- [end:MLP]


# --8<-- [start:CausalSelfAttention]
class CausalSelfAttention(nn.Module):
    """Multi-head causal attention with RoPE and an optional KV cache.

    Each query sees at most `context` tokens: itself and those just before.
    Shapes: x (B, n, d) -> (B, n, d), and the weights (B, H, n, n_keys)
    when asked.
    """

    def __init__(
        self, d_model: int, n_heads: int, context: int, attention: str
    ) -> None:
        super().__init__()
        self.n_heads, self.context = n_heads, context
        self.rope_base = 10000.0  # RoPE's theta_c = base^(-2c/d_h), as in Su et al.
        self.attend = attention_function(attention)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        head_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, n, d = x.shape
        H = self.n_heads
        qkv = self.qkv(x).view(B, n, 3, H, d // H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B, H, n, d_h)
        start = cache.length if cache is not None else 0
        pos = torch.arange(start, start + n, device=x.device)
        q = rope(q, pos, base=self.rope_base)
        k = rope(k, pos, base=self.rope_base)  # keys cached after RoPE
        k_pos = pos
        if cache is not None:
            k, v, k_pos = cache.update(k, v)  # every token still in view
        mask, causal = None, False
        if cache is None and n <= self.context:
            causal = True  # plain causal: lets tiled attention skip tiles
        else:
            mask = band_mask(pos, k_pos, self.context)  # (n, n_keys)
        weights = None
        if need_weights:
            s = q @ k.transpose(-2, -1) / (d // H) ** 0.5  # (B, H, n, n_keys)
            keep = band_mask(pos, k_pos) if mask is None else mask
            weights = s.masked_fill(~keep, float("-inf")).softmax(dim=-1)
            z = weights @ v  # (B, H, n, d_h)
        else:
            z = self.attend(q, k, v, mask=mask, causal=causal)
        if head_mask is not None:
            z = z * head_mask.to(z.dtype)[:, None, None]  # zero a head
        z = z.transpose(1, 2).reshape(B, n, d)  # heads side by side
        return self.out(z), weights


# --8<-- [end:CausalSelfAttention]


# --8<-- [start:Block]
class Block(nn.Module):
    """A pre-norm transformer block: normalise, then add to the stream.

    `x = x + attn(LN(x))`, then `x = x + mlp(LN(x))` (no MLP when
    `mlp=False`). Shapes: (B, n, d) -> (B, n, d).
    """

    def __init__(
        self, d_model: int, n_heads: int, context: int, mlp: bool, attention: str
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.attn = CausalSelfAttention(d_model, n_heads, context, attention)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5) if mlp else None
        self.mlp = MLP(d_model) if mlp else None

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        head_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(self.norm1(x), cache, head_mask, need_weights)
        x = x + a  # the residual stream carries x past the attention
        if self.mlp is not None and self.norm2 is not None:
            x = x + self.mlp(self.norm2(x))
        return x, weights


# --8<-- [end:Block]


def check_forward_args(
    model: Any,
    ids: Any,
    *,
    return_attention: Any = False,
    head_mask: Any = None,
    cache: Any = None,
) -> None:
    """`ids` a `torch.long` tensor (B, n), values in [0, vocab_size); `head_mask`
    None or a float (n_layers, n_heads) tensor; `cache` None or one `KVCache`
    per layer (from `new_cache`)."""
    cfg = model.config
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError(f"ids must be a torch.long tensor (B, n), got {_describe(ids)}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(
            f"ids must have shape (B, n) with n >= 1, got shape {tuple(ids.shape)}"
        )
    if ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= cfg.vocab_size:
            raise ValueError(
                f"ids must lie in [0, {cfg.vocab_size}), got values from {lo} to {hi}"
            )
    check_flag("return_attention", return_attention)
    if head_mask is not None:
        want = (cfg.n_layers, cfg.n_heads)
        if not isinstance(head_mask, torch.Tensor) or not (
            head_mask.dtype.is_floating_point
        ):
            raise TypeError(
                f"head_mask must be a float tensor {want}, got {_describe(head_mask)}"
            )
        if tuple(head_mask.shape) != want:
            raise ValueError(
                f"head_mask must have shape (n_layers, n_heads) = {want}, got "
                f"{tuple(head_mask.shape)}"
            )
    if cache is not None:
        if not isinstance(cache, list) or len(cache) != cfg.n_layers:
            raise TypeError(
                f"cache must be a list of {cfg.n_layers} KVCache (model.new_cache), "
                f"got {_describe(cache)}"
            )
        if cache[0].batch_size != ids.shape[0]:
            raise ValueError(
                f"ids must have the cache's batch size {cache[0].batch_size}, got "
                f"{ids.shape[0]}"
            )
        if ids.shape[1] > cfg.context:
            raise ValueError(
                f"ids must hold at most context={cfg.context} new tokens per cached "
                f"call, got {ids.shape[1]}"
            )


@checked_module(init=check_lm_config, forward=check_forward_args)
# --8<-- [start:TransformerLM]
class TransformerLM(nn.Module):
    """Decoder-only transformer over token ids.

    Embedding -> `n_layers` pre-norm blocks -> LayerNorm -> head.
    Shapes: ids (B, n) -> logits (B, n, vocab_size); with
    `return_attention` also one (B, H, n, n_keys) tensor per layer.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        context: int,
        mlp: bool = True,
        attention: str = "matmul",
    ) -> None:
        super().__init__()
        self.config = LMConfig(
            vocab_size, d_model, n_layers, n_heads, context, mlp, attention
        )
        self.embed = nn.Embedding(vocab_size, d_model)  # id -> vector
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, context, mlp, attention) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model, eps=1e-5)
        self.head = nn.Linear(d_model, vocab_size)  # vector -> scores

    def forward(
        self,
        ids: torch.Tensor,
        *,
        return_attention: bool = False,
        head_mask: torch.Tensor | None = None,
        cache: list[KVCache] | None = None,
    ) -> Any:
        x = self.embed(ids)  # (B, n, d): the residual stream
        maps = []
        for i, block in enumerate(self.blocks):
            c = cache[i] if cache is not None else None
            hm = head_mask[i] if head_mask is not None else None
            x, w = block(x, c, hm, return_attention)
            maps.append(w)
        logits = self.head(self.norm(x))  # (B, n, vocab_size)
        return (logits, maps) if return_attention else logits

    def new_cache(self, batch_size: int = 1) -> list[KVCache]:
        """One rolling KV cache of `context` tokens per layer."""
        c = self.config
        d_h = c.d_model // c.n_heads
        dtype = self.embed.weight.dtype
        return [
            KVCache(batch_size, c.n_heads, d_h, c.context, rolling=True, dtype=dtype)
            for _ in range(c.n_layers)
        ]


# --8<-- [end:TransformerLM]


def count_parameters(model: nn.Module) -> int:
    """How many numbers training adjusts."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_from_config(config: LMConfig) -> TransformerLM:
    """A fresh `TransformerLM` of the sizes in `config`."""
    return TransformerLM(**asdict(config))


def checkpoint_bytes(name: str) -> bytes:
    """The bytes of the committed checkpoint `name` (package data)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {_describe(name)}")
    resource = importlib.resources.files("selfattn") / "checkpoints" / f"{name}.pt"
    if not resource.is_file():
        known = sorted(
            p.name[:-3]
            for p in (importlib.resources.files("selfattn") / "checkpoints").iterdir()
            if p.name.endswith(".pt")
        )
        raise ValueError(f"name must be one of the checkpoints {known}, got {name!r}")
    return resource.read_bytes()


def load_pretrained(name: str = "lm") -> TransformerLM:
    """The committed `TransformerLM` checkpoint `name`, in eval mode.

    Reads `selfattn/checkpoints/<name>.pt` (a dict with `"config"`, the
    `LMConfig` fields, and `"state_dict"`) from the installed package.
    """
    state = torch.load(io.BytesIO(checkpoint_bytes(name)), weights_only=True)
    model = model_from_config(LMConfig(**state["config"]))
    model.load_state_dict(state["state_dict"])
    return model.eval()
