"""The docs build's check on benchmark results (docs/figures/_common.py): a page shows
only runs that started on a quiet machine, record where they ran, and come from one
CPU; and the benchmarks' own guard that refuses to start on a busy machine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "docs" / "figures"), str(ROOT / "benchmarks")]

import _common  # type: ignore[import-not-found]  # noqa: E402
import bench  # type: ignore[import-not-found]  # noqa: E402


def result(
    load: float = 0.3,
    cpu: str = "AMD EPYC",
    drop: str | None = None,
    cores: int = 2,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "cpu": cpu,
        "cores": cores,
        "torch": "2.13.0+cpu",
        "torch_threads": 2,
        "load_average_at_start": [load, 0.5, 0.5],
        "load_average_at_end": [1.9, 1.0, 0.6],
    }
    if drop is not None:
        del found[drop]
    return {"machine": found, "results": []}


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "REQUIRE_QUIET", True)


@pytest.mark.usefixtures("strict")
def test_a_quiet_run_passes() -> None:
    assert _common.check_result(result(0.99), "quiet.json")["machine"]["cpu"]


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("load", [1.0, 17.6])
def test_a_loaded_run_fails(load: float) -> None:
    with pytest.raises(_common.BenchmarkResultError, match="load average"):
        _common.check_result(result(load), "loaded.json")


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("field", _common.MACHINE_FIELDS)
def test_a_run_without_its_machine_fails(field: str) -> None:
    with pytest.raises(_common.BenchmarkResultError, match=field):
        _common.check_result(result(drop=field), "old.json")


@pytest.mark.usefixtures("strict")
def test_one_page_one_machine() -> None:
    assert _common.one_machine(result(), result()) == "AMD EPYC, 2 cores"
    with pytest.raises(_common.BenchmarkResultError, match="different machines"):
        _common.one_machine(result(), result(cpu="Intel(R) Xeon(R) Processor"))


@pytest.mark.usefixtures("strict")
def test_a_many_core_host_is_quiet_below_a_tenth_of_its_cores() -> None:
    # The GPU runs' host has 16 cores: a load of 1.45 leaves 14 of them idle.
    assert _common.check_result(result(1.45, cores=16), "gpu.json")
    with pytest.raises(_common.BenchmarkResultError, match="16 cores"):
        _common.check_result(result(1.6, cores=16), "gpu.json")


def test_the_check_is_on() -> None:
    # Switched on once every benchmark was re-run on a quiet machine (2026-12-03).
    assert _common.REQUIRE_QUIET


@pytest.mark.parametrize(
    "path", sorted(_common.RESULTS.glob("*.json")), ids=lambda p: p.name
)
def test_every_committed_result_passes_the_check(path: Path) -> None:
    # Every JSON a page may show, whether or not the page reads it through
    # `load_result`: started quiet, machine recorded.
    _common.load_result(path)


def test_load_result_reads_and_checks(strict: None, tmp_path: Path) -> None:
    import json

    path = tmp_path / "run.json"
    path.write_text(json.dumps(result(3.0)))
    with pytest.raises(_common.BenchmarkResultError, match=r"run\.json"):
        _common.load_result(path)


def test_latest_prefers_full_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    quick = tmp_path / "cpu-2core-float32-quick-2026-12-04.json"
    quick.write_text("{}")
    (tmp_path / "cpu-2core-float32-backward-2026-12-05.json").write_text("{}")
    assert _common.latest("cpu-*core-float32") == quick  # only a smoke run
    for name in (
        "cpu-2core-float32-2026-11-27.json",
        "cpu-2core-float32-2026-12-03.json",
    ):
        (tmp_path / name).write_text("{}")
    assert _common.latest("cpu-*core-float32").name.endswith("12-03.json")


def test_a_benchmark_refuses_a_busy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "load_average", lambda: [3.5, 2.0, 1.0])
    with pytest.raises(SystemExit, match=r"load average is 3\.50"):
        bench.wait_for_quiet(allow_load=False, wait_s=0.0)
    assert bench.wait_for_quiet(allow_load=True, wait_s=0.0) == [3.5, 2.0, 1.0]


def test_a_benchmark_waits_for_the_load_to_fall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads = iter([[1.4, 1, 1], [1.1, 1, 1], [0.7, 1, 1]])
    monkeypatch.setattr(bench, "load_average", lambda: next(loads))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    assert bench.wait_for_quiet(allow_load=False, wait_s=60.0) == [0.7, 1, 1]


def test_machine_records_what_the_check_needs() -> None:
    found = bench.machine("cpu")
    found["load_average_at_start"] = found["load_average_at_end"] = [0.1, 0.1, 0.1]
    assert all(found.get(field) is not None for field in _common.MACHINE_FIELDS)
