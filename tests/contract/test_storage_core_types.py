"""The pure rules behind storage: cursors, dedup, thresholds in force, stream blobs, ids.

These need no adapter; they sit with the storage suite because every adapter relies on them.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.contract import storage_builders as make
from training_analyzer.core.accounts import normalize_email
from training_analyzer.core.activities import (
    Fingerprint,
    Source,
    Sport,
    SportFamily,
    dedup_window,
    find_duplicate,
    fingerprint,
    is_duplicate,
    pack_streams,
    sports_in_family,
    unpack_streams,
)
from training_analyzer.core.athletes import AthleteProfile, Sex, Thresholds, with_thresholds
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.pagination import (
    Cursor,
    decode_cursor,
    encode_cursor,
    from_micros,
    to_micros,
)
from training_analyzer.ids import id_timestamp_ms, new_id

aware_times = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC),
)

# --- cursors -----------------------------------------------------------------------------------


@given(at=aware_times, item_id=st.text(min_size=1, max_size=60))
def test_a_cursor_round_trips(at: datetime, item_id: str) -> None:
    token = encode_cursor(Cursor(at=at, id=item_id), kind="activities")
    assert decode_cursor(token, kind="activities") == Cursor(at=at, id=item_id)
    assert token.isascii()
    assert "=" not in token


@given(at=aware_times, position=st.integers(min_value=0), replacement=st.sampled_from("AbZ9_-"))
def test_any_edited_character_makes_a_cursor_invalid(
    at: datetime, position: int, replacement: str
) -> None:
    token = encode_cursor(Cursor(at=at, id=new_id()), kind="activities")
    i = position % len(token)
    if token[i] == replacement:
        return
    tampered = token[:i] + replacement + token[i + 1 :]
    original = decode_cursor(token, kind="activities")
    # A change in the last character's unused padding bits decodes to the same bytes; any
    # other edit must be refused.
    if base64.urlsafe_b64decode(tampered + "==") == base64.urlsafe_b64decode(token + "=="):
        assert decode_cursor(tampered, kind="activities") == original
        return
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(tampered, kind="activities")
    assert caught.value.argument == "cursor"


def test_a_cursor_of_another_listing_is_invalid() -> None:
    token = encode_cursor(Cursor(at=make.T0, id="x"), kind="audit")
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor(token, kind="activities")


@given(at=aware_times)
def test_microseconds_round_trip_exactly(at: datetime) -> None:
    assert from_micros(to_micros(at)) == at


def test_microseconds_count_from_the_unix_epoch() -> None:
    # 2024-05-01T06:30:15.123456Z is 1714545015 s after 1970-01-01 (date -d @1714545015).
    assert to_micros(make.T0) == 1_714_545_015_123_456


# --- dedup (ARCHITECTURE.md §5: same source id; else ±2 min, same family, duration ±10 %) -----


def _print(
    *,
    start_s: float = 0,
    sport: Sport = Sport.RIDE,
    duration_s: float = 3600,
    source: Source = Source.GARMIN,
    source_id: str | None = None,
) -> Fingerprint:
    return Fingerprint(
        source=source,
        source_id=source_id,
        start_time=make.T0 + timedelta(seconds=start_s),
        sport=sport,
        duration_s=duration_s,
    )


def test_the_same_source_id_is_a_duplicate_whatever_the_times() -> None:
    a = _print(source_id="1")
    b = _print(source_id="1", start_s=86_400, sport=Sport.SWIM, duration_s=60)
    assert is_duplicate(a, b)
    assert not is_duplicate(a, _print(source=Source.STRAVA, source_id="1", start_s=86_400))


def test_starts_two_minutes_apart_match_and_a_second_more_does_not() -> None:
    assert is_duplicate(_print(), _print(start_s=120, source=Source.STRAVA))
    assert is_duplicate(_print(), _print(start_s=-120, source=Source.STRAVA))
    assert not is_duplicate(_print(), _print(start_s=121, source=Source.STRAVA))


def test_durations_within_ten_percent_of_the_longer_match() -> None:
    assert is_duplicate(_print(duration_s=3600), _print(duration_s=3240))  # 10 % shorter
    assert not is_duplicate(_print(duration_s=3600), _print(duration_s=3239))


def test_the_sport_family_must_match() -> None:
    assert is_duplicate(_print(sport=Sport.RIDE), _print(sport=Sport.VIRTUAL_RIDE))
    assert not is_duplicate(_print(sport=Sport.RIDE), _print(sport=Sport.RUN))


@given(
    offset=st.floats(min_value=-600, max_value=600),
    d1=st.floats(min_value=1, max_value=20_000),
    d2=st.floats(min_value=1, max_value=20_000),
    s1=st.sampled_from(Sport),
    s2=st.sampled_from(Sport),
)
def test_the_dedup_rule_is_symmetric_and_the_window_holds_every_match(
    offset: float, d1: float, d2: float, s1: Sport, s2: Sport
) -> None:
    a = _print(sport=s1, duration_s=d1)
    b = _print(start_s=offset, sport=s2, duration_s=d2, source=Source.STRAVA)
    assert is_duplicate(a, b) == is_duplicate(b, a)
    start_from, start_to = dedup_window(a.start_time)
    if is_duplicate(a, b):
        assert start_from <= b.start_time < start_to


def test_find_duplicate_skips_the_candidate_itself() -> None:
    ride = make.activity("u", source_id=None)
    strava_copy = make.activity("u", source=Source.STRAVA, start=make.T0 + timedelta(seconds=30))
    assert find_duplicate(ride, [ride]) is None
    assert find_duplicate(ride, [ride, strava_copy]) == strava_copy
    assert fingerprint(ride).duration_s == ride.summary.duration_s


def test_every_sport_has_exactly_one_family() -> None:
    grouped = [s for family in SportFamily for s in sports_in_family(family)]
    assert sorted(grouped) == sorted(Sport)
    assert Sport.TREADMILL_RUN.family is SportFamily.RUN


def test_an_activity_needs_aware_times_and_a_plausible_rpe() -> None:
    ride = make.activity("u")
    with pytest.raises(InvalidInput) as caught:
        msgspec.structs.replace(ride, start_time=datetime(2024, 5, 1, 6, 30))
    assert caught.value.argument == "start_time"
    with pytest.raises(InvalidInput) as caught:
        msgspec.structs.replace(ride, rpe=11)
    assert caught.value.argument == "rpe"


# --- thresholds in force ----------------------------------------------------------------------


def _history() -> tuple[Thresholds, ...]:
    return (
        Thresholds(effective_from=date(2024, 1, 1), ftp_w=240.0, max_hr_bpm=190.0, sex=Sex.MALE),
        Thresholds(effective_from=date(2024, 3, 1), lthr_bpm=170.0),
        Thresholds(effective_from=date(2024, 6, 1), ftp_w=255.0, max_hr_bpm=188.0),
    )


def test_thresholds_in_force_take_each_field_from_the_latest_record_setting_it() -> None:
    profile = AthleteProfile(user_id="u", thresholds=_history())
    assert profile.thresholds_on(date(2023, 12, 31)) is None
    on_jan = profile.thresholds_on(date(2024, 1, 1))
    assert on_jan == Thresholds(
        effective_from=date(2024, 1, 1), ftp_w=240.0, max_hr_bpm=190.0, sex=Sex.MALE
    )
    assert profile.thresholds_on(date(2024, 5, 31)) == Thresholds(
        effective_from=date(2024, 3, 1),
        ftp_w=240.0,
        max_hr_bpm=190.0,
        lthr_bpm=170.0,
        sex=Sex.MALE,
    )
    assert profile.thresholds_on(date(2024, 6, 1)) == Thresholds(
        effective_from=date(2024, 6, 1),
        ftp_w=255.0,
        max_hr_bpm=188.0,
        lthr_bpm=170.0,
        sex=Sex.MALE,
    )


def test_recording_thresholds_keeps_the_history_ordered_and_replaces_a_same_day_record() -> None:
    profile = AthleteProfile(user_id="u", thresholds=_history())
    updated = with_thresholds(profile, Thresholds(effective_from=date(2024, 2, 1), ftp_w=245.0))
    assert [t.effective_from.month for t in updated.thresholds] == [1, 2, 3, 6]
    replaced = with_thresholds(updated, Thresholds(effective_from=date(2024, 2, 1), ftp_w=250.0))
    assert [t.ftp_w for t in replaced.thresholds] == [240.0, 250.0, None, 255.0]


def test_impossible_thresholds_are_invalid_input_naming_the_field() -> None:
    cases = {
        "max_hr_bpm": {"max_hr_bpm": 150.0, "rest_hr_bpm": 150.0},
        "ftp_w": {"ftp_w": 0.0},
        "weight_kg": {"weight_kg": float("nan")},
    }
    for argument, values in cases.items():
        with pytest.raises(InvalidInput) as caught:
            Thresholds(effective_from=date(2024, 1, 1), **values)  # type: ignore[arg-type]
        assert caught.value.argument == argument
    with pytest.raises(InvalidInput) as caught:
        AthleteProfile(user_id="u", thresholds=tuple(reversed(_history())))
    assert caught.value.argument == "thresholds"


# --- stream blobs -------------------------------------------------------------------------------

samples = st.lists(
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), min_size=3, max_size=3
)


@given(hr=samples, power=samples)
def test_a_stream_blob_round_trips_exactly(
    hr: list[float | None], power: list[float | None]
) -> None:
    streams = Streams(time_s=[0.0, 1.0, 2.0], hr_bpm=hr, power_w=power)
    assert unpack_streams(pack_streams(streams)) == streams


def test_an_hour_of_samples_packs_into_a_compact_blob() -> None:
    hour = make.streams(3600)
    blob = pack_streams(hour)
    plain = len(msgspec.msgpack.encode(hour))
    # 9 channels x 3,600 doubles is ~290 kB as msgpack; zlib must at least halve it.
    assert plain > 250_000
    assert len(blob) < plain / 2


def test_a_non_finite_sample_or_a_corrupt_blob_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        pack_streams(Streams(time_s=[0.0], hr_bpm=[float("inf")]))
    assert caught.value.argument == "hr_bpm"
    blob = pack_streams(make.streams(10))
    for bad in (b"", b"\x09" + blob[1:], blob[:-5]):
        with pytest.raises(InvalidInput) as caught:
            unpack_streams(bad)
        assert caught.value.argument == "blob"


# --- ids and emails -----------------------------------------------------------------------------


def test_new_ids_are_uuid7_time_ordered_and_unique() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(5000)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    # RFC 9562 §5.7: version 7 and the variant bits 10.
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before_ms <= id_timestamp_ms(ids[0]) <= after_ms + 2


def test_a_non_uuid7_has_no_timestamp() -> None:
    with pytest.raises(InvalidInput):
        id_timestamp_ms(str(uuid.uuid4()))
    with pytest.raises(InvalidInput):
        id_timestamp_ms("nope")


def test_emails_are_normalised_and_garbage_is_invalid() -> None:
    assert normalize_email("  Ada.Lovelace@Example.ORG ") == "ada.lovelace@example.org"
    for bad in ("", "no-at-sign", "a@", "@b", "a@b@c", "a b@c.d"):
        with pytest.raises(InvalidInput) as caught:
            normalize_email(bad)
        assert caught.value.argument == "email"
