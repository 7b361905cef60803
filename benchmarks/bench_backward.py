"""Training speed and memory: attention forward + backward, ours next to SDPA's.

    python benchmarks/bench_backward.py            # CPU, float32, n = 1,024 .. 16,384
    python benchmarks/bench_backward.py --quick    # n = 256 and 1,024, under a minute
    python benchmarks/bench_backward.py --threads 1

Implementations: ``sdpa`` (torch's scaled_dot_product_attention and its backward),
``tiled`` (``attention_tiled``: the FlashAttention backward, recomputing tiles),
``tiled_autograd`` (``attention_tiled_plain``: autograd through the tile loop, which
keeps every tile's exponentials), and ``peer`` (``FlashAttentionFunction`` of the
PyPI package memory-efficient-attention-pytorch, when installed: ``pip install
.[peers]``). Each call is forward + backward of ``sum(out * grad_out)``; ``sdpa``
and ``tiled`` are also timed forward only (no autograd).

FLOP count, the same for every implementation: forward 4 n^2 d per head (two
matrix products), backward 10 n^2 d per head (five: the scores are recomputed),
so forward + backward is 14 n^2 d per head.

Times are medians of interleaved rounds in one process; peak extra memory is the
resident-set high-water mark of one forward + backward in a fresh process, minus
what was resident before (inputs, grad_out and libraries excluded).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # selfattn, bench.py

from bench import machine  # noqa: E402

from selfattn.efficient import attention_tiled, attention_tiled_plain  # noqa: E402

HEADS, D = 8, 64
SIZES = [1024, 2048, 4096, 8192, 16384]
QUICK_SIZES = [256, 1024]
# Largest n per implementation: autograd through the loop keeps ~3 x 8 x n^2 floats
# (1.5 GiB at n = 4,096); the peer is slow; one round at the largest n is minutes.
MAX_N = {"tiled_autograd": 4096, "peer": 8192}
ROUNDS = {1024: 5, 2048: 5, 4096: 3, 8192: 1, 16384: 1}

Fn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)


def tiled_autograd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return attention_tiled_plain(q, k, v)[0]


def peer() -> Fn | None:
    try:
        from memory_efficient_attention_pytorch.flash_attention import (  # type: ignore[import-untyped,unused-ignore]
            FlashAttentionFunction,
        )
    except ImportError:
        return None

    def fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # mask, causal, query bucket, key bucket (its README's defaults are 512, 1024;
        # 256 x 256, our block sizes, is what we time ours with).
        out: torch.Tensor = FlashAttentionFunction.apply(q, k, v, None, False, 256, 256)
        return out

    return fn


def implementations() -> dict[str, Fn]:
    fns: dict[str, Fn] = {
        "sdpa": sdpa,
        "tiled": attention_tiled,
        "tiled_autograd": tiled_autograd,
    }
    other = peer()
    if other is not None:
        fns["peer"] = other
    return fns


def inputs(n: int, grad: bool) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(n)
    q, k, v, g = (torch.randn(1, HEADS, n, D, generator=gen) for _ in range(4))
    return (*(t.requires_grad_(grad) for t in (q, k, v)), g)


def forward_backward(fn: Fn, q: Any, k: Any, v: Any, g: Any) -> None:
    out = fn(q, k, v)
    torch.autograd.grad(out, (q, k, v), g)


def forward_only(fn: Fn, q: Any, k: Any, v: Any) -> None:
    with torch.no_grad():
        fn(q, k, v)


def bind(fn: Fn, q: Any, k: Any, v: Any, g: Any) -> Callable[[], None]:
    """One timed call: forward + backward, or forward only when ``g`` is None."""
    if g is None:
        return lambda: forward_only(fn, q, k, v)
    return lambda: forward_backward(fn, q, k, v, g)


def flops(n: int, backward: bool) -> float:
    return (14.0 if backward else 4.0) * HEADS * n * n * D


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def memory_here(name: str, n: int) -> int:
    """Peak extra bytes of one forward + backward, in this (fresh) process."""
    fn = implementations()[name]
    forward_backward(fn, *inputs(64, True))  # load every library first
    q, k, v, g = inputs(n, True)
    before = rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    forward_backward(fn, q, k, v, g)
    return max(0, rss_kib("VmHWM") - before) * 1024


def memory(name: str, n: int, threads: int) -> int | None:
    cmd = [
        sys.executable,
        __file__,
        "--_memory",
        name,
        str(n),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        print(f"memory {name} n={n} failed: {done.stderr[-400:]}", file=sys.stderr)
        return None
    return int(done.stdout.split()[-1])


def seconds(call: Callable[[], None]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median_us(call: Callable[[], Any], repeats: int = 15) -> float:
    call()
    return statistics.median(seconds(call) for _ in range(repeats)) * 1e6


def tile_ops() -> dict[str, float]:
    """Microseconds of each operation on one 8 x 256 x 256 float32 tile (d = 64),
    one at a time, as the forward and backward loops call them."""
    b, bq, bk = HEADS, 256, 256
    q, do = torch.randn(b, bq, D), torch.randn(b, bq, D)
    k, v = torch.randn(b, bk, D), torch.randn(b, bk, D)
    s, p, dp = torch.empty(b, bq, bk), torch.rand(b, bq, bk), torch.empty(b, bq, bk)
    acc, dk = torch.zeros(b, bq, D), torch.zeros(b, bk, D)
    m = torch.zeros(b, bq, 1)
    ops: dict[str, Callable[[], Any]] = {
        "Q K^T (bmm)": lambda: torch.bmm(q, k.transpose(-2, -1), out=s),
        "P V (baddbmm_)": lambda: acc.baddbmm_(p, v),
        "exp_": lambda: torch.exp(p, out=s),
        "amax": lambda: p.amax(-1, keepdim=True),
        "subtract": lambda: s.sub_(m),
        "sum": lambda: p.sum(-1, keepdim=True),
        "dO V^T (bmm)": lambda: torch.bmm(do, v.transpose(-2, -1), out=dp),
        "P^T dO (baddbmm_)": lambda: dk.baddbmm_(p.transpose(-2, -1), do),
        "dS^T Q (baddbmm_)": lambda: dk.baddbmm_(p.transpose(-2, -1), q),
        "dS K (baddbmm_)": lambda: acc.baddbmm_(p, k),
        "multiply (tile * tile)": lambda: dp.mul_(p),
    }
    return {name: median_us(call) for name, call in ops.items()}


def products_and_exp(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """The tiled forward with only its two products and its exp per tile: a bound
    on any loop of separate PyTorch operations that computes the same tiles."""
    b, n = HEADS, q.shape[-2]
    q3, k3, v3 = (t.reshape(b, n, D) for t in (q, k, v))
    s = torch.empty(b, 256, 256)
    for i0 in range(0, n, 256):
        acc = torch.zeros(b, 256, D)
        for j0 in range(0, n, 256):
            torch.bmm(q3[:, i0 : i0 + 256], k3[:, j0 : j0 + 256].mT, out=s)
            acc.baddbmm_(s.exp_(), v3[:, j0 : j0 + 256])


def ceiling(n: int = 2048, rounds: int = 5) -> dict[str, float]:
    """Forward only at n: SDPA, attention_tiled, and the products-and-exp bound."""
    q, k, v, _ = inputs(n, False)
    calls = {
        "sdpa": bind(sdpa, q, k, v, None),
        "tiled": bind(attention_tiled, q, k, v, None),
        "products_and_exp": lambda: products_and_exp(q, k, v),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(seconds(call))
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    fns = implementations()
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.max_n:
        sizes = [n for n in sizes if n <= args.max_n]
    rows = []
    for n in sizes:
        names = [name for name in fns if n <= MAX_N.get(name, n)]
        q, k, v, g = inputs(n, True)
        calls = {f"{name}|fwd+bwd": bind(fns[name], q, k, v, g) for name in names}
        for name in ("sdpa", "tiled"):
            calls[f"{name}|fwd"] = bind(fns[name], q, k, v, None)
        if n <= 2048:  # warm-up; at larger n the first call is one among many
            for call in calls.values():
                call()
        samples: dict[str, list[float]] = {key: [] for key in calls}
        for _ in range(1 if args.quick else ROUNDS.get(n, 1)):
            for key, call in calls.items():
                samples[key].append(seconds(call))
                print(f"n={n} {key}: {samples[key][-1]:.2f} s", file=sys.stderr)
        load = list(os.getloadavg())
        base = {m: statistics.median(samples[f"sdpa|{m}"]) for m in ("fwd", "fwd+bwd")}
        for key, times in samples.items():
            name, mode = key.split("|")
            median = statistics.median(times)
            row: dict[str, Any] = {
                "impl": name,
                "mode": mode,
                "n": n,
                "heads": HEADS,
                "ms": median * 1e3,
                "ms_samples": [t * 1e3 for t in times],
                "gflops": flops(n, mode == "fwd+bwd") / median / 1e9,
                "throughput_vs_sdpa": base[mode] / median,
                "load_average": load,
            }
            if mode == "fwd+bwd":
                row["peak_extra_bytes"] = memory(name, n, args.threads)
            rows.append(row)
        del q, k, v, g
    return {
        "tile_us": tile_ops(),
        "forward_ms_n2048": ceiling(rounds=1 if args.quick else 5),
        "machine": machine("cpu"),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "device": "cpu",
        "dtype": "float32",
        "shape": {"batch": 1, "heads": HEADS, "d": D},
        "flop_count": "forward 4 n^2 d, backward 10 n^2 d per head (recomputing)",
        "peer": "memory-efficient-attention-pytorch 0.1.6" if "peer" in fns else None,
        "load_average_at_end": list(os.getloadavg()),
        "results": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 256 and 1,024 only")
    parser.add_argument("--max-n", type=int, default=0, help="skip larger n")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads"
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    parser.add_argument(
        "--tile-only", action="store_true", help="only the per-tile operations"
    )
    parser.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args._memory:
        print(memory_here(args._memory[0], int(args._memory[1])))
        return
    load = list(os.getloadavg())
    if args.tile_only:
        tile = {"tile_us": tile_ops(), "forward_ms_n2048": ceiling()}
        tile["load_average"] = [load, list(os.getloadavg())]
        print(json.dumps(tile, indent=1))
        return
    result = run(args)
    result["load_average_at_start"] = load
    for r in result["results"]:
        mem = r.get("peak_extra_bytes")
        print(
            f"{r['impl']:>15} {r['mode']:>8} {r['n']:>6} {r['ms']:>10.1f} ms "
            f"{r['gflops']:>6.1f} GFLOP/s {r['throughput_vs_sdpa']:>5.2f}x SDPA"
            + ("" if mem is None else f" {mem / 2**20:>8.1f} MiB")
        )
    date = result["date"][:10]
    name = f"cpu-{os.cpu_count()}core-float32-backward-{date}.json"
    out = args.out or ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
