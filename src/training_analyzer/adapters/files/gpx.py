"""GPX 1.0/1.1 tracks -> one ParsedActivity (stdlib expat, streamed, DOCTYPE refused).

Read: every `trkpt` (lat/lon attributes, `ele`, `time`) of every track segment, the first
track's `name` and `type`, and trackpoint extensions by local name, whatever their prefix:
Garmin TrackPointExtension v1/v2 (`hr`, `cad`, v2 `speed`), `power` as Garmin and Strava write
it, Garmin PowerExtension `PowerInWatts`, and the `heartrate`/`cadence`/`distance` spellings
of other apps; GPX 1.0's own `speed`. The UTC offset is kept when the times carry a numeric
one ("+02:00"); "Z" times say UTC but not the local offset (None). GPX has no laps: the
track is one lap. Distance is the file's own `distance` extension when present, else the
haversine length of the track. A file with only a route
(`rtept`, no times) is a plan, not a recording, and is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

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

# Extension element (local name) -> trackpoint field.
_EXTENSIONS = {
    "hr": "hr",
    "heartrate": "hr",
    "HeartRate": "hr",
    "cad": "cad",
    "cadence": "cad",
    "power": "power",
    "PowerInWatts": "power",
    "watts": "power",
    "speed": "speed",
    "distance": "dist",
}


class _GpxHandler:
    """Collects trackpoints and the first track's name and type."""

    def __init__(self) -> None:
        self.track = Track()
        self.root: str | None = None
        self.name: str | None = None
        self.kind: str | None = None
        self.offsets: list[int | None] = []
        self.routes = 0
        self.untimed = 0
        self._point: dict[str, float | None] | None = None
        self._time: tuple[float, int | None] | None = None

    def start(self, name: str, attrs: dict[str, str], parents: list[str]) -> None:
        if self.root is None:
            self.root = name
        if name == "trkpt":
            self._point = {"lat": number(attrs.get("lat", "")), "lon": number(attrs.get("lon", ""))}
            self._time = None
        elif name == "rtept":
            self.routes += 1

    def end(self, name: str, text: str, parents: list[str]) -> None:
        point = self._point
        if point is not None:
            if name == "trkpt":
                self._close_point(point)
            elif name == "time" and parents[-1] == "trkpt":
                self._time = parse_time(text)
            elif name == "ele" and parents[-1] == "trkpt":
                point["alt"] = number(text)
            elif name == "speed" and parents[-1] == "trkpt":
                point["speed"] = number(text)  # GPX 1.0 has <speed> in the point itself
            elif name in _EXTENSIONS and "extensions" in parents:
                point.setdefault(_EXTENSIONS[name], number(text))
            return
        if parents and parents[-1] == "trk":
            if name == "name" and self.name is None:
                self.name = text or None
            elif name == "type" and self.kind is None:
                self.kind = text or None

    def _close_point(self, point: dict[str, float | None]) -> None:
        self._point = None
        if self._time is None:
            self.untimed += 1
            return
        when, offset = self._time
        self.offsets.append(offset)
        self.track.add(
            time=when,
            lat=point.get("lat"),
            lon=point.get("lon"),
            alt=point.get("alt"),
            hr=point.get("hr"),
            cad=point.get("cad"),
            power=point.get("power"),
            speed=point.get("speed"),
            dist=point.get("dist"),
        )


def parse_gpx(*, data: bytes) -> ParsedFile:
    """Decode a GPX track into one activity; raise InvalidInput for anything unusable."""
    handler = _GpxHandler()
    parse_xml(data, handler=handler, what="GPX")
    if handler.root != "gpx":
        raise InvalidInput("file", "this is not a GPX file (its root element is not <gpx>)")
    track = handler.track
    warnings: list[str] = []
    if handler.untimed:
        if not len(track):
            raise InvalidInput(
                "file", "the GPX track has no timestamps: it is a planned route, not a recording"
            )
        warnings.append(f"{handler.untimed} trackpoints without a time were left out")
    if not len(track):
        if handler.routes:
            raise InvalidInput("file", "the GPX file holds only a route, not a recorded track")
        raise InvalidInput("file", "the GPX file holds no track points")
    start = min(track.time)
    streams = track.streams(start=start)
    elapsed = streams.time_s[-1] if streams.time_s else 0.0
    distance = max((d for d in streams.distance_m or () if d is not None), default=None)
    first = handler.offsets[0] if handler.offsets else None
    offset = offset_from_local_s(first) if first is not None else None
    start_time = datetime.fromtimestamp(start, UTC)
    lap = ParsedLap(
        start_time=start_time,
        elapsed_s=elapsed,
        distance_m=distance,
        avg_hr_bpm=mean_or_none(streams.hr_bpm),
        max_hr_bpm=max_or_none(streams.hr_bpm),
        avg_power_w=mean_or_none(streams.power_w),
        max_power_w=max_or_none(streams.power_w),
        avg_cadence_rpm=mean_or_none(streams.cadence_rpm),
    )
    activity = ParsedActivity(
        sport=sport_from_name(handler.kind),
        name=handler.name,
        sport_name=handler.kind,
        start_time=start_time,
        utc_offset_s=offset,
        elapsed_s=elapsed,
        distance_m=distance,
        avg_hr_bpm=lap.avg_hr_bpm,
        max_hr_bpm=lap.max_hr_bpm,
        avg_power_w=lap.avg_power_w,
        max_power_w=lap.max_power_w,
        avg_cadence_rpm=lap.avg_cadence_rpm,
        laps=[lap],  # GPX has no laps: the whole track is one, with the same figures
        streams=streams,
    )
    return ParsedFile(activities=[activity], format="gpx", warnings=warnings)
