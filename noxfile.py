"""Every task a contributor runs, by name: ``nox -l`` lists them.

Each session builds its own virtualenv and installs through ``constraints.txt``,
which pins torch to a CPU build (an unpinned torch would pull several GB of CUDA).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
# What `nox` with no arguments runs: everything a CPU-only machine can check.
nox.options.sessions = ["lint", "typecheck", "tests"]

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


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark every implementation next to SDPA (JSON and figures: benchmarks/results/).

    Pass bench.py's options after --, e.g. ``nox -s bench -- --quick``.
    """
    install(session, "bench")
    session.run("python", "benchmarks/bench.py", "--plot", *session.posargs)
