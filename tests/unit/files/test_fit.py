"""The FIT decoder on real device files and on files generated with Garmin's encoder."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from garmin_fit_sdk import Profile

from tests.unit.files import fitgen
from tests.unit.files.conftest import fixture_bytes
from training_analyzer.adapters.files.fit import (
    _GARMIN_PRODUCTS,
    _MANUFACTURERS,
    fit_crc16,
    parse_fit,
    read_fit,
)
from training_analyzer.adapters.files.summary import mean_or_none
from training_analyzer.core.activities import Sport
from training_analyzer.core.errors import InvalidInput

EDGE810 = "Edge810-Vector-2013-08-16-15-35-10.fit"
TRAINER = "sample-activity-indoor-trainer.fit"


# --- real device files: the figures of the fixture README ----------------------------------
def test_edge810_ride_has_readme_figures() -> None:
    (ride,) = parse_fit(data=fixture_bytes(EDGE810)).activities
    # Fixture README: "Edge810 ride 4,700 s, 41,339 m, avg HR 154, avg power 276 W". The README
    # rounds to whole seconds and metres; the session stores 4700.05 s and 41339.38 m, so
    # 0.5 s / 0.5 m is the rounding tolerance. HR and power are integers in the file: exact.
    assert ride.elapsed_s == pytest.approx(4700, abs=0.5)
    assert ride.timer_s == pytest.approx(4700, abs=0.5)
    assert ride.distance_m == pytest.approx(41339, abs=0.5)
    assert ride.avg_hr_bpm == 154
    assert ride.avg_power_w == 276
    assert ride.sport is Sport.RIDE
    assert ride.start_time == datetime(2013, 8, 16, 18, 5, 10, tzinfo=UTC)
    assert ride.device_name == "Garmin Edge 810"


def test_indoor_trainer_ride_has_readme_figures() -> None:
    (ride,) = parse_fit(data=fixture_bytes(TRAINER)).activities
    # Fixture README: "indoor trainer 2,262 s, 0 m, avg HR 148, avg power 201 W" (session:
    # 2261.85 s, rounded up by the README, hence 0.5 s).
    assert ride.elapsed_s == pytest.approx(2262, abs=0.5)
    assert ride.distance_m == 0
    assert ride.avg_hr_bpm == 148
    assert ride.avg_power_w == 201
    assert ride.streams.lat_deg is None  # no GPS indoors
    assert len(ride.laps) == 5


def test_stream_averages_agree_with_the_device_session_figures() -> None:
    # The device averaged the same samples we decode: the per-sample means round to the
    # session's integer figures (Edge810: 153.86 -> 154 bpm, 275.49 -> 276 W is within 1 W).
    (ride,) = parse_fit(data=fixture_bytes(EDGE810)).activities
    assert len(ride.streams.time_s) == 4700
    assert ride.streams.time_s[0] == 0
    assert ride.streams.time_s[-1] == 4699
    assert mean_or_none(ride.streams.hr_bpm) == pytest.approx(154, abs=0.5)
    assert mean_or_none(ride.streams.power_w) == pytest.approx(276, abs=1)


@pytest.mark.parametrize(
    ("name", "sport", "elapsed_s", "distance_m", "avg_hr", "offset_s"),
    [
        # Session figures as garmin-fit-sdk decodes them from the same files.
        ("2015-10-13-08-43-15.fit", Sport.RIDE, 1623.198, 11536.43, None, None),
        ("garmin-edge-820-bike.fit", Sport.RIDE, 64.524, 457.12, 116, -7 * 3600),
        ("garmin-fenix-5-bike.fit", Sport.RIDE, 60.363, 459.52, 101, -7 * 3600),
        ("garmin-fenix-5-run.fit", Sport.RUN, 56.887, 157.56, 90, -7 * 3600),
        ("garmin-fenix-5-walk.fit", Sport.WALK, 45.379, 67.85, 75, -7 * 3600),
    ],
)
def test_device_file_imports_with_session_figures(
    name: str,
    sport: Sport,
    elapsed_s: float,
    distance_m: float,
    avg_hr: int | None,
    offset_s: int | None,
) -> None:
    parsed = parse_fit(data=fixture_bytes(name))
    (activity,) = parsed.activities
    assert activity.sport is sport
    assert activity.elapsed_s == pytest.approx(elapsed_s)
    assert activity.distance_m == pytest.approx(distance_m)
    assert activity.avg_hr_bpm == avg_hr
    assert activity.avg_power_w is None  # none of these recorded power
    # activity.local_timestamp - timestamp: the Fenix/Edge 820 files were recorded on
    # US Pacific daylight time (UTC-7).
    assert activity.utc_offset_s == offset_s
    assert parsed.warnings == []


def test_ride_without_heart_rate_or_power_has_none_not_zero() -> None:
    (ride,) = parse_fit(data=fixture_bytes("2015-10-13-08-43-15.fit")).activities
    assert ride.streams.hr_bpm is None
    assert ride.streams.power_w is None
    assert ride.avg_hr_bpm is None
    assert ride.avg_power_w is None
    # A paused ride: the timer ran 1558.198 s of the 1623.198 s elapsed (session message).
    assert ride.timer_s == pytest.approx(1558.198)


def test_settings_file_is_refused_as_settings() -> None:
    with pytest.raises(InvalidInput, match="device settings file, not an activity") as info:
        parse_fit(data=fixture_bytes("Settings.fit"))
    assert info.value.argument == "file"


def test_truncated_file_is_refused_as_truncated() -> None:
    with pytest.raises(InvalidInput, match="ends early: it is truncated"):
        parse_fit(data=fixture_bytes("activity-unexpected-eof.fit"))


def test_chained_file_with_corrupt_second_header_is_refused_whole() -> None:
    # Rule (docs/files.md): a damaged part refuses the whole file, even after an intact one.
    with pytest.raises(InvalidInput, match="second FIT part starts at byte 771 with a corrupt"):
        parse_fit(data=fixture_bytes("activity-settings-corruptheader.fit"))


# --- generated files ------------------------------------------------------------------------
def test_one_hour_ride_has_its_session_figures_laps_and_offset(one_hour_ride: bytes) -> None:
    parsed = parse_fit(data=one_hour_ride)
    (ride,) = parsed.activities
    hr = [fitgen.ride_hr(i) for i in range(3600)]
    power = [fitgen.ride_power(i) for i in range(3600)]
    assert ride.sport is Sport.RIDE
    assert ride.sub_sport == "road"
    assert ride.start_time == fitgen.START
    assert ride.elapsed_s == 3600
    assert ride.distance_m == pytest.approx(3599 * 8.5)
    assert ride.avg_hr_bpm == round(sum(hr) / 3600)
    assert ride.max_power_w == max(power)
    assert ride.elevation_gain_m == 35
    assert ride.energy_kcal == 900
    assert ride.utc_offset_s == 7200
    assert len(ride.laps) == 4
    assert [lap.start_time for lap in ride.laps] == [
        fitgen.START + timedelta(seconds=900 * k) for k in range(4)
    ]
    assert ride.streams.hr_bpm == hr
    assert ride.streams.power_w == power
    assert ride.streams.time_s == list(range(3600))
    assert ride.streams.lat_deg is not None
    assert ride.streams.lat_deg[100] == pytest.approx(45.0 + 100e-5, abs=1e-7)
    assert ride.multisport_group is None


def test_triathlon_yields_one_linked_activity_per_session(triathlon: bytes) -> None:
    parsed = parse_fit(data=triathlon)
    legs = parsed.activities
    assert [leg.sport for leg in legs] == [
        Sport.OPEN_WATER_SWIM,
        Sport.OTHER,  # transitions: no core sport for them
        Sport.RIDE,
        Sport.OTHER,
        Sport.RUN,
    ]
    assert [leg.sub_sport for leg in legs][1] == "swim_to_bike_transition"
    assert {leg.multisport_group for leg in legs} == {legs[0].multisport_group}
    assert legs[0].multisport_group is not None
    assert [leg.multisport_index for leg in legs] == [0, 1, 2, 3, 4]
    expected_s = [seconds for _, _, seconds, _ in fitgen.TRIATHLON_LEGS]
    assert [leg.elapsed_s for leg in legs] == expected_s
    # Records are assigned by session time range: each leg gets exactly its own seconds.
    assert [len(leg.streams.time_s) for leg in legs] == expected_s
    assert [leg.streams.time_s[0] for leg in legs] == [0] * 5
    assert [leg.avg_hr_bpm for leg in legs] == [130, 135, 140, 145, 150]
    assert [len(leg.laps) for leg in legs] == [1] * 5
    assert all(leg.utc_offset_s == -4 * 3600 for leg in legs)


def test_developer_fields_are_skipped_without_disturbing_the_record() -> None:
    (ride,) = parse_fit(data=fitgen.with_developer_fields(seconds=60)).activities
    assert ride.streams.hr_bpm == [fitgen.ride_hr(i) for i in range(60)]
    assert ride.streams.power_w == [fitgen.ride_power(i) for i in range(60)]


def test_unknown_sport_number_becomes_other_and_keeps_its_number() -> None:
    (activity,) = parse_fit(data=fitgen.unknown_sport(sport=200)).activities
    assert activity.sport is Sport.OTHER
    assert activity.sport_name == "sport_200"


def test_compressed_timestamp_headers_decode_with_rollover() -> None:
    data, expected = fitgen.compressed_timestamps(seconds=70)
    (content,) = read_fit(data)
    assert content.records.timestamp == expected
    assert content.records.power_w == [200 + i for i in range(70)]


def test_file_without_session_gets_figures_computed_from_records() -> None:
    data, _ = fitgen.compressed_timestamps(seconds=70)
    parsed = parse_fit(data=data)
    (activity,) = parsed.activities
    assert activity.sport is Sport.OTHER
    assert activity.elapsed_s == 69
    assert activity.avg_power_w == pytest.approx(sum(200 + i for i in range(70)) / 70)
    assert activity.max_hr_bpm == 139
    assert any("no session summary" in w for w in parsed.warnings)


def test_big_endian_definitions_decode_like_little_endian() -> None:
    t0 = fitgen.fit_time(fitgen.START)
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS, big_endian=True).data(0, 4, 1, 1567, 7, t0)
    fit.define(1, 20, fitgen.RECORD_FIELDS, big_endian=True)
    for i in range(5):
        fit.data(1, t0 + i, 150 + i, 1000 + i)
    (content,) = read_fit(fit.close())
    assert content.records.hr_bpm == [150, 151, 152, 153, 154]
    assert content.records.power_w == [1000, 1001, 1002, 1003, 1004]
    assert content.file_id is not None
    assert content.file_id["serial_number"] == 7


def test_invalid_values_become_none() -> None:
    t0 = fitgen.fit_time(fitgen.START)
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 4, 1, 1567, 7, t0)
    fit.define(1, 20, fitgen.RECORD_FIELDS)
    fit.data(1, t0, 0xFF, 0xFFFF).data(1, t0 + 1, 120, 250)  # FIT invalid uint8 / uint16
    (content,) = read_fit(fit.close())
    assert content.records.hr_bpm == [None, 120]
    assert content.records.power_w == [None, 250]


def test_12_byte_header_is_accepted() -> None:
    t0 = fitgen.fit_time(fitgen.START)
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 4, 1, 1567, 7, t0)
    fit.define(1, 20, fitgen.RECORD_FIELDS).data(1, t0, 120, 250).data(1, t0 + 1, 121, 251)
    (activity,) = parse_fit(data=fit.close(header_size=12)).activities
    assert activity.streams.hr_bpm == [120, 121]


def test_chained_activity_and_settings_keep_the_activity_with_a_warning() -> None:
    data = fitgen.unknown_sport(sport=1) + fitgen.settings_file()
    parsed = parse_fit(data=data)
    assert len(parsed.activities) == 1
    assert parsed.activities[0].sport is Sport.RUN
    assert parsed.warnings == ["part 2 of the chained file is a device settings file; skipped"]


def test_chained_activities_give_one_activity_each() -> None:
    later = fitgen.START + timedelta(hours=3)
    data = fitgen.unknown_sport(sport=2) + fitgen.unknown_sport(sport=1, start=later)
    parsed = parse_fit(data=data)
    assert [a.sport for a in parsed.activities] == [Sport.RIDE, Sport.RUN]
    assert parsed.activities[1].start_time == later


def test_flipped_byte_fails_the_file_crc() -> None:
    data = bytearray(fitgen.unknown_sport())
    data[100] ^= 0x01
    with pytest.raises(InvalidInput, match="checksum does not match"):
        parse_fit(data=bytes(data))


def test_flipped_header_byte_fails_the_header_crc() -> None:
    data = bytearray(fitgen.unknown_sport())
    data[2] ^= 0x01  # profile version: covered by the header CRC
    with pytest.raises(InvalidInput, match="header checksum"):
        parse_fit(data=bytes(data))


def test_message_before_its_definition_is_refused() -> None:
    fit = fitgen.RawFit()
    fit.body += bytes([0x03, 1, 2, 3])  # a data message for local type 3, never defined
    with pytest.raises(InvalidInput, match="before its definition"):
        parse_fit(data=fit.close())


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world, not a fit file", b"\x0e\x10" + b"\x00" * 6 + b".FIX" + b"\x00" * 20],
)
def test_non_fit_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_fit(data=data)


def test_crc_matches_the_official_sdk_on_every_length() -> None:
    from garmin_fit_sdk import CrcCalculator

    data = bytes(range(256)) * 3
    for end in (0, 1, 2, 63, 64, 65, 127, 128, 700, 768):
        assert fit_crc16(data, 0, end) == CrcCalculator.calculate_crc(data, 0, end)
    assert fit_crc16(data, 5, 700) == CrcCalculator.calculate_crc(data, 5, 700)


def test_device_name_tables_agree_with_the_fit_profile() -> None:
    products = Profile["types"]["garmin_product"]
    for number, name in _GARMIN_PRODUCTS.items():
        # Ours are display names ("Edge 810"); the profile's are identifiers ("edge810").
        squashed = name.lower().replace(" ", "").replace("forerunner", "fr")
        assert products[number].replace("_", "") == squashed
    makers = Profile["types"]["manufacturer"]
    for number, name in _MANUFACTURERS.items():
        assert makers[number].replace("_", "").startswith(name.lower()[:4])


def test_a_wrong_utc_offset_is_dropped_not_stored() -> None:
    # local_timestamp 20 h ahead of UTC is no real time zone: the offset is unknown.
    start = fitgen.START
    data = fitgen.encode(
        [
            fitgen.file_id(),
            *fitgen.ride_records(start=start, seconds=10),
            fitgen.session(start=start, seconds=10, sport="cycling"),
            fitgen.activity(end=start + timedelta(seconds=10), utc_offset_s=20 * 3600),
        ]
    )
    parsed = parse_fit(data=data)
    assert parsed.activities[0].utc_offset_s is None
    assert any("UTC offset unknown" in w for w in parsed.warnings)


def test_records_before_the_session_start_are_left_out_with_a_warning() -> None:
    start = fitgen.START
    data = fitgen.encode(
        [
            fitgen.file_id(),
            *fitgen.ride_records(start=start - timedelta(seconds=5), seconds=15),
            fitgen.session(start=start, seconds=10, sport="cycling"),
        ]
    )
    parsed = parse_fit(data=data)
    assert parsed.activities[0].streams.time_s == list(range(10))
    assert parsed.warnings == ["5 records before the first session's start were left out"]


def test_record_with_out_of_order_and_repeated_timestamps_gives_increasing_time() -> None:
    t0 = fitgen.fit_time(fitgen.START)
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 4, 1, 1567, 7, t0)
    fit.define(1, 20, [(253, 4, 0x86), (3, 1, 0x02), (7, 2, 0x84)])
    fit.data(1, t0, 100, 0xFFFF).data(1, t0 + 2, 102, 202).data(1, t0 + 1, 101, 201)
    fit.data(1, t0 + 1, 0xFF, 299)  # same second again: fills nothing that is already there
    (activity,) = parse_fit(data=fit.close()).activities
    assert activity.streams.time_s == [0, 1, 2]
    assert activity.streams.hr_bpm == [100, 101, 102]
    assert activity.streams.power_w == [None, 201, 202]


def test_header_data_size_beyond_the_file_is_truncation() -> None:
    data = bytearray(fitgen.unknown_sport())
    struct.pack_into("<I", data, 4, len(data))  # claims more data than there is
    data[12:14] = b"\x00\x00"  # header CRC 0 = not computed
    with pytest.raises(InvalidInput, match="truncated"):
        parse_fit(data=bytes(data))


def test_records_with_only_device_relative_times_are_refused() -> None:
    # Timestamps below 0x10000000 count seconds since power-on (FIT Protocol, "Timestamps").
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 4, 1, 1567, 7, 0xFFFFFFFF)
    fit.define(1, 20, fitgen.RECORD_FIELDS).data(1, 1000, 120, 250).data(1, 1001, 121, 251)
    with pytest.raises(InvalidInput, match="clock was not set"):
        parse_fit(data=fit.close())


def test_activity_file_without_records_or_sessions_is_refused() -> None:
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 4, 1, 1567, 7, fitgen.fit_time(fitgen.START))
    with pytest.raises(InvalidInput, match="holds no recorded data"):
        parse_fit(data=fit.close())


def test_other_fit_file_types_are_named_in_the_refusal() -> None:
    fit = fitgen.RawFit()
    fit.define(0, 0, fitgen.FILE_ID_FIELDS).data(0, 6, 1, 1567, 7, fitgen.fit_time(fitgen.START))
    with pytest.raises(InvalidInput, match=r"this is a course file \(a route"):
        parse_fit(data=fit.close())
