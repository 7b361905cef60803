"""Part IV's character model in the browser: its numbers are PyTorch's.

The page "The model in your browser" runs the trained model in JavaScript
(docs/assets/javascripts/lm.js) from weights the build wrote
(docs/hooks/lm_demo.py). Through its contract, `window.selfattnLM`, this test holds

* its vocabulary and its `encode` (unknown characters included) equal to
  `selfattn.corpus.Vocab`'s with `errors="replace"`;
* its `forward` equal to `selfattn.lm.load_pretrained()`'s logits and attention
  weights, within 1e-4, on the page's example and on random strings up to past the
  model's context;
* its `generate` equal, token for token, to `selfattn.generate.generate`'s greedy decoding;
* its panel: the example's repeated phrase lights up the induction head on the
  character after the first copy, and every control shows a focus ring.

The time of one forward pass over 256 characters is printed (measured, not asserted).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from playwright.sync_api import Browser, Page

from tests.browser.screens import wait_scripts
from tests.browser.test_site import Visit, listing, new_context, watch

PAGE = "lm-in-browser/"
TOLERANCE = 1e-4  # float32 in PyTorch against float32 weights, float64 sums in JS


@pytest.fixture(scope="module")
def model() -> Any:
    from selfattn import lm

    return lm.load_pretrained()


@pytest.fixture(scope="module")
def vocab() -> Any:
    from selfattn import corpus

    return corpus.Vocab.from_text(corpus.load_text())


@pytest.fixture(scope="module")
def demo(browser: Browser, base_url: str) -> Iterator[tuple[Page, Visit]]:
    visit = Visit(url=base_url + PAGE)
    context = new_context(browser, base_url, visit)
    try:
        page = context.new_page()
        watch(page, visit, base_url)
        response = page.goto(base_url + PAGE)
        wait_scripts(page)
        assert response is not None, f"{PAGE} did not load"
        assert response.status == 200, f"{PAGE} answered {response.status}"
        page.wait_for_function("() => window.selfattnLM !== undefined")
        page.wait_for_selector(".lm-demo[data-ready]")
        yield page, visit
    finally:
        context.close()


def js_forward(page: Page, ids: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = page.evaluate("(ids) => window.selfattnLM.forward(ids)", ids)
    return out


def torch_forward(model: Any, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits, maps = model(torch.tensor([ids]), return_attention=True)
    return logits[0], torch.stack([m[0] for m in maps])  # (n, V), (L, H, n, n)


def random_text(rng: random.Random, chars: list[str], n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def example(page: Page) -> str:
    text: str = page.locator(".lm-demo").get_attribute("data-example") or ""
    return text


def test_the_page_asks_nothing_of_the_network(demo: tuple[Page, Visit]) -> None:
    _, visit = demo
    problems = visit.external + visit.broken + visit.console_errors + visit.page_errors
    assert not problems, "the model page:" + listing(problems)


def test_vocab_and_encode_match_python(demo: tuple[Page, Visit], vocab: Any) -> None:
    page, _ = demo
    assert page.evaluate("window.selfattnLM.vocab") == list(vocab.chars)
    text = example(page) + " \u00e9\u4e2d\U0001f600 tab\there"  # unknown characters too
    want = vocab.encode(text, errors="replace").tolist()
    assert page.evaluate("(t) => window.selfattnLM.encode(t)", text) == want


@pytest.mark.parametrize("length", [1, 2, 17, 64, 128, 129, 200])
def test_forward_equals_pytorch_on_random_text(
    demo: tuple[Page, Visit], model: Any, vocab: Any, length: int
) -> None:
    page, _ = demo
    rng = random.Random(length)
    ids = vocab.encode(random_text(rng, list(vocab.chars), length)).tolist()
    assert_forward_equal(page, model, ids)


def test_forward_equals_pytorch_on_the_example(
    demo: tuple[Page, Visit], model: Any, vocab: Any
) -> None:
    page, _ = demo
    text = example(page)
    assert text, "the panel has no data-example"
    assert_forward_equal(page, model, vocab.encode(text, errors="replace").tolist())


def assert_forward_equal(page: Page, model: Any, ids: list[int]) -> None:
    got = js_forward(page, ids)
    logits, attention = torch_forward(model, ids)
    js_logits = torch.tensor(got["logits"], dtype=torch.float64)
    js_attention = torch.tensor(got["attention"], dtype=torch.float64)
    assert js_logits.shape == logits.shape
    assert js_attention.shape == attention.shape
    logit_error = (js_logits - logits.double()).abs().max().item()
    weight_error = (js_attention - attention.double()).abs().max().item()
    assert logit_error <= TOLERANCE, f"n={len(ids)}: logits differ by {logit_error:.2e}"
    assert weight_error <= TOLERANCE, (
        f"n={len(ids)}: weights differ by {weight_error:.2e}"
    )


def test_generate_equals_greedy_decoding(
    demo: tuple[Page, Visit], model: Any, vocab: Any
) -> None:
    from selfattn import generate

    page, _ = demo
    rng = random.Random(0)
    prompts = [
        example(page),
        "Call me Ishmael. ",
        random_text(rng, list(vocab.chars), 30),
    ]
    for prompt in prompts:
        ids = vocab.encode(prompt, errors="replace")[None]  # (1, n)
        out, _ = generate.generate(model, ids, 60)  # greedy, with the KV cache
        want = vocab.decode(out[0, ids.shape[1] :])
        got = page.evaluate(
            "([t, n]) => window.selfattnLM.generate(t, n)", [prompt, 60]
        )
        assert got == want, f"prompt {prompt!r}: JS gave {got!r}, PyTorch {want!r}"


def test_forward_time_over_256_characters(
    demo: tuple[Page, Visit], vocab: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Measured and printed, never asserted: tests do not assert on time."""
    page, _ = demo
    ids = vocab.encode(random_text(random.Random(256), list(vocab.chars), 256)).tolist()
    times = page.evaluate(
        """(ids) => { const t = [];
             // Two untimed passes first: the JIT compiles the loops on these.
             for (let i = 0; i < 2; i++) window.selfattnLM.forward(ids);
             for (let i = 0; i < 7; i++) { const s = performance.now();
               window.selfattnLM.forward(ids); t.push(performance.now() - s); }
             return t.sort((a, b) => a - b); }""",
        ids,
    )
    with capsys.disabled():
        print(
            f"\n[lm-demo] forward over 256 characters in headless chromium: median "
            f"{times[len(times) // 2]:.1f} ms (min {times[0]:.1f}, max {times[-1]:.1f}, "
            f"7 runs after 2 untimed)"
        )
    assert len(times) == 7


def test_every_control_shows_a_focus_ring(demo: tuple[Page, Visit]) -> None:
    page, _ = demo
    controls = page.locator(".lm-demo [data-control]")
    missing = []
    for i in range(controls.count()):
        control = controls.nth(i)
        control.focus()
        ring = control.evaluate(
            """(el) => { const s = getComputedStyle(el);
                 return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                   || s.boxShadow !== 'none'; }"""
        )
        if not ring:
            missing.append(control.get_attribute("data-control") or f"#{i}")
    assert not missing, "controls without a visible focus ring:" + listing(missing)


def test_the_panel_shows_the_induction_head_copying(
    demo: tuple[Page, Visit], model: Any, vocab: Any
) -> None:
    """What "Things to try" promises: with a query on the `q` of the second copy of
    the example's made-up word, a layer-2 head's largest weight, as the panel draws
    it, is on the character after the first `q`."""
    page, _ = demo
    text = example(page)
    word = "vexquorblin"
    first = text.index(word)
    second = text.index(word, first + 1)
    query = second + word.index("q")
    target = first + word.index("q") + 1
    panel = page.locator(".lm-demo")
    panel.locator("[data-control=example]").click()
    panel.locator("[data-control=layer]").select_option("1")
    panel.locator("[data-control=query]").select_option(str(query))
    found = []
    for head in range(model.config.n_heads):
        panel.locator("[data-control=head]").select_option(str(head))
        weights = [
            float(w)
            for w in panel.locator(".lm-demo__cell").evaluate_all(
                "(cells) => cells.map((c) => c.dataset.weight)"
            )
        ]
        if max(range(len(weights)), key=weights.__getitem__) == target:
            found.append(head)
    assert found, (
        f"no layer-2 head's largest weight from x({query + 1}) is on x({target + 1})"
    )
