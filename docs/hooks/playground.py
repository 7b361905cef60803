"""Fill the attention playground's placeholders with selfattn's toy sentence.

A page asks for the playground with one line of HTML in its Markdown:

    <div class="playground" markdown="0"></div>

optionally with ``data-query="1"`` (the query first shown, counting from 0),
``data-switches="scale causal"`` (the switches a page shows: only those it has
taught; none by default), ``data-scale="on"`` (start with the 1/sqrt(d_k) scale) or
``data-causal="on"`` (start with the causal mask). The suggested experiments next to
a panel are the page's own text (``<div class="playground-try" markdown>``); the
browser test performs each one. At build time this hook writes the tokens and embeddings from
``selfattn.TOKENS`` and ``selfattn.EMBEDDINGS`` into the panel's data attributes, and
adds the panel's script (``assets/javascripts/playground.js``) right after it, only
on the pages that have a panel. The script is inside the page's content, so Material's
instant navigation runs it when a reader clicks their way to the page.
"""

from __future__ import annotations

import html
import json
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from selfattn import EMBEDDINGS, TOKENS

SCRIPT = "assets/javascripts/playground.js"
PLACEHOLDER = re.compile(r'<div class="playground"(?P<attrs>[^>]*)>\s*</div>')
NOSCRIPT = (
    '<p class="playground__note">The playground needs JavaScript: with it, you can '
    "edit the embeddings below and watch the weights change.</p>"
)


def panel_attributes() -> str:
    """The data attributes that carry the toy sentence into the page."""
    tokens = html.escape(json.dumps(list(TOKENS)), quote=True)
    embeddings = html.escape(json.dumps([list(row) for row in EMBEDDINGS]), quote=True)
    return f' data-tokens="{tokens}" data-embeddings="{embeddings}"'


def on_page_content(output: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not PLACEHOLDER.search(output):
        return output
    src = get_relative_url(SCRIPT, page.url)
    found = 0

    def fill(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        attrs = match.group("attrs").replace(' markdown="0"', "")
        script = f'<script src="{src}"></script>' if found == 1 else ""
        return f'<div class="playground"{attrs}{panel_attributes()}>{NOSCRIPT}</div>{script}'

    return PLACEHOLDER.sub(fill, output)
