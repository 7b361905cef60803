"""Serve a built site on 127.0.0.1 and drive Debian's chromium over it with Playwright.

The site folder is ``--site-dir``, else ``$SELFATTN_SITE_DIR``, else ``site/`` at the
repository root (what ``mkdocs build`` writes). Every HTML page under it becomes one
test id per check, so a red test names the page and the check.

Nothing here downloads a browser: we launch /usr/bin/chromium (``apt-get install
chromium``). Without it, or without axe-core (``npm ci``), the tests skip with the
reason, except where the ``CI`` variable is set: there they fail, so CI cannot pass
by skipping.
"""

from __future__ import annotations

import functools
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    # A second fence behind the request router: no host name resolves, so a request
    # that somehow bypassed the router still cannot reach the network.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
# Folders of a Material build that hold assets, not pages.
NOT_PAGES = {"assets", "search", "javascripts", "stylesheets", "vendor"}
# The 404 page is visited the way a reader meets it: at a missing, nested address.
MISSING_PAGE = "no-such-page/nested/"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--site-dir",
        default=os.environ.get("SELFATTN_SITE_DIR") or str(ROOT / "site"),
        help="the built site to test (default: $SELFATTN_SITE_DIR or site/)",
    )


def skip_or_fail(reason: str) -> None:
    """Skip with the reason on a developer's machine; fail in CI, which may not skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test may not skip)")
    pytest.skip(reason)


def site_dir_of(config: pytest.Config) -> Path:
    return Path(str(config.getoption("--site-dir"))).resolve()


def discover_pages(site: Path) -> list[str]:
    """Every page of the built site as a path relative to its root ("" for home)."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site)
        if rel.parts[0] in NOT_PAGES:
            continue
        if rel.name == "index.html":
            pages.append("/".join(rel.parts[:-1]) + ("/" if len(rel.parts) > 1 else ""))
        else:
            pages.append(rel.as_posix())
    return pages


def site_url(site: Path) -> str:
    """The address the site was built for (mkdocs' site_url), read from its sitemap:
    the shortest <loc> is the home page. "/" where there is no sitemap."""
    sitemap = site / "sitemap.xml"
    if not sitemap.is_file():
        return "/"
    locs = [
        el.text.strip()
        for el in ET.parse(sitemap).iter()
        if el.tag.endswith("loc") and el.text
    ]
    if not locs:
        return "/"
    home = min(locs, key=len)
    return home if home.endswith("/") else home + "/"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page" not in metafunc.fixturenames:
        return
    site = site_dir_of(metafunc.config)
    pages = discover_pages(site) if site.is_dir() else []
    # With no site, one placeholder id whose fixture fails with the reason.
    metafunc.parametrize("page", pages or ["<no site>"])


@pytest.fixture(scope="session")
def site_dir(pytestconfig: pytest.Config) -> Path:
    site = site_dir_of(pytestconfig)
    if not (site / "index.html").is_file():
        pytest.fail(
            f"no built site at {site} (no index.html): build it with `nox -s docs` "
            "or point --site-dir / SELFATTN_SITE_DIR at one"
        )
    return site


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files of the site under ``prefix``; the site's own 404 page for misses.

    The site is served under the path it was built for (site_url's path): a 404 page
    built for https://host/project/ loads /project/assets/... . Its sitemap is served
    with site_url's origin replaced by ours, since Material's instant navigation only
    intercepts links to the addresses the sitemap lists.
    """

    prefix = "/"
    built_for = "/"  # site_url, as the sitemap spells it
    served_at = "/"  # our address for it, http://127.0.0.1:PORT/PREFIX
    timeout = 10  # seconds a stalled connection may hold a server thread

    def do_GET(self) -> None:
        if not urlsplit(self.path).path.endswith("/sitemap.xml"):
            super().do_GET()
            return
        file = Path(self.translate_path(self.path))
        if not file.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        text = file.read_text(encoding="utf-8")
        body = text.replace(self.built_for, self.served_at).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def translate_path(self, path: str) -> str:
        url_path = urlsplit(path).path
        if not url_path.startswith(self.prefix):
            return os.path.join(self.directory, "\0outside-the-site")
        return super().translate_path("/" + url_path[len(self.prefix) :])

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        page = Path(self.directory) / "404.html"
        if code != HTTPStatus.NOT_FOUND or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per request would bury pytest's report


@pytest.fixture(scope="session")
def base_url(site_dir: Path) -> Iterator[str]:
    """Serve the site on 127.0.0.1 at a free port for the session, then stop."""
    built_for = site_url(site_dir)
    prefix = urlsplit(built_for).path or "/"

    class Handler(SiteHandler):
        pass

    Handler.prefix, Handler.built_for = prefix, built_for
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site_dir))
    )
    server.daemon_threads = True
    Handler.served_at = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler.served_at
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def axe_js() -> Path:
    if not AXE_JS.is_file():
        skip_or_fail(f"axe-core is not installed at {AXE_JS}: run `npm ci`")
    return AXE_JS


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is missing: install it with `apt-get install chromium`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
