"""Run every page's Python code blocks, in page order, as a reader who copies them would.

Usage: ``python -I docs/scripts/run_page_code.py SITE_DIR`` (``nox -s snippets``).

For each built page, the text of each ``language-python`` code block (what the copy
button copies) is joined in page order and run in a fresh interpreter (``-I``: no
PYTHONPATH, no user site, not the current directory) in an empty directory, so a
snippet can only use what the environment has installed: selfattn and torch.
Blocks marked ``.no-run`` (test code that needs the test suite's fixtures, run by
pytest instead) and the API reference's signatures are skipped. Standard library only.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BLOCK = re.compile(
    r'<div class="(?P<cls>language-python [^"]*)">.*?<code>(?P<code>.*?)</code>',
    re.S,
)
TAG = re.compile(r"<[^>]+>")


def page_code(page: Path) -> list[str]:
    """The Python blocks of one built page, as plain text, in order."""
    blocks = []
    for match in BLOCK.finditer(page.read_text(encoding="utf-8")):
        if {"no-run", "doc-signature"} & set(match["cls"].split()):
            continue
        blocks.append(html.unescape(TAG.sub("", match["code"])))
    return blocks


def main(site: Path) -> int:
    pages = sorted(site.rglob("index.html"))
    if not pages:
        print(f"no built pages under {site}/: run `nox -s docs` first", file=sys.stderr)
        return 2
    failures, ran = 0, 0
    with tempfile.TemporaryDirectory() as empty:
        for page in pages:
            blocks = page_code(page)
            if not blocks:
                continue
            ran += 1
            name = page.parent.relative_to(site).as_posix().replace(".", "(home)")
            program = "\n\n".join(blocks)
            result = subprocess.run(
                [sys.executable, "-I", "-c", program],
                cwd=empty,
                capture_output=True,
                text=True,
                timeout=300,
            )
            status = "ok" if result.returncode == 0 else "FAILED"
            print(f"{status:6} {name}: {len(blocks)} block(s)")
            if result.returncode != 0:
                failures += 1
                print(result.stderr, file=sys.stderr)
    print(f"{ran} page(s) with Python code, {failures} failed")
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "site")))
