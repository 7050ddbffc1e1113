"""Helpers shared by the file decoders: stream assembly, distances, fallback figures."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Final

from training_analyzer.core.metrics.streams import Streams

# Mean Earth radius (IUGG), as used by the haversine formula for track distances.
EARTH_RADIUS_M: Final = 6_371_008.8

# Real UTC offsets are whole quarter hours (IANA tz database: the finest in use is 45 min,
# e.g. Nepal +05:45), and run from -12:00 to +14:00.
_OFFSET_STEP_S: Final = 900
_MAX_OFFSET_S: Final = 14 * 3600

CHANNELS: Final = (
    "hr_bpm",
    "power_w",
    "speed_m_s",
    "distance_m",
    "altitude_m",
    "cadence_rpm",
    "lat_deg",
    "lon_deg",
)


def offset_from_local_s(delta_s: float) -> int | None:
    """A device's local-minus-UTC difference rounded to a real UTC offset (None if implausible)."""
    if not math.isfinite(delta_s):
        return None
    offset = round(delta_s / _OFFSET_STEP_S) * _OFFSET_STEP_S
    return offset if abs(offset) <= _MAX_OFFSET_S else None


def assemble_streams(*, time_s: Sequence[float], channels: dict[str, list[Any]]) -> Streams:
    """Build Streams with strictly increasing time: sort if needed, merge equal timestamps.

    Samples sharing a timestamp (devices write two at a lap boundary) become one, each channel
    taking the first present value. A channel with no value at all is None (not recorded).
    """
    times = list(time_s)
    channels = {name: _finite_or_none(values) for name, values in channels.items()}
    if any(b <= a for a, b in itertools.pairwise(times)):
        order = sorted(range(len(times)), key=times.__getitem__)
        keep: list[list[int]] = []
        for i in order:
            if keep and times[keep[-1][0]] == times[i]:
                keep[-1].append(i)
            else:
                keep.append([i])
        merged: dict[str, list[Any]] = {}
        for name, values in channels.items():
            merged[name] = [
                next((values[i] for i in group if values[i] is not None), None) for group in keep
            ]
        times = [times[group[0]] for group in keep]
        channels = merged
    present = {
        name: values for name, values in channels.items() if any(v is not None for v in values)
    }
    return Streams(time_s=times, **present)


def _finite_or_none(values: list[Any]) -> list[Any]:
    # Fast path at C speed: a finite total means every present sample is finite.
    if math.isfinite(sum(filter(None, values))):
        return values
    return [v if v is None or math.isfinite(v) else None for v in values]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points in degrees (haversine formula)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def cumulative_distance_m(
    *, lat_deg: Sequence[float | None], lon_deg: Sequence[float | None]
) -> list[float | None]:
    """Distance along the track at each sample (None before the first fix)."""
    out: list[float | None] = []
    total = 0.0
    prev: tuple[float, float] | None = None
    for lat, lon in zip(lat_deg, lon_deg, strict=True):
        if lat is None or lon is None:
            out.append(total if prev is not None else None)
            continue
        if prev is not None:
            total += haversine_m(prev[0], prev[1], lat, lon)
        prev = (lat, lon)
        out.append(total)
    return out


def haversine_total_m(
    *, lat_deg: Sequence[float | None], lon_deg: Sequence[float | None]
) -> float | None:
    """Track length over the points that have a position (None with fewer than two)."""
    points = [
        (a, b) for a, b in zip(lat_deg, lon_deg, strict=True) if a is not None and b is not None
    ]
    if len(points) < 2:
        return None
    return math.fsum(haversine_m(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(points))


def mean_or_none(values: Sequence[float | None] | None) -> float | None:
    """Mean of the present samples (a sample mean, not time-weighted); None if there are none."""
    if values is None:
        return None
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def max_or_none(values: Sequence[float | None] | None) -> float | None:
    """Largest present sample, or None."""
    if values is None:
        return None
    return max((v for v in values if v is not None), default=None)


class Track:
    """Trackpoints of a GPX/TCX activity collected as columns (absolute Unix times)."""

    __slots__ = ("alt", "cad", "dist", "hr", "lat", "lon", "power", "speed", "time")

    def __init__(self) -> None:
        self.time: list[float] = []
        self.lat: list[float | None] = []
        self.lon: list[float | None] = []
        self.alt: list[float | None] = []
        self.hr: list[float | None] = []
        self.cad: list[float | None] = []
        self.power: list[float | None] = []
        self.speed: list[float | None] = []
        self.dist: list[float | None] = []

    def add(
        self,
        *,
        time: float,
        lat: float | None = None,
        lon: float | None = None,
        alt: float | None = None,
        hr: float | None = None,
        cad: float | None = None,
        power: float | None = None,
        speed: float | None = None,
        dist: float | None = None,
    ) -> None:
        """Append one trackpoint; a missing or impossible position drops both coordinates."""
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
        self.time.append(time)
        self.lat.append(lat)
        self.lon.append(lon)
        self.alt.append(alt)
        self.hr.append(hr if hr else None)  # 0 bpm is a missing reading
        self.cad.append(cad)
        self.power.append(power)
        self.speed.append(speed)
        self.dist.append(dist)

    def __len__(self) -> int:
        return len(self.time)

    def streams(self, *, start: float) -> Streams:
        """Streams relative to `start`; distance from the file, else haversine along the track."""
        order = sorted(range(len(self.time)), key=self.time.__getitem__)

        def sort(values: list[Any]) -> list[Any]:
            return [values[i] for i in order]

        lat, lon = sort(self.lat), sort(self.lon)
        dist = sort(self.dist)
        if all(d is None for d in dist) and any(v is not None for v in lat):
            dist = cumulative_distance_m(lat_deg=lat, lon_deg=lon)
        return assemble_streams(
            time_s=[t - start for t in sort(self.time)],
            channels={
                "hr_bpm": sort(self.hr),
                "power_w": sort(self.power),
                "speed_m_s": sort(self.speed),
                "distance_m": dist,
                "altitude_m": sort(self.alt),
                "cadence_rpm": sort(self.cad),
                "lat_deg": lat,
                "lon_deg": lon,
            },
        )
