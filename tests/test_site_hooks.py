"""The build hooks that shape what a reader's browser loads (docs/hooks/).

speed.py renders math at build time and trims what pages load; playground.py fills
the playground's placeholders from selfattn. The browser test checks the built site;
these check the hooks' edge cases without building it.
"""

from __future__ import annotations

import html
import importlib
import json
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("tinycss2")

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"
sys.path.insert(0, str(HOOKS))

import selfattn  # noqa: E402

# The hooks are scripts that mkdocs loads by path, not a package: imported by name.
playground: Any = importlib.import_module("playground")
speed: Any = importlib.import_module("speed")

PAGE = """<html><head>
<link rel="stylesheet" href="../assets/_markdown_exec_pyodide.css">
<link rel="stylesheet" href="../assets/vendor/katex/katex.min.css">
</head><body>
<p>Weights <span class="arithmatex">\\(\\alpha_{ij} &lt; 1\\)</span>.</p>
<div class="arithmatex">\\[
Z = A V
\\]</div>
<script src="../assets/_markdown_exec_pyodide.js"></script>
<script src="../assets/vendor/katex/katex.min.js"></script>
<script src="../assets/javascripts/katex-init.js"></script>
</body></html>"""


def post_page(text: str, tmp_path: Path) -> str:
    page = types.SimpleNamespace(url="chapter/")
    config = types.SimpleNamespace(site_dir=str(tmp_path))
    return str(speed.on_post_page(text, page=page, config=config))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_math_is_rendered_at_build_time_and_katex_js_is_dropped(
    tmp_path: Path,
) -> None:
    out = post_page(PAGE, tmp_path)
    assert out.count('class="katex"') == 2, "both formulas rendered"
    assert 'class="katex-display"' in out, "the \\[ \\] formula in display mode"
    assert "\\(" not in out, "no TeX delimiter left"
    assert "\\[" not in out, "no TeX delimiter left"
    assert "katex.min.js" not in out
    assert "katex-init.js" not in out
    assert "katex.min.css" in out, "the rendered math still needs KaTeX's stylesheet"
    assert "pyodide" not in out, "no pyodide block, so no pyodide assets"


def test_without_node_the_browser_renders_the_math(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speed, "node", lambda: None)
    out = post_page(PAGE, tmp_path)
    assert "\\(\\alpha_{ij} &lt; 1\\)" in out, (
        "the TeX is left for KaTeX in the browser"
    )
    assert "katex.min.js" in out
    assert "katex-init.js" in out


def test_bad_tex_fails_the_build(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    bad = PAGE.replace("Z = A V", "\\frac{Z")
    with pytest.raises(RuntimeError, match="KaTeX"):
        post_page(bad, tmp_path)


def test_notebook_stylesheet_keeps_what_the_page_can_match() -> None:
    css = speed.JupyterCss()
    css.used = {"jupyter-wrapper", "jp-Cell", "jp-InputPrompt"}
    pruned = css.prune(
        ".jupyter-wrapper .jp-Cell{a:1}"
        ".jupyter-wrapper .jp-Widget{b:2}"  # no such class on any page: dropped
        ".jupyter-wrapper :is(.jp-Cell, .jp-Widget) .jp-InputPrompt{c:3}"
        ".jp-Cell:not(.jp-mod-active) .jp-InputPrompt{d:4}"
        "@media (max-width: 10px){.jp-Widget{e:5}.jp-Cell{f:6}}"
        "@font-face{font-family:x}"
    )
    assert "jp-Widget{b:2}" not in pruned
    assert "e:5" not in pruned
    assert ":is(.jp-Cell, .jp-Widget) .jp-InputPrompt{c:3}" in pruned, "one selector"
    assert ":not(.jp-mod-active) .jp-InputPrompt{d:4}" in pruned
    assert "@media (max-width: 10px){.jp-Cell{f:6}}" in pruned
    assert "a:1" in pruned
    assert "font-face" not in pruned


def test_playground_is_filled_from_selfattn() -> None:
    page = types.SimpleNamespace(url="step-by-step/")
    text = '<p>x</p>\n<div class="playground" data-causal="on"></div>\n<p>y</p>'
    out = playground.on_page_content(text, page=page, config=None, files=None)
    assert out.count("<script") == 1
    assert 'src="../assets/javascripts/playground.js"' in out
    found = re.findall(r'(data-\w+)="(\[[^"]*\])"', out)
    attrs = {name: json.loads(html.unescape(value)) for name, value in found}
    assert attrs["data-tokens"] == list(selfattn.TOKENS)
    assert attrs["data-embeddings"] == [list(row) for row in selfattn.EMBEDDINGS]
    assert 'data-causal="on"' in out
    assert playground.on_page_content("<p>none</p>", page, None, None) == "<p>none</p>"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_notebook_markdown_math_is_rendered_but_not_code() -> None:
    page = (
        '<article><div class="jupyter-wrapper"><p>Score $\\omega_j$ and '
        "$$Z = A V$$ cost $n^2$.</p><pre>x = '$keep$'</pre></div></article>"
    )
    out = speed.notebook_math(page)
    assert out.count('class="arithmatex"') == 3
    assert out.count('class="katex-display"') == 1
    assert "<pre>x = '$keep$'</pre>" in out, "code is left as written"
    assert speed.notebook_math("<p>$x$</p>") == "<p>$x$</p>", "only notebook pages"
