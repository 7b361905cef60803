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
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import torch
from playwright.sync_api import Browser, Page

import selfattn
from tests.browser.conftest import discover_pages, site_dir_of
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
    query: panel.querySelector('[data-control=query]').value,
    scale: panel.querySelector('[data-control=scale]').checked,
    causal: panel.querySelector('[data-control=causal]').checked,
  };
}"""


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
    panel.locator("[data-control=scale]").set_checked(scale)
    panel.locator("[data-control=causal]").set_checked(causal)


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
    page.locator(PANEL).wait_for()
    assert page.locator(".playground").count() == 1, "one panel per page"
    problems: list[str] = []

    # It starts from selfattn's toy sentence, written into the page at build time.
    start = read(page)
    toy = [list(row) for row in selfattn.EMBEDDINGS]
    assert embeddings_shown(start) == toy, "the panel does not start at EMBEDDINGS"
    rows = page.locator(f"{PANEL} .playground__weights tbody th").all_inner_texts()
    assert rows == list(selfattn.TOKENS)
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
        x = [
            [round(rng.uniform(-magnitude, magnitude), 2) for _ in range(d)]
            for _ in range(n)
        ]
        query = rng.randrange(n)
        set_state(page, x, query, scale, causal)
        shown = read(page)
        label = f"scale={scale} causal={causal} x={x}"
        assert embeddings_shown(shown) == x, f"{label}: inputs did not take the values"
        problems += [f"{label}: {p}" for p in compare(shown, x)]

    # The state travels in the address: a new tab opened there shows the same.
    shared = read(page)
    other = page.context.new_page()
    other.goto(page.url)
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

    # On a phone the panel fits the page: nothing makes the page scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        problems.append(f"at 390 px the page scrolls sideways by {overflow} px")
    hidden = page.locator(f"{PANEL} .playground__weights").evaluate(
        "(t) => t.parentElement.scrollWidth - t.parentElement.clientWidth"
    )
    if hidden > 1:
        problems.append(f"at 390 px the heatmap is {hidden} px wider than the page")
    problems += [f"page error: {e}" for e in visit.page_errors]
    assert not problems, "the playground disagrees with selfattn:" + listing(problems)


def test_playground_appears_once_after_instant_navigation(
    playground_page: str,
    site_dir: Path,
    base_url: str,
    page_of: tuple[Page, Visit],
) -> None:
    """A reader who clicks to the page (Material swaps the content, no reload),
    away and back again, gets one working panel each time."""
    page, visit = page_of
    page.goto(base_url)
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
    assert not problems, "after instant navigation:" + listing(problems)
