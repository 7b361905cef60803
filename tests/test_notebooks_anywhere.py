"""A downloaded notebook runs outside this repository, with only Python and pip.

``nox -s notebooks`` runs this: it serves the built site on 127.0.0.1, downloads each
notebook from it, and executes it in a temporary folder with a kernel whose Python
is a virtualenv holding torch and pip but not selfattn (``$SELFATTN_KERNEL_PYTHON``;
ipykernel comes from ``$SELFATTN_KERNEL_PATH``, put on the kernel's PYTHONPATH only).
The notebook's first cell must install selfattn from the wheel the site ships.
Without ``$SELFATTN_KERNEL_PYTHON`` the test skips (the plain suite has no such
virtualenv). The site is ``$SELFATTN_SITE_DIR``, else ``site/``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("SELFATTN_SITE_DIR") or ROOT / "site")
KERNEL_PYTHON = os.environ.get("SELFATTN_KERNEL_PYTHON")

pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.skipif(
        not KERNEL_PYTHON,
        reason="needs $SELFATTN_KERNEL_PYTHON, a virtualenv without selfattn "
        "(nox -s notebooks makes one)",
    ),
]

NOTEBOOKS = sorted(
    p.relative_to(SITE).as_posix() for p in SITE.glob("notebooks/*/*.ipynb")
)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The built site at http://127.0.0.1:<free port>/."""
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def kernel_has_selfattn(python: str) -> bool:
    probe = "import importlib.util as u; print(u.find_spec('selfattn') is not None)"
    done = subprocess.run(
        [python, "-I", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip() == "True"


def test_the_site_has_notebooks_and_the_wheel() -> None:
    assert NOTEBOOKS, f"no notebooks under {SITE}/notebooks (build the site first)"
    assert list((SITE / "downloads").glob("selfattn-*-py3-none-any.whl"))


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_a_downloaded_notebook_runs_outside_the_repository(
    path: str, served: str, tmp_path: Path
) -> None:
    # Imported by name: the typecheck session does not install the docs tools.
    nbformat: Any = importlib.import_module("nbformat")
    client_class: Any = importlib.import_module("nbclient").NotebookClient

    assert KERNEL_PYTHON is not None
    with urlopen(served + path, timeout=30) as response:  # as a reader downloads it
        notebook = nbformat.reads(response.read().decode(), as_version=4)
    first = notebook.cells[0]
    assert first.metadata.get("selfattn", {}).get("install"), "no install cell first"
    # The cell installs from the address the site was built for; here the site is
    # served elsewhere, so point the cell at this server (the rest is unchanged).
    built_for = first.metadata["selfattn"]["site_url"]
    assert built_for, "the site was built without site_url: the cell cannot install"
    wheel = first.source.split("/downloads/")[1].split()[0].strip("\"'")
    assert (SITE / "downloads" / wheel).is_file(), f"the cell names a missing {wheel}"
    first.source = first.source.replace(built_for.rstrip("/") + "/", served)

    # A kernel in the virtualenv without selfattn: each notebook installs it itself.
    subprocess.run(
        [KERNEL_PYTHON, "-m", "pip", "uninstall", "--yes", "--quiet", "selfattn"],
        check=True,
        timeout=120,
    )
    assert not kernel_has_selfattn(KERNEL_PYTHON)
    specs = tmp_path / "jupyter" / "kernels" / "fresh"
    specs.mkdir(parents=True)
    argv = [KERNEL_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_env = {"PYTHONPATH": os.environ.get("SELFATTN_KERNEL_PATH", "")}
    spec = {"argv": argv, "display_name": "fresh", "language": "python"}
    (specs / "kernel.json").write_text(json.dumps({**spec, "env": kernel_env}))
    work = tmp_path / "work"  # outside the repository: nothing to import from there
    work.mkdir()
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    try:
        client = client_class(
            notebook,
            kernel_name="fresh",
            timeout=600,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute()
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    assert kernel_has_selfattn(KERNEL_PYTHON), "the first cell did not install selfattn"
