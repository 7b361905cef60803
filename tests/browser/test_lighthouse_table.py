"""lighthouse_table.py's CPU slowdown option: passed to Lighthouse, named in the table,
and checked. Lighthouse itself is not run here (a fake stands in for the subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser import lighthouse_table as lt


def fake_report(path: Path) -> None:
    scores = {name: {"score": 0.97} for name in lt.CATEGORIES}
    audits = {
        "largest-contentful-paint": {"numericValue": 1800.0},
        "total-blocking-time": {"numericValue": 42.0},
    }
    report = {"categories": scores, "audits": audits, "environment": {}}
    path.write_text(json.dumps(report))


@pytest.mark.parametrize("slowdown", [None, 6.0, 2.5])
def test_the_slowdown_reaches_lighthouse(
    monkeypatch: pytest.MonkeyPatch, slowdown: float | None
) -> None:
    seen: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(command)
        out = next(a for a in command if a.startswith("--output-path="))
        fake_report(Path(out.split("=", 1)[1]))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", run)
    row = lt.run_lighthouse(
        "http://127.0.0.1:1/x/", "/usr/bin/chromium", None, slowdown
    )
    assert row["performance"] == 97
    assert row["tbt_ms"] == 42.0
    flags = [a for a in seen[0] if a.startswith("--throttling.cpuSlowdownMultiplier")]
    expected = (
        [] if slowdown is None else [f"--throttling.cpuSlowdownMultiplier={slowdown:g}"]
    )
    assert flags == expected


def test_the_table_names_the_slowdown() -> None:
    row: dict[str, float | None] = {name: 100.0 for name in lt.CATEGORIES}
    row |= {"lcp_s": 1.5, "tbt_ms": 12.0, "cpu_index": 3000.0}
    plain = lt.table({"": row}, 3, "2026-12-04")
    slowed = lt.table({"": row}, 3, "2026-12-04", 6.0)
    assert "perf (median of 3) |" in plain
    assert "slower" not in plain
    assert "perf (median of 3), CPU 6x slower |" in slowed


@pytest.mark.parametrize("bad", ["0.5", "0", "-4", "nan", "inf"])
def test_a_slowdown_below_one_or_not_finite_is_refused(
    tmp_path: Path, bad: str
) -> None:
    script = Path(lt.__file__)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), f"--cpu-slowdown={bad}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        f"--cpu-slowdown: expected a finite factor >= 1, got {float(bad)}"
        in done.stderr
    )
