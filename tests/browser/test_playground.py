"""The attention playground in a real browser: its numbers are selfattn's.

The panel (docs/assets/javascripts/playground.js) is driven only through its test
contract: embedding inputs carry ``data-token``/``data-dim``, weight cells
``data-row``/``data-col``, context cells ``data-row``/``data-dim``, and the controls
``data-control`` = query, scale, causal, reset. Random embeddings are typed into the
inputs, the query, scale and causal mask are set, and every displayed weight and
context value is compared with what ``selfattn`` computes for the same inputs, to
within one unit of the last displayed digit.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import torch
from playwright.sync_api import Browser, Page

import selfattn
from tests.browser.conftest import discover_pages, site_dir_of
from tests.browser.screens import wait_scripts
from tests.browser.test_site import (
    ARRIVED_JS,
    FOLLOW_LINK_JS,
    Visit,
    listing,
    new_context,
    watch,
)

PANEL = ".playground[data-ready]"
DECIMAL = re.compile(r"^-?\d+\.(\d+)$")

READ_JS = """(panel) => {
  const cells = (selector, a, b) => [...panel.querySelectorAll(selector)].map((c) => ({
    a: Number(c.dataset[a]), b: Number(c.dataset[b]), text: c.textContent.trim() }));
  return {
    inputs: cells('input[data-token][data-dim]', 'token', 'dim')
      .map((c, k) => ({ ...c, text: panel.querySelectorAll('input[data-token]')[k].value })),
    weights: cells('[data-row][data-col]', 'row', 'col'),
    context: cells('[data-row][data-dim]', 'row', 'dim'),
    sums: [...panel.querySelectorAll('[data-sum-row]')].map((c) => c.textContent.trim()),
    scores: [...panel.querySelectorAll('[data-score-col]')].map((c) => c.textContent.trim()),
    query: panel.querySelector('[data-control=query]').value,
    scale: !!panel.querySelector('[data-control=scale]:checked'),
    causal: !!panel.querySelector('[data-control=causal]:checked'),
    switches: [...panel.querySelectorAll('[data-control=scale], [data-control=causal]')]
      .map((c) => c.dataset.control),
  };
}"""


SUPERSCRIPT = str.maketrans(
    "0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def label(i: int) -> str:
    """Token i (from 0) as the pages write it: x^(i+1), in Unicode superscripts."""
    return f"x\u207d{str(i + 1).translate(SUPERSCRIPT)}\u207e"


def playground_pages(site: Path) -> list[str]:
    pages = []
    for page in discover_pages(site):
        path = site / (page + "index.html" if page.endswith("/") or not page else page)
        if path.is_file() and 'class="playground"' in path.read_text(encoding="utf-8"):
            pages.append(page)
    return pages


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "playground_page" in metafunc.fixturenames:
        site = site_dir_of(metafunc.config)
        pages = playground_pages(site) if site.is_dir() else []
        metafunc.parametrize("playground_page", pages or ["<no playground>"])


@pytest.fixture
def page_of(browser: Browser, base_url: str) -> Iterator[tuple[Page, Visit]]:
    visit = Visit(url=base_url)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        watch(page, visit, base_url)
        yield page, visit
    finally:
        context.close()


def expected(
    x: list[list[float]], scale: bool, causal: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """selfattn's weights and context vectors for embeddings x (q = k = v = x)."""
    inputs = torch.tensor(x, dtype=torch.float64)
    weights = selfattn.attention_weights(
        inputs, inputs, scale=None if scale else 1.0, causal=causal
    )
    return weights, selfattn.context_vectors(weights, inputs)


def compare(shown: dict[str, Any], x: list[list[float]]) -> list[str]:
    """Every displayed weight, row sum and context value against selfattn's."""
    weights, context = expected(x, shown["scale"], shown["causal"])
    problems = []
    n, d = len(x), len(x[0])
    if len(shown["weights"]) != n * n or len(shown["context"]) != n * d:
        return [
            f"{len(shown['weights'])} weight and {len(shown['context'])} context "
            f"cells, expected {n * n} and {n * d}"
        ]
    cells = [(c, weights[c["a"], c["b"]], "weight") for c in shown["weights"]]
    cells += [(c, context[c["a"], c["b"]], "context") for c in shown["context"]]
    cells += [
        ({"a": i, "b": -1, "text": s}, torch.tensor(1.0), "row sum")
        for i, s in enumerate(shown["sums"])
    ]
    for cell, want, kind in cells:
        match = DECIMAL.match(cell["text"])
        if not match:
            problems.append(
                f"{kind} ({cell['a']}, {cell['b']}): {cell['text']!r} is "
                "not plain decimal text"
            )
            continue
        unit = 10.0 ** -len(match.group(1))  # one unit of the last displayed digit
        if abs(float(cell["text"]) - float(want)) > unit * (1 + 1e-9):
            problems.append(
                f"{kind} ({cell['a']}, {cell['b']}): shows {cell['text']}, "
                f"selfattn gives {float(want):.6f}"
            )
    return problems


def set_state(
    page: Page, x: list[list[float]], query: int, scale: bool, causal: bool
) -> None:
    panel = page.locator(PANEL)
    for i, row in enumerate(x):
        for j, value in enumerate(row):
            panel.locator(f"input[data-token='{i}'][data-dim='{j}']").fill(str(value))
    panel.locator("[data-control=query]").select_option(str(query))
    for name, on in (("scale", scale), ("causal", causal)):
        switch = panel.locator(f"[data-control={name}]")
        if switch.count():
            switch.set_checked(on)


def read(page: Page) -> dict[str, Any]:
    shown: dict[str, Any] = page.locator(PANEL).evaluate(READ_JS)
    return shown


def embeddings_shown(shown: dict[str, Any]) -> list[list[float]]:
    n = 1 + max(c["a"] for c in shown["inputs"])
    d = 1 + max(c["b"] for c in shown["inputs"])
    x = [[0.0] * d for _ in range(n)]
    for c in shown["inputs"]:
        x[c["a"]][c["b"]] = float(c["text"])
    return x


def test_playground_shows_selfattns_numbers(
    playground_page: str,
    site_dir: Path,
    base_url: str,
    page_of: tuple[Page, Visit],
) -> None:
    page, visit = page_of
    page.goto(urljoin(base_url, playground_page))
    wait_scripts(page)
    page.locator(PANEL).wait_for()
    assert page.locator(".playground").count() == 1, "one panel per page"
    problems: list[str] = []

    # It starts from selfattn's toy sentence, written into the page at build time.
    start = read(page)
    toy = [list(row) for row in selfattn.EMBEDDINGS]
    assert embeddings_shown(start) == toy, "the panel does not start at EMBEDDINGS"
    rows = page.locator(f"{PANEL} .playground__weights tbody th").all_inner_texts()
    assert rows == [label(i) for i in range(len(selfattn.TOKENS))], (
        "the rows are not labelled x^(1) .. x^(n), as the pages write them"
    )
    options = page.locator(f"{PANEL} [data-control=query] option").all_inner_texts()
    assert options == [f"{label(i)} {t}" for i, t in enumerate(selfattn.TOKENS)]
    problems += [f"initial: {p}" for p in compare(start, toy)]

    # Random embeddings, every combination of scale and mask, and one large draw.
    rng = random.Random(playground_page)
    n, d = len(toy), len(toy[0])
    draws = [
        (1.0, False, False),
        (1.0, True, False),
        (1.0, False, True),
        (1.0, True, True),
        (4.0, True, False),
    ]
    for magnitude, scale, causal in draws:
        if (scale and "scale" not in start["switches"]) or (
            causal and "causal" not in start["switches"]
        ):
            continue
        x = [
            [round(rng.uniform(-magnitude, magnitude), 2) for _ in range(d)]
            for _ in range(n)
        ]
        query = rng.randrange(n)
        set_state(page, x, query, scale, causal)
        shown = read(page)
        what = f"scale={scale} causal={causal} x={x}"
        assert embeddings_shown(shown) == x, f"{what}: inputs did not take the values"
        problems += [f"{what}: {p}" for p in compare(shown, x)]

    # The state travels in the address: a new tab opened there shows the same.
    shared = read(page)
    other = page.context.new_page()
    other.goto(page.url)
    wait_scripts(other)
    other.locator(PANEL).wait_for()
    again = read(other)
    if embeddings_shown(again) != embeddings_shown(shared):
        problems.append(f"the shared address {page.url} lost the embeddings")
    for key in ("weights", "context", "query", "scale", "causal"):
        if again[key] != shared[key]:
            problems.append(f"the shared address {page.url} lost the {key}")
    other.close()

    # Reset returns to the toy sentence and the page's starting controls.
    page.locator(f"{PANEL} [data-control=reset]").click()
    reset = read(page)
    if embeddings_shown(reset) != toy or [
        reset[k] for k in ("query", "scale", "causal")
    ] != [start[k] for k in ("query", "scale", "causal")]:
        problems.append("reset did not return to the toy sentence")

    # On a phone the panel fits the page: nothing makes the page scroll sideways, and
    # the heatmap with its row sums fits without scrolling, down to 320 px.
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems.append(f"at {width} px the page scrolls sideways by {overflow} px")
        hidden = page.locator(f"{PANEL} .playground__weights").evaluate(
            "(t) => t.parentElement.scrollWidth - t.parentElement.clientWidth"
        )
        if hidden > 1:
            problems.append(
                f"at {width} px the heatmap and its row sums are {hidden} px wider "
                "than the page: the row sums are cut off"
            )
    problems += [f"page error: {e}" for e in visit.page_errors]
    assert not problems, "the playground disagrees with selfattn:" + listing(problems)


def test_playground_appears_once_after_clicking_to_the_page(
    playground_page: str,
    site_dir: Path,
    base_url: str,
    page_of: tuple[Page, Visit],
) -> None:
    """A reader who clicks to the page, away and back again, gets one working
    panel each time."""
    page, visit = page_of
    page.goto(base_url)
    wait_scripts(page)
    target = urljoin(base_url, playground_page)
    for stop in (target, base_url, target):
        # Between two navigations the document may be mid-swap: wait for a body.
        page.wait_for_function(
            "() => document.body && document.querySelector('.md-content')"
        )
        page.evaluate(FOLLOW_LINK_JS, stop)
        page.wait_for_function(ARRIVED_JS, arg=stop)
    page.locator(PANEL).wait_for()
    assert page.locator(".playground").count() == 1
    assert (
        page.locator(f"{PANEL} input[data-token]").count()
        == len(selfattn.EMBEDDINGS) * 3
    )
    before = read(page)["weights"]
    page.locator(f"{PANEL} input[data-token='0'][data-dim='0']").fill("2.5")
    after = read(page)
    assert after["weights"] != before, "the panel did not respond after navigation"
    problems = compare(after, embeddings_shown(after))
    problems += [f"page error: {e}" for e in visit.page_errors]
    assert not problems, "after clicking to the page:" + listing(problems)


# ------------------------------------------------- each page's panel and suggestions

# The state each page's panel opens in: the query (from 0), the switches the page has
# taught (only those are shown), and whether scale and mask start on.
OPENS: dict[str, dict[str, Any]] = {
    "step-by-step/": {"query": "0", "switches": [], "scale": False, "causal": False},
    "all-at-once/": {"query": "0", "switches": [], "scale": False, "causal": False},
    "causal-attention/": {
        "query": "2",
        "switches": ["scale", "causal"],
        "scale": False,
        "causal": True,
    },
}


def fill_token(i: int, values: list[float]) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        for d, v in enumerate(values):
            page.locator(f"{PANEL} input[data-token='{i}'][data-dim='{d}']").fill(
                str(v)
            )

    return act


def copy_token(src: int, dst: int) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        row = [list(r) for r in selfattn.EMBEDDINGS][src]
        fill_token(dst, row)(page)

    return act


def switch(name: str, on: bool) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        page.locator(f"{PANEL} [data-control={name}]").set_checked(on)

    return act


def random_embeddings(page: Page) -> None:
    rng = random.Random(7)
    for i in range(len(selfattn.EMBEDDINGS)):
        fill_token(i, [round(rng.uniform(-3, 3), 2) for _ in range(3)])(page)


@dataclass
class Suggestion:
    """One experiment the page's text suggests: the numbers the text promises, what
    the panel shows before (cell -> text), the reader's actions, and after."""

    promises: tuple[str, ...]
    before: dict[tuple[int, int], str]
    actions: list[Callable[[Page], None]]
    after: dict[tuple[int, int], str]
    all_sums: str | None = None  # every row sum shows this afterwards


SUGGESTIONS = {
    "step-by-step/": [
        Suggestion(
            ("0.000", "0.167"),
            {},
            [fill_token(0, [0, 0, 0])],
            {(0, j): "0.167" for j in range(6)},
        ),
        Suggestion(
            ("1.1, 1.74 and 1.32", "0.201", "0.395"),
            {(0, 1): "0.201"},
            [fill_token(1, [1.1, 1.74, 1.32])],
            {(0, 1): "0.395"},
        ),
    ],
    "all-at-once/": [
        Suggestion(
            ("0.145", "0.197"),
            {(0, 5): "0.145"},
            [copy_token(0, 5)],
            {(0, 5): "0.197"},
        ),
        Suggestion(("1.000",), {}, [random_embeddings], {}, all_sums="1.000"),
    ],
    "causal-attention/": [
        Suggestion(
            ("0.000", "0.124", "0.111", "0.156"),
            {(2, 3): "0.000", (2, 4): "0.000", (2, 5): "0.000"},
            [switch("causal", False)],
            {(2, 3): "0.124", (2, 4): "0.111", (2, 5): "0.156"},
        ),
        Suggestion(
            ("0.368", "0.423"),
            {(1, 0): "0.368"},
            [switch("scale", True)],
            {(1, 0): "0.423"},
        ),
    ],
}


def weight_texts(shown: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {(c["a"], c["b"]): c["text"] for c in shown["weights"]}


def test_each_page_has_its_suggestions_and_opening_state(site_dir: Path) -> None:
    """Every page with a panel is listed here, so none opens untested."""
    assert sorted(playground_pages(site_dir)) == sorted(SUGGESTIONS) == sorted(OPENS)


def test_panel_opens_in_the_state_its_page_teaches(
    playground_page: str, base_url: str, page_of: tuple[Page, Visit]
) -> None:
    page, _ = page_of
    page.goto(urljoin(base_url, playground_page))
    wait_scripts(page)
    page.locator(PANEL).wait_for()
    shown = read(page)
    want = OPENS[playground_page]
    got = {k: shown[k] for k in want}
    assert got == want, f"{playground_page} opens in {got}, not {want}"
    if want["causal"]:
        q = int(want["query"])
        masked = [c for c in shown["weights"] if c["a"] == q and c["b"] > q]
        assert masked, "with the mask on, the opening query must have masked keys"
        assert all(c["text"] == "0.000" for c in masked), "masked keys are not 0.000"


def test_each_suggestion_shows_the_number_its_text_promises(
    playground_page: str, base_url: str, page_of: tuple[Page, Visit]
) -> None:
    page, visit = page_of
    page.goto(urljoin(base_url, playground_page))
    wait_scripts(page)
    page.locator(PANEL).wait_for()
    items = page.locator(".playground-try li").all_inner_texts()
    suggestions = SUGGESTIONS[playground_page]
    assert len(items) == len(suggestions), (
        f"the page suggests {len(items)} experiment(s), the test knows "
        f"{len(suggestions)}"
    )
    problems = []
    for k, (text, s) in enumerate(zip(items, suggestions, strict=True), start=1):
        page.locator(f"{PANEL} [data-control=reset]").click()
        for number in s.promises:
            if number not in text:
                problems.append(f"suggestion {k} no longer says {number}: {text!r}")
        before = weight_texts(read(page))
        for cell, want in s.before.items():
            if before[cell] != want:
                problems.append(f"suggestion {k}: before, {cell} is {before[cell]}")
        for act in s.actions:
            act(page)
        shown = read(page)
        after = weight_texts(shown)
        for cell, want in s.after.items():
            if after[cell] != want:
                problems.append(
                    f"suggestion {k}: weight {cell} shows {after[cell]}, the text "
                    f"promises {want}"
                )
        if s.all_sums is not None and any(t != s.all_sums for t in shown["sums"]):
            problems.append(f"suggestion {k}: row sums {shown['sums']}")
        problems += [
            f"suggestion {k}: {p}" for p in compare(shown, embeddings_shown(shown))
        ]
    problems += [f"page error: {e}" for e in visit.page_errors]
    assert not problems, f"{playground_page}:" + listing(problems)


# The focus ring of the element that has the keyboard: an outline or a box shadow.
FOCUS_RING_JS = """() => {
  const el = document.activeElement;
  if (!el || !el.closest('.playground')) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  return { name: el.dataset.control || el.tagName.toLowerCase() +
      (el.dataset.token ? `[${el.dataset.token},${el.dataset.dim}]` : ''),
    ring: outline || !!shadow };
}"""


def test_every_control_shows_a_focus_ring(
    playground_page: str, base_url: str, page_of: tuple[Page, Visit]
) -> None:
    """Tab from the panel's start through each of its controls: each draws a ring."""
    page, _ = page_of
    page.goto(urljoin(base_url, playground_page))
    wait_scripts(page)
    page.locator(PANEL).wait_for()
    controls = page.locator(f"{PANEL} select, {PANEL} input, {PANEL} button").count()
    page.locator(f"{PANEL} .playground__title").click()  # the keyboard starts here
    seen: list[str] = []
    missing: list[str] = []
    for _ in range(controls + 8):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_RING_JS)
        if state is None:
            if seen:
                break
            continue
        seen.append(state["name"])
        if not state["ring"]:
            missing.append(state["name"])
    assert len([s for s in seen if not s.startswith("div")]) >= controls, (
        f"Tab reached {seen}, not all {controls} controls"
    )
    assert not missing, "no focus indicator on:" + listing(missing)
