"""Differential test: our specialised FIT decoder against Garmin's official SDK.

garmin-fit-sdk (Garmin's own Python decoder) reads every fixture file; ours must agree on
every record field it decodes and on every session, lap, file_id, device_info, sport and
activity field it reads. This is what licenses the fast path: it decodes the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import pytest
from garmin_fit_sdk import Decoder, Stream

from tests.unit.files import fitgen
from tests.unit.files.conftest import ACTIVITY_FIXTURES, fixture_bytes
from training_analyzer.adapters.files.fit import FIT_EPOCH_UNIX, FitContent, read_fit

SEMICIRCLE_DEG = 180.0 / 2**31


def sdk_messages(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Decode with the official SDK: raw enum numbers, no HR merging, scale applied."""
    decoder = Decoder(Stream.from_byte_array(bytearray(data)))
    messages, errors = decoder.read(convert_types_to_strings=False, merge_heart_rates=False)
    assert errors == []
    return cast(dict[str, list[dict[str, Any]]], messages)


def _unix(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime) else value


def _same(ours: Any, theirs: Any) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(ours, str):
        return bool(ours == theirs)
    return bool(math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9))


def _record_expectations(record: dict[str, Any]) -> dict[str, Any]:
    """What our record columns must hold for one SDK record message."""
    cadence = record.get("cadence")
    if cadence is not None and record.get("fractional_cadence") is not None:
        cadence += record["fractional_cadence"]
    lat, lon = record.get("position_lat"), record.get("position_long")
    return {
        "timestamp": _unix(record.get("timestamp")),
        "lat_deg": lat * SEMICIRCLE_DEG if lat is not None else None,
        "lon_deg": lon * SEMICIRCLE_DEG if lon is not None else None,
        "distance_m": record.get("distance"),
        "speed_m_s": record.get("enhanced_speed", record.get("speed")),
        "altitude_m": record.get("enhanced_altitude", record.get("altitude")),
        "hr_bpm": record.get("heart_rate"),
        "cadence_rpm": cadence,
        "power_w": record.get("power"),
    }


def _compare_records(ours: FitContent, sdk: dict[str, list[dict[str, Any]]]) -> int:
    theirs = sdk.get("record_mesgs", [])
    assert len(ours.records.timestamp) == len(theirs)
    mismatches = []
    for i, record in enumerate(theirs):
        for name, expected in _record_expectations(record).items():
            got = getattr(ours.records, name)[i]
            if not _same(got, expected):
                mismatches.append((i, name, got, expected))
    assert mismatches[:5] == []
    return len(theirs)


def _compare_messages(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], *, adjust: Callable[[str, Any], Any]
) -> None:
    assert len(ours) == len(theirs)
    for mine, official in zip(ours, theirs, strict=True):
        for name, value in mine.items():
            if name.startswith("enhanced_"):
                # The SDK expands the 16-bit field into the enhanced one; we keep both apart.
                base = name.removeprefix("enhanced_")
                expected = official.get(name, official.get(base))
                value = value if value is not None else mine.get(base)
            else:
                expected = adjust(name, official.get(name))
            assert _same(value, expected), (name, value, expected)


def _adjust(name: str, value: Any) -> Any:
    if name == "local_timestamp" and value is not None:
        return value + FIT_EPOCH_UNIX  # a local_date_time the SDK leaves as raw seconds
    if isinstance(value, list) and value and isinstance(value[0], str):
        # A string field holding several NUL-separated strings: we keep the first.
        return value[0]
    return _unix(value)


def assert_agrees_with_sdk(data: bytes) -> int:
    """Decode `data` with both decoders and assert they agree; return the record count."""
    (ours,) = read_fit(data)
    sdk = sdk_messages(data)
    count = _compare_records(ours, sdk)
    _compare_messages(ours.sessions, sdk.get("session_mesgs", []), adjust=_adjust)
    _compare_messages(ours.laps, sdk.get("lap_mesgs", []), adjust=_adjust)
    _compare_messages(ours.devices, sdk.get("device_info_mesgs", []), adjust=_adjust)
    _compare_messages(ours.activities, sdk.get("activity_mesgs", []), adjust=_adjust)
    _compare_messages(ours.sports, sdk.get("sport_mesgs", []), adjust=_adjust)
    file_ids = sdk.get("file_id_mesgs", [])
    _compare_messages([ours.file_id] if ours.file_id else [], file_ids[:1], adjust=_adjust)
    return count


@pytest.mark.parametrize("name", [*ACTIVITY_FIXTURES, "Settings.fit"])
def test_decoder_agrees_with_official_sdk_on_fixture(name: str) -> None:
    count = assert_agrees_with_sdk(fixture_bytes(name))
    # Record counts from the SDK's decode of the same files (Settings.fit holds none).
    assert (
        count
        == {
            "2015-10-13-08-43-15.fit": 221,
            "Edge810-Vector-2013-08-16-15-35-10.fit": 4700,
            "garmin-edge-820-bike.fit": 15,
            "garmin-fenix-5-bike.fit": 19,
            "garmin-fenix-5-run.fit": 21,
            "garmin-fenix-5-walk.fit": 17,
            "sample-activity-indoor-trainer.fit": 2263,
            "Settings.fit": 0,
        }[name]
    )


def test_decoder_agrees_with_sdk_on_intact_first_part_of_corrupt_chained_file() -> None:
    # The first 771 bytes (12-byte header + 757 data bytes + CRC) are a complete, valid part;
    # the SDK decodes them before failing on the corrupt second header, and so must we.
    data = fixture_bytes("activity-settings-corruptheader.fit")[:771]
    assert assert_agrees_with_sdk(data) == 14


@pytest.mark.parametrize(
    "make",
    [fitgen.one_hour_ride, fitgen.triathlon, fitgen.with_developer_fields, fitgen.unknown_sport],
    ids=["one_hour_ride", "triathlon", "developer_fields", "unknown_sport"],
)
def test_decoder_agrees_with_official_sdk_on_generated_file(make: Callable[[], bytes]) -> None:
    assert assert_agrees_with_sdk(make()) > 0
