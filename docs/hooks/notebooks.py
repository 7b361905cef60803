"""Turn each companion notebook (jupytext percent-format ``docs/notebooks/*.py``) into a
``.ipynb`` page that mkdocs-jupyter executes, renders and offers for download.

The ``.py`` files are what we edit and review; the ``.ipynb`` files exist only in the
build (written under ``.cache/notebooks/``), so a committed notebook can never hold
stale outputs.

A downloaded notebook runs anywhere with Python and pip: the build ships a wheel of
selfattn with the site (``downloads/selfattn-<version>-py3-none-any.whl``, built here
from the working tree, without the network), and puts in front of every notebook a
first cell that installs that wheel from the site's address (``site_url``), unless
selfattn is importable already (as it is while the site is built).

A code cell line ``# --8<-- "selfattn/mod.py:section"`` is replaced by that section of
the file, as on the pages, so a notebook shows an exercise's solution without
retyping it; a missing file or section fails the build.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

import selfattn

INCLUDE = re.compile(r"""^# -+8<-+ "([^":]+):([^"]+)"$""", re.M)


def expand_snippets(source: str, root: Path) -> str:
    """Replace each ``# --8<-- "path:section"`` line with the section's code."""

    def section(match: re.Match[str]) -> str:
        path, name = match.group(1), match.group(2)
        text = (root / path).read_text()
        found = re.search(
            rf"^[ \t]*# --8<-- \[start:{re.escape(name)}\]\n(.*?)"
            rf"^[ \t]*# --8<-- \[end:{re.escape(name)}\]",
            text,
            flags=re.S | re.M,
        )
        if found is None:
            raise ValueError(f"notebook includes {path}:{name}, which does not exist")
        return textwrap.dedent(found.group(1)).strip("\n")

    return INCLUDE.sub(section, source)


@event_priority(
    100
)  # before mkdocs-jupyter's on_files, which picks up the .ipynb files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    docs = Path(config.docs_dir)
    root = docs.parent / ".cache" / "notebooks"  # plays the docs_dir of these files
    out = root / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    for source in sorted((docs / "notebooks").glob("*.py")):
        notebook = jupytext.read(source, fmt="py:percent")
        notebook.cells.insert(0, install_cell(config.site_url))
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.source = expand_snippets(cell.source, docs.parent)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        target = out / f"{source.stem}.ipynb"
        jupytext.write(notebook, target, fmt="ipynb")
        # A File with a src_dir (not File.generated): mkdocs-jupyter's wrapper finds
        # the source path through src_dir.
        files.append(
            File(
                f"notebooks/{target.name}",
                src_dir=str(root),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


WHEEL = f"selfattn-{selfattn.__version__}-py3-none-any.whl"


def install_cell(site_url: str | None) -> NotebookNode:
    """The first cell of every notebook: install selfattn from the site's wheel."""
    check = (
        "# This notebook runs on selfattn and torch, and draws with matplotlib:\n"
        "# the selfattn[notebooks] wheel brings all three.\n"
        "import importlib.util\n"
        "\n"
        'needed = ("selfattn", "matplotlib")\n'
        "if any(importlib.util.find_spec(name) is None for name in needed):\n"
    )
    if site_url:
        url = f"{site_url.rstrip('/')}/downloads/{WHEEL}"
        body = f'    %pip install "selfattn[notebooks] @ {url}"'
    else:  # the build did not know where the site will live
        body = (
            "    raise ModuleNotFoundError(\n"
            '        "This notebook needs selfattn: download "\n'
            f'        "{WHEEL} from the downloads/ folder of the "\n'
            '        "site this notebook came from, then run "\n'
            f"        \"%pip install '{WHEEL}[notebooks]'\"\n"
            "    )"
        )
    cell = new_code_cell(check + body)
    cell.id = "install-selfattn"  # a fixed id: the same notebook on every build
    cell.metadata["selfattn"] = {"install": True, "site_url": site_url or None}
    return cell


def on_post_build(config: MkDocsConfig) -> None:
    """Put the wheel of the working tree's selfattn under the site's downloads/."""
    root = Path(config.config_file_path).parent
    sources = [*sorted((root / "selfattn").rglob("*.py")), root / "pyproject.toml"]
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    cache = root / ".cache" / "wheel" / digest.hexdigest()[:16]
    if not (cache / WHEEL).is_file():  # mkdocs serve rebuilds often: build once
        shutil.rmtree(cache, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
        command += ["--no-build-isolation", "--no-index", "--quiet"]
        command += ["--wheel-dir", str(cache), str(root)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode or not (cache / WHEEL).is_file():
            raise RuntimeError(
                f"building {WHEEL} failed (needs setuptools in the docs environment):"
                f"\n{done.stdout}{done.stderr}"
            )
    downloads = Path(config.site_dir) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    shutil.copy2(cache / WHEEL, downloads / WHEEL)
