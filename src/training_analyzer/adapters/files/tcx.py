"""TCX (Garmin Training Center Database v2) -> ParsedActivity per Activity (stdlib expat).

Read: each `Activities/Activity` (and each Activity of a `MultiSportSession`, linked as one
multi-sport group), its `Sport` attribute, `Id` (start time), `Creator` (device name and
`UnitId` serial), every `Lap` (StartTime, TotalTimeSeconds, DistanceMeters, MaximumSpeed,
Calories, average/maximum heart rate, Cadence, and the ActivityExtension `LX` AvgWatts,
MaxWatts, AvgRunCadence) and every `Trackpoint` (Time, position, AltitudeMeters,
DistanceMeters, HeartRateBpm, Cadence, and the ActivityExtension `TPX` Speed, Watts,
RunCadence). Summary figures come from the laps when every lap has them (time-weighted
averages), else from the trackpoints. TCX lap time (TotalTimeSeconds) is timer time.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from training_analyzer.adapters.files.sports import sport_from_name
from training_analyzer.adapters.files.summary import (
    Track,
    max_or_none,
    mean_or_none,
    offset_from_local_s,
)
from training_analyzer.adapters.files.xmlsafe import number, parse_time, parse_xml
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.parsed import ParsedActivity, ParsedFile, ParsedLap

_POINT_NUMBERS = {
    "LatitudeDegrees": "lat",
    "LongitudeDegrees": "lon",
    "AltitudeMeters": "alt",
    "DistanceMeters": "dist",
    "Cadence": "cad",
    "Speed": "speed",
    "Watts": "power",
    "RunCadence": "run_cad",
}
_LAP_NUMBERS = {
    "TotalTimeSeconds": "timer",
    "DistanceMeters": "distance",
    "MaximumSpeed": "max_speed",
    "Calories": "calories",
    "Cadence": "cadence",
    "AvgWatts": "avg_power",
    "MaxWatts": "max_power",
    "AvgRunCadence": "run_cadence",
}


class _Activity:
    __slots__ = (
        "creator",
        "id_time",
        "laps",
        "multisport",
        "point_offset",
        "serial",
        "sport",
        "track",
        "untimed",
    )

    def __init__(self, sport: str | None, multisport: str | None) -> None:
        self.sport = sport
        self.multisport = multisport
        self.id_time: tuple[float, int | None] | None = None
        self.creator: str | None = None
        self.serial: str | None = None
        self.laps: list[dict[str, Any]] = []
        self.track = Track()
        self.untimed = 0
        self.point_offset: int | None = None

    def start_s(self) -> float | None:
        """The earliest of the Id time, the lap starts and the trackpoint times."""
        starts = [lap["start"][0] for lap in self.laps if lap.get("start")]
        if self.id_time is not None:
            starts.append(self.id_time[0])
        if len(self.track):
            starts.append(min(self.track.time))
        return min(starts) if starts else None


class _TcxHandler:
    """Collects activities, laps and trackpoints."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.activities: list[_Activity] = []
        self.sessions = 0
        self._session: str | None = None
        self._activity: _Activity | None = None
        self._lap: dict[str, Any] | None = None
        self._point: dict[str, Any] | None = None

    def start(self, name: str, attrs: dict[str, str], parents: list[str]) -> None:
        if self.root is None:
            self.root = name
        if name == "MultiSportSession":
            self.sessions += 1
            self._session = f"tcx-session-{self.sessions}"
        elif name == "Activity":
            self._activity = _Activity(attrs.get("Sport"), self._session)
        elif name == "Lap" and self._activity is not None:
            self._lap = {"start": parse_time(attrs.get("StartTime", ""))}
        elif name == "Trackpoint" and self._activity is not None:
            self._point = {}

    def end(self, name: str, text: str, parents: list[str]) -> None:
        parent = parents[-1] if parents else ""
        point, lap, activity = self._point, self._lap, self._activity
        if point is not None:
            if name == "Trackpoint":
                self._close_point(point)
            elif name == "Time" and parent == "Trackpoint":
                point["time"] = parse_time(text)
            elif name == "Value" and parent == "HeartRateBpm":
                point["hr"] = number(text)
            elif name in _POINT_NUMBERS:
                point.setdefault(_POINT_NUMBERS[name], number(text))
            return
        if lap is not None:
            if name == "Lap":
                self._lap = None
                if activity is not None:
                    activity.laps.append(lap)
            elif name == "Value" and parent == "AverageHeartRateBpm":
                lap["avg_hr"] = number(text)
            elif name == "Value" and parent == "MaximumHeartRateBpm":
                lap["max_hr"] = number(text)
            elif name in _LAP_NUMBERS and parent in ("Lap", "LX"):
                lap.setdefault(_LAP_NUMBERS[name], number(text))
            return
        if activity is None:
            if name == "MultiSportSession":
                self._session = None
            return
        if name == "Activity":
            self.activities.append(activity)
            self._activity = None
        elif name == "Id" and parent == "Activity":
            activity.id_time = parse_time(text)
        elif name == "Name" and parent == "Creator":
            activity.creator = text or None
        elif name == "UnitId" and parent == "Creator":
            activity.serial = text or None

    def _close_point(self, point: dict[str, Any]) -> None:
        self._point = None
        activity = self._activity
        if activity is None:
            return
        when = point.get("time")
        if when is None:
            activity.untimed += 1
            return
        activity.track.add(
            time=when[0],
            lat=point.get("lat"),
            lon=point.get("lon"),
            alt=point.get("alt"),
            hr=point.get("hr"),
            cad=point.get("cad", point.get("run_cad")),
            power=point.get("power"),
            speed=point.get("speed"),
            dist=point.get("dist"),
        )
        if activity.point_offset is None:
            activity.point_offset = when[1]


def _weighted(laps: list[dict[str, Any]], key: str) -> float | None:
    """Time-weighted average of a lap figure when every lap has it and its time."""
    pairs: list[tuple[float, float]] = []
    for lap in laps:
        value, timer = lap.get(key), lap.get("timer")
        if value is None or timer is None:
            return None
        pairs.append((value, timer))
    total = math.fsum(t for _, t in pairs)
    return math.fsum(v * t for v, t in pairs) / total if total > 0 else None


def _sum(laps: list[dict[str, Any]], key: str) -> float | None:
    values: list[float] = []
    for lap in laps:
        value = lap.get(key)
        if value is None:
            return None
        values.append(value)
    return math.fsum(values) if values else None


def _lap(lap: dict[str, Any], fallback_start: float) -> ParsedLap:
    start = lap["start"][0] if lap.get("start") else fallback_start
    timer = lap.get("timer")
    return ParsedLap(
        start_time=datetime.fromtimestamp(start, UTC),
        elapsed_s=timer or 0.0,
        timer_s=timer,
        distance_m=lap.get("distance"),
        avg_hr_bpm=lap.get("avg_hr") or None,
        max_hr_bpm=lap.get("max_hr") or None,
        avg_power_w=lap.get("avg_power"),
        max_power_w=lap.get("max_power"),
        max_speed_m_s=lap.get("max_speed"),
        avg_cadence_rpm=lap.get("cadence", lap.get("run_cadence")),
        energy_kcal=lap.get("calories"),
    )


def _build(activity: _Activity, group: tuple[str, int] | None) -> ParsedActivity | None:
    track, laps = activity.track, activity.laps
    start = activity.start_s()
    if start is None:
        return None
    streams = track.streams(start=start)
    lap_ends = [
        lap["start"][0] + lap["timer"] - start
        for lap in laps
        if lap.get("start") and lap.get("timer")
    ]
    elapsed = max([*lap_ends, streams.time_s[-1] if streams.time_s else 0.0, 0.0])
    stream_distance = max((d for d in streams.distance_m or () if d is not None), default=None)
    distance = _sum(laps, "distance")
    offset_source = activity.id_time[1] if activity.id_time else None
    if offset_source is None:
        offset_source = activity.point_offset
    lap_max_hr = [lap["max_hr"] for lap in laps if lap.get("max_hr")]
    lap_max_power = [lap["max_power"] for lap in laps if lap.get("max_power") is not None]
    lap_max_speed = [lap["max_speed"] for lap in laps if lap.get("max_speed") is not None]
    return ParsedActivity(
        sport=sport_from_name(activity.sport),
        sport_name=activity.sport,
        start_time=datetime.fromtimestamp(start, UTC),
        utc_offset_s=offset_from_local_s(offset_source) if offset_source is not None else None,
        elapsed_s=elapsed,
        timer_s=_sum(laps, "timer"),
        distance_m=distance if distance is not None else stream_distance,
        avg_hr_bpm=_weighted(laps, "avg_hr") or mean_or_none(streams.hr_bpm),
        max_hr_bpm=max(lap_max_hr) if lap_max_hr else max_or_none(streams.hr_bpm),
        avg_power_w=_or(_weighted(laps, "avg_power"), mean_or_none(streams.power_w)),
        max_power_w=max(lap_max_power) if lap_max_power else max_or_none(streams.power_w),
        max_speed_m_s=max(lap_max_speed) if lap_max_speed else max_or_none(streams.speed_m_s),
        avg_cadence_rpm=_or(_weighted(laps, "cadence"), mean_or_none(streams.cadence_rpm)),
        energy_kcal=_sum(laps, "calories"),
        device_name=activity.creator,
        device_serial=activity.serial,
        laps=[_lap(lap, start) for lap in laps],
        streams=streams,
        multisport_group=group[0] if group else None,
        multisport_index=group[1] if group else None,
    )


def _or(value: float | None, fallback: float | None) -> float | None:
    return value if value is not None else fallback


def parse_tcx(*, data: bytes) -> ParsedFile:
    """Decode a TCX file into its activities; raise InvalidInput for anything unusable."""
    handler = _TcxHandler()
    parse_xml(data, handler=handler, what="TCX")
    if handler.root != "TrainingCenterDatabase":
        raise InvalidInput(
            "file", "this is not a TCX file (its root element is not <TrainingCenterDatabase>)"
        )
    warnings: list[str] = []
    activities: list[ParsedActivity] = []
    groups: dict[str, tuple[str, int]] = {}
    for activity in handler.activities:
        if activity.untimed:
            warnings.append(f"{activity.untimed} trackpoints without a time were left out")
        group = None
        session = activity.multisport
        start = activity.start_s()
        if session is not None and start is not None:
            # The group id is the session's first start, the same for every member.
            name, count = groups.get(session, (f"tcx-{int(start)}", 0))
            groups[session] = (name, count + 1)
            group = (name, count)
        built = _build(activity, group)
        if built is None:
            warnings.append("an activity with no laps and no timed trackpoints was left out")
        else:
            activities.append(built)
    if not activities:
        raise InvalidInput("file", "the TCX file holds no recorded activity")
    return ParsedFile(activities=activities, format="tcx", warnings=warnings)
