"""Claims that check themselves: every sentence on a page that says something about the
numbers ("X attends most to Y", "almost even", "within 2x of SDPA") is registered with a
check that computes it, so that a change in the code or the data that makes the
sentence false turns this test red.

Each page ``docs/NAME.md`` may have a module ``tests/claims/NAME.py`` (dashes become
underscores) with

- ``CLAIMS``: a list of :class:`Claim`: a phrase that must appear on the page verbatim
  (after the Markdown emphasis is stripped and whitespace collapsed) and a function
  that raises ``AssertionError`` when the phrase is no longer true;
- ``NOT_CLAIMS`` (optional): phrases that contain a claim word but state no fact about
  the numbers, each with the reason, e.g. ``{"the most common choice": "a usage fact"}``.

Every sentence of a page that contains a claim word (:data:`CLAIM_WORDS`) must contain
a registered claim's phrase or a ``NOT_CLAIMS`` phrase; a new qualitative sentence that
nobody checks fails :func:`test_every_qualitative_sentence_is_registered`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

# Words that usually carry a claim about the numbers on these pages.
CLAIM_WORDS = re.compile(
    r"\b(most|least|largest|smallest|highest|lowest|almost|nearly|close to|closer|"
    r"within|faster|slower|roughly|approximately|about \d|even(ly)?|uniform|"
    r"dominat\w*|beats?|wins?|negligible|tiny|small(er)?|large(r)?|"
    r"\d+(\.\d+)?\s?(x|\u00d7)(?=\W)|times (faster|slower|more|less|as|the))\b",
    re.I,
)


@dataclass(frozen=True)
class Claim:
    """A phrase on a page and the check that keeps it true."""

    text: str
    check: Callable[[], None]


def normalise(text: str) -> str:
    """Markdown prose as a reader sees it: no emphasis marks, one space between words."""
    text = re.sub(r"[*_`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def prose(markdown: str) -> str:
    """The page's prose: fenced code, math, HTML comments, front matter, snippet lines,
    image and link targets removed."""
    text = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)
    text = re.sub(r"^(\s*)(`{3,}|~{3,}).*?^\1\2\s*$", "", text, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^\s*-+8<-+.*$", "", text, flags=re.M)
    text = re.sub(r"^\s*(!!!|\?\?\?\+?|===)\s.*$", "", text, flags=re.M)
    return text


def sentences(text: str) -> list[str]:
    """The prose split into sentences; a heading, a list item, a table row and a blank
    line each end one."""
    blocks = re.split(r"\n\s*\n|\n(?=\s*(#|[-*+] |\d+\. |\|))|\n\s*\|", text)
    found = []
    for block in blocks:
        if not block or not block.strip():
            continue
        block = normalise(block)
        found += [s for s in re.split(r"(?<=[.!?:;])\s+(?=[A-Z(\"'])", block) if s]
    return found


def claims_module(page: Path) -> ModuleType | None:
    name = page.stem.replace("-", "_")
    if not (ROOT / "tests" / "claims" / f"{name}.py").is_file():
        return None
    return importlib.import_module(f"tests.claims.{name}")


def registered(page: Path) -> tuple[list[Claim], dict[str, str]]:
    module = claims_module(page)
    if module is None:
        return [], {}
    return list(getattr(module, "CLAIMS", [])), dict(getattr(module, "NOT_CLAIMS", {}))


ALL_CLAIMS = [
    pytest.param(page, claim, id=f"{page.stem}: {claim.text[:60]}")
    for page in PAGES
    for claim in registered(page)[0]
]


@pytest.mark.parametrize(("page", "claim"), ALL_CLAIMS)
def test_claim_is_on_its_page_and_true(page: Path, claim: Claim) -> None:
    text = normalise(prose(page.read_text()))
    assert normalise(claim.text) in text, (
        f"{page.name} no longer says {claim.text!r}: update tests/claims"
    )
    claim.check()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_qualitative_sentence_is_registered(page: Path) -> None:
    claims, not_claims = registered(page)
    phrases = [normalise(c.text) for c in claims] + [normalise(p) for p in not_claims]
    unchecked = [
        s
        for s in sentences(prose(page.read_text()))
        if CLAIM_WORDS.search(s) and not any(p in s for p in phrases)
    ]
    assert not unchecked, (
        f"{page.name}: sentences with a claim word that no claim checks "
        f"(register them in tests/claims/{page.stem.replace('-', '_')}.py):\n"
        + "\n".join(f"  - {s}" for s in unchecked)
    )


def test_the_checker_catches_an_unregistered_claim(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro.\n\n```python\nx = 1  # the largest\n```\n\nMagic attends most to itself.\n"
    )
    found = [s for s in sentences(prose(page.read_text())) if CLAIM_WORDS.search(s)]
    assert found == ["Magic attends most to itself."]
