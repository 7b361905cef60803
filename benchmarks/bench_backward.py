"""Training speed and memory: attention forward + backward, ours next to SDPA's.

    python benchmarks/bench_backward.py                        # n = 1,024 .. 8,192
    python benchmarks/bench_backward.py --quick --allow-load   # smoke test
    python benchmarks/bench_backward.py --threads 1

On a quiet 2-core CPU the full run takes about 3 minutes (2-core AMD EPYC,
2026-12-03; forward + backward is ~3.5x the forward's flops, and n stops at 8,192).
Like bench.py it waits for a quiet machine (`--wait`, `--allow-load`) and records
the machine and the load average at the start and the end. The same run profiles the tiled backward
loop at one n, operation by operation (`profile_backward`), next to SDPA's
backward and a loop of its five matrix products alone.

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
import math
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

from bench import (  # noqa: E402
    add_quiet_options,
    finish_machine,
    load_average,
    start_machine,
)

from selfattn.efficient import BLOCK_K as BK  # noqa: E402
from selfattn.efficient import BLOCK_Q as BQ  # noqa: E402
from selfattn.efficient import (  # noqa: E402
    attention_tiled,
    attention_tiled_plain,
    tiled_attention_backward,
    tiled_attention_forward,
)

HEADS, D = 8, 64
SIZES = [1024, 2048, 4096, 8192]
QUICK_SIZES = [256, 512]
PROFILE_N, QUICK_PROFILE_N = 2048, 512  # where the backward loop is profiled, per op
# Largest n per implementation: autograd through the loop keeps ~3 x 8 x n^2 floats
# (1.5 GiB at n = 4,096); the peer is slow.
MAX_N = {"tiled_autograd": 4096, "peer": 8192}
ROUNDS = {1024: 5, 2048: 5, 4096: 3, 8192: 2}

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


# ---- profile: where the tiled backward's time goes ------------------------------

BACKWARD_OPS = (
    "Q K^T (again)",
    "subtract L",
    "exp",
    "dV += P^T dO",
    "dP = dO V^T",
    "dS = P (dP - D)",
    "dQ += dS K",
    "dK += dS^T Q",
)
BACKWARD_PRODUCTS = (
    "Q K^T (again)",
    "dV += P^T dO",
    "dP = dO V^T",
    "dQ += dS K",
    "dK += dS^T Q",
)


def _lap(ops: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    ops[name] = ops.get(name, 0.0) + now - since
    return now


def profiled_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    g: torch.Tensor,
    ops: dict[str, float],
    products: bool = False,
) -> None:
    """`tiled_attention_backward`'s loop (float32, no mask), the same calls in the
    same order, each timed and summed into `ops` (`ops["other"]`: what no
    operation claims). With `products`, only its five matrix products run."""
    start = time.perf_counter()
    b, n, d = q.shape[0] * q.shape[1], q.shape[-2], q.shape[-1]
    scale = 1 / math.sqrt(d)
    q3, k3, v3 = (t.reshape(b, n, d) for t in (q, k, v))
    do3, o3 = g.reshape(b, n, d), out.reshape(b, n, d)
    lse3 = lse.reshape(b, n, 1)
    dsum = (do3 * o3).sum(-1, True)
    dq_blocks = [q3.new_zeros((b, min(BQ, n - i0), d)) for i0 in range(0, n, BQ)]
    dk, dv = torch.empty_like(k3), torch.empty_like(v3)
    size = b * min(BQ, n) * min(BK, n)
    s_buf, dp_buf = q3.new_empty(size), q3.new_empty(size)
    for j0 in range(0, n, BK):
        j1 = min(j0 + BK, n)
        k_j, v_j = k3[:, j0:j1], v3[:, j0:j1]
        dk_j, dv_j = k_j.new_zeros((b, j1 - j0, d)), v_j.new_zeros((b, j1 - j0, d))
        for i0 in range(0, n, BQ):
            i1 = min(i0 + BQ, n)
            shape = (b, i1 - i0, j1 - j0)
            q_i, do_i = q3[:, i0:i1] * scale, do3[:, i0:i1]
            s = s_buf[: math.prod(shape)].view(shape)
            dp = dp_buf[: math.prod(shape)].view(shape)
            t = time.perf_counter()
            torch.bmm(q_i, k_j.transpose(-2, -1), out=s)
            t = _lap(ops, "Q K^T (again)", t)
            if not products:
                s.sub_(lse3[:, i0:i1])
                t = _lap(ops, "subtract L", t)
                s.exp_()
                t = _lap(ops, "exp", t)
            dv_j.baddbmm_(s.transpose(-2, -1), do_i)
            t = _lap(ops, "dV += P^T dO", t)
            torch.bmm(do_i, v_j.transpose(-2, -1), out=dp)
            t = _lap(ops, "dP = dO V^T", t)
            if not products:
                dp.sub_(dsum[:, i0:i1]).mul_(s)
                t = _lap(ops, "dS = P (dP - D)", t)
            dq_blocks[i0 // BQ].baddbmm_(dp, k_j)
            t = _lap(ops, "dQ += dS K", t)
            dk_j.baddbmm_(dp.transpose(-2, -1), q_i)
            t = _lap(ops, "dK += dS^T Q", t)
        dk[:, j0:j1], dv[:, j0:j1] = dk_j, dv_j
    torch.cat([scale * dq_i for dq_i in dq_blocks], dim=1)
    total = time.perf_counter() - start
    ops["other"] = (
        ops.get("other", 0.0) + total - sum(ops.get(name, 0.0) for name in BACKWARD_OPS)
    )


def profile_backward(n: int, rounds: int) -> dict[str, Any]:
    """One n: the profiled backward loop, `tiled_attention_backward` itself, the
    products-only loop and SDPA's backward (autograd through its saved graph),
    interleaved for `rounds` rounds after one warm-up; medians."""
    q, k, v, g = inputs(n, True)
    with torch.no_grad():
        out, lse = tiled_attention_forward(q, k, v)
    reference = sdpa(q, k, v)  # SDPA's graph, kept for its backward
    ops_rounds: list[dict[str, float]] = []

    def profiled() -> None:
        ops_rounds.append({})
        with torch.no_grad():
            profiled_backward(q, k, v, out, lse, g, ops_rounds[-1])

    def products_only() -> None:
        with torch.no_grad():
            profiled_backward(q, k, v, out, lse, g, {}, products=True)

    def tiled() -> None:
        with torch.no_grad():
            tiled_attention_backward(q, k, v, out, lse, g)

    calls: dict[str, Callable[[], Any]] = {
        "profiled": profiled,
        "tiled": tiled,
        "products_only": products_only,
        "sdpa": lambda: torch.autograd.grad(reference, (q, k, v), g, retain_graph=True),
    }
    for call in calls.values():  # warm-up
        call()
    ops_rounds.clear()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(seconds(call))
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    ops_ms = {
        name: statistics.median(r[name] for r in ops_rounds) * 1e3
        for name in (*BACKWARD_OPS, "other")
    }
    backward_flops = flops(n, True) - flops(n, False)
    return {
        "n": n,
        "heads": HEADS,
        "d": D,
        "block": [BQ, BK],
        "rounds": rounds,
        "ops_ms": ops_ms,
        "products": list(BACKWARD_PRODUCTS),
        "profiled_loop_ms": ms["profiled"],
        "tiled_ms": ms["tiled"],
        "products_only_ms": ms["products_only"],
        "sdpa_ms": ms["sdpa"],
        "products_gflops": backward_flops / ms["products_only"] / 1e6,
        "sdpa_gflops": backward_flops / ms["sdpa"] / 1e6,
        "ms_samples": {name: [x * 1e3 for x in t] for name, t in times.items()},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    info = start_machine("cpu", args)
    started = time.monotonic()
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
        load = load_average()
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
    profile = profile_backward(
        QUICK_PROFILE_N if args.quick else PROFILE_N, rounds=2 if args.quick else 5
    )
    finish_machine(info)
    return {
        "machine": info,
        "quick": args.quick,
        "wall_seconds": time.monotonic() - started,
        "profile": profile,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "device": "cpu",
        "dtype": "float32",
        "shape": {"batch": 1, "heads": HEADS, "d": D},
        "flop_count": "forward 4 n^2 d, backward 10 n^2 d per head (recomputing)",
        "peer": "memory-efficient-attention-pytorch 0.1.6" if "peer" in fns else None,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: n = 256, 512"
    )
    parser.add_argument("--max-n", type=int, default=0, help="skip larger n")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads"
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    add_quiet_options(parser)
    parser.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args._memory:
        print(memory_here(args._memory[0], int(args._memory[1])))
        return
    result = run(args)
    for r in result["results"]:
        mem = r.get("peak_extra_bytes")
        print(
            f"{r['impl']:>15} {r['mode']:>8} {r['n']:>6} {r['ms']:>10.1f} ms "
            f"{r['gflops']:>6.1f} GFLOP/s {r['throughput_vs_sdpa']:>5.2f}x SDPA"
            + ("" if mem is None else f" {mem / 2**20:>8.1f} MiB")
        )
    date = result["date"][:10]
    quick = "-quick" if args.quick else ""
    name = f"cpu-{os.cpu_count()}core-float32-backward{quick}-{date}.json"
    out = args.out or ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
