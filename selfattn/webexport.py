"""The trained character model as a web page reads it: one float32 file and a manifest.

`export_pretrained(name)` loads the committed checkpoint with
`selfattn.lm.load_pretrained` and returns

* a manifest (a dict, written as JSON): the model's sizes, its vocabulary (id `i` is
  `vocab[i]`), the character that stands for an unknown one, LayerNorm's eps, RoPE's
  base, and for every tensor of the state dict its name, shape, byte offset and
  number of values;
* the bytes: every tensor, flattened in PyTorch's row-major order, as little-endian
  float32, one after another in state-dict order.

The site's build writes both next to the page that runs the model in JavaScript
(docs/hooks/lm_demo.py); `read_weights` turns them back into tensors.
"""

from __future__ import annotations

import struct
from typing import Any

import torch

from selfattn import corpus, lm


# --8<-- [start:export_model]
def export_model(
    model: lm.TransformerLM, vocab: corpus.Vocab
) -> tuple[dict[str, Any], bytes]:
    """A manifest and little-endian float32 bytes of `model`'s weights."""
    tensors, chunks, offset = [], [], 0
    for key, value in model.state_dict().items():
        flat = value.detach().to(torch.float32).contiguous().flatten()
        size = flat.numel()
        raw = struct.pack(f"<{size}f", *flat.tolist())  # little-endian
        tensors.append(
            {"name": key, "shape": list(value.shape), "offset": offset, "size": size}
        )
        chunks.append(raw)
        offset += len(raw)
    c = model.config
    manifest = {
        "config": {
            "vocab_size": c.vocab_size,
            "d_model": c.d_model,
            "n_layers": c.n_layers,
            "n_heads": c.n_heads,
            "context": c.context,
            "mlp": c.mlp,
        },
        "vocab": list(vocab.chars),
        "replacement": corpus.REPLACEMENT,
        "eps": model.norm.eps,
        "rope_base": model.blocks[0].attn.rope_base,
        "tensors": tensors,
    }
    return manifest, b"".join(chunks)


# --8<-- [end:export_model]


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")


def export_pretrained(name: str = "lm") -> tuple[dict[str, Any], bytes]:
    """`export_model` of the committed checkpoint `name`, with the corpus's
    vocabulary. Raises `ValueError` for an unknown name, or when the
    checkpoint's vocabulary size is not the corpus's."""
    _check_name(name)
    model = lm.load_pretrained(name)
    vocab = corpus.Vocab.from_text(corpus.load_text())
    if len(vocab) != model.config.vocab_size:
        raise ValueError(
            f"the checkpoint {name!r} must have the corpus's vocab_size "
            f"{len(vocab)}, got {model.config.vocab_size}"
        )
    return export_model(model, vocab)


def read_weights(manifest: dict[str, Any], raw: bytes) -> dict[str, torch.Tensor]:
    """The state dict that `export_model` wrote, read back from its bytes."""
    if not isinstance(manifest, dict) or "tensors" not in manifest:
        raise TypeError("manifest must be the dict export_model returned")
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"raw must be bytes, got {type(raw).__name__}")
    want = sum(t["size"] for t in manifest["tensors"])
    if len(raw) != 4 * want:
        raise ValueError(
            f"raw must hold {want} float32 values ({4 * want} bytes), got {len(raw)} bytes"
        )
    values = torch.tensor(struct.unpack(f"<{want}f", raw), dtype=torch.float32)
    out = {}
    for t in manifest["tensors"]:
        start = t["offset"] // 4
        out[t["name"]] = values[start : start + t["size"]].reshape(t["shape"]).clone()
    return out
