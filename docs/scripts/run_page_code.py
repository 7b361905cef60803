"""Run each page's Python code as a reader who copies it would, and compare what it
prints with what the page shows.

Usage::

    python -I docs/scripts/run_page_code.py SITE_DIR [--venv DIR] [PAGE ...]

For each built page, the text of each ``language-python`` code block (what the copy
button copies) is joined in page order into one file, ``page.py``, in a temporary
directory outside the repository, and run there with ``python -I`` (no PYTHONPATH,
no user site, not the current directory). With ``--venv DIR`` (what ``nox -s
snippets`` passes) that is the Python of a virtualenv holding only torch, pinned by
constraints.txt, and the wheel the site ships (``SITE_DIR/downloads/*.whl``): the
virtualenv is created once and reused, and the wheel is reinstalled on every run.

Each page fails, with its name and the block's number, when:

- its code raises (the traceback is printed);
- a block prints something other than the output the page shows right after it
  (markdown-exec's ``result="text"`` block: compared line by line, a diff is
  printed; output rendered as Markdown: its words must appear, in order, before the
  next code block);
- a method stands alone at column 0 (``def name(self, ...)`` outside its class:
  copied, it is a free function and the class lacks it);
- the page shows a function or class and a later block imports selfattn's copy of
  the same name, so the page's own copy never runs.

Blocks marked ``.no-run`` (test code that needs the test suite's fixtures, run by
pytest instead) and the API reference's signatures are skipped. Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import html
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# A code block of the page, and what follows it up to the next tag that opens a block.
BLOCK = re.compile(
    r'<div class="(?P<cls>language-(?P<lang>[\w-]+) [^"]*)">\s*<pre>.*?<code>'
    r"(?P<code>.*?)</code></pre></div>",
    re.S,
)
TAG = re.compile(r"<[^>]+>")
# Marks each block's end in the output: the record separator, the block's number.
MARK = "\x1e{}\x1e"
MARK_LINE = re.compile(r"\n?\x1e(\d+)\x1e\n")
METHOD_AT_COLUMN_0 = re.compile(r"^(?:async\s+)?def\s+(\w+)\(\s*(?:self|cls)\b", re.M)
SKIP_CLASSES = {"no-run", "doc-signature"}
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Block:
    code: str
    shown: str | None = None  # the text output block right after it, if any
    after: str = ""  # the page's text between this block and the next code block


@dataclass
class Report:
    page: str
    problems: list[str] = field(default_factory=list)


def text_of(fragment: str) -> str:
    return html.unescape(TAG.sub("", fragment))


def page_blocks(source: str) -> list[Block]:
    """The runnable Python blocks of one built page, in order, each with the output
    the page shows after it."""
    found = list(BLOCK.finditer(source))
    blocks: list[Block] = []
    for k, match in enumerate(found):
        if match["lang"] != "python" or SKIP_CLASSES & set(match["cls"].split()):
            continue
        block = Block(text_of(match["code"]))
        nxt = found[k + 1] if k + 1 < len(found) else None
        if (
            nxt is not None
            and nxt["lang"] == "text"
            and not source[match.end() : nxt.start()].strip()
        ):
            block.shown = text_of(nxt["code"])
        else:
            stop = next(
                (m.start() for m in found[k + 1 :] if m["lang"] == "python"),
                len(source),
            )
            block.after = html.unescape(TAG.sub(" ", source[match.end() : stop]))
        blocks.append(block)
    return blocks


def program(blocks: list[Block], marks: bool) -> str:
    """The blocks joined as a reader's file; with ``marks``, each block's end prints a
    marker, so that the output can be cut into what each block printed."""
    parts = []
    for k, block in enumerate(blocks):
        parts.append(block.code.rstrip("\n"))
        if marks:
            parts.append(f"print({MARK.format(k)!r}, flush=True)")
    return "\n\n".join(parts) + "\n"


# A line that calls selfattn's copy of a name the page shows, deliberately (e.g. to
# show the package's argument checks), says so with this comment.
ON_PURPOSE = "# the package's copy, on purpose"


def static_problems(blocks: list[Block]) -> list[str]:
    """Methods alone at column 0; names the page defines and then imports from
    selfattn, so that the page's own definition never runs."""
    problems = []
    defined: dict[str, int] = {}
    modules: set[str] = set()
    for k, block in enumerate(blocks, start=1):
        for name in METHOD_AT_COLUMN_0.findall(block.code):
            problems.append(
                f"block {k}: method `{name}` stands alone at column 0: copied, it is "
                "a free function, not part of its class (show the class whole)"
            )
        try:
            tree = ast.parse(block.code)
        except SyntaxError as error:
            problems.append(f"block {k}: not valid Python on its own: {error}")
            continue
        for node in ast.walk(tree):
            taken: list[str] = []
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] == "selfattn"
            ):
                taken = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules.update(
                    alias.asname or alias.name
                    for alias in node.names
                    if alias.name.split(".")[0] == "selfattn"
                )
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
            ):
                taken = [node.attr]
            line = getattr(node, "lineno", 0)
            if taken and ON_PURPOSE in block.code.splitlines()[line - 1]:
                taken = []  # the page says it calls the package's copy, and why
            for name in taken:
                if name in defined:
                    problems.append(
                        f"block {k}: uses selfattn's `{name}`, which the page shows in "
                        f"block {defined[name]}: the page's own copy never runs"
                    )
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.setdefault(node.name, k)
    return problems


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def words(text: str) -> list[str]:
    """Text as a reader sees it once Markdown is rendered: no emphasis, table rules
    or heading marks, one space between words."""
    text = re.sub(r"[*`|#]|:?-{3,}:?", " ", text)
    return text.split()


def output_problems(blocks: list[Block], printed: dict[int, str]) -> list[str]:
    problems = []
    for k, block in enumerate(blocks):
        got = printed.get(k, "")
        first = next((ln for ln in block.code.splitlines() if ln.strip()), "")
        where = f"block {k + 1} (`{first.strip()[:60]}`)"
        if block.shown is not None:
            if lines(got) != lines(block.shown):
                diff = difflib.unified_diff(
                    lines(block.shown),
                    lines(got),
                    "the page shows",
                    "the copied code prints",
                    lineterm="",
                    n=1,
                )
                problems.append(f"{where}: output differs\n    " + "\n    ".join(diff))
        elif got.strip():
            want, have = " ".join(words(got)), " ".join(words(block.after))
            if want not in have:
                problems.append(
                    f"{where}: prints text the page does not show after it:\n    "
                    + got.strip()[:400].replace("\n", "\n    ")
                )
    return problems


def run_page(name: str, blocks: list[Block], python: str, workdir: Path) -> Report:
    report = Report(name, static_problems(blocks))
    (workdir / "page.py").write_text(program(blocks, marks=False), encoding="utf-8")
    marked = workdir / "page_marked.py"
    marked.write_text(program(blocks, marks=True), encoding="utf-8")
    try:
        result = subprocess.run(
            [python, "-I", str(marked)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
    except subprocess.TimeoutExpired:
        report.problems.append("did not finish in 600 s")
        return report
    pieces = MARK_LINE.split(result.stdout)
    printed = {int(pieces[i]): pieces[i - 1] for i in range(1, len(pieces), 2)}
    if result.returncode != 0:
        done = max(printed, default=-1) + 1
        report.problems.append(
            f"block {done + 1} of {len(blocks)} raised:\n    "
            + result.stderr.strip().replace("\n", "\n    ")
        )
        blocks = blocks[:done]
    report.problems += output_problems(blocks, printed)
    return report


def reader_venv(venv: Path, site: Path) -> str:
    """The Python of ``venv``: created once with torch (constraints.txt's pin), and
    with the site's wheel reinstalled now."""
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    has_torch = subprocess.run(
        [str(python), "-I", "-c", "import torch"], capture_output=True, check=False
    )
    if has_torch.returncode != 0:
        subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), "torch"], check=True)
    wheels = sorted((site / "downloads").glob("selfattn-*.whl"))
    if not wheels:
        raise SystemExit(f"no selfattn wheel in {site}/downloads: build the site first")
    subprocess.run(
        [*pip, "--no-deps", "--force-reinstall", str(wheels[-1])], check=True
    )
    return str(python)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("site"))
    parser.add_argument("pages", nargs="*", help="only pages whose path contains one")
    parser.add_argument("--venv", type=Path, help="the reader's virtualenv (reused)")
    args = parser.parse_args(argv)
    site: Path = args.site.resolve()
    pages = sorted(site.rglob("index.html"))
    if not pages:
        print(f"no built pages under {site}/: run `nox -s docs` first", file=sys.stderr)
        return 2
    python = reader_venv(args.venv.resolve(), site) if args.venv else sys.executable
    failed: list[Report] = []
    ran = 0
    with tempfile.TemporaryDirectory(prefix="selfattn-copy-") as tmp:
        where = subprocess.run(
            [python, "-I", "-c", "import selfattn; print(selfattn.__file__)"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if args.venv and not where.startswith(str(args.venv.resolve())):
            print(f"selfattn is imported from {where!r}, not the venv", file=sys.stderr)
            return 2
        for page in pages:
            name = page.parent.relative_to(site).as_posix()
            name = "(home)" if name == "." else name
            if args.pages and not any(p in name for p in args.pages):
                continue
            blocks = page_blocks(page.read_text(encoding="utf-8"))
            if not blocks:
                continue
            ran += 1
            workdir = Path(tmp, name.replace("/", "_"))
            workdir.mkdir()
            report = run_page(name, blocks, python, workdir)
            status = "FAILED" if report.problems else "ok"
            print(f"{status:6} {name}: {len(blocks)} block(s)", flush=True)
            if report.problems:
                failed.append(report)
    for report in failed:
        print(f"\n=== {report.page}: the copied code fails ({len(report.problems)})")
        for problem in report.problems:
            print(f"  - {problem}")
    print(f"\n{ran} page(s) with Python code, {len(failed)} failed")
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
