"""The torch version we claim to support is the one we test with."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def declared_minimum() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"torch>=([0-9.]+)"', text)
    assert found, "pyproject.toml must declare torch>=MINIMUM"
    return found.group(1)


def pinned_torch() -> str:
    found = re.search(
        r"^torch==([0-9.]+)$", (ROOT / "constraints.txt").read_text(), re.M
    )
    assert found, "constraints.txt must pin torch==VERSION"
    return found.group(1)


def test_constraints_pin_the_declared_minimum_torch() -> None:
    minimum, pinned = declared_minimum(), pinned_torch()
    assert pinned.startswith(minimum), (minimum, pinned)


@pytest.mark.skipif(
    not os.environ.get("SELFATTN_EXPECT_PINNED_TORCH"),
    reason="only inside nox's virtualenv, which installs the pinned torch",
)
def test_the_suite_runs_on_the_minimum_torch() -> None:
    assert torch.__version__.split("+")[0] == pinned_torch()
