"""Shared fixtures. Real data lives in ../shared/data beside the project; it is never copied in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_data(relative: str) -> Path:
    """A file in ../shared/data: skipped with a reason where absent, a failure in CI."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"{path} is absent: the validation data sits in ../shared/data beside the project"
        if IN_CI:
            pytest.fail(message + " (CI must have it)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def ble_vectors() -> list[dict[str, Any]]:
    return json.loads(shared_data("ble-vectors.json").read_text(encoding="utf-8"))


def load_rr_ms(relative: str) -> list[float]:
    """RR values in ms, one per line; a trailing 0 line (real_rri.txt) is dropped as `hrv` does."""
    values = [float(line) for line in shared_data(relative).read_text().split() if line.strip()]
    return [v for v in values if v > 0]


# Real servers for the sync tests; tests/servers.py is imported lazily because it imports this module.


@pytest.fixture
def broker() -> Iterator[Any]:
    from tests.servers import running_mosquitto

    with running_mosquitto() as server:
        yield server


@pytest.fixture
def victoria() -> Iterator[Any]:
    from tests.servers import running_victoria_metrics

    with running_victoria_metrics() as server:
        yield server
