"""Math in a heading reads as text in the navigation and the table of contents.

A heading such as `## Why divide by $\\sqrt{d_k}$` is rendered with KaTeX in the
article, but its entry in the table of contents is plain text: pymdownx.arithmatex
leaves the TeX there (`\\(\\sqrt{d_k}\\)`). This hook writes each such entry in
Unicode (`√dₖ`), so no raw TeX reaches the navigation. It knows the TeX the site
uses in headings (Greek letters, sub- and superscripts, square roots, fractions,
a few operators); anything else loses its backslash and braces.
"""

# ruff: noqa: RUF001 (Greek letters and math symbols are the point of this file)
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

INLINE = re.compile(r"\\\((?P<a>.+?)\\\)|\$(?P<b>[^$]+)\$")
SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
    "phi": "φ", "omega": "ω", "Omega": "Ω", "Sigma": "Σ", "Delta": "Δ",
    "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "ne": "≠", "neq": "≠", "approx": "≈", "infty": "∞", "to": "→", "in": "∈",
    "ldots": "…", "dots": "…", "cdots": "⋯", "top": "ᵀ", "sum": "Σ", "pm": "±",
    "log": "log", "exp": "exp", "max": "max", "min": "min", "quad": " ", ",": " ",
}  # fmt: skip
SUB = dict(
    zip(
        "0123456789+-=()aehijklmnoprstuvx",
        "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ",
        strict=True,
    )
)
SUP = dict(zip("0123456789+-=()Tinkdᵀ", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵀⁱⁿᵏᵈᵀ", strict=True))
GROUP = r"(\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|.)"


def _ungroup(text: str) -> str:
    return text[1:-1] if text.startswith("{") and text.endswith("}") else text


def _script(text: str, table: dict[str, str], mark: str) -> str:
    inner = tex_to_text(_ungroup(text))
    if all(ch in table for ch in inner):
        return "".join(table[ch] for ch in inner)
    return f"{mark}({inner})" if len(inner) > 1 else f"{mark}{inner}"


def tex_to_text(tex: str) -> str:
    """Inline TeX as Unicode text: `\\sqrt{d_k}` -> `√dₖ`."""
    text = tex.strip()
    text = re.sub(r"\\(?:mathrm|text|mathbf|mathit|operatorname)\s*\{([^{}]*)\}",
                  r"\1", text)  # fmt: skip
    text = re.sub(r"\\frac\s*" + GROUP + r"\s*" + GROUP,
                  lambda m: f"{tex_to_text(_ungroup(m[1]))}/{tex_to_text(_ungroup(m[2]))}",
                  text)  # fmt: skip

    def root(m: re.Match[str]) -> str:
        inner = tex_to_text(_ungroup(m[1]))
        return "√" + (inner if len(inner) <= 2 or inner.isalnum() else f"({inner})")

    text = re.sub(r"\\sqrt\s*" + GROUP, root, text)
    text = re.sub(r"_" + GROUP, lambda m: _script(m[1], SUB, "_"), text)
    text = re.sub(r"\^" + GROUP, lambda m: _script(m[1], SUP, "^"), text)
    text = re.sub(
        r"\\([A-Za-z]+|,)", lambda m: SYMBOLS.get(m[1], m[1]), text
    )  # a command we do not know keeps its name
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    return re.sub(r"\s+", " ", text).strip()


def plain_title(title: str) -> str:
    """A table-of-contents title with each inline formula written in Unicode."""
    return INLINE.sub(lambda m: tex_to_text(m["a"] or m["b"]), title)


def _retitle(items: Iterable[Any]) -> None:
    for item in items:
        item.title = plain_title(item.title)
        _retitle(item.children)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    _retitle(page.toc)
    return html
