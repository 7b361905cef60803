"""Turn each companion notebook (jupytext percent-format ``docs/notebooks/*.py``) into a
``.ipynb`` page that mkdocs-jupyter executes, renders and offers for download.

The ``.py`` files are what we edit and review; the ``.ipynb`` files exist only in the
build (written under ``.cache/notebooks/``), so a committed notebook can never hold
stale outputs.

A code cell line ``# --8<-- "selfattn/mod.py:section"`` is replaced by that section of
the file, as on the pages, so a notebook shows an exercise's solution without
retyping it; a missing file or section fails the build.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import jupytext
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

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
