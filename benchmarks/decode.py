"""Decoding with and without the KV cache, and what the cache costs in memory.

    python benchmarks/decode.py            # n = 256 .. 2,048: about a minute
    python benchmarks/decode.py --quick    # n = 128 and 256, a smoke test

Speed: a stack of ``N_LAYERS`` causal ``MultiHeadAttention`` modules of Part II (each
layer's output is the next one's input; random weights), the model of the chapter
"The KV cache". At context length n, side by side in interleaved rounds, median
reported: one decode step with the cache (``cached_forward`` on the n-th token, the
``SimpleKVCache`` of each layer holding the n - 1 before it) and without it (each
layer's causal forward over all n tokens, of which only the last row is used). Both
give the same last row: their largest difference is recorded (``max_abs_difference``,
float32) and held below 1e-5 by tests/claims/kv_cache.py.

Memory: the same stack built from ``GroupedQueryAttention`` with 8, 2 and 1
key/value heads, and with a window, the models of "Sharing keys and values" and
"Sliding windows": bytes per cached token from the caches' tensors, and, in a fresh
process per configuration, the rise of the peak resident memory while the caches
take a prompt of n - 8 tokens and 8 more tokens are decoded (n tokens in all).

Waits for a quiet machine first (a 1-minute load average below 1; ``--allow-load`` and
``--wait`` as in bench.py). Writes ``benchmarks/results/decode-<machine>-<date>.json``
with the machine, the torch version and the load averages (1, 5 and 15 minutes) at
its start, after each size and at its end. Needs only torch.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
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

from selfattn import (  # noqa: E402
    GroupedQueryAttention,
    KVCache,
    MultiHeadAttention,
    SimpleKVCache,
    cached_forward,
)

D_MODEL, N_HEADS, N_LAYERS = 256, 8, 4
HEAD_DIM = D_MODEL // N_HEADS
CONTEXT = 4096
SIZES, QUICK_SIZES = [256, 512, 1024, 2048], [128, 256]
KV_HEADS = {"MHA": 8, "GQA": 2, "MQA": 1}
WINDOW = 512
DECODED = 8  # tokens decoded after the prompt in the memory runs
MEMORY_CHUNK = 256  # prompt tokens per write while filling the caches


def build_mha() -> list[MultiHeadAttention]:
    """The speed model: ``N_LAYERS`` causal multi-head layers, random weights."""
    torch.manual_seed(0)
    return [
        MultiHeadAttention(D_MODEL, D_MODEL, CONTEXT, N_HEADS).eval()
        for _ in range(N_LAYERS)
    ]


def new_caches(layers: list[MultiHeadAttention], batch: int) -> list[SimpleKVCache]:
    return [SimpleKVCache(batch, N_HEADS, HEAD_DIM, CONTEXT) for _ in layers]


def uncached(layers: list[MultiHeadAttention], x: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


def cached(
    layers: list[MultiHeadAttention], x: torch.Tensor, caches: list[SimpleKVCache]
) -> torch.Tensor:
    for layer, cache in zip(layers, caches, strict=True):
        x = cached_forward(layer, x, cache)
    return x


class Clock:
    """Wall-clock and CPU seconds of this process, read together."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def step_times(
    layers: list[MultiHeadAttention], n: int, budget: float
) -> tuple[dict[str, list[float]], float]:
    """Seconds of one decode step at context length n, with and without the cache.

    With the cache: the caches hold n - 1 tokens (a prefill in chunks) and the step
    feeds the n-th; each cache is rewound (``length = n - 1``) between repeats, so
    every step sees n tokens. Without: the causal forward over all n tokens.
    Interleaved rounds until ``budget`` CPU seconds are spent (at least three).
    Also returns the largest difference between the two last rows.
    """
    x = torch.randn(1, n, D_MODEL)
    caches = new_caches(layers, 1)
    for start in range(0, n - 1, 256):  # the prefill
        cached(layers, x[:, start : min(start + 256, n - 1)], caches)
    samples: dict[str, list[float]] = {
        "cached_wall": [],
        "cached_cpu": [],
        "uncached_wall": [],
        "uncached_cpu": [],
    }
    spent, diff = 0.0, 0.0
    while len(samples["uncached_cpu"]) < 15:
        repeats = 10
        clock = Clock()
        for _ in range(repeats):
            for cache in caches:
                cache.length = n - 1  # rewind: the same step again
            last = cached(layers, x[:, -1:], caches)
        wall, cpu = clock.elapsed()
        samples["cached_wall"].append(wall / repeats)
        samples["cached_cpu"].append(cpu / repeats)
        clock = Clock()
        full = uncached(layers, x)[:, -1:]
        wall, cpu = clock.elapsed()
        samples["uncached_wall"].append(wall)
        samples["uncached_cpu"].append(cpu)
        diff = max(diff, float((last - full).abs().max()))
        spent += cpu + samples["cached_cpu"][-1] * repeats
        if spent > budget and len(samples["uncached_cpu"]) >= 3:
            break
    return samples, diff


def build_gqa(n_kv_heads: int, window: int | None) -> list[GroupedQueryAttention]:
    """The memory model: the same stack with ``n_kv_heads`` key/value heads."""
    torch.manual_seed(0)
    return [
        GroupedQueryAttention(
            D_MODEL, D_MODEL, N_HEADS, n_kv_heads, context_length=CONTEXT, window=window
        ).eval()
        for _ in range(N_LAYERS)
    ]


def fill_and_decode(
    layers: list[GroupedQueryAttention], n: int, decoded: int = DECODED
) -> list[KVCache]:
    """Caches that take a prompt of ``n - decoded`` tokens, then ``decoded`` more.

    The prompt's keys and values are random numbers written straight into the
    caches, ``MEMORY_CHUNK`` tokens at a time (computing them would take a whole
    prefill's time and change nothing in their size); the ``decoded`` steps run the
    layers, one token each. Every cache has then seen n tokens.
    """
    caches = [layer.new_cache(1) for layer in layers]
    prompt = n - decoded
    for layer, cache in zip(layers, caches, strict=True):
        chunk = min(MEMORY_CHUNK, cache.capacity)
        for start in range(0, prompt, chunk):
            k = torch.randn(1, layer.n_kv_heads, min(chunk, prompt - start), HEAD_DIM)
            cache.update(k, k)
    x = torch.randn(1, decoded, D_MODEL)
    for i in range(decoded):
        h = x[:, i : i + 1]
        for layer, cache in zip(layers, caches, strict=True):
            h = layer(h, cache=cache)
    return caches


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_here(n_kv_heads: int, window: int | None, n: int) -> dict[str, int]:
    """In this (fresh) process: the rise of the resident set's high-water mark over
    the resident set before ``fill_and_decode``, in bytes (-1 where the high-water
    mark cannot be reset), and what the caches hold afterwards.
    """
    layers = build_gqa(n_kv_heads, window)
    with torch.no_grad():
        x = torch.randn(1, DECODED, D_MODEL)
        for layer in layers:  # loads every library first, without a cache: a
            x = layer(x)  # freed cache's memory would be reused below
        before = _rss_kib("VmRSS")
        try:  # Linux >= 4.0: "5" resets the high-water mark to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:
            reset = False
        caches = fill_and_decode(layers, n)
        peak = _rss_kib("VmHWM")
    return {
        "peak_rss_increase_bytes": (peak - before) * 1024 if reset else -1,
        "cache_tensor_bytes": sum(c.nbytes for c in caches),
        "prompt_tokens": n - DECODED,
        "decoded_tokens": DECODED,
        "cache_length": caches[0].length,
    }


def peak_memory(n_kv_heads: int, window: int | None, n: int) -> dict[str, int]:
    args = [sys.executable, __file__, "--_memory", str(n_kv_heads), str(window), str(n)]
    args += ["--threads", str(torch.get_num_threads())]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def memory_rows(n: int) -> list[dict[str, Any]]:
    configs: list[tuple[str, int, int | None]] = [
        (name, h_kv, None) for name, h_kv in KV_HEADS.items()
    ]
    configs.append((f"MHA, window {WINDOW}", N_HEADS, WINDOW))
    rows = []
    for name, h_kv, window in configs:
        caches = [layer.new_cache(1) for layer in build_gqa(h_kv, window)]
        per_token = sum(c.nbytes for c in caches) // caches[0].capacity
        held = min(n, window or n)
        rows.append(
            {
                "config": name,
                "n_heads": N_HEADS,
                "n_kv_heads": h_kv,
                "window": window,
                "layers": N_LAYERS,
                "bytes_per_cached_token": per_token,
                "tokens_held_at_n": held,
                "cache_bytes_at_n": per_token * held,
                "n": n,
                **peak_memory(h_kv, window, n),
            }
        )
        print(rows[-1], flush=True)
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_grad_enabled(False)
    info = start_machine("cpu", args)
    sizes = QUICK_SIZES if args.quick else SIZES
    layers = build_mha()
    speed = []
    for n in sizes:
        samples, diff = step_times(layers, n, args.budget)
        med = {key: statistics.median(values) for key, values in samples.items()}
        speed.append(
            {
                "n": n,
                "cached_tokens_per_cpu_s": 1 / med["cached_cpu"],
                "uncached_tokens_per_cpu_s": 1 / med["uncached_cpu"],
                "speedup_cpu": med["uncached_cpu"] / med["cached_cpu"],
                "cached_tokens_per_s": 1 / med["cached_wall"],
                "uncached_tokens_per_s": 1 / med["uncached_wall"],
                "speedup": med["uncached_wall"] / med["cached_wall"],
                "max_abs_difference": diff,
                "rounds": len(samples["uncached_cpu"]),
                "ms_samples": {
                    key: [v * 1e3 for v in values] for key, values in samples.items()
                },
                "load_average": load_average(),
            }
        )
        row = speed[-1]
        print(
            f"n={n:5d}  tokens per second: cached {row['cached_tokens_per_s']:8.1f} "
            f"uncached {row['uncached_tokens_per_s']:8.2f} x{row['speedup']:.0f} "
            f"(CPU time x{row['speedup_cpu']:.0f}), difference {diff:.1e}",
            flush=True,
        )
    memory = memory_rows(args.memory_n)
    for row in memory:
        print(row, flush=True)
    return {
        "machine": finish_machine(info),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "dtype": "float32",
        "model": {
            "attention": "MultiHeadAttention (Part II), causal",
            "d_model": D_MODEL,
            "n_heads": N_HEADS,
            "head_dim": HEAD_DIM,
            "layers": N_LAYERS,
            "context_length": CONTEXT,
            "weights": "random (seed 0)",
        },
        "quick": args.quick,
        "notes": [
            "Tokens per second at context length n: median of interleaved rounds of "
            "one decode step with the cache and the causal forward over n tokens "
            "without it, per wall-clock second (*_per_s) and per second of the "
            "process's CPU time (*_per_cpu_s).",
            "Memory: GroupedQueryAttention stacks of the same size; the rise of the "
            "resident-set high-water mark over filling the caches with a prompt of "
            "n - 8 tokens and decoding 8 more, in a fresh process per "
            "configuration; the caches are allocated for context_length tokens (or "
            "the window) up front.",
        ],
        "speed": speed,
        "memory": memory,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 128, 256 only")
    parser.add_argument(
        "--budget", type=float, default=6.0, help="CPU seconds of rounds per n"
    )
    parser.add_argument("--memory-n", type=int, default=CONTEXT)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    add_quiet_options(parser)
    parser.add_argument("--_memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args._memory:
        h_kv, window, n = args._memory
        win = None if window == "None" else int(window)
        print(json.dumps(peak_memory_here(int(h_kv), win, int(n))))
        return
    if args.quick:
        args.budget = min(args.budget, 1.0)
        args.memory_n = min(args.memory_n, 1024)
    result = run(args)
    where = f"cpu-{result['machine']['cores']}core"
    quick = "-quick" if args.quick else ""
    name = f"decode-{where}-float32{quick}-{result['date'][:10]}.json"
    out = args.out or ROOT / "benchmarks" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
