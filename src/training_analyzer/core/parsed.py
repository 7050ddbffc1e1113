"""What an activity file tells us, before metrics and storage.

The file decoders (`training_analyzer.adapters.files`) turn FIT, GPX and TCX bytes into a
`ParsedFile`: one `ParsedActivity` per recorded session (a multi-sport FIT file yields several,
linked by `multisport_group`), each with its summary figures, laps and per-sample `Streams`.
Figures the file does not carry are None, never a made-up number. Times are aware UTC
datetimes; `utc_offset_s` is the offset of the device's local clock when the file says it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import msgspec

from training_analyzer.core.activities import Lap, Sport, Summary
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.validation import in_range, non_negative

FileFormat = Literal["fit", "gpx", "tcx"]

# Offsets in use run from UTC-12:00 to UTC+14:00 (IANA tz database).
_MAX_UTC_OFFSET_S = 14 * 3600

_OPTIONAL_NON_NEGATIVE = (
    "timer_s",
    "distance_m",
    "avg_power_w",
    "max_power_w",
    "avg_speed_m_s",
    "max_speed_m_s",
    "avg_cadence_rpm",
    "elevation_gain_m",
    "energy_kcal",
)
_OPTIONAL_POSITIVE = ("avg_hr_bpm", "max_hr_bpm")


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(name, "must be a timezone-aware datetime (UTC)")


def _check_figures(obj: msgspec.Struct) -> None:
    for name in _OPTIONAL_NON_NEGATIVE:
        value = getattr(obj, name)
        if value is not None:
            non_negative(name, value)
    for name in _OPTIONAL_POSITIVE:
        value = getattr(obj, name)
        if value is not None and non_negative(name, value) == 0:
            raise InvalidInput(name, "must be > 0 (a heart rate of 0 is a missing reading)")


class ParsedLap(msgspec.Struct, frozen=True, kw_only=True):
    """One lap as the file recorded it (SI units; None = not in the file)."""

    start_time: datetime
    elapsed_s: float
    timer_s: float | None = None
    distance_m: float | None = None
    avg_hr_bpm: float | None = None
    max_hr_bpm: float | None = None
    avg_power_w: float | None = None
    max_power_w: float | None = None
    avg_speed_m_s: float | None = None
    max_speed_m_s: float | None = None
    avg_cadence_rpm: float | None = None
    elevation_gain_m: float | None = None
    energy_kcal: float | None = None

    def __post_init__(self) -> None:
        _aware("start_time", self.start_time)
        non_negative("elapsed_s", self.elapsed_s)
        _check_figures(self)


class ParsedActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded activity (one session of the file) before metrics and storage.

    `elapsed_s` is wall time from start to end, pauses included; `timer_s` is the time the
    device's timer ran (pauses and auto-pause excluded: the moving time a device reports).
    `name` is the title the file gives (a GPX track name), if any.
    `sport_name`/`sub_sport` keep the source's own words ("cycling"/"commuting", "Biking")
    so nothing is lost when `sport` falls back to OTHER. `source_id` is left for the caller
    (e.g. the sha256 of the uploaded bytes).
    """

    sport: Sport
    name: str | None = None
    sport_name: str | None = None
    sub_sport: str | None = None
    start_time: datetime
    utc_offset_s: int | None = None
    elapsed_s: float
    timer_s: float | None = None
    distance_m: float | None = None
    avg_hr_bpm: float | None = None
    max_hr_bpm: float | None = None
    avg_power_w: float | None = None
    max_power_w: float | None = None
    avg_speed_m_s: float | None = None
    max_speed_m_s: float | None = None
    avg_cadence_rpm: float | None = None
    elevation_gain_m: float | None = None
    energy_kcal: float | None = None
    device_name: str | None = None
    device_serial: str | None = None
    laps: list[ParsedLap] = msgspec.field(default_factory=list)
    streams: Streams
    multisport_group: str | None = None
    multisport_index: int | None = None
    source_id: str | None = None

    def __post_init__(self) -> None:
        _aware("start_time", self.start_time)
        non_negative("elapsed_s", self.elapsed_s)
        _check_figures(self)
        if self.utc_offset_s is not None:
            in_range("utc_offset_s", self.utc_offset_s, -_MAX_UTC_OFFSET_S, _MAX_UTC_OFFSET_S)
        if (self.multisport_group is None) != (self.multisport_index is None):
            raise InvalidInput(
                "multisport_index", "multisport_group and multisport_index go together"
            )
        if self.multisport_index is not None:
            non_negative("multisport_index", self.multisport_index)

    @property
    def end_time(self) -> datetime:
        """Start plus elapsed time."""
        return self.start_time + timedelta(seconds=self.elapsed_s)

    def summary(self) -> Summary:
        """The stored whole-activity figures (core `Summary`) of this activity."""
        return Summary(
            duration_s=self.elapsed_s,
            moving_time_s=self.timer_s,
            distance_m=self.distance_m,
            elevation_gain_m=self.elevation_gain_m,
            avg_hr_bpm=self.avg_hr_bpm,
            max_hr_bpm=self.max_hr_bpm,
            avg_power_w=self.avg_power_w,
            max_power_w=self.max_power_w,
            avg_speed_m_s=self.avg_speed_m_s,
            max_speed_m_s=self.max_speed_m_s,
            avg_cadence_rpm=self.avg_cadence_rpm,
            energy_kcal=self.energy_kcal,
        )

    def core_laps(self) -> tuple[Lap, ...]:
        """The laps as core `Lap`s, their starts relative to the activity start (>= 0)."""
        return tuple(
            Lap(
                start_offset_s=max(0.0, (lap.start_time - self.start_time).total_seconds()),
                duration_s=lap.elapsed_s,
                distance_m=lap.distance_m,
                avg_hr_bpm=lap.avg_hr_bpm,
                avg_power_w=lap.avg_power_w,
                avg_speed_m_s=lap.avg_speed_m_s,
            )
            for lap in self.laps
        )


class ParsedFile(msgspec.Struct, frozen=True, kw_only=True):
    """Everything decoded from one file: its activities, its format and what was left out."""

    activities: list[ParsedActivity]
    format: FileFormat
    warnings: list[str] = msgspec.field(default_factory=list)
