"""Every page reads at a phone's width and a laptop's: code never wraps, nothing runs
past the screen unless it scrolls, no raw TeX anywhere, and a chapter's core path
fits in 8 screens.

Each page is opened at 390 px and at 1280 px with every `<details>` open (folded
depth must read too), then at 1280x800 with every `<details>` closed for the length
of the core path (tests/browser/screens.py). Run with ``nox -s browser``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser

from tests.browser.screens import CORE_SCREENS, HEIGHT, screens, wait_scripts
from tests.browser.test_site import TIMEOUT_MS, Visit, listing, new_context

WIDTHS = (390, 1280)

# Pages that are not a chapter a learner reads top to bottom: no 8-screen limit.
NOT_CHAPTERS = {
    "": "the home page: a map of the chapters",
    "notation/": "a reference table of symbols, looked up, not read through",
    "references/": "the bibliography, gathered from every chapter",
    "404.html": "the page for a missing address",
}
NOT_CHAPTER_PREFIXES = {
    "api/": "the API reference, generated from the package's docstrings",
    "notebooks/": "a notebook: the chapter's code as cells, with its outputs",
}

# Each code line that wraps, and the white-space that lets it: code must keep `pre`.
WRAPPING_CODE_JS = """() => {
  const found = [];
  const blocks = document.querySelectorAll(
    '.md-content pre > code, .md-content .highlight-ipynb pre');
  blocks.forEach((code, k) => {
    const ws = getComputedStyle(code).whiteSpace;
    if (ws !== 'pre' && ws !== 'nowrap') {
      const first = (code.textContent.trim().split('\\n')[0] || '').slice(0, 60);
      found.push(`block ${k + 1} (${first}): white-space ${ws}`);
      return;
    }
    // The rendered height must be one line per source line (no line wraps).
    const lines = code.textContent.replace(/\\n$/, '').split('\\n').length;
    const lh = parseFloat(getComputedStyle(code).lineHeight);
    const style = getComputedStyle(code);
    const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const h = code.getBoundingClientRect().height - pad;
    if (code.offsetParent && lh > 0 && h > lines * lh + lh * 0.5) {
      const first = (code.textContent.trim().split('\\n')[0] || '').slice(0, 60);
      found.push(`block ${k + 1} (${first}): ${lines} lines drawn ${h.toFixed(0)} px ` +
        `high at ${lh.toFixed(0)} px a line`);
    }
  });
  return found;
}"""

# Each element of the article that reaches past the viewport, unless an ancestor
# (within the article) clips or scrolls it and itself ends inside the viewport.
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const article = document.querySelector('.md-content') || document.body;
  const found = [];
  const reported = new Set();
  const name = (el) => el.tagName.toLowerCase() +
    (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  for (const el of article.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right <= vw + 1 && box.left >= -1) continue;
    let contained = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip') {
        const ab = a.getBoundingClientRect();
        if (ab.right <= vw + 1 && ab.left >= -1) { contained = true; break; }
      }
      if (reported.has(a)) { contained = true; break; }
    }
    if (contained) continue;
    reported.add(el);
    found.push(`${name(el)} spans ${box.left.toFixed(0)}..${box.right.toFixed(0)} px ` +
      `of ${vw}: "${(el.textContent || '').trim().slice(0, 50)}"`);
  }
  const page = document.documentElement.scrollWidth - vw;
  if (page > 0) found.unshift(`the page itself scrolls sideways by ${page} px`);
  return found.slice(0, 12);
}"""

# TeX that was never rendered: in the navigation, the table of contents, the title
# and the article's prose (code and rendered math excepted).
RAW_TEX_NAV_JS = r"""() => {
  const found = [];
  const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:sqrt|frac|alpha|omega|top|mathrm|cdot)\b/;
  const places = [...document.querySelectorAll('.md-sidebar, .md-header, .md-nav')];
  places.push(document.querySelector('title'));
  for (const place of places) {
    if (!place) continue;
    const text = place.textContent;
    const hit = tex.exec(text);
    if (hit) found.push(text.slice(Math.max(0, hit.index - 30), hit.index + 40).trim());
  }
  const article = document.querySelector('.md-content');
  if (article) {
    const copy = article.cloneNode(true);
    copy.querySelectorAll('pre, code, script, style, .katex, .arithmatex, textarea')
      .forEach((el) => el.remove());
    const hit = tex.exec(copy.textContent);
    if (hit) {
      const t = copy.textContent;
      found.push('article: ' + t.slice(Math.max(0, hit.index - 30), hit.index + 40).trim());
    }
  }
  return [...new Set(found)];
}"""

OPEN_DETAILS_JS = "document.querySelectorAll('details').forEach(d => d.open = true)"


@dataclass
class Layout:
    """What one page looks like at each width."""

    wrapping: dict[int, list[str]] = field(default_factory=dict)
    overflow: dict[int, list[str]] = field(default_factory=dict)
    raw_tex: dict[int, list[str]] = field(default_factory=dict)
    screens: float = 0.0


def record_layout(browser: Browser, base_url: str, page_path: str) -> Layout:
    layout = Layout()
    visit = Visit(url=urljoin(base_url, page_path))
    context = new_context(browser, base_url, visit)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(visit.url, wait_until="load")
        wait_scripts(page)
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 844})
            page.evaluate(OPEN_DETAILS_JS)
            # Two frames: the page's own resize handlers run and lay out again first.
            page.evaluate(
                "() => new Promise((r) => requestAnimationFrame("
                "() => requestAnimationFrame(() => r(0))))"
            )
            layout.wrapping[width] = page.evaluate(WRAPPING_CODE_JS)
            layout.overflow[width] = page.evaluate(OVERFLOW_JS)
            layout.raw_tex[width] = page.evaluate(RAW_TEX_NAV_JS)
        page.set_viewport_size({"width": 1280, "height": HEIGHT})
        page.reload(wait_until="load")
        wait_scripts(page)
        layout.screens = screens(page)
    finally:
        context.close()
    return layout


@pytest.fixture(scope="session")
def get_layout(browser: Browser, base_url: str) -> Callable[[str], Layout]:
    layouts: dict[str, Layout] = {}

    def get(page_path: str) -> Layout:
        if page_path not in layouts:
            layouts[page_path] = record_layout(browser, base_url, page_path)
        return layouts[page_path]

    return get


@pytest.fixture
def layout(page: str, site_dir: Path, get_layout: Callable[[str], Layout]) -> Layout:
    if page == "404.html":
        pytest.skip("the 404 page is checked by test_site.py at a missing address")
    return get_layout(page)


def problems_by_width(found: dict[int, list[str]]) -> list[str]:
    return [f"at {w} px: {p}" for w, items in found.items() for p in items]


def test_no_code_line_wraps(layout: Layout) -> None:
    problems = problems_by_width(layout.wrapping)
    assert not problems, "code lines wrap (they must scroll sideways):" + listing(
        problems
    )


def test_nothing_runs_past_the_screen_unless_it_scrolls(layout: Layout) -> None:
    problems = problems_by_width(layout.overflow)
    assert not problems, "wider than the screen, outside a scrolling box:" + listing(
        problems
    )


def test_no_raw_tex_in_the_navigation_toc_or_article(layout: Layout) -> None:
    problems = problems_by_width(layout.raw_tex)
    assert not problems, "TeX shown as text:" + listing(problems)


def is_chapter(page: str) -> bool:
    return page not in NOT_CHAPTERS and not any(
        page.startswith(prefix) for prefix in NOT_CHAPTER_PREFIXES
    )


def test_a_chapters_core_path_fits_in_8_screens(page: str, layout: Layout) -> None:
    if not is_chapter(page):
        pytest.skip(
            NOT_CHAPTERS.get(page)
            or next(r for p, r in NOT_CHAPTER_PREFIXES.items() if page.startswith(p))
        )
    assert layout.screens <= CORE_SCREENS, (
        f"{page}: {layout.screens:.1f} screens at 1280x{HEIGHT} with every <details> "
        f"closed; a chapter's core path is at most {CORE_SCREENS:g}: fold depth into "
        '`??? note "Going further: ..."`'
    )


# A phone as Lighthouse emulates one: touch, a narrow screen, a dense display. Unlike
# the other tests, no data-render-all: this is the path a phone takes.
PHONE = {
    "viewport": {"width": 412, "height": 823},
    "device_scale_factor": 1.75,
    "is_mobile": True,
    "has_touch": True,
}
SKIPPED_BLOCKS_JS = """() => [...document.querySelectorAll('.md-content__inner > *')]
  .filter((el) => getComputedStyle(el).contentVisibility === 'auto').length"""
DRAWER_JS = """() => getComputedStyle(
  document.querySelector('.md-sidebar--primary .md-sidebar__scrollwrap')).contentVisibility"""


# Code blocks (outside closed folds) wider than their box without a tabindex.
UNREACHABLE_SCROLLERS_JS = """() => [...document.querySelectorAll('.md-typeset pre > code')]
  .filter((el) => !el.closest('details:not([open])'))
  .filter((el) => el.scrollWidth > el.clientWidth && !el.hasAttribute('tabindex'))
  .map((el) => el.textContent.trim().slice(0, 60))"""


# Every block of the article the browser has drawn since the page opened (it draws a
# skipped block as the reader scrolls near it; the event does not bubble).
RECORD_DRAWN_JS = """window.__drawn = new Set();
document.addEventListener('contentvisibilityautostatechange', (event) => {
  if (!event.skipped) window.__drawn.add(event.target);
}, true);"""
NEVER_DRAWN_JS = """() => [...document.querySelectorAll('.md-content__inner > *')]
  .filter((el) => getComputedStyle(el).contentVisibility === 'auto')
  .filter((el) => !window.__drawn.has(el)).length"""


@pytest.mark.parametrize("page_path", ["efficient-attention/", "ring-attention/"])
def test_a_phone_skips_far_blocks_and_draws_each_as_the_reader_comes_near(
    page_path: str, browser: Browser, base_url: str
) -> None:
    """extra.css lets a phone skip the blocks far from the screen (a long page's first
    paint and the theme's start-up lay out only its top); each is drawn as the reader
    scrolls near it. Scrolled through once, the page has its true height (a drawn
    block keeps its size), and a11y.js has made each sideways-scrolling code block
    reachable by keyboard as its block was drawn. The closed navigation drawer is
    skipped until it opens."""
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.add_init_script(
            RECORD_DRAWN_JS + "document.addEventListener('DOMContentLoaded', () => {"
            " window.__skippedAtFirst = (" + SKIPPED_BLOCKS_JS + ")(); },"
            " { once: true });"
        )
        page.goto(urljoin(base_url, page_path), wait_until="load")
        wait_scripts(page)
        skipped_at_first = page.evaluate("window.__skippedAtFirst")
        assert isinstance(skipped_at_first, int), "the count ran at DOMContentLoaded"
        assert skipped_at_first > 5, (
            f"{page_path}: only {skipped_at_first} block(s) could be skipped at first"
        )
        never_drawn = page.evaluate(NEVER_DRAWN_JS)
        assert never_drawn > 5, (
            f"{page_path}: only {never_drawn} far block(s) left to draw once the "
            "scripts have run: the page was laid out whole"
        )
        # The reader scrolls to the end, a screen at a time.
        screen = PHONE["viewport"]["height"]  # type: ignore[index]
        y = 0
        while y < page.evaluate("document.documentElement.scrollHeight"):
            page.evaluate(f"window.scrollTo(0, {y})")
            page.evaluate(
                "new Promise((r) => requestAnimationFrame(() => "
                "requestAnimationFrame(r)))"
            )
            y += screen
        wait_scripts(page)
        assert page.evaluate(NEVER_DRAWN_JS) == 0, "every block drawn on the way"
        height = page.evaluate("document.documentElement.scrollHeight")
        page.evaluate("document.documentElement.setAttribute('data-render-all', '')")
        whole = page.evaluate("document.documentElement.scrollHeight")
        assert abs(height - whole) <= 2, (
            f"{page_path}: the page is {height} px high once scrolled through; with "
            f"every block rendered it is {whole} px"
        )
        unreachable = page.evaluate(UNREACHABLE_SCROLLERS_JS)
        assert not unreachable, f"scrolling code blocks without tabindex: {unreachable}"
        page.evaluate("document.documentElement.removeAttribute('data-render-all')")
        assert page.evaluate(DRAWER_JS) == "hidden", "the closed drawer is skipped"
        page.locator("label.md-header__button[for=__drawer]").click()
        assert page.evaluate(DRAWER_JS) == "visible", "the open drawer is laid out"
    finally:
        context.close()


# Every layout shift while the page loads, as Chromium reports it (the measure
# behind Lighthouse's cumulative layout shift), with the element that moved.
RECORD_SHIFTS_JS = """window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const moved = (entry.sources || []).map((s) => s.node
      ? `${s.node.nodeName}.${s.node.className || ''}`.slice(0, 80) : '?');
    window.__shifts.push({ value: entry.value, moved });
  }
}).observe({ type: 'layout-shift', buffered: true });"""


@pytest.mark.parametrize(
    "page_path",
    ["notebooks/positions/", "lm-in-browser/", "efficient-attention/", ""],
)
def test_a_phone_sees_nothing_move_while_the_page_loads(
    page_path: str, browser: Browser, base_url: str
) -> None:
    """No block of the first screen jumps once shown: a block skipped at first
    stands in at 320 px until drawn (extra.css), and the model's panel is drawn
    only when complete (lm.js). Lighthouse counts any jump against the page."""
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        # A phone's slower CPU, as Lighthouse simulates it: frames then fall between
        # the steps of the page's scripts, where a half-drawn state would show.
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.add_init_script(RECORD_SHIFTS_JS)
        page.goto(urljoin(base_url, page_path), wait_until="load")
        wait_scripts(page)
        shifts = page.evaluate("window.__shifts")
        total = sum(s["value"] for s in shifts)
        # 0.1 is Lighthouse's bound for "good"; a page that keeps still scores ~0.
        assert total < 0.01, f"{page_path or 'home'}: layout shifts {shifts}"
    finally:
        context.close()
