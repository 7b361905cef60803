"""Make pages light to load on a phone (Lighthouse: ``nox -s lighthouse``).

- Math is rendered to HTML when the site is built: pymdownx.arithmatex's generic
  output (``\\(...\\)`` and ``\\[...\\]`` in ``.arithmatex`` elements) goes through the
  vendored KaTeX in node (``katex_render.cjs``), and the page no longer loads
  ``katex.min.js`` and ``katex-init.js``. Without node the TeX stays as it is and the
  browser renders it with those two scripts, as before.
- markdown-exec's pyodide assets (a stylesheet and a script on every page) are
  dropped from pages that have no pyodide block.
- The scripts at the end of a page (Material's bundle, the site's own) load after
  the first paint (``after_paint.js``, inlined into the head): the text shows first.
- A notebook page's JupyterLab stylesheet (about 570 kB inlined into every notebook
  page by mkdocs-jupyter) is cut down to the rules whose class names occur in a
  notebook page, and served as one shared, cacheable file.
- Material's palette no longer restyles the whole page as it starts (see
  ``BUNDLE_PATCHES``), and V8 compiles Material's bundle off the main thread
  (``COMPILE_HINT``).
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import tinycss2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.speed")

HOOKS = Path(__file__).resolve().parent
KATEX_JS = HOOKS.parent / "assets" / "vendor" / "katex" / "katex.min.js"
MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">(?P<tex>(?:(?!</?(?:span|div)\b).)*?)'
    r"</(?P=tag)>",
    re.S,
)
KATEX_SCRIPTS = re.compile(
    r'<script src="[^"]*(?:vendor/katex/katex\.min\.js|javascripts/katex-init\.js)">'
    r"</script>\s*"
)
PYODIDE_ASSETS = re.compile(
    r'<link rel="stylesheet" href="[^"]*_markdown_exec_pyodide\.css">\s*'
    r'|<script src="[^"]*_markdown_exec_pyodide\.js"></script>\s*'
)
# mkdocs-jupyter's inlined stylesheets: JupyterLab's theme and its variables.
JUPYTER_STYLE = re.compile(
    r"<style[^>]*>\s*(@charset \"UTF-8\";\s*)?\.jupyter-wrapper\{.*?</style>", re.S
)
CLASS_NAME = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
PSEUDO_ARGS = re.compile(r":(?:not|is|where|has|matches)\([^()]*\)")


def split_selectors(prelude: list[tinycss2.ast.Node]) -> list[str]:
    """A selector list at its top-level commas (not those inside :is(a, b))."""
    parts: list[list[tinycss2.ast.Node]] = [[]]
    for token in prelude:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return [tinycss2.serialize(part) for part in parts]


def node() -> str | None:
    return shutil.which("node")


def render_math(formulas: list[tuple[str, bool]]) -> list[str]:
    """Each (tex, display) as KaTeX HTML, from one node process."""
    done = subprocess.run(
        [node() or "node", str(HOOKS / "katex_render.cjs"), str(KATEX_JS)],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"KaTeX could not render the page's math:\n{done.stderr}")
    return list(json.loads(done.stdout))


def server_side_math(output: str) -> str:
    matches = list(MATH.finditer(output))
    if not matches:
        return KATEX_SCRIPTS.sub("", output)
    formulas = []
    for m in matches:
        tex = html.unescape(m.group("tex")).strip()
        display = tex.startswith("\\[")
        tex = tex[2:-2] if tex[:2] in ("\\(", "\\[") else tex
        formulas.append((tex, display))
    rendered = iter(render_math(formulas))

    def put(m: re.Match[str]) -> str:
        return (
            f'<{m.group("tag")} class="arithmatex">{next(rendered)}</{m.group("tag")}>'
        )

    return KATEX_SCRIPTS.sub("", MATH.sub(put, output))


# A notebook's Markdown cells keep their TeX as $...$ and $$...$$ (nbconvert leaves
# math for MathJax, which the site does not load): rendered here like the pages' math.
NOTEBOOK_SKIP = re.compile(r"(<(pre|code|script|style)\b.*?</\2>|<[^>]+>)", re.S | re.I)
NOTEBOOK_MATH = re.compile(
    r"\$\$(?P<display>[^$]+?)\$\$"
    r"|(?<![\w$\\])\$(?P<inline>[^\s$](?:[^$\n]*[^\s$\\])?)\$(?![\w$])"
)


def notebook_math(output: str) -> str:
    start = output.find('<div class="jupyter-wrapper">')
    if start < 0:
        return output
    end = output.find("</article>", start)
    end = len(output) if end < 0 else end
    pieces = NOTEBOOK_SKIP.split(output[start:end])
    # re.split with two groups yields text, whole match, inner group, text, ...
    texts = range(0, len(pieces), 3)
    formulas: list[tuple[str, bool]] = []
    for k in texts:
        for m in NOTEBOOK_MATH.finditer(pieces[k]):
            tex = m.group("display") or m.group("inline")
            formulas.append(
                (html.unescape(tex).strip(), m.group("display") is not None)
            )
    if not formulas:
        return output
    rendered = iter(render_math(formulas))

    def put(m: re.Match[str]) -> str:
        return f'<span class="arithmatex">{next(rendered)}</span>'

    for k in texts:
        pieces[k] = NOTEBOOK_MATH.sub(put, pieces[k])
    body = "".join(p for i, p in enumerate(pieces) if i % 3 != 2)
    return output[:start] + body + output[end:]


class JupyterCss:
    """JupyterLab's stylesheet, pruned to the class names the notebook pages use."""

    def __init__(self) -> None:
        self.sheets: dict[str, str] = {}  # each distinct stylesheet -> its file
        self.used: set[str] = set()

    def prune(self, css: str) -> str:
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        return "".join(self.keep(rule) for rule in rules)

    def keep(self, rule: object) -> str:
        if isinstance(rule, tinycss2.ast.QualifiedRule):
            selectors = split_selectors(rule.prelude)
            wanted = [s for s in selectors if self.applies(s)]
            if not wanted:
                return ""
            body = tinycss2.serialize(rule.content)
            return ",".join(s.strip() for s in wanted) + "{" + body + "}"
        if isinstance(rule, tinycss2.ast.AtRule) and rule.content is not None:
            if rule.lower_at_keyword in ("media", "supports"):
                inner = tinycss2.parse_rule_list(
                    rule.content, skip_comments=True, skip_whitespace=True
                )
                kept = "".join(self.keep(r) for r in inner)
                prelude = tinycss2.serialize(rule.prelude)
                return f"@{rule.at_keyword}{prelude}{{{kept}}}" if kept else ""
            return ""  # @font-face, @keyframes of widgets the notebooks never show
        if isinstance(rule, tinycss2.ast.AtRule):
            return rule.serialize() if rule.lower_at_keyword == "charset" else ""
        return ""

    def applies(self, selector: str) -> bool:
        # A selector can match only if every class it names occurs in some page.
        # Classes inside :not(), :is(), :where(), :has() need not all occur: those
        # are left out of the test (so such a selector is kept).
        plain, before = selector, None
        while plain != before:
            before, plain = plain, PSEUDO_ARGS.sub("", plain)
        return all(name in self.used for name in CLASS_NAME.findall(plain))


JUPYTER = JupyterCss()
JUPYTER_CSS = "assets/stylesheets/jupyter-{}.css"
PAGE_CLASSES = re.compile(r'class="([^"]*)"')


def stylesheet(name: str) -> re.Pattern[str]:
    return re.compile(rf'<link rel="stylesheet" href="[^"]*{re.escape(name)}">\s*')


MKDOCSTRINGS_CSS = stylesheet("_mkdocstrings.css")
KATEX_CSS = stylesheet("vendor/katex/katex.min.css")


FIGURE_IMG = re.compile(
    r'<img\b(?P<attrs>[^>]*\bsrc="(?P<src>[^"#]*assets/figures/[^"#]+\.svg)[^"]*"[^>]*?)\s*/?>'
)
SVG_SIZE = re.compile(
    r'<svg\b[^>]*?\bwidth="(?P<w>[\d.]+)pt"[^>]*?\bheight="(?P<h>[\d.]+)pt"'
)


def light_figures(output: str, page: Page, config: MkDocsConfig) -> str:
    """Figures decode off the main thread, with their size reserved, so the text does
    not jump when one arrives. They load eagerly: a lazy figure is blank in a
    full-page screenshot or a printout until someone scrolls to it."""

    def attrs(m: re.Match[str]) -> str:
        tag = re.sub(r'\s+loading="lazy"', "", m.group("attrs"))
        extra = []
        if "decoding=" not in tag:
            extra.append('decoding="async"')
        if "width=" not in tag:
            url = m.group("src")
            file = Path(config.site_dir, *_resolve(page.url, url))
            size = (
                SVG_SIZE.search(file.read_text(encoding="utf-8")[:2000])
                if file.is_file()
                else None
            )
            if size:  # matplotlib writes points; 1 pt = 4/3 CSS px
                w, h = (round(float(size.group(k)) * 4 / 3) for k in ("w", "h"))
                extra.append(f'width="{w}" height="{h}"')
        return f"<img{tag} {' '.join(extra)}>" if extra else f"<img{tag}>"

    return FIGURE_IMG.sub(attrs, output)


def _resolve(page_url: str, src: str) -> list[str]:
    """The site-relative path parts of ``src`` as written on the page at ``page_url``."""
    parts = [p for p in page_url.split("/")[:-1] if p] if page_url else []
    for piece in src.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece not in ("", "."):
            parts.append(piece)
    return parts


# KaTeX's stylesheet declares its fonts font-display: block, so text with math stays
# invisible until they arrive; the two that nearly every formula uses are fetched
# at once, alongside the stylesheets, rather than after the first layout.
KATEX_FONTS = ("KaTeX_Main-Regular.woff2", "KaTeX_Math-Italic.woff2")


def preload_katex_fonts(output: str, page: Page) -> str:
    match = KATEX_CSS.search(output)
    if not match:
        return output
    links = "".join(
        '<link rel="preload" as="font" type="font/woff2" crossorigin '
        f'href="{get_relative_url("assets/vendor/katex/fonts/" + font, page.url)}">'
        for font in KATEX_FONTS
    )
    return output[: match.start()] + links + output[match.start() :]


AFTER_PAINT_JS = HOOKS / "after_paint.js"
# Material's configuration block, then the page's closing scripts.
CONFIG_SCRIPT = re.compile(
    r'<script id="__config" type="application/json">.*?</script>', re.S
)
# Only the site's own files: a script from another host stays a tag, for offline.py
# to find and refuse.
TAIL_SCRIPT = re.compile(r'\s*<script src="(?P<src>(?!(?:[a-z]+:)?//)[^"]+)"></script>')


def after_paint(output: str) -> str:
    """The scripts after Material's configuration block load after the first paint,
    in the same order (``after_paint.js``, inlined at the end of the head)."""
    config = CONFIG_SCRIPT.search(output)
    end = output.rfind("</body>")
    head = output.find("</head>")
    if config is None or end < config.end() or head < 0:
        return output
    tail = output[config.end() : end]
    urls = [m.group("src") for m in TAIL_SCRIPT.finditer(tail)]
    if not urls:
        return output
    rest = TAIL_SCRIPT.sub("", tail)
    loader = f"<script>selfattnAfterPaint.load({json.dumps(urls)})</script>"
    script = f"<script>{AFTER_PAINT_JS.read_text(encoding='utf-8')}</script>"
    return (
        output[:head]
        + script
        + output[head : config.end()]
        + loader
        + rest
        + output[end:]
    )


# Material 9.8's light/dark palette, as it starts on every page, restyled the whole
# page three times over (Chromium's trace of a phone-sized page):
# - it appends <meta name="color-scheme"> to the head and then sets its content, and
#   each change of that element restyles every element. The page now carries the
#   element from the start (with the default scheme's value), and Material writes
#   its content only when the reader's scheme differs.
# - while it applies a scheme, <body> has data-md-color-switching, and the rule that
#   stops transitions meanwhile (`[data-md-color-switching] *`) makes setting and
#   removing it restyle every element, at every start. The rule is dropped;
#   after_paint.js and extra.css stop transitions when a reader switches, with an
#   attribute of their own.
# And a code block that scrolls sideways gets tabindex="0" (reachable by keyboard)
# on every device: Material gave it only where the device can hover and removed it
# elsewhere, also where a11y.js had given it (content.lazy sets a block up as it
# first shows, after a11y.js ran).
# The patches name Material's minified code: a Material release that changes it
# stops a strict build here, until they are brought up to date.
COLOR_SCHEME_META = '<meta name="color-scheme" content="light">'
BUNDLE = "assets/javascripts/bundle.*.min.js"
BUNDLE_PATCHES = [
    (
        'let o=x("meta",{name:"color-scheme"});document.head.appendChild(o);',
        'let o=document.querySelector("meta[name=color-scheme]")'
        '||document.head.appendChild(x("meta",{name:"color-scheme"}));',
    ),
    (
        "return o.content=a.colorScheme,",
        "return o.content!==a.colorScheme&&(o.content=a.colorScheme),",
    ),
    (
        'd&&r?e.setAttribute("tabindex","0"):e.removeAttribute("tabindex")',
        'd?e.setAttribute("tabindex","0"):e.removeAttribute("tabindex")',
    ),
]
PALETTE_CSS = "assets/stylesheets/palette.*.min.css"
PALETTE_CSS_PATCHES = [
    (
        "[data-md-color-switching] *,[data-md-color-switching] :after,"
        "[data-md-color-switching] :before{transition-duration:0s!important}",
        "/* selfattn: no [data-md-color-switching] rule (docs/hooks/speed.py) */",
    ),
]


def patch(text: str, patches: list[tuple[str, str]], name: str) -> str:
    """``text`` with each (old, new) replaced; old must occur exactly once (or new,
    from an earlier build of the same file)."""
    for old, new in patches:
        if text.count(old) == 1:
            text = text.replace(old, new)
        elif not (old not in text and text.count(new) == 1):
            raise ValueError(
                f"{name}: Material's code {old[:60]!r}... occurs {text.count(old)} "
                "times, not once: update docs/hooks/speed.py's patches to this "
                "version of Material"
            )
    return text


# V8 compiles a script's functions lazily, each on the main thread the first time it
# is called; Material's start-up calls most of its bundle's, so that compiling sat in
# its two start-up tasks. This comment, as the file's first line, asks V8 (Chromium
# 136 and later; other browsers ignore it) to compile them all with the script, on a
# background thread while it downloads. Measured on this site's 2-core test machine
# (a phone-sized page, 5 loads each): the bundle's evaluation 68 -> 49 ms and its
# DOMContentLoaded task 42 -> 32 ms (medians). Its source map gets one empty line
# first, so that it still points at the right lines.
COMPILE_HINT = "//# allFunctionsCalledOnLoad\n"


def compile_hint(script: str, source_map: str | None) -> tuple[str, str | None]:
    """The script with V8's compile hint as its first line, and its source map (JSON
    text) shifted down one line to match; both unchanged when the hint is there."""
    if script.startswith(COMPILE_HINT):
        return script, source_map
    if source_map is not None:
        data = json.loads(source_map)
        data["mappings"] = ";" + data["mappings"]
        source_map = json.dumps(data)
    return COMPILE_HINT + script, source_map


def color_scheme_meta(output: str) -> str:
    """The palette's <meta name="color-scheme">, there from the start."""
    if 'name="color-scheme"' in output:
        return output
    return re.sub(r"<head>", lambda m: m.group(0) + COLOR_SCHEME_META, output, count=1)


@event_priority(-90)  # after mkdocs-jupyter's HTML is in the page, before offline.py
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    # Each page loads whole (no instant navigation: mkdocs.yml), so a stylesheet may
    # be left off the pages that need none.
    if node() and KATEX_JS.is_file():
        output = notebook_math(output)
    if "pyodide" not in output.replace("_markdown_exec_pyodide", ""):
        output = PYODIDE_ASSETS.sub("", output)
    if 'class="doc doc-' not in output:
        output = MKDOCSTRINGS_CSS.sub("", output)
    if 'class="arithmatex"' not in output:
        output = KATEX_CSS.sub("", output)
    else:
        output = preload_katex_fonts(output, page)
    if node() and KATEX_JS.is_file():
        output = server_side_math(output)
    output = light_figures(output, page, config)
    output = color_scheme_meta(output)
    output = after_paint(output)
    styles = list(JUPYTER_STYLE.finditer(output))
    if styles:
        for m in PAGE_CLASSES.finditer(output):
            JUPYTER.used.update(m.group(1).split())
        css = "\n".join(
            m.group(0).split(">", 1)[1].rsplit("</style>", 1)[0] for m in styles
        )
        name = JUPYTER.sheets.setdefault(css, JUPYTER_CSS.format(len(JUPYTER.sheets)))
        href = get_relative_url(name, page.url)
        link = f'<link rel="stylesheet" href="{href}">'
        output = output[: styles[0].start()] + link + output[styles[0].end() :]
        for m in reversed(styles[1:]):
            output = output[: m.start()] + output[m.end() :]
    return output


def on_post_build(config: MkDocsConfig) -> None:
    """Material's palette patched (above); the notebook pages' stylesheet, pruned to
    the classes they use (one file for each distinct stylesheet mkdocs-jupyter
    inlined; normally one)."""
    site = Path(config.site_dir)
    for pattern, patches in (
        (BUNDLE, BUNDLE_PATCHES),
        (PALETTE_CSS, PALETTE_CSS_PATCHES),
    ):
        for file in site.glob(pattern):
            try:
                text = patch(file.read_text(encoding="utf-8"), patches, file.name)
            except ValueError as error:
                log.warning("%s", error)  # a strict build stops here
                continue
            file.write_text(text, encoding="utf-8")
    for file in site.glob(BUNDLE):
        source_map = file.with_name(file.name + ".map")
        has_map = source_map.is_file()
        script, mapping = compile_hint(
            file.read_text(encoding="utf-8"),
            source_map.read_text(encoding="utf-8") if has_map else None,
        )
        file.write_text(script, encoding="utf-8")
        if has_map and mapping is not None:
            source_map.write_text(mapping, encoding="utf-8")
    for css, name in JUPYTER.sheets.items():
        target = Path(config.site_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(JUPYTER.prune(css), encoding="utf-8")
