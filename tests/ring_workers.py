"""What each rank runs in the ring tests (``tests/test_ring.py``).

One process group per world size runs every case in a loop and returns plain
numbers, so that the slow part (starting processes) happens once per world size.
Each rank compares its own shard with the oracle on the whole sequence.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import torch
import torch.distributed as dist
from torch.nn import functional as F  # noqa: N812 (as PyTorch writes it)
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from selfattn.ring import (
    LAYOUTS,
    RingStats,
    ring_attention,
    ring_bytes,
    ring_schedule,
    ring_simulated,
    shard,
    unmasked_tiles,
)

D_K, D_V = 6, 5  # d_k != d_v on purpose
CHUNK = 3  # tokens per chunk: n = 3 p (contiguous) or 6 p (zigzag)


def inputs(
    n: int, dtype: torch.dtype, batch: tuple[int, ...] = (2, 3), seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """The whole sequence's q, k, v and an upstream gradient, identical on every rank."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, n, D_K, generator=g, dtype=torch.float64)
    k = torch.randn(*batch, n, D_K, generator=g, dtype=torch.float64)
    v = torch.randn(*batch, n, D_V, generator=g, dtype=torch.float64)
    grad = torch.randn(*batch, n, D_V, generator=g, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (q, k, v, grad))


def sdpa_with_grads(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grad: torch.Tensor,
    causal: bool,
    scale: float | None,
) -> list[torch.Tensor]:
    """PyTorch's attention on the whole sequence: [out, dq, dk, dv]."""
    q, k, v = (t.detach().clone().requires_grad_() for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    out.backward(grad)  # type: ignore[no-untyped-call]
    return [t.detach() for t in (out, q.grad, k.grad, v.grad) if t is not None]


def ring_with_grads(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grad: torch.Tensor,
    causal: bool,
    layout: str,
    scale: float | None,
    stats: RingStats | None = None,
) -> list[torch.Tensor]:
    """This rank's [out, dq, dk, dv] of ring attention."""
    rank, p = dist.get_rank(), dist.get_world_size()
    q_r, k_r, v_r = (
        shard(t, rank, p, layout=layout).detach().requires_grad_() for t in (q, k, v)
    )
    out = ring_attention(
        q_r, k_r, v_r, causal=causal, layout=layout, scale=scale, stats=stats
    )
    out.backward(shard(grad, rank, p, layout=layout))  # type: ignore[no-untyped-call]
    return [t.detach() for t in (out, q_r.grad, k_r.grad, v_r.grad) if t is not None]


def compare_cases() -> list[dict[str, Any]]:
    """Outputs and q/k/v gradients against SDPA on the whole sequence, for both
    layouts, causal or not, float64, float32 and bfloat16, and against
    ``ring_simulated``. The oracle is float64 SDPA on the inputs as rounded to the
    dtype, so that an error measures the computation, not the rounding of the
    inputs."""
    rank, p = dist.get_rank(), dist.get_world_size()
    rows = []
    names = ("out", "dq", "dk", "dv")
    for layout in LAYOUTS:
        for causal in (False, True):
            for dtype in (torch.float64, torch.float32, torch.bfloat16):
                n = 2 * p * CHUNK
                scale = 0.7 if causal else None  # an explicit scale, too
                q, k, v, grad = inputs(n, torch.float64, seed=p)
                q_, k_, v_, g_ = (t.to(dtype) for t in (q, k, v, grad))
                q64, k64, v64, g64 = (t.double() for t in (q_, k_, v_, g_))
                oracle = sdpa_with_grads(q64, k64, v64, g64, causal, scale)
                ours = ring_with_grads(q_, k_, v_, g_, causal, layout, scale)
                if dtype == torch.float64:
                    tols = [1e-10] * 4
                else:
                    # Twice PyTorch's own error in this dtype, plus a floor for a
                    # sum of n terms each rounded once in the dtype the work is done
                    # in (float32 for both): n * eps32 * the largest value.
                    theirs = sdpa_with_grads(q_, k_, v_, g_, causal, scale)
                    eps = torch.finfo(torch.float32).eps
                    tols = [
                        2 * (t.double() - o).abs().max().item()
                        + n * eps * o.abs().max().item()
                        for t, o in zip(theirs, oracle, strict=True)
                    ]
                for name, mine, whole, tol in zip(
                    names, ours, oracle, tols, strict=True
                ):
                    expected = shard(whole, rank, p, layout=layout)
                    err = (mine.double() - expected).abs().max().item()
                    rows.append(
                        {
                            "case": f"p={p} {layout} causal={causal} {dtype} {name}",
                            "err": err,
                            "tol": tol,
                        }
                    )
                if dtype == torch.float64:  # the plain form, played in one process
                    sim = ring_simulated(
                        q, k, v, world_size=p, causal=causal, layout=layout, scale=scale
                    )
                    diff = ours[0] - shard(sim, rank, p, layout=layout)
                    rows.append(
                        {
                            "case": f"p={p} {layout} causal={causal} simulated == ring",
                            "err": diff.abs().max().item(),
                            "tol": 1e-12,
                        }
                    )
    return rows


def stats_cases() -> list[dict[str, Any]]:
    """The blocks each rank computed and the bytes it sent, counted by the code."""
    rank, p = dist.get_rank(), dist.get_world_size()
    rows = []
    for layout in LAYOUTS:
        for causal in (False, True):
            for dtype in (torch.float32, torch.bfloat16):
                n = 2 * p * 4
                q, k, v, grad = inputs(n, dtype, batch=(3,))
                stats = RingStats()
                ring_with_grads(q, k, v, grad, causal, layout, None, stats)
                itemsize = torch.empty(0, dtype=dtype).element_size()
                rows.append(
                    {
                        "layout": layout,
                        "causal": causal,
                        "dtype": str(dtype),
                        "rank": rank,
                        "sent": (stats.bytes_sent_forward, stats.bytes_sent_backward),
                        "formula": ring_bytes(
                            n,
                            p,
                            d_k=D_K,
                            d_v=D_V,
                            batch=3,
                            itemsize=itemsize,
                            acc_itemsize=4,  # gradients accumulate in float32
                        ),
                        "pairs_forward": stats.forward_pairs,
                        "pairs_backward": stats.backward_pairs,
                        "schedule": ring_schedule(
                            rank, p, layout=layout, causal=causal
                        ),
                        "tiles": unmasked_tiles(stats.forward_pairs, p, layout),
                    }
                )
    return rows


class PeakTensorMemory(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """The peak bytes of tensor storage alive at once, counting only storages made
    while the mode is on (``exclude``: tensors that existed before). Exact and
    independent of the allocator: every op's outputs are seen, and a storage
    counts until Python frees it."""

    def __init__(self, exclude: tuple[torch.Tensor, ...] = ()) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.known = {t.untyped_storage().data_ptr() for t in exclude}
        self.live: dict[int, tuple[Any, int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for key, (ref, nbytes) in list(self.live.items()):
            if ref() is None:
                del self.live[key]
                self.current -= nbytes
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key in self.known or key in self.live or storage.nbytes() == 0:
                continue
            self.live[key] = (weakref.ref(t), storage.nbytes())
            self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def memory_cases(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Peak extra tensor memory of one forward + backward, for each n in sizes."""
    rank, p = dist.get_rank(), dist.get_world_size()
    rows = []
    for n in sizes:
        q, k, v, grad = inputs(n, torch.float32, batch=(1,))
        q_r, k_r, v_r, g_r = (
            shard(t, rank, p, layout="zigzag").contiguous() for t in (q, k, v, grad)
        )
        q_r.requires_grad_()
        k_r.requires_grad_()
        v_r.requires_grad_()
        tracker = PeakTensorMemory(exclude=(q_r, k_r, v_r, g_r))
        with tracker:
            out = ring_attention(q_r, k_r, v_r, causal=True, layout="zigzag")
            out.backward(g_r)  # type: ignore[no-untyped-call]
            del out
        rows.append({"n": n, "rank": rank, "peak": tracker.peak})
    return rows


def exchange_cases() -> list[dict[str, Any]]:
    """Every message of one forward + backward, as posted to
    ``torch.distributed.batch_isend_irecv``: one row per batch, with each P2POp's
    direction, peer (rank within the group), bytes and tag."""
    rank, p = dist.get_rank(), dist.get_world_size()
    batches: list[list[tuple[str, int, int, int]]] = []
    real = dist.batch_isend_irecv

    def recording(ops: list[dist.P2POp]) -> list[dist.Work]:
        batches.append(
            [
                (
                    "send" if op.op is dist.isend else "recv",
                    op.group_peer,
                    op.tensor.numel() * op.tensor.element_size(),
                    op.tag,
                )
                for op in ops
            ]
        )
        return real(ops)

    n = 2 * p * 4
    q, k, v, grad = inputs(n, torch.float32, batch=(3,))
    stats = RingStats()
    dist.batch_isend_irecv = recording  # type: ignore[assignment]
    try:
        ring_with_grads(q, k, v, grad, True, "zigzag", None, stats)
    finally:
        dist.batch_isend_irecv = real
    return [
        {
            "rank": rank,
            "batches": batches,
            "sent": stats.bytes_sent_forward + stats.bytes_sent_backward,
            "formula": sum(ring_bytes(n, p, d_k=D_K, d_v=D_V, batch=3)),
        }
    ]


def run_all(memory_sizes: tuple[int, ...]) -> dict[str, Any]:
    """Every case, in one process group; ``cpu``: this rank's CPU seconds."""
    start = time.process_time()
    return {
        "compare": compare_cases(),
        "stats": stats_cases(),
        "exchange": exchange_cases(),
        "memory": memory_cases(memory_sizes),
        "cpu": [time.process_time() - start],
    }
