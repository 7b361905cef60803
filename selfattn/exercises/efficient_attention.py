"""Solutions to the exercises of the chapter Efficient attention."""

from __future__ import annotations

import torch


# --8<-- [start:merge_states]
def merge_states(
    a: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    b: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge two online-softmax states `(m, l, acc)` of disjoint key sets.

    Each state is relative to its own max; both are moved to the larger
    one, exactly as one step rescales the old sums. Returns the state of
    all the keys together: `acc / l` is then their softmax-weighted sum.
    """
    (m_a, l_a, acc_a), (m_b, l_b, acc_b) = a, b
    m = torch.maximum(m_a, m_b)
    # A side with no keys has m = -inf: its factor must be 0, not nan.
    shift = m.clamp_min(torch.finfo(m.dtype).min)
    f_a, f_b = torch.exp(m_a - shift), torch.exp(m_b - shift)
    return m, l_a * f_a + l_b * f_b, acc_a * f_a + acc_b * f_b


# --8<-- [end:merge_states]


# --8<-- [start:tile_bytes]
def tile_bytes(heads: int, block_q: int, block_k: int, dtype: torch.dtype) -> int:
    """Bytes of one score tile of `attention_tiled`, every head, for inputs
    of `dtype`: heads x block_q x block_k numbers in the dtype the tiles
    are computed in (float32 for float16 and bfloat16 inputs)."""
    low = (torch.float16, torch.bfloat16)
    work = torch.float32 if dtype in low else dtype
    return heads * block_q * block_k * torch.finfo(work).bits // 8


# --8<-- [end:tile_bytes]
