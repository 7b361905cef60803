"""How many screens a reader scrolls through on each page of a built site.

    python tests/browser/screens.py SITE_DIR [PAGE_SUBSTRING ...]

Opens each page in Debian's chromium at 1280x800 with every collapsible block
(`<details>`, Material's `???`) closed, as a page first loads, and prints the page's
height in screens: `document.documentElement.scrollHeight / 800`. A chapter's core
path is at most 8 screens (the browser test asserts it, with `CORE_SCREENS`).
"""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

# The site lays out off-screen blocks only when they come near (extra.css,
# content-visibility); a measurement of the page's height must see them all.
# (An init script may run before the root element exists: then it waits for it.)
RENDER_ALL_JS = """(() => {
  const mark = () => {
    const root = document.documentElement;
    if (root) root.setAttribute("data-render-all", "");
    return Boolean(root);
  };
  if (!mark()) {
    new MutationObserver((_, seen) => mark() && seen.disconnect()).observe(
      document, { childList: true });
  }
})()"""

# The page's closing scripts (Material's bundle, the site's own) and its panels run
# after the first paint (docs/hooks/after_paint.js); a page without that loader (the
# 404 page) is ready at once.
# a11y.js then reads, a slice at a time, which blocks scroll sideways.
AFTER_PAINT_DONE = """() => {
  const root = document.documentElement;
  if (!window.selfattnAfterPaint) return true;
  return root.getAttribute('data-after-paint') === 'done'
    && root.getAttribute('data-a11y') !== 'busy';
}"""


def wait_scripts(page: Page) -> None:
    """Wait until the page's scripts have run (they start after the first paint)."""
    page.wait_for_function(AFTER_PAINT_DONE, timeout=60_000)


WIDTH, HEIGHT = 1280, 800
CORE_SCREENS = 8.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]


def screens(page: Page) -> float:
    """The open page's height in screens of `HEIGHT` pixels, every `<details>` closed."""
    page.evaluate(
        "document.querySelectorAll('details[open]').forEach(d => d.open = false)"
    )
    height = page.evaluate("document.documentElement.scrollHeight")
    return float(height) / HEIGHT


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str]) -> int:
    site = Path(argv[0]).resolve()
    wanted = argv[1:]
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    pages = sorted(
        p.parent.relative_to(site).as_posix()
        for p in site.rglob("index.html")
        if p.relative_to(site).parts[0] not in {"assets", "search", "downloads"}
    )
    pages = [p for p in pages if not wanted or any(w in p for w in wanted)]
    over = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        # Every block laid out at its real height (extra.css defers off-screen ones).
        page.add_init_script(RENDER_ALL_JS)
        for rel in pages:
            url = f"http://127.0.0.1:{port}/{'' if rel == '.' else rel + '/'}"
            page.goto(url, wait_until="load")
            wait_scripts(page)
            n = screens(page)
            flag = "  OVER" if n > CORE_SCREENS else ""
            over += n > CORE_SCREENS
            print(f"{n:6.1f}  {rel or '.'}{flag}")
        browser.close()
    httpd.shutdown()
    print(f"{over} page(s) over {CORE_SCREENS:g} screens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
