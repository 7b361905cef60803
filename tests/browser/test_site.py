"""The built tutorial site, page by page, in a real browser.

Each page is loaded once (the visit is cached) and every per-page check reads that
visit, so each test id is `test_<check>[<page>]`. Run with ``nox -s browser``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import MISSING_PAGE, discover_pages
from tests.browser.screens import RENDER_ALL_JS, wait_scripts

TIMEOUT_MS = 15_000

# Every .arithmatex holds rendered KaTeX and no TeX delimiter outside it.
MATH_PROBLEMS_JS = r"""() => {
  const problems = [];
  for (const el of document.querySelectorAll('.arithmatex')) {
    const rest = el.cloneNode(true);
    rest.querySelectorAll('.katex').forEach((k) => k.remove());
    const raw = /\\[()[\]]|\$\$/.test(rest.textContent);
    if (!el.querySelector('.katex') || raw) {
      problems.push('not rendered: ' + el.textContent.trim().slice(0, 80));
    }
  }
  for (const el of document.querySelectorAll('.katex-error')) {
    problems.push('KaTeX error: ' + (el.title || el.textContent).slice(0, 120));
  }
  return problems;
}"""

MATH_SETTLED_JS = """() => [...document.querySelectorAll('.arithmatex')]
  .every((el) => el.querySelector('.katex'))"""

# TeX left in the page's prose: math that no extension picked up (a notebook's
# markdown cell, a misconfigured delimiter). Code, rendered math and search are skipped.
RAW_TEX_JS = r"""() => {
  const root = document.querySelector('.md-content') || document.body;
  const blocks = root.querySelectorAll(
    'p, li, td, th, h1, h2, h3, h4, h5, h6, dt, dd, figcaption, summary, blockquote');
  const tex = /\\\(|\\\[|\$\$|(?:^|[^\w$\\])\$[^\s$](?:[^$\n]*[^\s$\\])?\$(?![\w$])/;
  const found = new Set();
  for (const block of blocks) {
    const copy = block.cloneNode(true);
    copy.querySelectorAll('script, style, code, pre, textarea, .katex, .arithmatex')
      .forEach((el) => el.remove());
    const text = copy.textContent;
    const hit = tex.exec(text);
    if (hit) {
      found.add(text.slice(Math.max(0, hit.index - 30), hit.index + 50).trim());
    }
  }
  return [...found];
}"""

EAGER_IMAGES_JS = """() => document.querySelectorAll('img[loading="lazy"]')
  .forEach((img) => { img.loading = 'eager'; })"""

IMAGES_SETTLED_JS = "() => [...document.images].every((img) => img.complete)"

IMAGES_JS = """() => [...document.images].map((img) => ({
  src: img.currentSrc || img.src,
  alt: img.getAttribute('alt'),
  width: img.naturalWidth,
}))"""

# axe-core's violations of impact serious or critical, and headings that skip a level
# (moderate, but Lighthouse's accessibility score counts it), trimmed to what a reader
# needs.
AXE_JS_RUN = """async (options) => {
  const result = await axe.run(document, options);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical'
      || v.id === 'heading-order')
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({
        target: n.target.join(' '), summary: n.failureSummary || '',
      })),
      count: v.nodes.length,
    }));
}"""

# What a reader sees of each image in the current palette: its own computed display,
# whether its surroundings are shown at all (a closed <details> or an unselected tab
# hides a figure legitimately), and the size it is painted at.
RENDERED_IMAGES_JS = """() => [...document.querySelectorAll('.md-content img')]
  .map((img) => {
    const box = img.getBoundingClientRect();
    const parent = img.parentElement;
    return {
      src: img.getAttribute('src') || '',
      display: getComputedStyle(img).display,
      context: parent ? parent.checkVisibility({ visibilityProperty: true }) : true,
      visible: img.checkVisibility({ opacityProperty: true, visibilityProperty: true }),
      width: box.width,
      height: box.height,
    };
  })"""

NO_MOTION_CSS = """*, *::before, *::after {
  transition: none !important; animation: none !important; }"""
SCHEME_JS = "() => document.body.getAttribute('data-md-color-scheme')"
SCHEME_CHANGED_JS = (
    "(before) => document.body.getAttribute('data-md-color-scheme') !== before"
)
CONTRAST_ONLY = {"runOnly": {"type": "rule", "values": ["color-contrast"]}}
PALETTE_TOGGLE = "form[data-md-component='palette'] label:not([hidden])"

COPY_TARGET_JS = """(button) => {
  const code = document.querySelector(button.dataset.clipboardTarget);
  const block = button.closest('[class*="language-"]');
  const lang = block ? (block.className.match(/language-(\\S+)/) || [])[1] : null;
  if (!code) return { lang, text: null };
  const copy = code.cloneNode(true);
  copy.querySelectorAll('.md-annotation, .md-annotation__index, .linenos')
    .forEach((el) => el.remove());
  return { lang, text: copy.textContent };
}"""


@dataclass
class Copy:
    lang: str | None
    expected: str | None
    copied: str


@dataclass
class Visit:
    """What one page did while it loaded, and what the checks found on it."""

    url: str
    status: int | None = None
    external: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    math_count: int = 0
    math_problems: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    # scheme -> RENDERED_IMAGES_JS's answer in that palette
    rendered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    axe: list[str] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    no_copy_button: list[str] = field(default_factory=list)  # first lines of blocks


def is_site_url(url: str, base_url: str) -> bool:
    """Whether a request stays on the test server (data: and blob: never leave)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.netloc == urlsplit(base_url).netloc


def new_context(browser: Browser, base_url: str, visit: Visit) -> BrowserContext:
    """A fresh context whose every request is recorded, and blocked if it would leave."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RENDER_ALL_JS)
    origin = base_url[: -len(urlsplit(base_url).path) or None]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)

    def guard(route: Route) -> None:
        url = route.request.url
        if is_site_url(url, base_url):
            route.continue_()
        else:
            visit.external.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    return context


def watch(page: Page, visit: Visit, base_url: str) -> None:
    def on_console(message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            visit.console_errors.append(f"{message.text} (at {where})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.url != visit.url:
            visit.broken.append(f"{response.status} {response.url}")

    def on_failed(request: Any) -> None:
        if is_site_url(request.url, base_url):
            visit.broken.append(f"{request.failure} {request.url}")

    def on_websocket(socket: Any) -> None:
        if not is_site_url(socket.url, base_url):
            visit.external.append(socket.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    page.on("websocket", on_websocket)


def wait_quietly(page: Page, expression: str, timeout_ms: int = 5_000) -> None:
    """Wait for a condition; if it never holds, the check that reads it reports why."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(expression, timeout=timeout_ms)


def scan_accessibility(page: Page, axe_js: Path, visit: Visit) -> None:
    """axe-core in the page's first scheme, then colour contrast in each other one."""
    page.add_script_tag(path=str(axe_js))
    # Colours are measured at rest: no scan may catch a fade halfway.
    page.add_style_tag(content=NO_MOTION_CSS)
    scheme = page.evaluate(SCHEME_JS)
    visit.rendered[scheme] = page.evaluate(RENDERED_IMAGES_JS)
    found = page.evaluate(AXE_JS_RUN, {})
    visit.axe.extend(describe_violation(v, scheme) for v in found)
    seen = {scheme}
    toggle = page.locator(PALETTE_TOGGLE)
    while toggle.count() == 1:
        toggle.click()
        page.wait_for_function(SCHEME_CHANGED_JS, arg=scheme)
        scheme = page.evaluate(SCHEME_JS)
        if scheme in seen:
            break
        seen.add(scheme)
        visit.rendered[scheme] = page.evaluate(RENDERED_IMAGES_JS)
        found = page.evaluate(AXE_JS_RUN, CONTRAST_ONLY)
        visit.axe.extend(describe_violation(v, scheme) for v in found)


def describe_violation(violation: dict[str, Any], scheme: str) -> str:
    lines = [
        f"{violation['impact']} {violation['id']} ({scheme} scheme): "
        f"{violation['help']}, {violation['count']} element(s)"
    ]
    for node in violation["nodes"]:
        summary = " ".join(node["summary"].split())
        lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


# Open what hides a code block: its tab in a set of content tabs, a closed <details>.
REVEAL_JS = """
(button) => {
  // Open every fold around the block, the outer ones too (folds may nest).
  for (let d = button.closest('details'); d; d = d.parentElement.closest('details')) {
    d.open = true;
  }
  const block = button.closest('.tabbed-block');
  if (!block) return;
  const index = Array.from(block.parentElement.children).indexOf(block);
  const set = block.closest('.tabbed-set');
  const labels = set.querySelectorAll(':scope > .tabbed-labels > label');
  if (labels[index]) labels[index].click();
}
"""


# Material gives a code block its copy button when the block first shows on the
# screen (mkdocs.yml: content.lazy). Show each one, as a reader scrolling through
# would (its folds opened, its tab selected); the blocks that got no button.
SHOW_EACH_CODE_BLOCK_JS = """async () => {
  const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
  const missing = [];
  for (const code of document.querySelectorAll('.md-content pre:not(.mermaid) > code')) {
    for (let d = code.closest('details'); d; d = d.parentElement.closest('details')) {
      d.open = true;
    }
    const block = code.closest('.tabbed-block');
    if (block) {
      const index = Array.from(block.parentElement.children).indexOf(block);
      const labels = block.closest('.tabbed-set')
        .querySelectorAll(':scope > .tabbed-labels > label');
      if (labels[index]) labels[index].click();
    }
    code.scrollIntoView({ block: 'center' });
    const pre = code.parentElement;
    for (let i = 0; i < 60 && !pre.querySelector('[data-clipboard-target]'); i++) {
      await frame();
    }
    if (!pre.querySelector('[data-clipboard-target]')) {
      missing.push(code.textContent.trim().split('\\n')[0].slice(0, 80));
    }
  }
  window.scrollTo(0, 0);
  return missing;
}"""


def check_copy_buttons(page: Page, visit: Visit) -> None:
    visit.no_copy_button = page.evaluate(SHOW_EACH_CODE_BLOCK_JS)
    buttons = page.locator(".md-content [data-clipboard-target]")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        target = button.evaluate(COPY_TARGET_JS)
        if not button.is_visible():
            # A block in a content tab that is not selected: select it, as a reader would.
            button.evaluate(REVEAL_JS)
            button.wait_for(state="visible", timeout=2000)
        page.evaluate("navigator.clipboard.writeText('')")
        button.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        visit.copies.append(Copy(target["lang"], target["text"], copied))


def record_visit(
    browser: Browser, base_url: str, axe_js: Path, page_path: str
) -> Visit:
    missing = page_path == "404.html"
    url = urljoin(base_url, MISSING_PAGE if missing else page_path)
    visit = Visit(url=url)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        watch(page, visit, base_url)
        response = page.goto(url, wait_until="load")
        wait_scripts(page)
        visit.status = response.status if response else None
        page.evaluate(EAGER_IMAGES_JS)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        wait_quietly(page, MATH_SETTLED_JS)
        wait_quietly(page, IMAGES_SETTLED_JS)
        visit.math_count = page.locator(".arithmatex").count()
        visit.math_problems = page.evaluate(MATH_PROBLEMS_JS)
        visit.raw_tex = page.evaluate(RAW_TEX_JS)
        visit.images = page.evaluate(IMAGES_JS)
        # axe first: the copy buttons' "Copied" toast fades in, and mid-fade it
        # has a contrast no reader sees.
        scan_accessibility(page, axe_js, visit)
        check_copy_buttons(page, visit)
    finally:
        context.close()
    return visit


@pytest.fixture(scope="session")
def get_visit(browser: Browser, base_url: str, axe_js: Path) -> Callable[[str], Visit]:
    visits: dict[str, Visit] = {}

    def get(page_path: str) -> Visit:
        if page_path not in visits:
            visits[page_path] = record_visit(browser, base_url, axe_js, page_path)
        return visits[page_path]

    return get


@pytest.fixture
def visit(page: str, site_dir: Path, get_visit: Callable[[str], Visit]) -> Visit:
    return get_visit(page)


def listing(items: list[str]) -> str:
    """One item a line, each once, in the order first seen."""
    return "\n  " + "\n  ".join(dict.fromkeys(items))


# ---------------------------------------------------------------- every page


def test_page_loads(visit: Visit, page: str) -> None:
    expected = 404 if page == "404.html" else 200
    assert visit.status == expected, f"{visit.url} answered {visit.status}"


# A front matter MkDocs could not read is rendered as text: its `description: ...`
# line turns into a heading or a paragraph (tests/test_docs_pages.py checks that
# every source's front matter parses; this checks what the build made of it).
FRONT_MATTER_SHOWN = re.compile(r"<(h[1-6]|p)\b[^>]*>\s*description:", re.I)


def test_no_page_shows_its_front_matter(page: str, site_dir: Path) -> None:
    html = site_dir / page if page.endswith(".html") else site_dir / page / "index.html"
    assert html.is_file(), f"no file for {page!r}"
    shown = FRONT_MATTER_SHOWN.search(html.read_text())
    assert not shown, f"{page or 'home'} shows its front matter as text: {shown}"


def test_no_request_leaves_the_site(visit: Visit) -> None:
    assert not visit.external, (
        "requests to hosts other than the site's own (blocked):"
        + listing(visit.external)
    )


def ignored_loads(visit: Visit) -> list[str]:
    """Loads whose failure another test reports: blocked external requests, and the
    404 page's own document (a 404 is what it should answer)."""
    return [*visit.external, *([visit.url] if visit.status == 404 else [])]


def test_no_console_error_and_no_page_error(visit: Visit) -> None:
    # Failed loads of blocked external requests and of the 404 page itself are
    # reported by the tests for those; everything else is an error here.
    errors = [
        e
        for e in visit.console_errors
        if not (
            e.startswith("Failed to load resource")
            and any(e.endswith(f"(at {url})") for url in ignored_loads(visit))
        )
    ]
    assert not errors + visit.page_errors, (
        "console errors and uncaught exceptions:" + listing(errors + visit.page_errors)
    )


def test_every_local_asset_loads(visit: Visit) -> None:
    assert not visit.broken, "failed requests to the site:" + listing(visit.broken)


def test_all_math_is_rendered(visit: Visit) -> None:
    assert not visit.math_problems, "math KaTeX did not render:" + listing(
        visit.math_problems
    )
    assert not visit.raw_tex, "raw TeX left in the text:" + listing(visit.raw_tex)


def test_all_images_load_and_have_alt_text(visit: Visit) -> None:
    broken = [i["src"] for i in visit.images if not i["width"]]
    no_alt = [i["src"] for i in visit.images if not (i["alt"] or "").strip()]
    problems = [f"did not load: {src}" for src in broken]
    problems += [f"no alt text: {src}" for src in no_alt]
    assert not problems, "images:" + listing(problems)


# Material's palette schemes and the image suffix each one shows.
SCHEME_SUFFIX = {"default": "#only-light", "slate": "#only-dark"}
FIGURE_NAME = re.compile(r"assets/figures/[^/#]+-(light|dark)\.svg(#only-\w+)?$")


def rendered_image_problems(scheme: str, images: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the images a reader sees in one palette: a palette image
    shown in the other palette (a figure twice), or not shown in its own (missing),
    or a figure whose file and palette do not match."""
    shows = SCHEME_SUFFIX.get(scheme)
    problems = []
    for img in images:
        src = img["src"]
        name = src.rsplit("/", 1)[-1]
        shown = img["display"] != "none" and img["visible"]
        painted = shown and img["width"] >= 1 and img["height"] >= 1
        suffix = next((s for s in SCHEME_SUFFIX.values() if src.endswith(s)), None)
        figure = FIGURE_NAME.search(src)
        if figure and suffix != f"#only-{figure.group(1)}":
            problems.append(
                f"{name}: a {figure.group(1)} figure not marked "
                f"#only-{figure.group(1)}, so it shows in both palettes"
            )
        if suffix is None:
            if img["context"] and not painted:
                problems.append(
                    f"{name}: not painted ({img['width']:.0f} x "
                    f"{img['height']:.0f} px, display {img['display']})"
                )
        elif suffix != shows:
            if img["display"] != "none" or painted:
                problems.append(
                    f"{name}: shown in the {scheme} palette "
                    f"({img['width']:.0f} x {img['height']:.0f} px)"
                )
        elif img["display"] == "none" or (img["context"] and not painted):
            problems.append(
                f"{name}: not shown in its own ({scheme}) palette "
                f"(display {img['display']}, {img['width']:.0f} x "
                f"{img['height']:.0f} px)"
            )
    return [f"{scheme}: {p}" for p in problems]


def test_each_figure_is_shown_once_in_its_palette(visit: Visit) -> None:
    problems = [
        p
        for scheme, images in visit.rendered.items()
        for p in rendered_image_problems(scheme, images)
    ]
    schemes = sorted(visit.rendered)
    if any(
        i["src"].endswith(tuple(SCHEME_SUFFIX.values()))
        for images in visit.rendered.values()
        for i in images
    ):
        assert schemes == sorted(SCHEME_SUFFIX), (
            f"palette figures on the page, but only checked in {schemes}"
        )
    assert not problems, "what the reader sees of the images:" + listing(problems)


def test_no_serious_or_critical_accessibility_violation(visit: Visit) -> None:
    assert not visit.axe, "axe-core found:" + listing(visit.axe)


def test_copy_buttons_copy_exactly_the_code(visit: Visit) -> None:
    prompt = re.compile(r"^(>>>|\.\.\.)( |$)", re.M)
    problems = [f"no copy button on the block {b!r}" for b in visit.no_copy_button]
    for n, copy in enumerate(visit.copies):
        name = f"code block {n} ({copy.lang})"
        if copy.expected is None:
            problems.append(f"{name}: the copy button's target is missing")
        elif copy.copied.rstrip("\n") != copy.expected.rstrip("\n"):
            problems.append(
                f"{name}: copied {copy.copied[:200]!r}, shown {copy.expected[:200]!r}"
            )
        elif prompt.search(copy.copied):
            problems.append(f"{name}: the copied code has >>> prompts")
        elif copy.lang in ("python", "py"):
            try:
                compile(copy.copied, name, "exec")
            except SyntaxError as error:
                problems.append(f"{name}: the copied code is not Python: {error}")
    assert not problems, "copy buttons:" + listing(problems)


# ---------------------------------------------------------------- the whole site


def test_the_checks_have_pages_math_and_code_to_check(
    site_dir: Path, get_visit: Callable[[str], Visit]
) -> None:
    """Guard against passing vacuously: a tutorial on attention has math and code."""
    pages = discover_pages(site_dir)
    assert "" in pages, "no home page (index.html)"
    assert "404.html" in pages, "no 404 page"
    visits = [get_visit(p) for p in pages]
    assert sum(v.math_count for v in visits) > 0, "no .arithmatex math on any page"
    langs = {c.lang for v in visits for c in v.copies}
    assert langs, "no code block with a copy button"
    # Python blocks are checked to compile; that needs language-python classes
    # (pymdownx.highlight's pygments_lang_class: true).
    assert "python" in langs or "py" in langs, (
        f"no code block marked as Python (languages seen: {langs})"
    )


def test_search_for_softmax_finds_the_softmax_section(
    browser: Browser, base_url: str
) -> None:
    visit = Visit(url=base_url)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        page.goto(base_url)
        wait_scripts(page)
        # On a wide viewport the search box sits in the header, ready to type into.
        page.locator("input[data-md-component='search-query']").press_sequentially(
            "softmax"
        )
        page.locator(".md-search-result__item").first.wait_for()
        results = page.eval_on_selector_all(
            ".md-search-result__link",
            """links => links.map((a) => ({
                 href: a.href,
                 title: (a.querySelector('h1, h2, h3')?.textContent || '').trim(),
               }))""",
        )
        sections = [
            r
            for r in results
            if "#" in r["href"]
            and (
                "softmax" in urlsplit(r["href"]).fragment.lower()
                or "softmax" in r["title"].lower()
            )
        ]
        assert sections, (
            "searching 'softmax' listed no section about softmax; results:"
            + listing([f"{r['title']} -> {r['href']}" for r in results])
        )
        # The link must land on a real heading.
        target = sections[0]["href"]
        page.goto(target)
        wait_scripts(page)
        anchor = urlsplit(target).fragment
        heading = page.locator(f"[id='{anchor}']")
        assert heading.count() == 1, f"{target}: no element with id {anchor!r}"
        assert "softmax" in (anchor + heading.inner_text()).lower()
        assert not visit.external, "search requested:" + listing(visit.external)
    finally:
        context.close()


COLOR_SCHEME_META_JS = """() => ({
  metas: [...document.querySelectorAll('meta[name=color-scheme]')].map((m) => m.content),
  header: getComputedStyle(document.querySelector('header')).colorScheme,
})"""


def test_palette_toggle_switches_the_color_scheme(
    browser: Browser, base_url: str
) -> None:
    visit = Visit(url=base_url)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        page.goto(base_url)
        wait_scripts(page)
        schemes = page.eval_on_selector_all(
            "form[data-md-component='palette'] input",
            "inputs => inputs.map((i) => i.dataset.mdColorScheme)",
        )
        assert len(set(schemes)) == 2, f"expected a light and a dark scheme: {schemes}"
        background = "() => getComputedStyle(document.body).backgroundColor"
        first, first_bg = page.evaluate(SCHEME_JS), page.evaluate(background)
        first_meta = page.evaluate(COLOR_SCHEME_META_JS)
        page.locator(PALETTE_TOGGLE).click()
        page.wait_for_function(SCHEME_CHANGED_JS, arg=first)
        second, second_bg = page.evaluate(SCHEME_JS), page.evaluate(background)
        assert {first, second} == set(schemes)
        assert first_bg != second_bg, f"the background stayed {first_bg}"
        second_meta = page.evaluate(COLOR_SCHEME_META_JS)
        # speed.py gives the page its <meta name="color-scheme">; Material keeps it
        # in step with the scheme (and adds no second one).
        for meta in (first_meta, second_meta):
            assert len(meta["metas"]) == 1, f"color-scheme metas: {meta['metas']}"
            assert meta["metas"][0] == meta["header"], meta
        assert first_meta["metas"] != second_meta["metas"], (first_meta, second_meta)
        # Transitions stop only while the colours switch (after_paint.js).
        page.wait_for_function(
            "() => !document.body.hasAttribute('data-selfattn-switching')",
            timeout=2000,
        )
        page.locator(PALETTE_TOGGLE).click()
        page.wait_for_function(SCHEME_CHANGED_JS, arg=second)
        assert page.evaluate(SCHEME_JS) == first
    finally:
        context.close()


# An anchor clicked inside the page, as a reader clicks one (Material's instant
# navigation, where enabled, swaps the content; here the next page loads).
FOLLOW_LINK_JS = """(url) => {
  window.__before = document.querySelector('.md-content');
  const a = document.createElement('a');
  a.href = url;
  a.textContent = 'next page';
  document.body.append(a);
  a.click();
}"""
ARRIVED_JS = """(url) => location.href === url
  && !(window.__before && window.__before.isConnected)"""


def test_math_renders_after_in_site_navigation(
    browser: Browser, base_url: str, site_dir: Path
) -> None:
    """A reader who clicks from page to page still gets rendered math on every
    page."""
    visit = Visit(url=base_url)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        watch(page, visit, base_url)
        page.goto(base_url)
        wait_scripts(page)
        problems = []
        for path in [p for p in discover_pages(site_dir) if p not in ("", "404.html")]:
            url = urljoin(base_url, path)
            page.evaluate(FOLLOW_LINK_JS, url)
            page.wait_for_function(ARRIVED_JS, arg=url)
            page.wait_for_load_state("load")  # the next page loads whole
            wait_scripts(page)
            wait_quietly(page, MATH_SETTLED_JS)
            found = page.evaluate(MATH_PROBLEMS_JS) + page.evaluate(RAW_TEX_JS)
            problems += [f"{path}: {p}" for p in found]
        assert not problems, "math not rendered after navigating:" + listing(problems)
        assert not visit.page_errors, "uncaught exceptions:" + listing(
            visit.page_errors
        )
    finally:
        context.close()
