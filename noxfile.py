"""Every task a contributor runs, by name: ``nox -l`` lists them.

Each session builds its own virtualenv and installs through ``constraints.txt``,
which pins torch to a CPU build (an unpinned torch would pull several GB of CUDA).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
# What `nox` with no arguments runs: everything a CPU-only machine can check.
nox.options.sessions = ["lint", "typecheck", "tests", "docs", "snippets", "browser"]

CONSTRAINTS = ("-c", "constraints.txt")


def install(session: nox.Session, *extras: str) -> None:
    """Install selfattn (editable) with the given extras, pinned by constraints.txt."""
    target = f".[{','.join(extras)}]" if extras else "."
    session.install(*CONSTRAINTS, "-e", target)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after --, e.g. -- -m gpu)."""
    install(session, "test")
    session.run(
        "pytest",
        *session.posargs,
        env={"SELFATTN_EXPECT_PINNED_TORCH": "1"},
    )


@nox.session
def thorough(session: nox.Session) -> None:
    """The test suite with Hypothesis's `thorough` profile: many more examples."""
    install(session, "test")
    session.run("pytest", *session.posargs, env={"HYPOTHESIS_PROFILE": "thorough"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, strict on selfattn/."""
    install(session, "typecheck")
    session.install(*CONSTRAINTS, "nox")
    session.run("mypy")


DOCS_ENV = {"NO_MKDOCS_2_WARNING": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


@nox.session
def docs(session: nox.Session) -> None:
    """Build the tutorial into site/ with mkdocs --strict (notebooks executed)."""
    install(session, "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=DOCS_ENV)


@nox.session
def serve(session: nox.Session) -> None:
    """Build the tutorial and serve it at http://127.0.0.1:8000, rebuilt on change."""
    install(session, "docs")
    session.run(
        "mkdocs",
        "serve",
        "--dev-addr",
        "127.0.0.1:8000",
        *session.posargs,
        env=DOCS_ENV,
    )


@nox.session
def snippets(session: nox.Session) -> None:
    """Run every page's Python code blocks, in page order, with only selfattn installed.

    Reads the built site (run `nox -s docs` first, as `nox` does): what is checked is
    exactly the code a reader copies.
    """
    install(session)
    session.run("python", "-I", "docs/scripts/run_page_code.py", "site")


CHROMIUM = Path("/usr/bin/chromium")


@nox.session
def browser(session: nox.Session) -> None:
    """The built site in Debian's chromium: every page offline, no console error,
    math rendered, images loaded, axe-core clean; search, copy button and palette.

    The site is $SELFATTN_SITE_DIR if set, else built here into site/. Without
    /usr/bin/chromium the session skips, except in CI (the CI variable), where it fails.
    """
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install it with `apt-get install chromium`"
        if os.environ.get("CI"):
            session.error(f"{reason} (CI is set: the browser test may not skip)")
        session.skip(reason)
    if shutil.which("npm") is None:
        session.error("npm is missing: it installs axe-core (package-lock.json)")
    # "docs" is the site build's extra; pip only warns while it does not exist yet.
    install(session, "test", "docs", "browser")
    session.run("npm", "ci", "--no-audit", "--no-fund", "--silent", external=True)
    site = os.environ.get("SELFATTN_SITE_DIR")
    if not site:
        if not Path("mkdocs.yml").is_file():
            session.error("no mkdocs.yml to build, and SELFATTN_SITE_DIR is not set")
        site = "site"
        session.run("mkdocs", "build", "--strict", "-d", site, env=DOCS_ENV)
    session.run("pytest", "tests/browser", "--site-dir", site, *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark every implementation next to SDPA (JSON and figures: benchmarks/results/).

    Pass bench.py's options after --, e.g. ``nox -s bench -- --quick``.
    """
    install(session, "bench")
    session.run("python", "benchmarks/bench.py", "--plot", *session.posargs)
    # Training: forward + backward, with the PyPI peer (the optional extra "peers").
    install(session, "bench", "peers")
    quick = ["--quick"] if "--quick" in session.posargs else []
    session.run("python", "benchmarks/bench_backward.py", *quick)


@nox.session
def bench_ring(session: nox.Session) -> None:
    """Ring attention in 1, 2 and 4 local gloo processes next to SDPA and the tiled
    forward (JSON: benchmarks/results/ring-*.json); ``-- --quick`` for n <= 4,096."""
    install(session, "bench")
    session.run("python", "benchmarks/bench_ring.py", *session.posargs)
