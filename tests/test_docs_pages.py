"""The tutorial's pages against the code (docs/): embedded sections exist, and every
number typed into the prose is one the code computes.

These tests read the Markdown sources and need only selfattn and torch; the strict
site build (``nox -s docs``) and the page-code run (``nox -s snippets``) check the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

import selfattn

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.py"))
SNIPPET = re.compile(r"""^\s*-+8<-+\s+["']([^"':]+):([^"']+)["']""", re.M)
# A number quoted to three or more decimals, e.g. "0.1763" or "88.72".
QUOTED_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d{3,}(?![\d])")


def test_the_site_has_pages_and_notebooks() -> None:
    assert len(PAGES) >= 7
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_embedded_section_exists(page: Path) -> None:
    for path, section in SNIPPET.findall(page.read_text()):
        source = (ROOT / path).read_text()
        assert f"--8<-- [start:{section}]" in source, f"{page.name}: {path}:{section}"
        assert f"--8<-- [end:{section}]" in source, f"{page.name}: {path}:{section}"


def computed_numbers() -> set[str]:
    """Every number the pages may quote, computed by selfattn, as the pages print them
    (rounded to 3 and to 4 decimals)."""
    x = selfattn.toy_inputs()
    scores = selfattn.attention_scores(x, x)
    weights = selfattn.attention_weights(x, x, scale=1.0)
    tensors = [
        x,
        scores,
        selfattn.normalize_by_sum(scores),
        weights,
        selfattn.attention_matmul(x, x, x, scale=1.0),
        torch.stack([selfattn.seed_loop_weights(x, i) for i in range(6)]),
        torch.stack([selfattn.seed_loop_context_vector(x, i) for i in range(6)]),
        scores.amax(dim=-1) - scores.amin(dim=-1),  # the spread of each query's scores
        (weights[1] - weights[2]).abs().max(),  # "happens" against "to"
        # the seed's loop context vector of Magic against the right one
        (
            selfattn.seed_loop_context_vector(x, 0)
            - selfattn.context_vectors(weights, x)[0]
        ).abs(),
        selfattn.softmax_stable(torch.tensor([1000.0, 999.0])),
        selfattn.softmax_stable(torch.tensor([90.0, 89.0, 80.0])),
        torch.tensor(
            [
                1 / 6,  # the flat weight that double normalisation drifts towards
                math.log(torch.finfo(torch.float32).max),  # where exp overflows float32
                math.log(torch.finfo(torch.float16).max),  # ... and float16
            ]
        ),
    ]
    tensors += playground_experiments(x)
    values = [v for t in tensors for v in t.flatten().tolist()]
    return {f"{v:.{places}f}" for v in values for places in (3, 4)}


def playground_experiments(x: torch.Tensor) -> list[torch.Tensor]:
    """The weights the playground shows after each experiment its pages suggest (the
    browser test, tests/browser/test_playground.py, performs them in the panel)."""
    doubled, copied = x.clone(), x.clone()
    doubled[1] *= 2  # "double the three numbers of x^(2)"
    copied[5] = x[0]  # "copy x^(1) into x^(6)"
    return [
        selfattn.attention_weights(doubled, doubled, scale=1.0),
        selfattn.attention_weights(copied, copied, scale=1.0),
        selfattn.attention_weights(x, x, scale=1.0, causal=True),
        selfattn.attention_weights(x, x, causal=True),  # with the 1/sqrt(d_k) scale
        torch.ones(1),  # every row sum
    ]


def quoted_numbers(text: str) -> list[str]:
    """Numbers with three or more decimals, outside the `--8<--` lines and arXiv
    identifiers."""
    lines = (line for line in text.splitlines() if "--8<--" not in line)
    text = re.sub(r"arXiv:\d{4}\.\d{4,5}", "", "\n".join(lines))  # paper ids
    return QUOTED_NUMBER.findall(text)


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_quoted_in_the_prose_are_computed_by_the_code(page: Path) -> None:
    known = computed_numbers()
    unknown = [n for n in quoted_numbers(page.read_text()) if n not in known]
    assert not unknown, (
        f"{page.name} quotes numbers the code does not compute: {unknown}"
    )


def test_a_wrong_number_would_be_caught() -> None:
    # The checker itself: the seed's right weight passes, a mistyped one does not.
    known = computed_numbers()
    assert "0.2098" in known
    assert "0.2089" not in known
    assert quoted_numbers("gets 0.1763 instead of 0.2089.") == ["0.1763", "0.2089"]


# Front matter as MkDocs finds it: `---` on the first line, YAML, `---` or `...`.
FRONT_MATTER = re.compile(r"\A-{3}[ \t]*\n(.*?\n)(?:\.{3}|-{3})[ \t]*\n", re.S)


def front_matter_problem(text: str) -> str | None:
    """Why MkDocs would not read `text`'s front matter (it then shows it on the
    page as text: `description: ...` becomes a heading), or None if it would."""
    import yaml  # type: ignore[import-untyped]  # PyYAML: jupytext needs it

    if not text.startswith("---"):
        return None
    found = FRONT_MATTER.match(text)
    if not found:
        return "a front matter opened with --- is never closed"
    try:
        meta = yaml.safe_load(found.group(1))
    except yaml.YAMLError as error:
        return f"the front matter is not valid YAML: {error}"
    if not isinstance(meta, dict):
        return f"the front matter is not a mapping of keys to values: {meta!r}"
    description = meta.get("description", "")
    if not isinstance(description, str):
        return f"the description is not text: {description!r}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_front_matter_parses(page: Path) -> None:
    problem = front_matter_problem(page.read_text())
    assert problem is None, f"{page.name}: {problem}"


def test_a_broken_front_matter_would_be_caught() -> None:
    # An unquoted ": " inside the value is what broke two pages' descriptions.
    assert front_matter_problem("---\ndescription: A: b, c\n---\n\n# T\n")
    assert front_matter_problem("---\ndescription: A - b, c\n---\n\n# T\n") is None
    assert front_matter_problem('---\ndescription: "A: b"\n---\n\n# T\n') is None


def public_modules() -> list[str]:
    """selfattn's modules a user imports: the top level's and the exercise solutions'
    (not private ones, not a package's internals such as selfattn.ring.cli)."""
    root = Path(selfattn.__file__).parent
    names = []
    for package, folder in (
        ("selfattn", root),
        ("selfattn.exercises", root / "exercises"),
    ):
        for path in sorted(folder.iterdir()):
            stem = path.stem if path.suffix == ".py" else path.name
            is_module = path.suffix == ".py" or (path / "__init__.py").is_file()
            if is_module and not stem.startswith("_") and stem != "exercises":
                names.append(f"{package}.{stem}")
    return names


def test_every_public_module_is_in_the_api_reference() -> None:
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: (selfattn[\w.]*)", page.read_text(), re.M))
    modules = public_modules()
    assert len(modules) > 40, modules  # the walk found the package
    missing = [m for m in modules if m not in documented]
    assert not missing, f"modules with no ::: block in docs/api/: {missing}"
