"""Draw the benchmark's figures from its JSON: time vs n and peak memory vs n, log-log.

    python benchmarks/plot.py benchmarks/results/cpu-2core-2026-01-01.json --out-dir DIR

Writes ``<stem>-time.svg`` and ``<stem>-memory.svg`` (one line per implementation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt


def series(
    result: dict[str, Any], key: str
) -> dict[str, tuple[list[int], list[float]]]:
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for row in result["results"]:
        value = row[key]
        if value is None:
            continue
        if key == "peak_extra_bytes":
            value = max(value, 4096) / 2**20  # MiB; a page is the smallest we can see
        ns, values = lines.setdefault(row["impl"], ([], []))
        ns.append(row["n"])
        values.append(value)
    return lines


def title(result: dict[str, Any]) -> str:
    where = result["machine"].get("gpu") or (
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores"
    )
    shape = result["shape"]
    return (
        f"{result['device']} {result['dtype']}, {shape['heads']} heads, d={shape['d']}"
        f"\n{where}, torch {result['torch']}"
    )


def draw(result: dict[str, Any], key: str, ylabel: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for name, (ns, values) in sorted(series(result, key).items()):
        style = "--" if name.startswith("sdpa") else "-"
        ax.plot(ns, values, style, marker="o", markersize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel(ylabel)
    ax.set_title(title(result), fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "json", type=Path, nargs="+", help="results written by bench.py"
    )
    parser.add_argument("--out-dir", type=Path, help="default: next to each JSON")
    parser.add_argument("--format", default="svg", choices=["svg", "png"])
    args = parser.parse_args(argv)
    for source in args.json:
        result = json.loads(source.read_text())
        out_dir = args.out_dir or source.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / source.stem
        time_path = stem.with_name(f"{source.stem}-time.{args.format}")
        memory_path = stem.with_name(f"{source.stem}-memory.{args.format}")
        draw(result, "ms", "milliseconds per call (median)", time_path)
        draw(result, "peak_extra_bytes", "peak extra memory (MiB)", memory_path)
        print(f"wrote {time_path} and {memory_path}")


if __name__ == "__main__":
    main()
