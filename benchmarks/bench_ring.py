"""Ring attention in p = 1, 2, 4 local gloo processes, next to one process's SDPA and
attention_tiled: time per rank for both layouts, per-rank peak memory, bytes sent,
time spent waiting.

    python benchmarks/bench_ring.py                 # n = 4,096 .. 16,384, causal
    python benchmarks/bench_ring.py --quick         # n = 512 and 1,024: a smoke test

Every configuration runs in fresh processes forked from one server that imported
torch once (``selfattn.ring.run_on_ranks``); each rank makes only its own shard.
Peak memory is the resident-set high-water mark minus what was resident just before
the call (Linux), in a process that has run nothing larger than a 64-token warm-up,
so that no memory freed earlier can be reused unseen.
Every process computes with one thread: with more threads than free cores, OpenMP's
waiting threads cost more than they compute. The time of a ring is its slowest
rank's, the fastest of three calls up to n = 4,096 and one call above (each row's
`calls` in the JSON). Every wait is
bounded (``--timeout``); the whole run takes under a minute on 2 idle cores (24
configurations, each in fresh processes; 17 s of timed work on a 2-core AMD EPYC,
2026-12-03). The JSON
records the machine and the load average at the start and at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # selfattn from this checkout; bench.py beside

import torch  # noqa: E402
from bench import add_quiet_options, finish_machine, start_machine  # noqa: E402

from selfattn import attention_tiled  # noqa: E402
from selfattn.ring import demo, demo_chunk, ring_bytes, run_on_ranks  # noqa: E402
from selfattn.ring.cli import _peak_rss_reset, _rss  # noqa: E402

SIZES = [4096, 8192, 16384]
QUICK_SIZES = [512, 1024]
WORLD_SIZES = [1, 2, 4]
HEADS, D = 1, 64


def single(name: str, n: int, causal: bool, repeat: int) -> dict[str, Any]:
    """One process's SDPA or attention_tiled on the whole sequence (run as rank 0 of
    a group of one, so that it starts the same way as the rings)."""
    q, k, v = demo_chunk(0, n, heads=HEADS, d=D, dtype=torch.float32)
    q0, k0, v0 = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)  # 4-D: fused SDPA

    def call() -> torch.Tensor:
        if name == "sdpa":
            return torch.nn.functional.scaled_dot_product_attention(
                q0, k0, v0, is_causal=causal
            )
        return attention_tiled(q0, k0, v0, causal=causal)

    with torch.no_grad():
        small = (t[..., :64, :] for t in (q0, k0, v0))
        torch.nn.functional.scaled_dot_product_attention(*small)
        attention_tiled(*(t[..., :64, :] for t in (q0, k0, v0)))
        before = _peak_rss_reset()
        times = []
        for i in range(repeat):
            start = time.perf_counter()
            out = call()
            times.append(time.perf_counter() - start)
            if i == 0:
                peak = None if before is None else max(0, _rss("VmHWM") - before)
            del out
    return {"seconds": min(times), "peak_extra_bytes": peak}


def repeats(n: int) -> int:
    return 3 if n <= 4096 else 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.max_n:
        sizes = [n for n in sizes if n <= args.max_n]
    rows: list[dict[str, Any]] = []
    info = start_machine("cpu", args)
    started = time.monotonic()
    for n in sizes:
        for name in ("sdpa", "tiled"):
            (value,) = run_on_ranks(
                single,
                1,
                name,
                n,
                True,
                repeats(n),
                timeout=args.timeout,
                threads=1,
            )
            rows.append({"impl": name, "n": n, "p": 1, "calls": repeats(n), **value})
            print(f"{name:>6} n={n:>6}: {value['seconds']:.3f} s", flush=True)
        for p in WORLD_SIZES:
            for layout in ("contiguous", "zigzag"):
                ranks = run_on_ranks(
                    demo,
                    p,
                    n,
                    HEADS,
                    D,
                    "float32",
                    True,
                    layout,
                    False,
                    False,
                    "cpu",
                    repeats(n),
                    timeout=args.timeout,
                    threads=1,
                )
                rows.append(
                    {
                        "impl": f"ring-{layout}",
                        "n": n,
                        "p": p,
                        "calls": repeats(n),  # the fastest of these is kept
                        "seconds": max(r["seconds"] for r in ranks),
                        "ranks": ranks,
                        "bytes_formula": ring_bytes(n, p, d_k=D, d_v=D)[0],
                    }
                )
                print(
                    f"ring {layout:>10} p={p} n={n:>6}: "
                    f"{rows[-1]['seconds']:.3f} s, waits "
                    + ", ".join(f"{r['wait_fraction']:.0%}" for r in ranks),
                    flush=True,
                )
    return {
        "machine": finish_machine(info),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "dtype": "float32",
        "heads": HEADS,
        "d": D,
        "causal": True,
        "threads_per_process": 1,
        "quick": args.quick,
        "wall_seconds": time.monotonic() - started,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 512 and 1,024")
    parser.add_argument("--max-n", type=int, default=0, help="skip larger n")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one configuration may take",
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    add_quiet_options(parser)
    args = parser.parse_args(argv)
    result = run(args)
    cores = result["machine"]["cores"]
    quick = "-quick" if args.quick else ""
    default = f"ring-cpu-{cores}core-float32{quick}-{result['date'][:10]}.json"
    out = args.out or ROOT / "benchmarks" / "results" / default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} in {result['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
