"""What every figure module shares: palettes, colours and the matplotlib style.

Each module in ``docs/figures/`` (one per chapter or topic, names not starting with an
underscore) defines ``FIGURES: dict[str, Callable[[str], Figure]]``, figure name ->
a function of the palette's ink colour that returns a matplotlib Figure. The build
hook ``docs/hooks/figures.py`` collects them all and draws each once per palette.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

PALETTES = {"light": "#1f2328", "dark": "#e3e6ea"}  # text and line colour per palette
BAR = "#5c6bc0"  # indigo 400: readable on white and on Material's slate
WRONG = "#e8710a"  # orange: the seed's wrong weights
CMAP = "viridis"

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

# Benchmark results on a page come from a quiet machine, one machine per page. With
# this on (since every CPU benchmark was re-run on a quiet machine, 2026-12-03), the
# build fails on any figure or table from a loaded run, one that lacks the fields
# below, or a page that mixes CPUs.
REQUIRE_QUIET = True
# The 1-minute load average a run may start with (exclusive): below one busy core, or
# on a machine of many cores (the 16-core host of the GPU runs) below a tenth of them.
QUIET_LOAD = 1.0
QUIET_SHARE = 0.1
MACHINE_FIELDS = (
    "cpu",
    "cores",
    "torch",
    "torch_threads",
    "load_average_at_start",
    "load_average_at_end",
)


class BenchmarkResultError(ValueError):
    """A benchmark result that a page must not show."""


def check_result(result: dict[str, Any], name: str) -> dict[str, Any]:
    """`result` itself, or `BenchmarkResultError` (when `REQUIRE_QUIET`) if its run
    lacks a machine field or started with a 1-minute load average >= QUIET_LOAD."""
    if not REQUIRE_QUIET:
        return result
    # Older runs (the GPU ones) record torch's version beside the machine, not in it.
    found = {"torch": result.get("torch"), **(result.get("machine") or {})}
    missing = [field for field in MACHINE_FIELDS if found.get(field) is None]
    if missing:
        raise BenchmarkResultError(
            f"{name}: the run does not record {', '.join(missing)}: re-run the "
            "benchmark (benchmarks/bench.py records them)"
        )
    load = found["load_average_at_start"][0]
    limit = quiet_limit(found["cores"])
    if load >= limit:
        raise BenchmarkResultError(
            f"{name}: the run started with a 1-minute load average of {load:.2f} "
            f"(>= {limit:g} on {found['cores']} cores): re-run it on a quiet machine"
        )
    return result


def quiet_limit(cores: int) -> float:
    """The load average below which a machine of `cores` cores counts as quiet."""
    return max(QUIET_LOAD, QUIET_SHARE * cores)


def latest(prefix: str) -> Path:
    """The newest result `PREFIX-DATE.json` in benchmarks/results (a glob prefix such
    as `cpu-*core-float32`). A `--quick` smoke run, `PREFIX-quick-DATE.json`, counts
    only where no full run exists; a page says so (`is_quick`)."""
    full = sorted(RESULTS.glob(f"{prefix}-20*.json"))
    quick = sorted(RESULTS.glob(f"{prefix}-quick-20*.json"))
    if not (full or quick):
        raise FileNotFoundError(f"no benchmark result {RESULTS / prefix}-*.json")
    return (full or quick)[-1]


def is_quick(path: Path) -> bool:
    return "-quick" in path.name


def load_result(path: Path) -> dict[str, Any]:
    """A benchmark JSON, checked by `check_result` before a page or figure uses it."""
    result: dict[str, Any] = json.loads(path.read_text())
    return check_result(result, path.name)


def one_machine(*results: dict[str, Any]) -> str:
    """The one CPU that all of a page's `results` ran on, in words for the page;
    `BenchmarkResultError` (when `REQUIRE_QUIET`) if they ran on different CPUs."""
    seen = {(r["machine"]["cpu"], r["machine"]["cores"]) for r in results}
    if len(seen) > 1 and REQUIRE_QUIET:
        raise BenchmarkResultError(
            "one page shows results from different machines: "
            + "; ".join(f"{cpu} ({cores} cores)" for cpu, cores in sorted(seen))
        )
    return "; ".join(f"{cpu}, {cores} cores" for cpu, cores in sorted(seen))


def style(ink: str) -> dict[str, object]:
    return {
        "text.color": ink,
        "axes.labelcolor": ink,
        "axes.edgecolor": ink,
        "xtick.color": ink,
        "ytick.color": ink,
        "font.size": 11,
        "svg.hashsalt": "selfattn",  # same input, same file
        "savefig.transparent": True,
    }
