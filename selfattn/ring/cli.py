"""The command-line demo: `python -m selfattn.ring` (local gloo processes) or
`torchrun -m selfattn.ring` (the group torchrun describes; NCCL with `--device cuda`).
Each rank builds only its own shard, runs the ring, and reports its time, peak
memory, bytes sent and tiles."""

from __future__ import annotations

import argparse
import datetime
import os
import time
from typing import Any

import torch
import torch.distributed as dist

from selfattn._checks import check_positive_int
from selfattn.ring.distributed import RingStats, ring_attention, ring_bytes
from selfattn.ring.launch import run_on_ranks
from selfattn.ring.layout import (
    LAYOUTS,
    check_divisible,
    chunk_ids,
    num_chunks,
    unmasked_tiles,
    unshard,
)
from selfattn.simplified import compute_dtype

# ---- the demo: python -m selfattn.ring / torchrun -m selfattn.ring ---------------------


def _peak_rss_reset() -> int | None:
    """Reset this process's resident-memory high-water mark; its RSS now (bytes), or
    None where Linux's /proc does not allow the reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _rss("VmRSS")
    except OSError:
        return None


def _rss(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def demo_chunk(
    index: int,
    size: int,
    *,
    heads: int,
    d: int,
    dtype: torch.dtype,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chunk `index` of the demo's q, k, v (heads, size, d), generated on its own,
    so that no rank ever holds the whole sequence."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    q, k, v = (torch.randn(heads, size, d, generator=g, dtype=dtype) for _ in range(3))
    return q, k, v


def demo(
    n: int,
    heads: int,
    d: int,
    dtype_name: str,
    causal: bool,
    layout: str,
    backward: bool,
    check: bool,
    device: str = "cpu",
    repeat: int = 1,
) -> dict[str, Any]:
    """One rank of the demo: build this rank's shard, run the ring, measure it.
    Memory and bytes come from the first call; the time is the fastest of
    `repeat` calls."""
    rank, p = dist.get_rank(), dist.get_world_size()
    dtype = getattr(torch, dtype_name)
    check_divisible("n", n, p, layout)
    size = n // num_chunks(p, layout)
    parts = [
        demo_chunk(c, size, heads=heads, d=d, dtype=dtype)
        for c in chunk_ids(rank, p, layout)
    ]
    q, k, v = (torch.cat([t[i] for t in parts], dim=-2).to(device) for i in range(3))
    q.requires_grad_(backward)
    stats = RingStats()
    ring_attention(q[..., :2, :], k[..., :2, :], v[..., :2, :], layout="contiguous")
    dist.barrier()
    times = []
    for i in range(repeat):
        before = _peak_rss_reset() if i == 0 else None
        dist.barrier()
        start = time.perf_counter()
        out = ring_attention(
            q, k, v, causal=causal, layout=layout, stats=stats if i == 0 else None
        )
        if backward:
            out.sum().backward()  # type: ignore[no-untyped-call]
        times.append(time.perf_counter() - start)
        if i == 0:
            peak = None if before is None else max(0, _rss("VmHWM") - before)
            first = times[0]
    row: dict[str, Any] = {
        "rank": rank,
        "seconds": min(times),
        "wait_fraction": stats.wait_seconds / first,
        "peak_extra_bytes": peak,
        "bytes_sent_forward": stats.bytes_sent_forward,
        "bytes_sent_backward": stats.bytes_sent_backward,
        "tiles": unmasked_tiles(stats.forward_pairs, p, layout),
    }
    if check:
        gathered = [torch.empty_like(out) for _ in range(p)] if rank == 0 else None
        dist.gather(out.detach().contiguous(), gathered, dst=0)
        if rank == 0 and gathered is not None:
            chunks = [
                demo_chunk(c, size, heads=heads, d=d, dtype=dtype)
                for c in range(num_chunks(p, layout))
            ]
            whole = [torch.cat([c[i] for c in chunks], dim=-2) for i in range(3)]
            q0, k0, v0 = (t.unsqueeze(0) for t in whole)
            ref = torch.nn.functional.scaled_dot_product_attention(
                q0, k0, v0, is_causal=causal
            )[0]
            row["max_abs_diff_vs_sdpa"] = (
                (unshard(gathered, layout=layout).cpu() - ref).abs().max().item()
            )
    return row


def _print_rows(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    p = len(rows)
    fwd, bwd = ring_bytes(
        args.n,
        p,
        d_k=args.d,
        d_v=args.d,
        batch=args.heads,
        itemsize=getattr(torch, args.dtype).itemsize,
        # gradients accumulate in float32 for float16/bfloat16
        acc_itemsize=compute_dtype(getattr(torch, args.dtype)).itemsize,
    )
    print(
        f"ring attention: n={args.n:,}, {p} rank(s), {args.heads} head(s), d={args.d}, "
        f"{args.dtype}, causal={args.causal}, layout={args.layout}"
        f"{', forward + backward' if args.backward else ''}"
    )
    print(f"{'rank':>4} {'seconds':>8} {'peak MiB':>9} {'sent MiB':>9} {'tiles':>6}")
    for r in rows:
        peak = (
            "-"
            if r["peak_extra_bytes"] is None
            else f"{r['peak_extra_bytes'] / 2**20:.1f}"
        )
        sent = (r["bytes_sent_forward"] + r["bytes_sent_backward"]) / 2**20
        print(
            f"{r['rank']:>4} {r['seconds']:>8.2f} {peak:>9} {sent:>9.1f} {r['tiles']:>6}"
        )
    expected = fwd + (bwd if args.backward else 0)
    print(f"formula: {expected / 2**20:.1f} MiB sent per rank (ring_bytes)")
    if "max_abs_diff_vs_sdpa" in rows[0]:
        print(
            f"largest difference from SDPA on the whole sequence: "
            f"{rows[0]['max_abs_diff_vs_sdpa']:.2e}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m selfattn.ring",
        description="Run ring attention in local gloo processes (or under torchrun).",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=2,
        help="processes to start (ignored under torchrun)",
    )
    # Not "--n" or "--d" alone: torchrun's own parser reads them as abbreviations
    # of its options (--nnodes, ...) even after the module name.
    parser.add_argument(
        "--seq-len", "--n", dest="n", type=int, default=4096, help="sequence length n"
    )
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument(
        "--head-dim", "--d", dest="d", type=int, default=64, help="d_k = d_v"
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64", "bfloat16", "float16"],
    )
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--layout", default="contiguous", choices=LAYOUTS)
    parser.add_argument(
        "--backward", action="store_true", help="also run the backward pass"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with SDPA on the whole sequence (on rank 0)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda"],
        help="cuda: one GPU per process, NCCL (torchrun only)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds before every wait gives up",
    )
    args = parser.parse_args(argv)
    demo_args = (
        args.n,
        args.heads,
        args.d,
        args.dtype,
        args.causal,
        args.layout,
        args.backward,
        args.check,
    )
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # torchrun started us
        cuda = args.device == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(
            "nccl" if cuda else "gloo",
            timeout=datetime.timedelta(seconds=args.timeout),
        )
        try:
            row = demo(*demo_args, device="cuda" if cuda else "cpu")
            rows: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(rows, row)
        finally:
            dist.destroy_process_group()
        if int(os.environ["RANK"]) == 0:
            _print_rows(rows, args)
        return
    if args.device == "cuda":
        parser.error("--device cuda needs torchrun (one process per GPU, NCCL)")
    try:
        check_positive_int("--nproc", args.nproc)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    rows = run_on_ranks(demo, args.nproc, *demo_args, timeout=args.timeout)
    _print_rows(rows, args)
