"""Per-second activity streams: the data type, resampling to 1 Hz, pauses vs dropouts.

A `Streams` holds parallel channels indexed by sample; `time_s` is seconds since the activity
start. A channel is None when the device did not record it at all; a None *sample* inside a
channel marks one missing reading.

Two kinds of hole are told apart (see docs/metrics/streams.md):

* a **pause** is a hole in `time_s` longer than `PAUSE_GAP_S`: the recording was stopped
  (timer paused, auto-pause). Paused time has no samples, so every metric leaves it out;
  `resample_1hz` keeps the jump in `time_s` instead of inventing samples.
* a **dropout** is a run of None samples in one channel while the recording went on (a sensor
  lost its link). Runs of at most `DROPOUT_FILL_MAX_S` seconds are filled by linear
  interpolation; longer runs stay None and count as missing data.

Shorter holes in `time_s` (at most `PAUSE_GAP_S`, e.g. Garmin "smart recording", which writes a
point only when something changes) are interpolated onto the 1 Hz grid.

The metric functions in `heart_rate` and `power` take the 1 Hz channels that `resample_1hz`
returns: each sample stands for one second, and None samples are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import compress, islice, pairwise
from operator import sub
from typing import Final, cast

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.validation import finite, finite_samples, non_negative

# A hole in the timestamps longer than this is a pause (recording stopped), not a gap to
# interpolate. GoldenCheetah fills Garmin smart-recording gaps up to a default of 25 s (its
# "Smart Recording Threshold" preference) for the same reason: smart recording leaves several
# seconds between points while the athlete keeps moving.
PAUSE_GAP_S: Final = 25.0

# A run of missing samples in one channel at most this long is filled by linear interpolation.
# Sensor link drops are typically a few seconds; a hole that short is a small part of NP's 30 s
# window, so interpolating moves NP by little, while a longer hole would invent a sizeable share
# of a window. Longer runs stay None (metrics leave them out). See docs/metrics/streams.md.
DROPOUT_FILL_MAX_S: Final = 5

# Below this speed a sample counts as standing still. GPS-derived speed of a device lying still
# wanders by a few tenths of a metre per second, and 0.5 m/s (1.8 km/h) is still well below the
# slowest walking pace, so the threshold hides jitter without cutting real movement.
# (GoldenCheetah counts any speed > 0; Elevate uses 0.1 km/h, both on wheel or device speed.)
MOVING_SPEED_MIN_M_S: Final = 0.5

# Altitude must move more than this from the last counted point before it counts as gain or
# loss. 3 m is GoldenCheetah's default "elevation hysteresis" (src/Metrics/BasicRideMetrics.cpp,
# ElevationGain); barometric altimeters resolve about 1 m and GPS altitude is noisier, so a
# 2-5 m band is the usual choice and 3 m matches the most widely used open implementation.
ELEVATION_HYSTERESIS_M: Final = 3.0

# Timestamps this close to a whole second apart are treated as exactly 1 Hz (float noise from
# unit conversions such as FIT's 1/1000 s or ISO-8601 text).
_TIME_EPS_S: Final = 1e-6

_CHANNELS: Final = (
    "hr_bpm",
    "power_w",
    "speed_m_s",
    "distance_m",
    "altitude_m",
    "cadence_rpm",
    "lat_deg",
    "lon_deg",
)


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

    def __post_init__(self) -> None:
        n = len(self.time_s)
        for name in _CHANNELS:
            channel: list[float | None] | None = getattr(self, name)
            if channel is not None and len(channel) != n:
                raise InvalidInput(
                    name, f"has {len(channel)} samples but time_s has {n}; channels must align"
                )


class Pause(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch with no samples: the recording stopped between `start_s` and `end_s`."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the pause in seconds."""
        return self.end_s - self.start_s


class Dropout(msgspec.Struct, frozen=True, kw_only=True):
    """A run of missing samples `[start_index, end_index)` in one 1 Hz channel."""

    start_index: int
    end_index: int

    @property
    def duration_s(self) -> int:
        """Length of the run in seconds (one sample per second)."""
        return self.end_index - self.start_index


class ElevationChange(msgspec.Struct, frozen=True, kw_only=True):
    """Cumulative climbing and descending of an activity, in metres (both >= 0)."""

    gain_m: float
    loss_m: float


def present_samples(
    name: str,
    values: Sequence[float | None],
    *,
    non_negative: bool = False,
    drop_zeros: bool = False,
) -> Sequence[float]:
    """The present samples of a channel in order, after checking them; may be `values` itself.

    Raises InvalidInput naming `name` if a sample is NaN or infinite, or (with `non_negative`)
    below 0. `drop_zeros` also leaves out 0 readings (a heart-rate strap that lost contact
    writes 0). Clean data is checked at C speed: `sum` raises TypeError at a None and yields a
    non-finite total for NaN or infinity, and only then does a per-sample pass run.
    """
    present: Sequence[float]
    try:
        total = sum(cast("Sequence[float]", values))
        present = cast("Sequence[float]", values)
    except TypeError:
        present = [v for v in values if v is not None]
        total = sum(present)
    if not math.isfinite(total):
        finite_samples(name, values)  # raises with the index; passes if the sum only overflowed
    if (non_negative or drop_zeros) and present:
        low = min(present)
        if non_negative and low < 0:
            first = next(i for i, v in enumerate(values) if v is not None and v < 0)
            raise InvalidInput(name, f"sample {first} is negative ({values[first]!r})")
        if drop_zeros and low <= 0:
            present = [v for v in present if v > 0]
    return present


def check_time(time_s: Sequence[float], *, name: str = "time_s") -> None:
    """Raise InvalidInput unless `time_s` is finite and strictly increasing."""
    _checked_time(time_s, name)


def elapsed_time_s(*, time_s: Sequence[float]) -> float:
    """Wall time from the first to the last sample, pauses included (0 for < 2 samples).

    Only the two end samples are read and checked; `resample_1hz` checks the whole channel.
    """
    if len(time_s) < 2:
        return 0.0
    first = finite("time_s[0]", time_s[0])
    last = finite("time_s[-1]", time_s[-1])
    if last < first:
        raise InvalidInput("time_s", f"ends ({last!r}) before it starts ({first!r})")
    return last - first


def find_pauses(*, time_s: Sequence[float], max_gap_s: float = PAUSE_GAP_S) -> list[Pause]:
    """Holes in `time_s` longer than `max_gap_s`: the recording was stopped there."""
    contiguous = _checked_time(time_s)
    gap = _check_max_gap(max_gap_s)
    if contiguous:
        return []
    return [
        Pause(start_s=float(time_s[i]), end_s=float(time_s[i + 1]))
        for i, step in enumerate(map(sub, islice(time_s, 1, None), time_s))
        if step > gap
    ]


def find_dropouts(*, values: Sequence[float | None]) -> list[Dropout]:
    """Runs of None samples in a 1 Hz channel, edges included, in order."""
    runs: list[Dropout] = []
    n = len(values)
    start = _next_none(values, 0)
    while start < n:
        end = start + 1
        while end < n and values[end] is None:
            end += 1
        runs.append(Dropout(start_index=start, end_index=end))
        start = _next_none(values, end)
    return runs


def fill_dropouts(
    *, values: Sequence[float | None], max_fill_s: int = DROPOUT_FILL_MAX_S
) -> list[float | None]:
    """Linearly fill short interior runs of None in a contiguous 1 Hz channel.

    Runs of at most `max_fill_s` samples with a present neighbour on both sides are filled;
    runs touching either end (one neighbour only) and longer runs stay None.
    """
    limit = _check_max_fill(max_fill_s)
    out = list(values)
    if limit == 0:
        return out
    for run in find_dropouts(values=values):
        if run.start_index == 0 or run.end_index == len(out) or run.duration_s > limit:
            continue
        before = out[run.start_index - 1]
        after = out[run.end_index]
        if before is None or after is None:  # cannot happen: runs are maximal
            continue
        step = (after - before) / (run.duration_s + 1)
        for k in range(run.duration_s):
            out[run.start_index + k] = before + step * (k + 1)
    return out


def resample_1hz(
    *,
    streams: Streams,
    max_gap_s: float = PAUSE_GAP_S,
    max_fill_s: int = DROPOUT_FILL_MAX_S,
) -> Streams:
    """Put every channel on a 1 Hz grid: interpolate short holes, keep pauses as jumps in time.

    Each recorded stretch between pauses (holes in `time_s` longer than `max_gap_s`) gets its
    own grid `t0, t0 + 1, ...` starting at its first sample, so a stream already at 1 Hz comes
    back unchanged (the very same object when it has no missing sample; otherwise channels
    that need no change are shared with the input, not copied). Values between
    recorded points are linearly interpolated when both neighbours are present. Then runs of
    at most `max_fill_s` missing samples are filled (within a stretch, never across a pause);
    longer runs stay None.
    """
    time_s = streams.time_s
    contiguous = _checked_time(time_s)
    gap = _check_max_gap(max_gap_s)
    limit = _check_max_fill(max_fill_s)
    channels: dict[str, list[float | None] | None] = {
        name: getattr(streams, name) for name in _CHANNELS
    }
    # channels with a missing sample; only these can need filling on a 1 Hz input
    missing = {
        name
        for name, channel in channels.items()
        if channel is not None and len(present_samples(name, channel)) < len(channel)
    }
    if len(time_s) < 2:
        return streams

    breaks: list[int]
    if contiguous:
        if not missing or limit == 0:
            return streams
        grid_time, breaks, resampled = time_s, [], channels
    else:
        steps = list(map(sub, islice(time_s, 1, None), time_s))
        if all(abs(s - 1.0) <= _TIME_EPS_S or s > gap for s in steps):
            if not missing or limit == 0:
                return streams
            grid_time, resampled = time_s, channels
            breaks = [i + 1 for i, s in enumerate(steps) if s > gap]
        else:
            grid_time, left, weight, breaks = _grid(time_s, steps, gap)
            resampled = {
                name: None if ch is None else _interpolate(ch, left, weight)
                for name, ch in channels.items()
            }
            missing = {name for name, ch in resampled.items() if ch is not None and None in ch}

    # channels without a hole are passed through as they are (lists are shared, not copied)
    filled = dict(resampled)
    if limit:
        bounds = [0, *breaks, len(grid_time)]
        for name in missing:
            channel = resampled[name]
            assert channel is not None  # only present channels are in `missing`
            pieces: list[float | None] = []
            for lo, hi in pairwise(bounds):
                pieces.extend(fill_dropouts(values=channel[lo:hi], max_fill_s=limit))
            filled[name] = pieces
    return Streams(time_s=list(grid_time), **filled)


def moving_time_s(
    *,
    streams: Streams,
    min_speed_m_s: float = MOVING_SPEED_MIN_M_S,
    max_gap_s: float = PAUSE_GAP_S,
) -> float:
    """Seconds spent moving: elapsed time minus pauses and stretches of standing still.

    Each interval between consecutive samples counts when it is not a pause (at most
    `max_gap_s`) and its closing sample shows movement: speed >= `min_speed_m_s`, or cadence
    > 0, or power > 0 (GoldenCheetah's "moving or pedalling" rule, so trainer rides without
    speed count). A None sample shows no movement. When the activity has none of the speed,
    cadence and power channels, nothing can tell standing from moving and every non-paused
    interval counts.
    """
    time_s = streams.time_s
    contiguous = _checked_time(time_s)
    gap = _check_max_gap(max_gap_s)
    threshold = non_negative("min_speed_m_s", min_speed_m_s)
    n = len(time_s)
    if n < 2:
        return 0.0
    evidence = [
        (name, channel)
        for name, channel in (
            ("speed_m_s", streams.speed_m_s),
            ("cadence_rpm", streams.cadence_rpm),
            ("power_w", streams.power_w),
        )
        if channel is not None
    ]
    complete = {name: len(present_samples(name, ch)) == len(ch) for name, ch in evidence}
    if contiguous and not evidence:
        return float(time_s[-1] - time_s[0])
    # Intervals (closing sample i + 1) that no channel shows moving. The first channel gives
    # the candidates; the others only re-check those, usually a small minority.
    # `v or 0.0` reads a missing sample as "no sign of movement".
    idle: list[int] | None = None
    for name, channel in evidence:
        if idle is None:
            tail = channel[1:]
            if name == "speed_m_s" and complete[name]:
                clean = cast("list[float]", tail)
                # a stretch without a stop never drops below the threshold: one C pass says so
                stops = min(clean, default=threshold) < threshold
                flags = [v < threshold for v in clean] if stops else []
            elif name == "speed_m_s":
                flags = [(v or 0.0) < threshold for v in tail]
            else:
                flags = [not v for v in tail]
            idle = list(compress(range(n - 1), flags)) if True in flags else []
        elif name == "speed_m_s":
            idle = [i for i in idle if (channel[i + 1] or 0.0) < threshold]
        else:
            idle = [i for i in idle if not channel[i + 1]]
    if contiguous:
        return float(time_s[-1] - time_s[0]) - (0 if idle is None else len(idle))
    steps = list(map(sub, islice(time_s, 1, None), time_s))
    for i in idle or ():
        steps[i] = 0.0
    return math.fsum(s for s in steps if s <= gap)


def elevation_gain_loss(
    *, altitude_m: Sequence[float | None] | None, hysteresis_m: float = ELEVATION_HYSTERESIS_M
) -> ElevationChange | None:
    """Total climb and descent with a noise band; None when there is no altitude data.

    A reference altitude starts at the first sample; a sample more than `hysteresis_m` above
    it adds the difference to the gain, one more than `hysteresis_m` below adds to the loss,
    and either moves the reference there. Wiggles inside the band count for nothing.
    """
    band = non_negative("hysteresis_m", hysteresis_m)
    if altitude_m is None:
        return None
    present = present_samples("altitude_m", altitude_m)
    if not present:
        return None
    gain = loss = 0.0
    ref = present[0]
    high, low = ref + band, ref - band
    for alt in present:
        # most samples fall inside the band: two comparisons and nothing else
        if alt > high:
            gain += alt - ref
        elif alt < low:
            loss += ref - alt
        else:
            continue
        ref = alt
        high, low = ref + band, ref - band
    return ElevationChange(gain_m=gain, loss_m=loss)


def _check_max_gap(max_gap_s: float) -> float:
    gap = finite("max_gap_s", max_gap_s)
    if gap < 1.0:
        raise InvalidInput("max_gap_s", f"must be >= 1 s (the 1 Hz step), got {max_gap_s!r}")
    return gap


def _check_max_fill(max_fill_s: int) -> int:
    if isinstance(max_fill_s, bool) or not isinstance(max_fill_s, int) or max_fill_s < 0:
        raise InvalidInput(
            "max_fill_s", f"must be a whole number of seconds >= 0, got {max_fill_s!r}"
        )
    return max_fill_s


def _checked_time(time_s: Sequence[float], name: str = "time_s") -> bool:
    """Check `time_s` as `check_time` does; return whether it is contiguous 1 Hz."""
    if not math.isfinite(sum(time_s)):
        finite_samples(name, time_s)
    if _is_contiguous_1hz(time_s):
        return True
    if min(map(sub, islice(time_s, 1, None), time_s)) <= 0:
        bad = next(i for i in range(1, len(time_s)) if time_s[i] <= time_s[i - 1])
        raise InvalidInput(
            name,
            f"must be strictly increasing; sample {bad} ({time_s[bad]!r}) "
            f"follows {time_s[bad - 1]!r}",
        )
    return False


def _is_contiguous_1hz(time_s: Sequence[float]) -> bool:
    """True when consecutive samples are one second apart (no pause, no missing second).

    O(1) rejection when the span is not n - 1 seconds; otherwise one C-speed pass for the
    smallest step: with every step >= 1 - eps and the span n - 1, no step can exceed 1 by
    more than n * eps either.
    """
    n = len(time_s)
    if n < 2:
        return True
    if not abs((time_s[-1] - time_s[0]) - (n - 1)) <= _TIME_EPS_S:  # also rejects NaN
        return False
    smallest: float = min(map(sub, islice(time_s, 1, None), time_s))
    return smallest >= 1.0 - _TIME_EPS_S / n


def _next_none(values: Sequence[float | None], start: int) -> int:
    """Index of the next None at or after `start`, or len(values); a C-speed scan."""
    try:
        return values.index(None, start)
    except ValueError:
        return len(values)


def _grid(
    time_s: Sequence[float], steps: Sequence[float], gap: float
) -> tuple[list[float], list[int], list[float], list[int]]:
    """The 1 Hz grid of each stretch between pauses, with interpolation brackets.

    Returns grid times, for each grid point the index of the recorded sample at or before it
    and the fraction of the way to the next one (0.0 on a recorded sample), and the grid
    indices where a new stretch starts.
    """
    grid: list[float] = []
    left: list[int] = []
    weight: list[float] = []
    breaks: list[int] = []
    n = len(time_s)
    start = 0
    while start < n:
        end = start
        while end + 1 < n and steps[end] <= gap:
            end += 1
        if start:
            breaks.append(len(grid))
        t0 = time_s[start]
        count = math.floor(time_s[end] - t0 + _TIME_EPS_S) + 1
        i = start
        for k in range(count):
            g = t0 + k
            while i < end and time_s[i + 1] <= g + _TIME_EPS_S:
                i += 1
            grid.append(g)
            left.append(i)
            offset = g - time_s[i]
            weight.append(0.0 if i == end or offset <= _TIME_EPS_S else offset / steps[i])
        start = end + 1
    return grid, left, weight, breaks


def _interpolate(
    values: Sequence[float | None], left: Sequence[int], weight: Sequence[float]
) -> list[float | None]:
    out: list[float | None] = []
    append = out.append
    for i, w in zip(left, weight, strict=True):
        a = values[i]
        if w == 0.0 or a is None:
            append(a)
            continue
        b = values[i + 1]
        append(None if b is None else a + (b - a) * w)
    return out
