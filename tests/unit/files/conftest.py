"""Shared fixtures of the file-decoder tests: the real device files and generated ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.files import fitgen

# The repository and shared/ are siblings on every machine (CI included).
FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "fit"

ACTIVITY_FIXTURES = [
    "2015-10-13-08-43-15.fit",
    "Edge810-Vector-2013-08-16-15-35-10.fit",
    "garmin-edge-820-bike.fit",
    "garmin-fenix-5-bike.fit",
    "garmin-fenix-5-run.fit",
    "garmin-fenix-5-walk.fit",
    "sample-activity-indoor-trainer.fit",
]
REFUSED_FIXTURES = [
    "Settings.fit",
    "activity-unexpected-eof.fit",
    "activity-settings-corruptheader.fit",
]


def fixture_bytes(name: str) -> bytes:
    """The bytes of one real device file."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def one_hour_ride() -> bytes:
    """A generated 1-hour 1 Hz ride with HR and power (about 100 kB)."""
    return fitgen.one_hour_ride()


@pytest.fixture(scope="session")
def triathlon() -> bytes:
    """A generated multi-sport file: swim, T1, bike, T2, run."""
    return fitgen.triathlon()
