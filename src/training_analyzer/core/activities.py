"""Activities: sports and their families, the stored summary, laps, and the dedup rule.

An `Activity` is what the product keeps about one workout; its per-second samples live apart
(`training_analyzer.core.metrics.streams.Streams`, packed by `pack_streams`). Times are aware
UTC datetimes; `utc_offset_s` keeps the offset the source reported, so the local clock time of
the start is `start_time + utc_offset_s`.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.validation import (
    finite,
    finite_samples,
    in_range,
    non_negative,
    positive,
)

# ARCHITECTURE.md §5: two records are the same workout when their starts are within ±2 min,
# their sports share a family and their durations differ by at most 10 %.
DEDUP_START_TOLERANCE = timedelta(minutes=2)
DEDUP_DURATION_TOLERANCE = 0.10

# Offsets in use run from UTC-12:00 to UTC+14:00 (IANA tz database); a little slack for
# historic local mean times that some devices report.
_MAX_UTC_OFFSET_S = 15 * 3600


class SportFamily(enum.StrEnum):
    """Groups of sports whose records can describe the same workout (e.g. ride vs virtual ride)."""

    RUN = "run"
    RIDE = "ride"
    SWIM = "swim"
    WALK = "walk"
    ROW = "row"
    SKI = "ski"
    STRENGTH = "strength"
    OTHER = "other"


class Sport(enum.StrEnum):
    """The sport of an activity; `family` gives the group used for dedup and filters."""

    RUN = "run"
    TRAIL_RUN = "trail_run"
    TREADMILL_RUN = "treadmill_run"
    TRACK_RUN = "track_run"
    RIDE = "ride"
    VIRTUAL_RIDE = "virtual_ride"
    MOUNTAIN_BIKE = "mountain_bike"
    GRAVEL_RIDE = "gravel_ride"
    E_BIKE_RIDE = "e_bike_ride"
    SWIM = "swim"
    OPEN_WATER_SWIM = "open_water_swim"
    WALK = "walk"
    HIKE = "hike"
    ROW = "row"
    INDOOR_ROW = "indoor_row"
    NORDIC_SKI = "nordic_ski"
    ALPINE_SKI = "alpine_ski"
    STRENGTH = "strength"
    YOGA = "yoga"
    OTHER = "other"

    @property
    def family(self) -> SportFamily:
        """The family this sport belongs to."""
        return _FAMILY[self]


_FAMILY: dict[Sport, SportFamily] = {
    Sport.RUN: SportFamily.RUN,
    Sport.TRAIL_RUN: SportFamily.RUN,
    Sport.TREADMILL_RUN: SportFamily.RUN,
    Sport.TRACK_RUN: SportFamily.RUN,
    Sport.RIDE: SportFamily.RIDE,
    Sport.VIRTUAL_RIDE: SportFamily.RIDE,
    Sport.MOUNTAIN_BIKE: SportFamily.RIDE,
    Sport.GRAVEL_RIDE: SportFamily.RIDE,
    Sport.E_BIKE_RIDE: SportFamily.RIDE,
    Sport.SWIM: SportFamily.SWIM,
    Sport.OPEN_WATER_SWIM: SportFamily.SWIM,
    Sport.WALK: SportFamily.WALK,
    Sport.HIKE: SportFamily.WALK,
    Sport.ROW: SportFamily.ROW,
    Sport.INDOOR_ROW: SportFamily.ROW,
    Sport.NORDIC_SKI: SportFamily.SKI,
    Sport.ALPINE_SKI: SportFamily.SKI,
    Sport.STRENGTH: SportFamily.STRENGTH,
    Sport.YOGA: SportFamily.OTHER,
    Sport.OTHER: SportFamily.OTHER,
}


def sports_in_family(family: SportFamily) -> tuple[Sport, ...]:
    """Every sport of `family`, in declaration order."""
    return tuple(s for s in Sport if _FAMILY[s] is family)


class Source(enum.StrEnum):
    """Where an activity came from."""

    FILE = "file"
    GARMIN = "garmin"
    STRAVA = "strava"
    MANUAL = "manual"


class LoadMethod(enum.StrEnum):
    """Which model produced an activity's load (ARCHITECTURE.md §7a, in order of preference)."""

    POWER_TSS = "power_tss"
    RUN_TSS = "run_tss"
    HR_TSS = "hr_tss"
    RPE_ESTIMATE = "rpe_estimate"


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(name, "must be a timezone-aware datetime (UTC)")


def _optional_non_negative(name: str, value: float | None) -> None:
    if value is not None:
        non_negative(name, value)


def _optional_positive(name: str, value: float | None) -> None:
    if value is not None:
        positive(name, value)


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Whole-activity figures as recorded or computed at import (SI units; None = not recorded)."""

    duration_s: float
    moving_time_s: float | None = None
    distance_m: float | None = None
    elevation_gain_m: float | None = None
    avg_hr_bpm: float | None = None
    max_hr_bpm: float | None = None
    avg_power_w: float | None = None
    max_power_w: float | None = None
    avg_speed_m_s: float | None = None
    max_speed_m_s: float | None = None
    avg_cadence_rpm: float | None = None
    energy_kcal: float | None = None

    def __post_init__(self) -> None:
        non_negative("duration_s", self.duration_s)
        for name in (
            "moving_time_s",
            "distance_m",
            "elevation_gain_m",
            "avg_power_w",
            "max_power_w",
            "avg_speed_m_s",
            "max_speed_m_s",
            "avg_cadence_rpm",
            "energy_kcal",
        ):
            _optional_non_negative(name, getattr(self, name))
        _optional_positive("avg_hr_bpm", self.avg_hr_bpm)
        _optional_positive("max_hr_bpm", self.max_hr_bpm)


class Lap(msgspec.Struct, frozen=True, kw_only=True):
    """One lap: its start relative to the activity start, and its own figures."""

    start_offset_s: float
    duration_s: float
    distance_m: float | None = None
    avg_hr_bpm: float | None = None
    avg_power_w: float | None = None
    avg_speed_m_s: float | None = None

    def __post_init__(self) -> None:
        non_negative("start_offset_s", self.start_offset_s)
        non_negative("duration_s", self.duration_s)
        _optional_non_negative("distance_m", self.distance_m)
        _optional_positive("avg_hr_bpm", self.avg_hr_bpm)
        _optional_non_negative("avg_power_w", self.avg_power_w)
        _optional_non_negative("avg_speed_m_s", self.avg_speed_m_s)


class ActivityMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Training metrics computed for an activity with the thresholds in force on its date."""

    load: float
    load_method: LoadMethod
    estimated: bool = False
    trimp: float | None = None
    intensity_factor: float | None = None
    normalized_power_w: float | None = None
    # Seconds per zone, zone 1 first; empty when no zones could be computed.
    hr_zone_s: tuple[float, ...] = ()
    power_zone_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        non_negative("load", self.load)
        _optional_non_negative("trimp", self.trimp)
        _optional_non_negative("intensity_factor", self.intensity_factor)
        _optional_non_negative("normalized_power_w", self.normalized_power_w)


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    """One workout of one user. `source_id` is the provider's id (None for files without one)."""

    id: str
    user_id: str
    sport: Sport
    name: str
    start_time: datetime
    summary: Summary
    source: Source
    source_id: str | None = None
    utc_offset_s: int = 0
    device: str | None = None
    notes: str | None = None
    rpe: int | None = None
    laps: tuple[Lap, ...] = ()
    metrics: ActivityMetrics | None = None
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("id", "must not be empty")
        if not self.user_id:
            raise InvalidInput("user_id", "must not be empty")
        _aware("start_time", self.start_time)
        _aware("created_at", self.created_at)
        _aware("updated_at", self.updated_at)
        in_range("utc_offset_s", self.utc_offset_s, -_MAX_UTC_OFFSET_S, _MAX_UTC_OFFSET_S)
        if self.rpe is not None:
            # Borg CR-10 scale, as used by Foster's session-RPE method.
            in_range("rpe", self.rpe, 0, 10)
        if self.source_id is not None and not self.source_id:
            raise InvalidInput("source_id", "must be None or non-empty")

    @property
    def family(self) -> SportFamily:
        """The sport family of this activity."""
        return self.sport.family

    @property
    def local_start(self) -> datetime:
        """The start as the wall-clock time the source reported (naive)."""
        return (self.start_time + timedelta(seconds=self.utc_offset_s)).replace(tzinfo=None)


class DailyLoad(msgspec.Struct, frozen=True, kw_only=True):
    """One user's training on one calendar day (in the user's timezone), with PMC state.

    `ctl` and `atl` are the performance-management values at the end of `day` when computed;
    `estimated` is True when any of the day's load came from an estimate.
    """

    user_id: str
    day: date
    load: float
    activity_count: int = 0
    duration_s: float = 0.0
    distance_m: float = 0.0
    ctl: float | None = None
    atl: float | None = None
    estimated: bool = False

    def __post_init__(self) -> None:
        non_negative("load", self.load)
        non_negative("activity_count", self.activity_count)
        non_negative("duration_s", self.duration_s)
        non_negative("distance_m", self.distance_m)
        if self.ctl is not None:
            finite("ctl", self.ctl)
        if self.atl is not None:
            finite("atl", self.atl)


class Fingerprint(msgspec.Struct, frozen=True, kw_only=True):
    """The fields the dedup rule looks at."""

    source: Source
    source_id: str | None
    start_time: datetime
    sport: Sport
    duration_s: float


def fingerprint(activity: Activity) -> Fingerprint:
    """The dedup fingerprint of an activity."""
    return Fingerprint(
        source=activity.source,
        source_id=activity.source_id,
        start_time=activity.start_time,
        sport=activity.sport,
        duration_s=activity.summary.duration_s,
    )


def is_duplicate(a: Fingerprint, b: Fingerprint) -> bool:
    """True when `a` and `b` describe the same workout (ARCHITECTURE.md §5).

    Same source and source id → same workout. Otherwise: starts within ±2 min (inclusive),
    same sport family, and durations within 10 % of the longer one. The second rule is what
    matches a Garmin record against the Strava copy of the same ride.
    """
    if a.source_id is not None and a.source is b.source and a.source_id == b.source_id:
        return True
    if abs(a.start_time - b.start_time) > DEDUP_START_TOLERANCE:
        return False
    if a.sport.family is not b.sport.family:
        return False
    longer = max(a.duration_s, b.duration_s)
    return abs(a.duration_s - b.duration_s) <= DEDUP_DURATION_TOLERANCE * longer


def dedup_window(start_time: datetime) -> tuple[datetime, datetime]:
    """The half-open start-time range [from, to) in which a duplicate can start.

    The rule's ±2 min is inclusive, so `to` is one microsecond past start + 2 min (the
    finest step a stored time has).
    """
    _aware("start_time", start_time)
    return (
        start_time - DEDUP_START_TOLERANCE,
        start_time + DEDUP_START_TOLERANCE + timedelta(microseconds=1),
    )


def find_duplicate(candidate: Activity, existing: Iterable[Activity]) -> Activity | None:
    """The first activity in `existing` (other than `candidate` itself) that duplicates it."""
    probe = fingerprint(candidate)
    for other in existing:
        if other.id != candidate.id and is_duplicate(probe, fingerprint(other)):
            return other
    return None


# Stream blobs: one version byte, then zlib-compressed MessagePack of the Streams struct.
# MessagePack keeps floats as IEEE doubles, so a round trip is exact; zlib shrinks a one-hour
# ride (9 channels x 3,600 noisy samples) from ~290 kB to ~95 kB. The version byte lets a
# later format (e.g. delta-coded float32 columns) coexist with stored blobs.
_STREAMS_FORMAT_V1 = 1
_streams_encoder = msgspec.msgpack.Encoder()
_streams_decoder = msgspec.msgpack.Decoder(Streams)


def pack_streams(streams: Streams) -> bytes:
    """Encode streams as the stored binary blob (version byte + zlib(msgpack))."""
    for name in streams.__struct_fields__:
        channel = getattr(streams, name)
        if channel is not None:
            finite_samples(name, channel)
    payload = zlib.compress(_streams_encoder.encode(streams), 6)
    return bytes([_STREAMS_FORMAT_V1]) + payload


def unpack_streams(blob: bytes) -> Streams:
    """Decode a blob written by `pack_streams`; raise InvalidInput if it is not one."""
    if not blob or blob[0] != _STREAMS_FORMAT_V1:
        raise InvalidInput("blob", "unknown streams format")
    try:
        return _streams_decoder.decode(zlib.decompress(blob[1:]))
    except (zlib.error, msgspec.DecodeError) as exc:
        raise InvalidInput("blob", f"corrupt streams blob: {exc}") from None
