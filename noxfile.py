"""Every task a contributor runs, by name: ``nox -l`` lists them.

The sessions share two virtualenvs instead of building one each, so torch (hundreds
of MB for the CPU build, several GB for a CUDA one) is installed twice, not once per
session:

* ``.nox/dev``: selfattn (editable) with the extras each session asks for: tests,
  thorough, typecheck, docs, serve, browser, bench and lint (ruff only) all run
  there; a session installs only its own extras, so ``nox -s serve`` on a fresh
  clone installs only what the site needs.
* ``.nox/plain``: torch and selfattn alone, as a reader has them: the downloaded
  notebooks install selfattn into it from the site.
* ``.nox/reader``: torch and the wheel the site ships, nothing else: the pages' code,
  copied as a reader copies it, runs there (``nox -s snippets``).

Everything installs through ``constraints.txt``. To get torch's CPU build on Linux
(PyPI's default torch there is the CUDA build), set ``SELFATTN_TORCH_INDEX``, e.g.
``SELFATTN_TORCH_INDEX=https://download.pytorch.org/whl/cpu nox``; it is passed to
pip as an extra index. Delete ``.nox/`` to free the disk.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
from nox.virtualenv import VirtualEnv

# Sessions that call shared_env() need no virtualenv of their own: venv_backend "none".
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
# What `nox` with no arguments runs: everything a CPU-only machine can check.
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "docs",
    "snippets",
    "notebooks",
    "browser",
]

CONSTRAINTS = ("-c", "constraints.txt")


def torch_index() -> tuple[str, ...]:
    """``--extra-index-url $SELFATTN_TORCH_INDEX`` when it is set, else nothing."""
    index = os.environ.get("SELFATTN_TORCH_INDEX")
    return ("--extra-index-url", index) if index else ()


def shared_env(session: nox.Session, name: str = "dev") -> VirtualEnv:
    """Run this session in the shared virtualenv ``.nox/<name>`` (created once, then
    reused), in place of a virtualenv of its own; call it before any install.

    nox 2026.10.20 (pinned) has no option for sessions sharing one environment, so
    this sets the session's environment directly.
    """
    envdir = Path(session._runner.global_config.envdir)
    venv = VirtualEnv(str(envdir / name), reuse_existing=True)
    venv.create()
    session._runner.venv = venv
    return venv


def install(session: nox.Session, *extras: str, env: str = "dev") -> None:
    """Install selfattn (editable) with the given extras into the shared virtualenv
    ``env``, pinned by constraints.txt. New sessions call this first."""
    shared_env(session, env)
    target = f".[{','.join(extras)}]" if extras else "."
    session.install(*CONSTRAINTS, *torch_index(), "-e", target)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after --, e.g. -- -m gpu).

    With the docs extra too: the tests of the site's hooks import mkdocs, and they
    should not run or skip depending on whether `nox -s docs` ran first."""
    install(session, "test", "docs")
    session.run(
        "pytest",
        *session.posargs,
        env={"SELFATTN_EXPECT_PINNED_TORCH": "1"},
    )


@nox.session(venv_backend="none")
def thorough(session: nox.Session) -> None:
    """The test suite with Hypothesis's `thorough` profile: many more examples."""
    install(session, "test", "docs")
    session.run("pytest", *session.posargs, env={"HYPOTHESIS_PROFILE": "thorough"})


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    shared_env(session)
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy, strict on selfattn/."""
    install(session, "typecheck")
    session.install(*CONSTRAINTS, "nox")
    session.run("mypy")


DOCS_ENV = {"NO_MKDOCS_2_WARNING": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Build the tutorial into site/ with mkdocs --strict (notebooks executed)."""
    install(session, "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=DOCS_ENV)


@nox.session(venv_backend="none")
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


@nox.session(venv_backend="none")
def snippets(session: nox.Session) -> None:
    """Copy each page's Python code, in page order, into one file and run it as a
    reader would: in .nox/reader, a virtualenv holding only torch and the wheel the
    site ships, in a temporary folder outside the repository, with ``python -I``; what
    it prints must be what the page shows (docs/scripts/run_page_code.py).

    Reads the built site ($SELFATTN_SITE_DIR, else site/, built if missing). The
    virtualenv is created once and reused; the wheel is reinstalled on each run. Pass
    page names after -- to check only those.
    """
    install(session, "docs")  # the site build, when there is none yet
    site = os.environ.get("SELFATTN_SITE_DIR") or "site"
    if not Path(site, "downloads").is_dir():
        session.run("mkdocs", "build", "--strict", "-d", site, env=DOCS_ENV)
    reader = Path(session._runner.global_config.envdir) / "reader"
    index = os.environ.get("SELFATTN_TORCH_INDEX")
    session.run(
        "python", "-I", "docs/scripts/run_page_code.py", site, *session.posargs,
        "--venv", str(reader),
        env={"PIP_EXTRA_INDEX_URL": index} if index else {},
    )  # fmt: skip


@nox.session(venv_backend="none")
def notebooks(session: nox.Session) -> None:
    """Each notebook, downloaded from the built site served on 127.0.0.1, runs in a
    virtualenv with torch and pip but no selfattn: its first cell installs the wheel
    the site ships. The site is $SELFATTN_SITE_DIR if set, else site/ (built if
    missing). Uses .nox/plain (selfattn is uninstalled there first: each notebook
    installs it from the site) and ipykernel in .nox/kernel, on the kernel's path only.
    """
    plain = shared_env(session, "plain")
    session.install(*CONSTRAINTS, *torch_index(), "torch")
    install(session, "test", "docs")  # the runner: pytest, nbclient, mkdocs
    kernel = Path(plain.location).parent / "kernel"
    if not (kernel / "ipykernel").is_dir():
        session.run(
            "python", "-m", "pip", "install", "--quiet", *CONSTRAINTS,
            "--target", str(kernel), "ipykernel",
        )  # fmt: skip
    site = os.environ.get("SELFATTN_SITE_DIR") or "site"
    if not Path(site, "downloads").is_dir():
        session.run("mkdocs", "build", "--strict", "-d", site, env=DOCS_ENV)
    python = str(Path(plain.bin) / "python")
    env = {"SELFATTN_SITE_DIR": site, "SELFATTN_KERNEL_PYTHON": python}
    env["SELFATTN_KERNEL_PATH"] = str(kernel)
    session.run("pytest", "tests/test_notebooks_anywhere.py", *session.posargs, env=env)


CHROMIUM = Path("/usr/bin/chromium")


@nox.session(venv_backend="none")
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


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmark every implementation next to SDPA (JSON and figures: benchmarks/results/).

    Pass bench.py's options after --, e.g. ``nox -s bench -- --quick --allow-load``.
    Each benchmark waits for a quiet machine (1-minute load average < 1.0) and
    refuses to start on a busy one unless given --allow-load. About 10 minutes on
    a quiet 2-core CPU; stop every other job first.
    """
    install(session, "bench")
    session.run("python", "benchmarks/bench.py", "--plot", *session.posargs)
    # Training: forward + backward, with the PyPI peer (the optional extra "peers").
    install(session, "bench", "peers")
    shared = [a for a in session.posargs if a in ("--quick", "--allow-load")]
    session.run("python", "benchmarks/bench_backward.py", *shared)


@nox.session(venv_backend="none")
def bench_ring(session: nox.Session) -> None:
    """Ring attention in 1, 2 and 4 local gloo processes, both layouts, time per rank,
    next to SDPA and the tiled forward, n = 4,096 .. 16,384 (about 3 minutes on 2
    idle cores; JSON: benchmarks/results/ring-*.json); ``-- --quick`` for a smoke
    test at n = 512 and 1,024."""
    install(session, "bench")
    session.run("python", "benchmarks/bench_ring.py", *session.posargs)


@nox.session(venv_backend="none", default=False)
def lighthouse(session: nox.Session) -> None:
    """Lighthouse (mobile) on the built site served gzip-compressed on 127.0.0.1:
    a table of performance, accessibility, best practices, SEO, LCP and TBT.

    The site is $SELFATTN_SITE_DIR if set, else built here into site/. Pass page
    paths, or --all for every page, after --. Needs /usr/bin/chromium (CHROME_PATH)
    and npm (lighthouse is pinned in package.json; it downloads no browser).
    """
    chrome = os.environ.get("CHROME_PATH", str(CHROMIUM))
    if not Path(chrome).exists():
        session.error(
            f"{chrome} is missing: install it with `apt-get install chromium`"
        )
    if shutil.which("npm") is None:
        session.error("npm is missing: it installs lighthouse (package-lock.json)")
    install(session, "test", "docs", "browser")
    session.run("npm", "ci", "--no-audit", "--no-fund", "--silent", external=True)
    site = os.environ.get("SELFATTN_SITE_DIR")
    if not site:
        site = "site"
        session.run("mkdocs", "build", "--strict", "-d", site, env=DOCS_ENV)
    session.run(
        "python",
        "tests/browser/lighthouse_table.py",
        site,
        *session.posargs,
        env={"CHROME_PATH": chrome},
    )


@nox.session(venv_backend="none")
def train(session: nox.Session) -> None:
    """Train the look-back model from its seed (about a minute at most on a CPU; it
    writes selfattn/checkpoints/look-back.pt and .json, shipped in the wheel), then
    every Part IV run of `selfattn.lm_train` (n-grams, window MLP, transformer, and
    the runs other modules register; a few minutes on a quiet 2-core CPU, with a
    progress bar), writing the checkpoints and logs; then the slow tests that retrain
    one of each and compare with the committed figures. Pass run names after -- to
    retrain only those, e.g. ``nox -s train -- lm``."""
    install(session, "test", "bench")  # bench: tqdm, the progress bar
    if not session.posargs:
        session.run("python", "-m", "selfattn.train")
    session.run("python", "-m", "selfattn.lm_train", *session.posargs)
    session.run(
        "pytest",
        "-m",
        "slow",
        "tests/test_train.py",
        "tests/test_lm_train.py",
        "tests/test_induction.py",  # the induction model's phase change
    )


@nox.session(venv_backend="none")
def bench_decode(session: nox.Session) -> None:
    """Decode with and without the KV cache; cache bytes per token (MHA, GQA, MQA,
    window) and peak memory. JSON in benchmarks/results/; ``-- --quick`` < 1 min."""
    install(session)
    session.run("python", "benchmarks/decode.py", *session.posargs)
