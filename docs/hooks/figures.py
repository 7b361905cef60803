"""Draw the tutorial's figures from selfattn at build time, one SVG per palette.

Nothing here is committed as an image: each build computes the numbers with the
package (or reads committed results, such as benchmark JSON and checkpoints) and draws
them, so a figure cannot disagree with the code. The figures live in ``docs/figures/``,
one module per chapter or topic, each with a ``FIGURES`` dict (name -> function of the
palette's ink colour). Every figure comes twice, ``NAME-light.svg`` and
``NAME-dark.svg`` (transparent background, text coloured for Material's light and dark
palette); a page shows the pair with ``![alt](assets/figures/NAME-light.svg#only-light)``
and ``...-dark.svg#only-dark``.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

FIGURE_DIR = Path(__file__).resolve().parent.parent / "figures"
sys.path.insert(0, str(FIGURE_DIR))

from _common import PALETTES, style  # noqa: E402


def collect() -> dict[str, Callable[[str], Figure]]:
    """Every figure of every module in docs/figures/; a name used twice is an error."""
    figures: dict[str, Callable[[str], Figure]] = {}
    for path in sorted(FIGURE_DIR.glob("[!_]*.py")):
        spec = importlib.util.spec_from_file_location(f"figures_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, draw in module.FIGURES.items():
            if name in figures:
                raise ValueError(f"figure {name!r} is defined twice ({path.name})")
            figures[name] = draw
    return figures


def render(draw: Callable[[str], Figure], palette: str) -> bytes:
    ink = PALETTES[palette]
    with plt.rc_context(style(ink)):
        fig = draw(ink)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight")
        plt.close(fig)
    return buffer.getvalue()


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for name, draw in collect().items():
        for palette in PALETTES:
            files.append(
                File.generated(
                    config,
                    f"assets/figures/{name}-{palette}.svg",
                    content=render(draw, palette),
                )
            )
    return files
