"""What every figure module shares: palettes, colours and the matplotlib style.

Each module in ``docs/figures/`` (one per chapter or topic, names not starting with an
underscore) defines ``FIGURES: dict[str, Callable[[str], Figure]]``, figure name ->
a function of the palette's ink colour that returns a matplotlib Figure. The build
hook ``docs/hooks/figures.py`` collects them all and draws each once per palette.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

PALETTES = {"light": "#1f2328", "dark": "#e3e6ea"}  # text and line colour per palette
BAR = "#5c6bc0"  # indigo 400: readable on white and on Material's slate
WRONG = "#e8710a"  # orange: the seed's wrong weights
CMAP = "viridis"

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


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
