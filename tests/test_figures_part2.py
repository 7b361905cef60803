"""Part II's figures (docs/figures/part2.py): no two labels of a figure overlap.

The head split figure once printed "head 0head 1": its two labels ran into each
other. This test draws every figure and compares the boxes of its texts.
"""

from __future__ import annotations

import importlib.util
import sys
from itertools import combinations
from pathlib import Path
from types import ModuleType

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.text import Text  # noqa: E402 (after the backend is chosen)
from matplotlib.transforms import Bbox  # noqa: E402

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def part2() -> ModuleType:
    sys.path.insert(0, str(FIGURES))
    try:
        spec = importlib.util.spec_from_file_location(
            "figures_part2", FIGURES / "part2.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(FIGURES))
    return module


MODULE = part2()


@pytest.mark.parametrize("name", sorted(MODULE.FIGURES))
def test_no_two_labels_overlap(name: str) -> None:
    import matplotlib.pyplot as plt

    fig = MODULE.FIGURES[name]("black")
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        # Tick labels are matplotlib's to place (rotated ones have boxes that
        # overlap while their letters do not); our own texts and titles are ours.
        ticks = {
            id(label)
            for ax in fig.axes
            for label in (*ax.get_xticklabels(), *ax.get_yticklabels())
        }
        texts = [
            t
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in ticks
        ]
        # Each box grows sideways by a third of its font size: two labels on one
        # line closer than that read as one word ("head 0head 1"), even if they
        # do not touch.
        boxes = []
        for t in texts:
            box, pad = (
                t.get_window_extent(renderer),
                t.get_fontsize() / 3 * fig.dpi / 72,
            )
            boxes.append(
                (
                    t.get_text(),
                    Bbox.from_extents(box.x0 - pad, box.y0, box.x1 + pad, box.y1),
                )
            )
        clashes = [
            (a, b)
            for (a, box_a), (b, box_b) in combinations(boxes, 2)
            if box_a.overlaps(box_b)
        ]
        assert not clashes, f"{name}: labels overlap: {clashes}"
    finally:
        plt.close(fig)
