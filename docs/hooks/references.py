"""Gather every chapter's `## References` into one generated page, the bibliography.

Each chapter ends with a section titled exactly `## References`: a bullet list, one
source per bullet, in the form

    - Authors (Year). *Title*. Venue or version. What this chapter takes from it.

At build time this hook reads those sections from the pages' Markdown, in the order
of the navigation, and writes `references.md` (it is not a file in docs/): first
every source once, sorted by author and year, with links to the chapters that cite
it; then each chapter's list as the chapter has it, with a link back. A bullet that
does not follow the form is shown as written (tests/test_site_hooks.py checks the
form on every chapter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "references.md"
HEADING = "## References"
SOURCE = re.compile(
    r"^(?P<authors>.+?) \((?P<year>\d{4}[a-z]?|n\.d\.)\)\. \*(?P<title>.+?)\*[.,]?"
    r"(?:\s+(?P<rest>.*))?$",
    re.S,
)
FIRST_SURNAME = re.compile(r"[A-Za-zÀ-ÿ'\-]+")


@dataclass
class Source:
    """One bullet of a References section."""

    text: str  # the bullet as written, without its "- "
    authors: str = ""
    year: str = ""
    title: str = ""
    venue: str = ""  # the first sentence after the title
    note: str = ""  # what the chapter takes from it

    @property
    def key(self) -> tuple[str, str, str]:
        """Two chapters citing the same work share this: surname, year, title."""
        surname = FIRST_SURNAME.search(self.authors)
        title = re.sub(r"\W+", " ", self.title).strip().lower()
        return (surname.group(0).lower() if surname else self.text, self.year, title)

    @property
    def entry(self) -> str:
        """The source without this chapter's note: authors, year, title, venue."""
        if not self.title:
            return self.text
        venue = f" {self.venue}" if self.venue else ""
        return f"{self.authors} ({self.year}). *{self.title}*.{venue}"


@dataclass
class Chapter:
    title: str
    path: str  # relative to docs/
    sources: list[Source] = field(default_factory=list)


def parse_source(text: str) -> Source:
    text = " ".join(text.split())
    match = SOURCE.match(text)
    if not match:
        return Source(text)
    rest = match["rest"] or ""
    # The venue is the first sentence after the title: up to ". " before a capital.
    split = re.search(r"\.\s+(?=[A-Z`*(])", rest)
    venue, note = (
        (rest[: split.start() + 1], rest[split.end() :]) if split else (rest, "")
    )
    return Source(
        text, match["authors"], match["year"], match["title"], venue.strip(), note
    )


def references_section(markdown: str) -> list[str] | None:
    """The bullets under `## References` (continuation lines joined), or None when
    the page has no such section. The section ends at the next heading of level 1 or
    2, or at the end of the page."""
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == HEADING)
    except StopIteration:
        return None
    bullets: list[str] = []
    for line in lines[start + 1 :]:
        if re.match(r"#{1,2} ", line):
            break
        if line.startswith("- "):
            bullets.append(line[2:].strip())
        elif bullets and line.startswith("  ") and line.strip():
            bullets[-1] += " " + line.strip()
    return bullets


def nav_pages(nav: Any) -> Iterator[tuple[str, str]]:
    """(title, path) of every Markdown page in the navigation, in order."""
    for item in nav or []:
        if isinstance(item, dict):
            for title, value in item.items():
                if isinstance(value, str):
                    if value.endswith(".md"):
                        yield str(title), value
                else:
                    yield from nav_pages(value)
        elif isinstance(item, str) and item.endswith(".md"):
            yield Path(item).stem, item


def chapters(config: MkDocsConfig) -> list[Chapter]:
    """Every page of the navigation that has a References section, in nav order."""
    found = []
    for title, path in nav_pages(config.nav):
        file = Path(config.docs_dir, path)
        if path == PAGE or not file.is_file():
            continue
        bullets = references_section(file.read_text(encoding="utf-8"))
        if bullets:
            found.append(Chapter(title, path, [parse_source(b) for b in bullets]))
    return found


def bibliography(found: list[Chapter]) -> str:
    """The Markdown of the bibliography page."""
    merged: dict[tuple[str, str, str], tuple[Source, list[Chapter]]] = {}
    for chapter in found:
        for source in chapter.sources:
            _, cited = merged.setdefault(source.key, (source, []))
            if chapter not in cited:
                cited.append(chapter)
    lines = [
        "---",
        "description: Every source the chapters of selfattn cite, once each, and "
        "each chapter's references with what it takes from them.",
        "---",
        "",
        "# Bibliography",
        "",
        "Every source the chapters cite, gathered from the `References` section at "
        "the end of each chapter when the site is built. First each source once, "
        "with the chapters that use it; then each chapter's list, with what that "
        "chapter takes from each source.",
        "",
        "## Every source",
        "",
    ]
    for key in sorted(merged):
        source, cited = merged[key]
        links = ", ".join(f"[{c.title}]({c.path}#references)" for c in cited)
        lines.append(f"- {source.entry} Cited in: {links}.")
    lines += ["", "## By chapter", ""]
    for chapter in found:
        lines += [f"### [{chapter.title}]({chapter.path}#references)", ""]
        lines += [f"- {source.text}" for source in chapter.sources]
        lines.append("")
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    content = bibliography(chapters(config))
    existing = files.get_file_from_path(PAGE)
    if existing is not None:
        files.remove(existing)
    files.append(File.generated(config, PAGE, content=content))
    return files
