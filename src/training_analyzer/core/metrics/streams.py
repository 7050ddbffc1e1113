"""Per-second activity streams: the data type, resampling to 1 Hz, pauses vs dropouts.

A `Streams` holds parallel channels indexed by sample; `time_s` is seconds since the activity
start. A channel is None when the device did not record it at all; a None *sample* inside a
channel marks one missing reading.
"""

from __future__ import annotations

import msgspec


class Streams(msgspec.Struct, frozen=True, kw_only=True):
    """Parallel per-sample channels of one activity (SI units, time in seconds from start)."""

    time_s: list[float]
    hr_bpm: list[float | None] | None = None
    power_w: list[float | None] | None = None
    speed_m_s: list[float | None] | None = None
    distance_m: list[float | None] | None = None
    altitude_m: list[float | None] | None = None
    cadence_rpm: list[float | None] | None = None
    lat_deg: list[float | None] | None = None
    lon_deg: list[float | None] | None = None
