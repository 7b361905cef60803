"""Lighthouse on the built site, served gzip-compressed as a static host serves it.

    python tests/browser/lighthouse_table.py SITE_DIR [PAGE ...] [--all] [--runs N]
        [--cpu-slowdown F] [--json OUT.json]

Runs npm's ``lighthouse`` (pinned in package.json; ``npm ci`` installs it) in its
default mode, a simulated mid-range phone on a slow 4G link, against Debian's
chromium (``CHROME_PATH``, default /usr/bin/chromium; no browser is downloaded), one
page at a time, and prints a Markdown table: the four category scores (performance
as the median of ``--runs N`` runs), the largest contentful paint (LCP), the total
blocking time (TBT), Lighthouse's CPU benchmark index during the run, the machine
(CPU model and cores) and the date, then the load average at the start and the end
of the run. Pages are paths relative to the site's root; the default is a
representative list (the home page, the Part I and Part II chapters with the most math
and figures, a notebook page), ``--all`` every page. ``--cpu-slowdown F`` replaces
Lighthouse's CPU slowdown (4): a faster host simulates a faster phone, and a larger
factor brings it back. Nothing here asserts a score: the numbers depend on the
machine's load.
``nox -s lighthouse`` builds the site (or takes ``SELFATTN_SITE_DIR``) and runs this.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import (  # noqa: E402
    SiteHandler,
    discover_pages,
    site_url,
)

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
REPRESENTATIVE = [
    "",
    "step-by-step/",
    "all-at-once/",
    "causal-attention/",
    "efficient-attention/",
    "notebooks/step_by_step/",
]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
# What a static host (GitHub Pages, Netlify, nginx's gzip_types) compresses.
COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
)


class GzipHandler(SiteHandler):
    """The site's files, gzip-compressed when the browser accepts it."""

    cache: ClassVar[dict[Path, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not urlsplit(self.path).path.endswith("/"):
                super().do_GET()  # the redirect to the slash-ended address
                return
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        ctype = self.guess_type(str(path))
        if not (accepts and path.is_file() and ctype.startswith(COMPRESSIBLE)):
            super().do_GET()
            return
        if path not in self.cache:
            self.cache[path] = gzip.compress(path.read_bytes(), compresslevel=6)
        body = self.cache[path]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")  # what GitHub Pages sends
        self.end_headers()
        self.wfile.write(body)


def serve(site: Path) -> tuple[ThreadingHTTPServer, str]:
    built_for = site_url(site)
    prefix = urlsplit(built_for).path or "/"

    class Handler(GzipHandler):
        pass

    Handler.prefix, Handler.built_for = prefix, built_for
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    server.daemon_threads = True
    Handler.served_at = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Handler.served_at


def run_lighthouse(
    url: str, chrome: str, keep: Path | None = None, cpu_slowdown: float | None = None
) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as tmp:
        name = (urlsplit(url).path.strip("/").replace("/", "_") or "home") + ".json"
        report = (keep or Path(tmp)) / name
        command = [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ]
        if cpu_slowdown is not None:
            command.append(f"--throttling.cpuSlowdownMultiplier={cpu_slowdown:g}")
        env = {**os.environ, "CHROME_PATH": chrome}
        subprocess.run(command, check=True, env=env, timeout=300)
        data = json.loads(report.read_text())
    row: dict[str, float | None] = {}
    for name in CATEGORIES:
        score = data["categories"][name]["score"]
        row[name] = None if score is None else round(100 * score)
    audits = data["audits"]
    row["lcp_s"] = audits["largest-contentful-paint"]["numericValue"] / 1000
    row["tbt_ms"] = audits["total-blocking-time"]["numericValue"]
    # Lighthouse's measure of the CPU's speed during the run (higher is faster): on a
    # shared virtual machine it moves between runs, and the score moves with it.
    row["cpu_index"] = data.get("environment", {}).get("benchmarkIndex")
    return row


def median_row(runs: list[dict[str, float | None]]) -> dict[str, float | None]:
    """The run with the median performance score (Lighthouse's advice for noisy
    machines: several runs, then the median), so a row's numbers belong together."""
    ranked = sorted(runs, key=lambda r: r["performance"] or 0)
    return ranked[len(ranked) // 2]


def machine() -> str:
    """The CPU model and the number of cores the run had."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    return f"{model}, {os.cpu_count()} cores"


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def table(
    rows: dict[str, dict[str, float | None]],
    runs: int,
    date: str,
    cpu_slowdown: float | None = None,
) -> str:
    perf = f"perf (median of {runs})"
    if cpu_slowdown is not None:
        perf += f", CPU {cpu_slowdown:g}x slower"
    head = (
        f"| page | {perf} | a11y | best pr. | SEO | LCP | TBT | "
        "CPU index | machine | date |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    where = machine()
    for page, r in rows.items():
        scores = [r[c] for c in CATEGORIES]
        cells = ["-" if s is None else f"{s:.0f}" for s in scores]
        cpu = "-" if r.get("cpu_index") is None else f"{r['cpu_index']:.0f}"
        lines.append(
            f"| {page or '(home)'} | {' | '.join(cells)} | "
            f"{r['lcp_s']:.1f} s | {r['tbt_ms']:.0f} ms | {cpu} | {where} | {date} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("pages", nargs="*", help="default: a representative list")
    parser.add_argument("--all", action="store_true", help="every page of the site")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--keep", type=Path, help="keep each page's full report here")
    parser.add_argument(
        "--runs", type=int, default=1, help="runs per page; the table shows the median"
    )
    parser.add_argument(
        "--cpu-slowdown",
        type=float,
        help=(
            "Lighthouse's simulated CPU slowdown (its default is 4): on a host faster "
            "than the one Lighthouse assumes, a larger factor stands in for a slower "
            "machine (e.g. 6 on a host whose CPU index is 3,000 gives the phone a "
            "host of index 2,000 would)"
        ),
    )
    args = parser.parse_args()
    if args.cpu_slowdown is not None and not 1 <= args.cpu_slowdown < math.inf:
        parser.error(
            f"--cpu-slowdown: expected a finite factor >= 1, got {args.cpu_slowdown}"
        )
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not LIGHTHOUSE.exists():
        parser.error(f"{LIGHTHOUSE} is missing: run `npm ci`")
    if not Path(chrome).exists():
        parser.error(f"{chrome} is missing: `apt-get install chromium`")
    site = args.site.resolve()
    every = [p for p in discover_pages(site) if p != "404.html"]
    pages = every if args.all else (args.pages or REPRESENTATIVE)
    missing = [p for p in pages if p not in every]
    if missing:
        parser.error(f"not pages of {site}: {missing}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    server, base = serve(site)
    rows = {}
    date = datetime.date.today().isoformat()
    load_at_start = load()
    try:
        for page in pages:
            runs = [
                run_lighthouse(
                    urljoin(base, page), chrome, args.keep, args.cpu_slowdown
                )
                for _ in range(args.runs)
            ]
            rows[page] = median_row(runs)
            print(f"{page or '(home)'}: {rows[page]}", file=sys.stderr, flush=True)
    finally:
        server.shutdown()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows, args.runs, date, args.cpu_slowdown))
    print(
        f"\nLoad average (1, 5, 15 min) at the start: {load_at_start}; "
        f"at the end: {load()}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
