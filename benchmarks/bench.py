"""Time and memory of every attention in selfattn.IMPLEMENTATIONS, next to torch's SDPA.

    python benchmarks/bench.py                       # CPU, float32, n = 64 .. 16,384
    python benchmarks/bench.py --quick --allow-load  # smoke test, n <= 1,024
    python benchmarks/bench.py --device cuda --dtype bfloat16

On a quiet 2-core CPU the full run takes about 6 minutes (measured on a 2-core AMD
EPYC, 2026-12-03). It waits up to
`--wait` seconds for the 1-minute load average to fall below 1.0 and refuses to
start otherwise (`--allow-load` measures anyway); the JSON records the machine
(`machine()`) and the load average at the start and the end. The same run profiles
the tiled loop at one n, operation by operation (`profile_forward`), next to SDPA
and a loop of the two matrix products alone.

All timings of one n run in one process, interleaved: each round calls every
implementation once, in turn, so a slow spell of the machine hits all of them
alike; the median over rounds is reported. Peak extra memory is measured on the
CPU in a fresh process per implementation and n (the resident-set high-water mark
minus what was resident before the call, so inputs and libraries are excluded),
and on CUDA with the caching allocator's own peak counter.

Needs only torch; tqdm draws a progress bar when installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing selfattn

from selfattn import IMPLEMENTATIONS  # noqa: E402
from selfattn.efficient import BLOCK_K, BLOCK_Q, attention_tiled  # noqa: E402

Attention = Callable[..., torch.Tensor]

HEADS, BATCH, D = 8, 1, 64
SIZES = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
QUICK_SIZES = [64, 256, 1024]
PROFILE_N, QUICK_PROFILE_N = 4096, 1024  # where the tiled loop is profiled, per op
LONG_N = 65536  # one head: the scores alone would be 65,536^2 * 4 bytes = 16 GiB

# The largest n each entry is timed at, so that a round finishes in seconds: the
# loop makes ~n^2 * heads Python steps; the matrix form allocates several
# heads * n * n score tensors (8 GiB each at n = 16,384).
MAX_N = {
    "cpu": {"loop": 128, "matmul": 4096, "renormalised": 4096, "online": 8192},
    "cuda": {"loop": 64, "matmul": 8192, "renormalised": 8192},
}
DEFAULT_MAX_N = 16384  # an entry added to the registry later, until it gets its own


def sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """torch's own scaled_dot_product_attention, in our calling convention."""
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, scale=scale
    )


def sdpa_backend(backend: Any) -> Attention:
    """SDPA forced onto one backend (CUDA: flash, memory-efficient or math)."""

    def forced(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw: Any) -> Any:
        from torch.nn.attention import sdpa_kernel

        with sdpa_kernel([backend]):
            return sdpa(q, k, v, **kw)

    return forced


def implementations(device: str) -> dict[str, Attention]:
    fns: dict[str, Attention] = dict(IMPLEMENTATIONS)  # type: ignore[arg-type]
    fns["sdpa"] = sdpa
    if device == "cuda":
        from torch.nn.attention import SDPBackend

        fns["sdpa_flash"] = sdpa_backend(SDPBackend.FLASH_ATTENTION)
        fns["sdpa_efficient"] = sdpa_backend(SDPBackend.EFFICIENT_ATTENTION)
        fns["sdpa_math"] = sdpa_backend(SDPBackend.MATH)
    return fns


def max_n(name: str, device: str) -> int:
    return MAX_N[device].get(name, DEFAULT_MAX_N)


def inputs(
    n: int, heads: int, dtype: torch.dtype, device: str
) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(n)
    return tuple(
        torch.randn(BATCH, heads, n, D, generator=gen).to(device=device, dtype=dtype)
        for _ in range(3)
    )


def flops(n: int, heads: int, causal: bool) -> float:
    """Q K^T and A V: 2 * n^2 * d multiply-adds each, per head (half when causal)."""
    total = 4.0 * BATCH * heads * n * n * D
    return total / 2 if causal else total


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def call_seconds(fn: Callable[[], Any], device: str, inner: int = 1) -> float:
    """Seconds per call, averaged over ``inner`` back-to-back calls."""
    sync(device)
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    sync(device)
    return (time.perf_counter() - start) / inner


def mm_ceiling(dtype: torch.dtype, device: str) -> float:
    """GFLOP/s of one large torch.mm: the most this machine's GEMM gets, our ceiling."""
    size = 4096
    a, b = (torch.randn(size, size).to(device=device, dtype=dtype) for _ in range(2))
    call_seconds(lambda: torch.mm(a, b), device)  # warm-up
    inner = 10 if device == "cuda" else 1
    t = statistics.median(
        call_seconds(lambda: torch.mm(a, b), device, inner) for _ in range(5)
    )
    return 2.0 * size**3 / t / 1e9


def progress(total: int, quiet: bool) -> Any:
    """A tqdm bar when tqdm is installed, otherwise a one-line counter on stderr."""
    try:
        from tqdm import tqdm

        return tqdm(total=total, disable=quiet, unit="run", dynamic_ncols=True)
    except ImportError:
        return _PlainProgress(total, quiet)


class _PlainProgress:
    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet

    def set_description(self, text: str) -> None:
        self.text = text

    def update(self, k: int = 1) -> None:
        self.done += k
        if not self.quiet:
            print(
                f"\r[{self.done}/{self.total}] {getattr(self, 'text', '')}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if not self.quiet:
            print(file=sys.stderr)


# ---- memory -----------------------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_memory_here(
    name: str, n: int, heads: int, dtype: torch.dtype, causal: bool
) -> int:
    """Peak extra resident bytes of one call (CPU), in this process: call it in a
    fresh one. Inputs are made and a small warm-up call loads every library first."""
    fn = implementations("cpu")[name]
    with torch.no_grad():
        small = inputs(64, heads, dtype, "cpu")
        fn(*small, causal=causal)
        q, k, v = inputs(n, heads, dtype, "cpu")
        before = _rss_kib("VmRSS")
        try:  # Linux >= 4.0: "5" resets the high-water mark to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:
            reset = False
        out = fn(q, k, v, causal=causal)
        peak = _rss_kib("VmHWM")
        del out
    if not reset:  # the high-water mark may include the import; say so, do not guess
        return -1
    return max(0, peak - before) * 1024


def measure_memory_subprocess(
    name: str, n: int, heads: int, dtype: str, causal: bool
) -> int | None:
    cmd = [sys.executable, __file__, "--_memory", name, str(n), str(heads), dtype]
    if causal:
        cmd.append("--causal")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        print(
            f"memory of {name} at n={n} failed: {done.stderr[-500:]}", file=sys.stderr
        )
        return None
    value = int(done.stdout.strip().splitlines()[-1])
    return None if value < 0 else value


def measure_memory_cuda(
    fn: Attention, qkv: tuple[torch.Tensor, ...], causal: bool
) -> int:
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    with torch.no_grad():
        out = fn(*qkv, causal=causal)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del out
    return peak - before


# ---- profile: where the tiled loop's time goes ---------------------------------

FORWARD_OPS = ("Q K^T", "row max", "subtract", "exp", "row sum", "rescale acc", "P V")
FORWARD_PRODUCTS = ("Q K^T", "P V")


def _lap(ops: dict[str, float], name: str, since: float) -> float:
    """Add the seconds since `since` to `ops[name]`; return the time now."""
    now = time.perf_counter()
    ops[name] = ops.get(name, 0.0) + now - since
    return now


def profiled_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, ops: dict[str, float]
) -> torch.Tensor:
    """`tiled_attention_forward`'s loop (float32, no mask), the same calls in the
    same order (`online_softmax_step` inlined), each timed and summed into `ops`.

    On the CPU every call returns when its work is done, so the clock between two
    calls is that call's time; what no operation claims (Python, slicing, the
    output) is `ops["other"]`, the loop's time minus the operations'.
    """
    start = time.perf_counter()
    b, n, d = q.shape[0] * q.shape[1], q.shape[-2], q.shape[-1]
    scale = 1 / math.sqrt(d)
    q3 = q.reshape(b, n, d)
    k_blocks = torch.split(k.reshape(b, n, d).transpose(-2, -1), BLOCK_K, dim=-1)
    v_blocks = torch.split(v.reshape(b, n, d), BLOCK_K, dim=-2)
    out = q3.new_empty((b, n, d))
    buf = q3.new_empty(b * min(BLOCK_Q, n) * min(BLOCK_K, n))
    tiny = torch.finfo(q.dtype).min
    for i0 in range(0, n, BLOCK_Q):
        i1 = min(i0 + BLOCK_Q, n)
        q_i = q3[:, i0:i1] * scale
        m = q_i.new_full((b, i1 - i0, 1), -math.inf)
        l = q_i.new_zeros((b, i1 - i0, 1))  # noqa: E741
        acc = q_i.new_zeros((b, i1 - i0, d))
        for k_j, v_j in zip(k_blocks, v_blocks, strict=True):
            shape = (b, i1 - i0, k_j.shape[-1])
            tile = buf[: math.prod(shape)].view(shape)
            t = time.perf_counter()
            s = torch.bmm(q_i, k_j, out=tile)
            t = _lap(ops, "Q K^T", t)
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
            shift = m_new.clamp_min(tiny)
            rescale = torch.exp(m - shift)
            t = _lap(ops, "row max", t)
            s.sub_(shift)
            t = _lap(ops, "subtract", t)
            p = s.exp_()
            t = _lap(ops, "exp", t)
            l.mul_(rescale).add_(p.sum(dim=-1, keepdim=True))
            t = _lap(ops, "row sum", t)
            acc.mul_(rescale)
            t = _lap(ops, "rescale acc", t)
            acc.baddbmm_(p, v_j)
            t = _lap(ops, "P V", t)
            m = m_new
        out[:, i0:i1] = acc / l
    total = time.perf_counter() - start
    ops["other"] = (
        ops.get("other", 0.0) + total - sum(ops.get(name, 0.0) for name in FORWARD_OPS)
    )
    return out.reshape(q.shape)


def products_only(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """The same loop with nothing but its two matrix products per tile: the time
    any loop of separate PyTorch calls over these tiles spends in its GEMMs."""
    b, n, d = q.shape[0] * q.shape[1], q.shape[-2], q.shape[-1]
    q3 = q.reshape(b, n, d)
    k_blocks = torch.split(k.reshape(b, n, d).transpose(-2, -1), BLOCK_K, dim=-1)
    v_blocks = torch.split(v.reshape(b, n, d), BLOCK_K, dim=-2)
    buf = q3.new_empty(b * min(BLOCK_Q, n) * min(BLOCK_K, n))
    for i0 in range(0, n, BLOCK_Q):
        q_i = q3[:, i0 : i0 + BLOCK_Q]
        acc = q_i.new_zeros((b, q_i.shape[1], d))
        for k_j, v_j in zip(k_blocks, v_blocks, strict=True):
            shape = (b, q_i.shape[1], k_j.shape[-1])
            s = torch.bmm(q_i, k_j, out=buf[: math.prod(shape)].view(shape))
            acc.baddbmm_(s, v_j)


def profile_forward(n: int, rounds: int) -> dict[str, Any]:
    """One n, float32, CPU: the profiled loop, `attention_tiled`, the products-only
    loop and SDPA, interleaved for `rounds` rounds after one warm-up; medians."""
    q, k, v = inputs(n, HEADS, torch.float32, "cpu")
    ops_rounds: list[dict[str, float]] = []
    times: dict[str, list[float]] = {
        name: [] for name in ("profiled", "tiled", "products_only", "sdpa")
    }

    def profiled() -> None:
        ops_rounds.append({})
        profiled_forward(q, k, v, ops_rounds[-1])

    calls = {
        "profiled": profiled,
        "tiled": lambda: attention_tiled(q, k, v),
        "products_only": lambda: products_only(q, k, v),
        "sdpa": lambda: sdpa(q, k, v),
    }
    with torch.no_grad():
        for call in calls.values():  # warm-up
            call()
        ops_rounds.clear()
        for _ in range(rounds):
            for name, call in calls.items():
                times[name].append(call_seconds(call, "cpu"))
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    ops_ms = {
        name: statistics.median(r[name] for r in ops_rounds) * 1e3
        for name in (*FORWARD_OPS, "other")
    }
    products_flops = flops(n, HEADS, False)
    return {
        "n": n,
        "heads": HEADS,
        "d": D,
        "block": [BLOCK_Q, BLOCK_K],
        "rounds": rounds,
        "ops_ms": ops_ms,
        "products": list(FORWARD_PRODUCTS),
        "profiled_loop_ms": ms["profiled"],
        "tiled_ms": ms["tiled"],
        "products_only_ms": ms["products_only"],
        "sdpa_ms": ms["sdpa"],
        "products_gflops": products_flops / ms["products_only"] / 1e6,
        "sdpa_gflops": products_flops / ms["sdpa"] / 1e6,
        "ms_samples": {name: [x * 1e3 for x in t] for name, t in times.items()},
    }


# ---- timing -----------------------------------------------------------------


def supported(
    fn: Attention, device: str, dtype: torch.dtype, causal: bool
) -> str | None:
    """None if ``fn`` runs on a small problem here, else the reason it does not."""
    try:
        with torch.no_grad():
            fn(*inputs(64, 2, dtype, device), causal=causal)
        sync(device)
    except RuntimeError as err:  # e.g. SDPA's flash backend refuses float32
        return str(err).strip().splitlines()[0][:300]
    return None


def time_size(
    fns: dict[str, Attention],
    qkv: tuple[torch.Tensor, ...],
    device: str,
    causal: bool,
    budget_s: float,
    bar: Any,
) -> dict[str, list[float]]:
    """Median-ready samples (seconds per call) for every entry at one n, interleaved."""
    calls = {name: (lambda fn=fn: fn(*qkv, causal=causal)) for name, fn in fns.items()}
    first = {}
    for name, call in calls.items():  # warm-up: caches, allocator, lazy init
        bar.set_description(f"warm-up {name} n={qkv[0].shape[-2]}")
        first[name] = max(call_seconds(call, device), 1e-6)
    # Calls short enough to be swamped by timer resolution are repeated within a sample.
    inner = {name: max(1, math.ceil(0.01 / t)) for name, t in first.items()}
    per_round = sum(first[name] * inner[name] for name in calls)
    rounds = int(min(15, max(3, budget_s // max(per_round, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(rounds):
        bar.set_description(f"n={qkv[0].shape[-2]} round {r + 1}/{rounds}")
        for name, call in calls.items():
            samples[name].append(call_seconds(call, device, inner[name]))
    return samples


QUIET_LOAD = 1.0  # a 1-minute load average at or above this is a busy machine
QUIET_WAIT_S = 300.0  # how long a benchmark waits for the load to fall


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, or None where the OS has none."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine(device: str) -> dict[str, Any]:
    """What a result needs to name its machine: CPU model, cores, torch, threads."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def add_quiet_options(parser: argparse.ArgumentParser) -> None:
    """--allow-load and --wait, shared by every benchmark."""
    parser.add_argument(
        "--allow-load",
        action="store_true",
        help=f"run even when the 1-minute load average stays >= {QUIET_LOAD} "
        "(the docs build rejects such a result once REQUIRE_QUIET is on)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=QUIET_WAIT_S,
        help="seconds to wait for the load average to fall before giving up",
    )


def wait_for_quiet(
    allow_load: bool, wait_s: float = QUIET_WAIT_S, poll_s: float = 5.0
) -> list[float] | None:
    """The load average once its 1-minute value is below QUIET_LOAD.

    Waits up to `wait_s` seconds for it to fall (a benchmark that has just
    finished leaves ~2 behind, which takes about a minute to decay), then exits
    with a message. With `allow_load` it warns and returns the load at once.
    """
    deadline = time.monotonic() + wait_s
    load = load_average()
    while load is not None and load[0] >= QUIET_LOAD:
        if allow_load:
            print(
                f"warning: load average {load[0]:.2f} >= {QUIET_LOAD}; "
                "measuring anyway (--allow-load)",
                file=sys.stderr,
            )
            return load
        if time.monotonic() >= deadline:
            raise SystemExit(
                f"refusing to benchmark: the 1-minute load average is {load[0]:.2f} "
                f"(>= {QUIET_LOAD}) after waiting {wait_s:.0f} s. Stop other work "
                "on this machine (test runs, builds, other benchmarks) and run "
                "again, or pass --allow-load to measure anyway."
            )
        print(
            f"load average {load[0]:.2f} >= {QUIET_LOAD}: waiting for it to fall "
            f"({deadline - time.monotonic():.0f} s left)",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
        load = load_average()
    return load


def start_machine(device: str, args: argparse.Namespace) -> dict[str, Any]:
    """`machine(device)` with the load average at the start, once it is quiet."""
    load = wait_for_quiet(args.allow_load, args.wait)
    info = machine(device)
    info["load_average_at_start"] = load
    return info


def finish_machine(info: dict[str, Any]) -> dict[str, Any]:
    info["load_average_at_end"] = load_average()
    return info


def run(args: argparse.Namespace) -> dict[str, Any]:
    device, causal = args.device, args.causal
    dtype = getattr(torch, args.dtype)
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.max_n:
        sizes = [n for n in sizes if n <= args.max_n]
    if args.min_n:
        sizes = [n for n in sizes if n >= args.min_n]
    info = start_machine(device, args)
    started = time.monotonic()
    fns = implementations(device)
    notes = [
        "Timings are medians of interleaved rounds in one process; the machine may "
        "have been shared with other processes while it ran (see load_average).",
    ]
    unsupported = {}
    for name in list(fns):
        reason = supported(fns[name], device, dtype, causal)
        if reason is not None:
            unsupported[name] = reason
            notes.append(f"{name} skipped on {device} {args.dtype}: {reason}")
            del fns[name]
    ceiling = mm_ceiling(dtype, device)
    plan = [(n, [name for name in fns if n <= max_n(name, device)]) for n in sizes]
    total = len(sizes) + sum(len(names) for _, names in plan) * (device == "cpu")
    total += 0 if args.no_long else 1
    bar = progress(total, args.quiet)
    rows: list[dict[str, Any]] = []
    for n, names in plan:
        qkv = inputs(n, HEADS, dtype, device)
        samples = time_size(
            {k: fns[k] for k in names}, qkv, device, causal, args.budget, bar
        )
        bar.update()
        load = load_average()  # 1, 5, 15 minutes: were others using the cores?
        sdpa_s = statistics.median(samples["sdpa"])
        for name in names:
            seconds = statistics.median(samples[name])
            if device == "cuda":
                peak: int | None = measure_memory_cuda(fns[name], qkv, causal)
            else:
                bar.set_description(f"memory {name} n={n}")
                peak = measure_memory_subprocess(name, n, HEADS, args.dtype, causal)
                bar.update()
            rows.append(
                {
                    "impl": name,
                    "n": n,
                    "heads": HEADS,
                    "ms": seconds * 1e3,
                    "ms_samples": [s * 1e3 for s in samples[name]],
                    "gflops": flops(n, HEADS, causal) / seconds / 1e9,
                    "fraction_of_mm": flops(n, HEADS, causal) / seconds / 1e9 / ceiling,
                    "throughput_vs_sdpa": sdpa_s / seconds,
                    "peak_extra_bytes": peak,
                    "load_average": load,
                }
            )
        del qkv
    long_rows = [] if args.no_long else run_long(fns, device, dtype, args, bar)
    profile = None
    if device == "cpu" and args.dtype == "float32" and not causal:
        bar.set_description("profile of the tiled loop")
        n = QUICK_PROFILE_N if args.quick else PROFILE_N
        profile = profile_forward(n, rounds=2 if args.quick else 5)
    bar.close()
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
        "device": device,
        "dtype": args.dtype,
        "shape": {"batch": BATCH, "heads": HEADS, "d": D},
        "causal": causal,
        "mm_gflops": ceiling,
        "unsupported": unsupported,
        "notes": notes,
        "results": rows,
        "long": long_rows,
    }


def run_long(
    fns: dict[str, Attention],
    device: str,
    dtype: torch.dtype,
    args: argparse.Namespace,
    bar: Any,
) -> list[dict[str, Any]]:
    """n = 65,536 with one head: only the entries that never hold all the scores."""
    names = [name for name in ("tiled",) if name in fns]
    rows = []
    qkv = inputs(LONG_N, 1, dtype, device)
    for name in names:
        bar.set_description(f"{name} n={LONG_N}")
        with torch.no_grad():
            seconds = call_seconds(
                lambda fn=fns[name]: fn(*qkv, causal=args.causal), device
            )
        if device == "cuda":
            peak: int | None = measure_memory_cuda(fns[name], qkv, args.causal)
        else:
            peak = measure_memory_subprocess(name, LONG_N, 1, args.dtype, args.causal)
        rows.append(
            {
                "impl": name,
                "n": LONG_N,
                "heads": 1,
                "ms": seconds * 1e3,
                "gflops": flops(LONG_N, 1, args.causal) / seconds / 1e9,
                "peak_extra_bytes": peak,
                "naive_scores_bytes": LONG_N * LONG_N * 4 * 2,  # scores + their exp
                "load_average": load_average(),
            }
        )
    bar.update()
    return rows


def table(result: dict[str, Any]) -> Iterator[str]:
    yield (
        f"{result['device']} {result['dtype']} | {result['machine']['cpu']} "
        f"{result['machine'].get('gpu', '')} | torch {result['torch']} | "
        f"mm ceiling {result['mm_gflops']:.0f} GFLOP/s"
    )
    yield (
        f"{'impl':>14} {'n':>6} {'ms':>10} {'GFLOP/s':>8} {'of mm':>6} "
        f"{'vs SDPA':>8} {'peak MiB':>9}"
    )
    for r in result["results"] + result["long"]:
        mem = (
            "-"
            if r["peak_extra_bytes"] is None
            else f"{r['peak_extra_bytes'] / 2**20:.1f}"
        )
        frac = f"{r['fraction_of_mm']:.2f}" if "fraction_of_mm" in r else "-"
        ratio = f"{r['throughput_vs_sdpa']:.2f}" if "throughput_vs_sdpa" in r else "-"
        yield (
            f"{r['impl']:>14} {r['n']:>6} {r['ms']:>10.2f} {r['gflops']:>8.1f} "
            f"{frac:>6} {ratio:>8} {mem:>9}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--dtype", default="float32", choices=["float32", "bfloat16", "float16"]
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: n = 64 .. 1,024"
    )
    parser.add_argument("--min-n", type=int, default=0, help="skip smaller n")
    parser.add_argument("--max-n", type=int, default=0, help="skip larger n")
    parser.add_argument("--causal", action="store_true", help="time causal attention")
    parser.add_argument(
        "--no-long", action="store_true", help=f"skip the n={LONG_N} run"
    )
    parser.add_argument(
        "--budget", type=float, default=6.0, help="seconds of rounds per n"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--out",
        type=Path,
        help="write the JSON here (default: benchmarks/results/<machine>-<dtype>-<date>.json)",
    )
    parser.add_argument("--plot", action="store_true", help="draw figures next to it")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads"
    )
    add_quiet_options(parser)
    parser.add_argument("--_memory", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args._memory:
        name, n, heads, dtype = args._memory
        print(
            measure_memory_here(
                name, int(n), int(heads), getattr(torch, dtype), args.causal
            )
        )
        return
    if args.quick:
        args.budget, args.no_long = min(args.budget, 1.0), True
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    result = run(args)
    for line in table(result):
        print(line)
    out = args.out or ROOT / "benchmarks" / "results" / default_name(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    if args.plot:
        try:
            import plot  # benchmarks/plot.py, beside this file
        except ImportError as err:  # no matplotlib (e.g. on a bare GPU machine)
            print(f"no figures: {err}", file=sys.stderr)
        else:
            plot.main([str(out)])


def default_name(result: dict[str, Any]) -> str:
    """``cpu-2core-float32-2026-01-31.json`` or ``cuda-nvidia-h100-...-bfloat16-...``."""
    where = f"cpu-{result['machine']['cores']}core"
    if result["device"] == "cuda":
        gpu = "".join(
            c if c.isalnum() else "-" for c in result["machine"]["gpu"].lower()
        )
        where = "cuda-" + "-".join(part for part in gpu.split("-") if part)
    causal = "-causal" if result["causal"] else ""
    quick = "-quick" if result["quick"] else ""
    return f"{where}-{result['dtype']}{causal}{quick}-{result['date'][:10]}.json"


if __name__ == "__main__":
    main()
