"""Part IV's model, timed: training with each attention entry, decoding with and
without the KV cache.

    python benchmarks/bench_lm.py           # about 2 minutes on a quiet 2-core CPU
    python benchmarks/bench_lm.py --quick   # a smoke test, under 20 s

Measured in one process, side by side:

- training tokens per second of `TransformerLM` (the committed model's sizes: d 64,
  2 layers, 4 heads, context 64, batch 16) with attention `"tiled"`, `"sdpa"` and
  `"matmul"`: forward, cross-entropy, backward and one AdamW step, timed in
  interleaved rounds (median reported), so a burst of load hits every entry alike;
- decode tokens per second generating `--tokens` (512) characters greedily from the
  committed model, with the KV cache and without it (the whole text through the
  model at every step), checking that both give the same characters.

Writes ``benchmarks/results/lm-<machine>-<date>.json``. Threads: `--threads`
(default 1, as training uses). Like bench.py it first waits for a quiet machine
(`--wait`, `--allow-load`) and records the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # selfattn, bench.py

from bench import QUIET_WAIT_S, load_average, machine, wait_for_quiet  # noqa: E402

from selfattn.generate import generate  # noqa: E402
from selfattn.lm import TransformerLM, load_pretrained  # noqa: E402
from selfattn.lm_train import BUDGET, LM_SIZES  # noqa: E402

ENTRIES = ("tiled", "sdpa", "matmul")


def training_rates(rounds: int, steps: int, batch: int, context: int) -> dict[str, Any]:
    """Tokens per second of a training step with each attention entry."""
    torch.manual_seed(0)
    models = {}
    for name in ENTRIES:
        torch.manual_seed(0)
        sizes = {**LM_SIZES, "context": context}
        model = TransformerLM(83, **sizes, attention=name)  # type: ignore[arg-type]
        models[name] = (model, torch.optim.AdamW(model.parameters(), lr=3e-3))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 83, (batch, context + 1), generator=g)

    def step(name: str) -> None:
        model, opt = models[name]
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()

    times: dict[str, list[float]] = {n: [] for n in ENTRIES}
    for name in ENTRIES:
        step(name)  # warm-up
    for _ in range(rounds):
        for name in ENTRIES:
            start = time.perf_counter()
            for _ in range(steps):
                step(name)
            times[name].append((time.perf_counter() - start) / steps)
    tokens = batch * context
    rates = {n: tokens / statistics.median(t) for n, t in times.items()}
    return {
        "tokens_per_step": tokens,
        "tokens_per_second": rates,
        "tiled_over_sdpa": rates["tiled"] / rates["sdpa"],
    }


def decode_rates(n_tokens: int, rounds: int) -> dict[str, Any]:
    """Greedy generation of `n_tokens` with and without the cache."""
    try:
        model = load_pretrained("lm")
        source = "committed checkpoint lm"
    except ValueError:
        torch.manual_seed(0)
        model = TransformerLM(83, **LM_SIZES).eval()  # type: ignore[arg-type]
        source = "random weights (no checkpoint)"
    prompt = torch.zeros(1, 1, dtype=torch.long)
    times: dict[str, list[float]] = {"cached": [], "uncached": []}
    outputs = {}
    for _ in range(rounds):
        for name, use in (("cached", True), ("uncached", False)):
            start = time.perf_counter()
            out, _ = generate(model, prompt, n_tokens, use_cache=use)
            times[name].append(time.perf_counter() - start)
            outputs[name] = out
    same = bool(torch.equal(outputs["cached"], outputs["uncached"]))
    rates = {n: n_tokens / statistics.median(t) for n, t in times.items()}
    return {
        "model": source,
        "tokens": n_tokens,
        "tokens_per_second": rates,
        "cached_over_uncached": rates["cached"] / rates["uncached"],
        "same_tokens": same,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--allow-load",
        action="store_true",
        help="run even when the 1-minute load average stays >= 1.0 (the docs build "
        "rejects such a result)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=QUIET_WAIT_S,
        help="seconds to wait for the load average to fall before giving up",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    info = machine("cpu")
    info["load_average_at_start"] = wait_for_quiet(
        args.allow_load or args.quick, args.wait
    )
    if args.quick:
        train = training_rates(rounds=1, steps=1, batch=4, context=BUDGET.context)
        decode = decode_rates(min(args.tokens, 48), rounds=1)
    else:
        train = training_rates(rounds=5, steps=4, batch=BUDGET.batch, context=64)
        decode = decode_rates(args.tokens, rounds=3)
    info["load_average_at_end"] = load_average()
    result = {
        "benchmark": "lm",
        "quick": args.quick,
        "date": datetime.date.today().isoformat(),
        "machine": info,
        "training": train,
        "decode": decode,
    }
    r = train["tokens_per_second"]
    print("training tokens/s: " + ", ".join(f"{n} {v:,.0f}" for n, v in r.items()))
    print(f"tiled / sdpa: {train['tiled_over_sdpa']:.2f}")
    d = decode["tokens_per_second"]
    print(
        f"decode {decode['tokens']} tokens/s: cached {d['cached']:,.0f}, uncached "
        f"{d['uncached']:,.0f} (same tokens: {decode['same_tokens']})"
    )
    if args.quick and args.out is None:
        return  # a smoke test writes nothing unless asked
    cpu = "cpu-{}core".format(info.get("cores"))
    name = f"lm-{cpu}-float32-{result['date']}.json"
    out = args.out or ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
