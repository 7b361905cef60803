"""Keep the site offline: no page may load anything from another host.

mkdocs-jupyter's template adds MathJax (and, for some notebooks, other scripts) from
a CDN; our notebooks need none of them, so they are removed here. Then every page is
checked: a script, stylesheet, image, frame or media source that points off the
site's own host is a build warning, which ``mkdocs build --strict`` turns into an
error.
"""

from __future__ import annotations

import logging
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.offline")

# nbconvert's head: <script src="..."> for MathJax (src="" when no URL is configured,
# which would load the page itself as a script), the MathJax config block, and a
# module script that imports mermaid from a CDN.
EXTERNAL_SCRIPT = re.compile(
    r"<script[^>]*\ssrc=[\"'](?:(?:https?:)?//[^\"']*)?[\"'][^>]*>\s*</script>", re.I
)
CDN_MODULE = re.compile(
    r"<script type=\"module\">(?:(?!</script>).)*?//cdnjs(?:(?!</script>).)*</script>",
    re.I | re.S,
)
MATHJAX_CONFIG = re.compile(
    r"<script type=\"text/x-mathjax-config\">.*?</script>", re.I | re.S
)
# Anything that makes the browser fetch: src=, srcset=, poster=, data=, <link href=>,
# CSS url() and @import.
FETCHING = re.compile(
    r"""(?:\s(?:src|srcset|poster|data)\s*=\s*["']?\s*(?P<a>(?:https?:)?//[^"'\s>]+))"""
    r"""|(?:<link\b(?![^>]*rel=["']?canonical)[^>]*\shref\s*=\s*["']?\s*(?P<b>(?:https?:)?//[^"'\s>]+))"""
    r"""|(?:url\(\s*["']?(?P<c>(?:https?:)?//[^"')\s]+))"""
    r"""|(?:@import\s+["'](?P<d>(?:https?:)?//[^"']+))"""
    r"""|(?:import\s*\(?\s*["'](?P<e>(?:https?:)?//[^"']+))""",
    re.I,
)


def external_loads(html: str) -> list[str]:
    """Every URL in ``html`` that the browser would fetch from another host."""
    return [next(g for g in m.groups() if g) for m in FETCHING.finditer(html)]


@event_priority(-100)  # after mkdocs-jupyter has put the notebook's HTML in the page
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    for pattern in (EXTERNAL_SCRIPT, MATHJAX_CONFIG, CDN_MODULE):
        output = pattern.sub("", output)
    for url in external_loads(output):
        log.warning("%s loads %s from another host", page.file.src_uri, url)
    return output
