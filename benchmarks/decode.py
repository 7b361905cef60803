"""Decoding with and without the KV cache, and what the cache costs in memory.

    python benchmarks/decode.py            # n = 512 .. 4,096, a few CPU minutes (one thread)
    python benchmarks/decode.py --quick    # n = 512 and 1,024, under a minute

A small decoder (token embedding, a few pre-norm blocks of GroupedQueryAttention with
RoPE and an MLP, random weights) generates tokens greedily. Measured in one run:

- tokens per second at context length n: one decode step with the cache (the new
  token only) and without it (the causal forward over all n tokens, of which only the
  last row is used), timed in interleaved rounds, median reported;
- a whole greedy generation of ``--generate`` tokens both ways, checking that both
  produce the same tokens;
- KV-cache bytes per token for multi-head, grouped-query and multi-query attention and
  for a sliding window, from the tensors' sizes, and the peak resident memory of a
  decode to n = 4,096, each in a fresh process.

Writes ``benchmarks/results/decode-<machine>-<date>.json``. Needs only torch.
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
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # selfattn, bench.py

from bench import (  # noqa: E402
    add_quiet_options,
    finish_machine,
    load_average,
    start_machine,
)

from selfattn import GroupedQueryAttention, KVCache  # noqa: E402

VOCAB, D_MODEL, N_HEADS, N_LAYERS = 256, 256, 8, 4
CONTEXT = 4096
SIZES, QUICK_SIZES = [512, 1024, 2048, 4096], [512, 1024]
KV_HEADS = {"MHA": 8, "GQA": 2, "MQA": 1}
WINDOW = 512
MEMORY_CHUNK = 256  # tokens per write while filling the caches for the memory runs


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, n_kv_heads: int, window: int | None) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(D_MODEL), nn.LayerNorm(D_MODEL)
        self.attn = GroupedQueryAttention(
            D_MODEL,
            D_MODEL,
            N_HEADS,
            n_kv_heads,
            context_length=CONTEXT,
            window=window,
            rope=True,
        )
        self.mlp = nn.Sequential(
            nn.Linear(D_MODEL, 4 * D_MODEL),
            nn.GELU(),
            nn.Linear(4 * D_MODEL, D_MODEL),
        )

    def forward(self, x: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cache=cache)
        return x + self.mlp(self.norm2(x))


class TinyDecoder(nn.Module):
    """Embedding, ``N_LAYERS`` blocks, a final norm and the logits; random weights."""

    def __init__(self, n_kv_heads: int = 8, window: int | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.blocks = nn.ModuleList(Block(n_kv_heads, window) for _ in range(N_LAYERS))
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB)

    def new_caches(self, batch: int) -> list[KVCache]:
        return [block.attn.new_cache(batch) for block in self.blocks]

    def forward(
        self, ids: torch.Tensor, caches: list[KVCache] | None = None
    ) -> torch.Tensor:
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        out: torch.Tensor = self.head(self.norm(x))
        return out


def build(n_kv_heads: int = 8, window: int | None = None) -> TinyDecoder:
    torch.manual_seed(0)
    return TinyDecoder(n_kv_heads, window).eval()


def prefill(model: TinyDecoder, ids: torch.Tensor, chunk: int) -> list[KVCache]:
    caches = model.new_caches(ids.shape[0])
    for start in range(0, ids.shape[1], chunk):
        model(ids[:, start : start + chunk], caches)
    return caches


class Clock:
    """Wall-clock and CPU seconds of this process, read together.

    On a machine shared with other processes the wall clock also counts the time
    the others held the cores; the process's CPU time (one torch thread) does not,
    so it is the steadier measure of the work a step does.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def step_times(model: TinyDecoder, n: int, budget: float) -> dict[str, list[float]]:
    """Seconds of one decode step at context length n, with and without the cache.

    With the cache: the cache holds n - 1 tokens and the step feeds the n-th; the cache
    is rewound (``length = n - 1``) between repeats, so every step sees n tokens.
    Without: the causal forward over all n tokens. Interleaved rounds until
    ``budget`` CPU seconds are spent (at least one round; three where they fit).
    """
    ids = torch.randint(0, VOCAB, (1, n))
    caches = prefill(model, ids[:, :-1], chunk=256)
    last = ids[:, -1:]
    samples: dict[str, list[float]] = {
        "cached_wall": [],
        "cached_cpu": [],
        "uncached_wall": [],
        "uncached_cpu": [],
    }
    spent = 0.0
    while len(samples["uncached_cpu"]) < 15:
        repeats = 10
        clock = Clock()
        for _ in range(repeats):
            for cache in caches:
                cache.length = n - 1  # rewind: the same step again
            model(last, caches)
        wall, cpu = clock.elapsed()
        samples["cached_wall"].append(wall / repeats)
        samples["cached_cpu"].append(cpu / repeats)
        clock = Clock()
        model(ids)[:, -1]
        wall, cpu = clock.elapsed()
        samples["uncached_wall"].append(wall)
        samples["uncached_cpu"].append(cpu)
        spent += cpu + samples["cached_cpu"][-1] * repeats
        rounds = len(samples["uncached_cpu"])
        if spent > budget and (rounds >= 3 or spent / rounds * 3 > 2 * budget):
            break
    return samples


def generate(
    model: TinyDecoder, n_new: int, cached: bool
) -> tuple[list[int], float, float]:
    """Greedy generation of n_new tokens after token 0; (tokens, wall s, CPU s)."""
    ids = torch.zeros(1, 1, dtype=torch.long)
    caches = model.new_caches(1) if cached else None
    clock = Clock()
    step_input = ids
    for _ in range(n_new):
        logits = model(step_input, caches) if cached else model(ids)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
        ids = torch.cat([ids, token], dim=1)
        step_input = token
    wall, cpu = clock.elapsed()
    return ids[0, 1:].tolist(), wall, cpu


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_here(n_kv_heads: int, window: int | None, n: int) -> dict[str, int]:
    """In this (fresh) process: caches holding n - 8 tokens, then 8 decode steps.

    A small decode first loads every library. The cached keys and values are random
    numbers written straight into the caches (computing them would take the whole
    prefill's time and change nothing in their size); the 8 steps run the model.
    The rise of the resident set's high-water mark over the resident set before,
    in bytes (-1 where the high-water mark cannot be reset).
    """
    model = build(n_kv_heads, window)
    ids = torch.randint(0, VOCAB, (1, 8))
    with torch.no_grad():
        model(ids)  # warm-up without a cache: freed cache memory would be reused
        before = _rss_kib("VmRSS")
        try:  # Linux >= 4.0: "5" resets the high-water mark to the current RSS
            Path("/proc/self/clear_refs").write_text("5")
            reset = True
        except OSError:
            reset = False
        caches = model.new_caches(1)
        for cache in caches:
            chunk = min(MEMORY_CHUNK, cache.capacity)
            for start in range(0, n - 8, chunk):
                size = min(chunk, n - 8 - start)
                k = torch.randn(1, n_kv_heads, size, D_MODEL // N_HEADS)
                cache.update(k, k)
        for i in range(8):
            model(ids[:, i : i + 1], caches)
        peak = _rss_kib("VmHWM")
    return {
        "peak_rss_increase_bytes": (peak - before) * 1024 if reset else -1,
        "cache_tensor_bytes": sum(c.nbytes for c in caches),
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
        model = build(h_kv, window)
        caches = model.new_caches(1)
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
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_grad_enabled(False)
    info = start_machine("cpu", args)
    sizes = QUICK_SIZES if args.quick else SIZES
    model = build(KV_HEADS["GQA"])
    speed = []
    for n in sizes:
        samples = step_times(model, n, args.budget)
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
                "rounds": len(samples["uncached_cpu"]),
                "ms_samples": {
                    key: [v * 1e3 for v in values] for key, values in samples.items()
                },
                "load_average": load_average(),
            }
        )
        row = speed[-1]
        print(
            f"n={n:5d}  per CPU second: cached {row['cached_tokens_per_cpu_s']:8.1f} "
            f"uncached {row['uncached_tokens_per_cpu_s']:8.2f} "
            f"x{row['speedup_cpu']:.0f}  (wall x{row['speedup']:.0f})",
            flush=True,
        )
    tokens_c, wall_c, cpu_c = generate(model, args.generate, cached=True)
    tokens_u, wall_u, cpu_u = generate(model, args.generate, cached=False)
    generation = {
        "n_new": args.generate,
        "cached_tokens_per_cpu_s": args.generate / cpu_c,
        "uncached_tokens_per_cpu_s": args.generate / cpu_u,
        "speedup_cpu": cpu_u / cpu_c,
        "cached_tokens_per_s": args.generate / wall_c,
        "uncached_tokens_per_s": args.generate / wall_u,
        "speedup": wall_u / wall_c,
        "same_tokens": tokens_c == tokens_u,
        "load_average": load_average(),
    }
    print(f"generate {args.generate}: {generation}", flush=True)
    memory = memory_rows(args.memory_n)
    for row in memory:
        print(row, flush=True)
    finish_machine(info)
    return {
        "machine": info,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "dtype": "float32",
        "model": {
            "vocab": VOCAB,
            "d_model": D_MODEL,
            "n_heads": N_HEADS,
            "n_kv_heads": KV_HEADS["GQA"],
            "layers": N_LAYERS,
            "rope": True,
            "context_length": CONTEXT,
            "weights": "random (seed 0)",
        },
        "quick": args.quick,
        "notes": [
            "Tokens per second at context length n: median of interleaved rounds of "
            "one decode step with the cache and one causal forward over n tokens "
            "without it, per second of the process's CPU time (*_per_cpu_s, one "
            "torch thread) and per wall-clock second; the machine may have been "
            "shared (see load_average), which slows the wall clock, not the CPU "
            "time.",
            "Peak memory: the rise of the resident-set high-water mark over "
            "building the caches, filling them with n - 8 tokens of random keys and "
            "values and decoding 8 tokens, in a fresh process per configuration; "
            "the caches are allocated for context_length tokens (or the window) up "
            "front.",
        ],
        "speed": speed,
        "generation": generation,
        "memory": memory,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 512, 1,024 only")
    parser.add_argument(
        "--budget", type=float, default=8.0, help="CPU seconds of rounds per n"
    )
    parser.add_argument(
        "--generate", type=int, default=0, help="tokens of the greedy generation"
    )
    parser.add_argument("--memory-n", type=int, default=CONTEXT)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared machine, more threads spin "
        "against other processes and the small ops of a cached step suffer most)",
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
    if not args.generate:
        args.generate = 64 if args.quick else 256
    if args.quick:
        args.budget = min(args.budget, 3.0)
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
