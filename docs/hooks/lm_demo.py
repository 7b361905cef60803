"""Put Part IV's trained character model in the page: weights and the panel.

A page asks for the in-browser model with one line of HTML in its Markdown:

    <div class="lm-demo" data-example="..." markdown="0"></div>

At build time this hook

* writes the committed checkpoint (`selfattn.webexport.export_pretrained`, which
  reads it with `selfattn.lm.load_pretrained`, as a reader does in Python) as
  `assets/lm/<name>.bin`, every tensor of its state dict as little-endian
  float32, one after another, and
  `assets/lm/<name>.json`, the manifest: the model's config, its vocabulary, the
  replacement character for unknown ones, LayerNorm's eps, RoPE's base and each
  tensor's name, shape, byte offset and size;
* adds the panel's script (`assets/javascripts/lm.js`) and stylesheet
  (`assets/stylesheets/lm.css`) after the first panel of a page, with the
  address of those two files (without their suffix) in `data-weights`.

The script runs the forward pass in JavaScript; tests/browser/test_lm_demo.py holds
its logits and attention weights equal to PyTorch's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

CHECKPOINT = "lm"
SCRIPT = "assets/javascripts/lm.js"
STYLE = "assets/stylesheets/lm.css"
WEIGHTS = f"assets/lm/{CHECKPOINT}"
PLACEHOLDER = re.compile(r'<div class="lm-demo"(?P<attrs>[^>]*)>\s*</div>')
NOSCRIPT = (
    '<p class="lm-demo__note">The model runs in your browser with JavaScript: with '
    "it on, this panel shows its predictions and its attention.</p>"
)


def on_page_content(output: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not PLACEHOLDER.search(output):
        return output
    src = get_relative_url(SCRIPT, page.url)
    style = get_relative_url(STYLE, page.url)
    weights = get_relative_url(WEIGHTS, page.url)
    found = 0

    def fill(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        attrs = match.group("attrs").replace(' markdown="0"', "")
        script = (
            f'<link rel="stylesheet" href="{style}">'
            f'<script src="{src}" data-weights="{weights}"></script>'
            if found == 1
            else ""
        )
        return f'<div class="lm-demo"{attrs}>{NOSCRIPT}</div>{script}'

    return PLACEHOLDER.sub(fill, output)


def on_post_build(config: MkDocsConfig) -> None:
    from selfattn.webexport import export_pretrained

    manifest, raw = export_pretrained(CHECKPOINT)
    out = Path(config.site_dir) / WEIGHTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".bin").write_bytes(raw)
    out.with_suffix(".json").write_text(json.dumps(manifest), encoding="utf-8")
