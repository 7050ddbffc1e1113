"""Pace metrics: pace/speed conversion, grade-adjusted pace, NGP, rTSS, swim sTSS, best efforts.

Grade model: Minetti, Moia, Roi, Susta & Ferretti (2002), "Energy cost of walking and running
at extreme uphill and downhill slopes", J Appl Physiol 93:1039-1046. The energy cost of running
on a gradient `i` (rise over run, measured from -0.45 to +0.45) is

    Cr(i) = 155.4 i^5 - 30.4 i^4 - 43.3 i^3 + 46.3 i^2 + 19.5 i + 3.6   (J/kg/m),

3.6 J/kg/m on the flat. Running's cost per metre barely depends on speed, so running at `v` on
gradient `i` costs the metabolic power of running `v * Cr(i) / Cr(0)` on the flat: that is the
grade-adjusted speed (GAP). Gradients beyond the measured +-0.45 are clamped to it.

NGP (normalized graded pace) is the running analogue of Normalized Power over GAP speed: the
30 s rolling mean over full windows only, its fourth-power mean, the fourth root; None
samples (pauses, dropouts) are removed first, as for NP. rTSS = hours x IF^2 x 100 with
IF = NGP speed / threshold speed, i.e. threshold pace / NGP pace (the TrainingPeaks definition).

Every stream here is regularly sampled (1 Hz by default, `sample_interval_s` otherwise); a None
sample marks a missing reading.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, compress, count, pairwise, repeat
from operator import gt, is_not, le, sub
from typing import cast

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.running import STANDARD_DISTANCES, RaceDistance
from training_analyzer.core.validation import finite, finite_samples, non_negative, positive

MINETTI_MIN_GRADE = -0.45
MINETTI_MAX_GRADE = 0.45
MINETTI_FLAT_COST_J_KG_M = 3.6
NGP_WINDOW_S = 30.0
_COVER_TOLERANCE_M = 1e-6


class RunStress(msgspec.Struct, frozen=True, kw_only=True):
    """Load of one run from its speed stream: NGP, intensity factor and rTSS."""

    ngp_speed_m_s: float
    ngp_pace_s_per_km: float | None  # None when the runner never moved (NGP speed 0)
    intensity_factor: float
    rtss: float
    duration_s: float


class BestEffort(msgspec.Struct, frozen=True, kw_only=True):
    """Fastest coverage of one distance inside an activity; start_s is from the stream start."""

    name: str
    distance_m: float
    duration_s: float
    start_s: float

    @property
    def pace_s_per_km(self) -> float:
        """Average pace of the effort."""
        return self.duration_s * 1000.0 / self.distance_m


def pace_from_speed(*, speed_m_s: float) -> float:
    """Pace in s/km of a speed in m/s (speed must be > 0)."""
    return 1000.0 / positive("speed_m_s", speed_m_s)


def speed_from_pace(*, pace_s_per_km: float) -> float:
    """Speed in m/s of a pace in s/km (pace must be > 0)."""
    return 1000.0 / positive("pace_s_per_km", pace_s_per_km)


def minetti_cost_j_per_kg_m(*, grade: float) -> float:
    """Minetti et al. (2002) energy cost of running on `grade` (rise/run), clamped to +-0.45."""
    return _minetti(_clamp_grade(finite("grade", grade)))


def grade_adjustment_factor(*, grade: float) -> float:
    """Cr(grade) / Cr(0): how many flat metres one metre at `grade` is worth."""
    return minetti_cost_j_per_kg_m(grade=grade) / MINETTI_FLAT_COST_J_KG_M


def grade_adjusted_speed_m_s(*, speed_m_s: float, grade: float) -> float:
    """Flat speed with the same metabolic cost as `speed_m_s` on `grade` (Minetti 2002)."""
    return non_negative("speed_m_s", speed_m_s) * grade_adjustment_factor(grade=grade)


def grade_adjusted_pace_s_per_km(*, pace_s_per_km: float, grade: float) -> float:
    """Flat pace with the same metabolic cost as `pace_s_per_km` on `grade` (Minetti 2002)."""
    return positive("pace_s_per_km", pace_s_per_km) / grade_adjustment_factor(grade=grade)


def grade_stream(
    *,
    distance_m: Sequence[float | None],
    altitude_m: Sequence[float | None],
    half_window: int = 10,
    min_distance_m: float = 10.0,
) -> list[float | None]:
    """Per-sample gradient (rise/run) over a centred window of 2 x `half_window` samples.

    Missing distance or altitude samples are interpolated. Where the window covers less than
    `min_distance_m` (standing, walking very slowly) the grade is None: unknown, not flat.
    The window trades GPS/barometric noise against hill resolution; 10 samples each side is
    about 60 m at an easy running pace.
    """
    if half_window < 1:
        raise InvalidInput("half_window", f"must be >= 1, got {half_window!r}")
    min_d = positive("min_distance_m", min_distance_m)
    if len(distance_m) != len(altitude_m):
        raise InvalidInput(
            "altitude_m",
            f"must have the length of distance_m ({len(distance_m)}), got {len(altitude_m)}",
        )
    dist = _filled("distance_m", distance_m)
    alt = _filled("altitude_m", altitude_m)
    if dist is None or alt is None:
        return [None] * len(distance_m)
    h = min(half_window, len(dist) - 1)
    if h == 0:
        return [None]
    # Shifted copies, clamped at the ends, keep the per-sample work inside C-level map().
    d_ahead = dist[h:] + [dist[-1]] * h
    d_behind = [dist[0]] * h + dist[:-h]
    a_ahead = alt[h:] + [alt[-1]] * h
    a_behind = [alt[0]] * h + alt[:-h]
    return [
        rise / run if run >= min_d else None
        for rise, run in zip(map(sub, a_ahead, a_behind), map(sub, d_ahead, d_behind), strict=True)
    ]


def normalized_graded_speed_m_s(
    *,
    speed_m_s: Sequence[float | None],
    grade: Sequence[float | None] | None = None,
    sample_interval_s: float = 1.0,
) -> float | None:
    """NGP as a speed (m/s); None with less than one 30 s window of present samples.

    With `grade` None the run is taken as flat (normalized pace without grade adjustment); a
    None grade sample likewise counts as flat, since its speed sample is still real.
    """
    interval = positive("sample_interval_s", sample_interval_s)
    return _fourth_power_mean_of_rolling(_gap_speeds(speed_m_s, grade), interval)


def running_intensity_factor(*, ngp_speed_m_s: float, threshold_pace_s_per_km: float) -> float:
    """IF = NGP speed / threshold speed (= threshold pace / NGP pace)."""
    v = non_negative("ngp_speed_m_s", ngp_speed_m_s)
    pace = positive("threshold_pace_s_per_km", threshold_pace_s_per_km)
    return v * pace / 1000.0


def rtss(*, duration_s: float, intensity_factor: float) -> float:
    """Running TSS: hours x IF^2 x 100 (one hour at threshold pace scores 100)."""
    t = non_negative("duration_s", duration_s)
    intensity = non_negative("intensity_factor", intensity_factor)
    return t / 3600.0 * intensity * intensity * 100.0


def run_stress(
    *,
    speed_m_s: Sequence[float | None],
    threshold_pace_s_per_km: float,
    grade: Sequence[float | None] | None = None,
    sample_interval_s: float = 1.0,
) -> RunStress | None:
    """NGP, IF and rTSS of a run; None with less than 30 s of present speed samples.

    The duration is that of the samples NGP was computed on (present samples only).
    """
    interval = positive("sample_interval_s", sample_interval_s)
    pace = positive("threshold_pace_s_per_km", threshold_pace_s_per_km)
    gap = _gap_speeds(speed_m_s, grade)
    ngp = _fourth_power_mean_of_rolling(gap, interval)
    if ngp is None:
        return None
    duration = len(gap) * interval
    intensity = running_intensity_factor(ngp_speed_m_s=ngp, threshold_pace_s_per_km=pace)
    return RunStress(
        ngp_speed_m_s=ngp,
        ngp_pace_s_per_km=1000.0 / ngp if ngp > 0 else None,
        intensity_factor=intensity,
        rtss=rtss(duration_s=duration, intensity_factor=intensity),
        duration_s=duration,
    )


def swim_intensity_factor(
    *, distance_m: float, moving_time_s: float, threshold_pace_s_per_100m: float
) -> float:
    """Swim IF = normalized swim speed (distance / moving time) / threshold swim speed."""
    d = non_negative("distance_m", distance_m)
    t = non_negative("moving_time_s", moving_time_s)
    pace = positive("threshold_pace_s_per_100m", threshold_pace_s_per_100m)
    if t == 0:
        if d > 0:
            raise InvalidInput("moving_time_s", f"must be > 0 to cover {d!r} m")
        return 0.0
    return (d / t) * pace / 100.0


def swim_tss(*, distance_m: float, moving_time_s: float, threshold_pace_s_per_100m: float) -> float:
    """TrainingPeaks swim TSS: IF^3 x hours x 100 over moving time (IF cubed, not squared)."""
    intensity = swim_intensity_factor(
        distance_m=distance_m,
        moving_time_s=moving_time_s,
        threshold_pace_s_per_100m=threshold_pace_s_per_100m,
    )
    return intensity**3 * moving_time_s / 3600.0 * 100.0


def best_efforts(
    *,
    distance_m: Sequence[float | None],
    distances: tuple[RaceDistance, ...] = STANDARD_DISTANCES,
    sample_interval_s: float = 1.0,
) -> list[BestEffort]:
    """Fastest time to cover each distance in a cumulative distance stream.

    Distance is linear between samples, so both ends of an effort are interpolated; only the
    distances the activity covers are returned, in the order given. Missing samples are
    interpolated (distance is cumulative, so a dropout is bridged, not lost).
    """
    interval = positive("sample_interval_s", sample_interval_s)
    targets = [(t, positive("distances", t.distance_m)) for t in distances]
    dist = _filled("distance_m", distance_m)
    if dist is None or len(dist) < 2:
        return []
    if any(map(gt, dist, dist[1:])):
        i = next(i for i in range(1, len(dist)) if dist[i] < dist[i - 1])
        raise InvalidInput(
            "distance_m",
            f"must be non-decreasing (cumulative), sample {i} goes from "
            f"{dist[i - 1]!r} to {dist[i]!r}",
        )
    out: list[BestEffort] = []
    for target, d in targets:
        found = _fastest_cover(dist, d)
        if found is not None:
            duration, start = found
            out.append(
                BestEffort(
                    name=target.name,
                    distance_m=d,
                    duration_s=duration * interval,
                    start_s=start * interval,
                )
            )
    return out


def _clamp_grade(g: float) -> float:
    if g < MINETTI_MIN_GRADE:
        return MINETTI_MIN_GRADE
    if g > MINETTI_MAX_GRADE:
        return MINETTI_MAX_GRADE
    return g


def _minetti(g: float) -> float:
    return ((((155.4 * g - 30.4) * g - 43.3) * g + 46.3) * g + 19.5) * g + 3.6


def _gap_speeds(
    speed_m_s: Sequence[float | None], grade: Sequence[float | None] | None
) -> list[float]:
    """Grade-adjusted speeds of the present samples (None speed samples removed)."""
    if grade is None:
        gap = _present(speed_m_s)
    else:
        if len(grade) != len(speed_m_s):
            raise InvalidInput(
                "grade", f"must have the length of speed_m_s ({len(speed_m_s)}), got {len(grade)}"
            )
        grades = _present(grade)
        if grades and not math.isfinite(sum(grades)):
            finite_samples("grade", grade)
        gap = []
        append = gap.append
        lo, hi = MINETTI_MIN_GRADE, MINETTI_MAX_GRADE
        for v, g in zip(speed_m_s, grade, strict=True):
            if v is None:
                continue
            if g is None:
                append(v)
                continue
            g = lo if g < lo else hi if g > hi else g
            # Minetti's polynomial (Horner form) over its flat value 3.6, inlined: a function
            # call per sample would cost more than the polynomial itself.
            append(v * (((((155.4 * g - 30.4) * g - 43.3) * g + 46.3) * g + 19.5) * g + 3.6) / 3.6)
    if gap:
        if not math.isfinite(sum(gap)):
            finite_samples("speed_m_s", speed_m_s)
        if min(gap) < 0:
            raise InvalidInput("speed_m_s", "speed samples must be >= 0")
    return gap


def _present(values: Sequence[float | None]) -> list[float]:
    """The samples that are not None, in order (C-level filtering)."""
    return cast("list[float]", list(compress(values, map(is_not, values, repeat(None)))))


def _fourth_power_mean_of_rolling(values: list[float], interval_s: float) -> float | None:
    """(mean of (30 s rolling mean)^4)^(1/4) over full windows; None if under 30 s of values."""
    w = max(1, round(NGP_WINDOW_S / interval_s))
    if len(values) < w:
        return None
    prefix = list(accumulate(values, initial=0.0))
    window_sums = map(sub, prefix[w:], prefix)
    n_windows = len(values) - w + 1
    mean_fourth = sum(map(pow, window_sums, repeat(4))) / n_windows
    return float(mean_fourth**0.25 / w)


def _filled(name: str, values: Sequence[float | None]) -> list[float] | None:
    """Copy with interior gaps interpolated linearly and the ends held; None if nothing present."""
    if None not in values:
        out = cast("list[float]", list(values))
    else:
        present = [i for i, v in enumerate(values) if v is not None]
        if not present:
            return None
        out = [0.0] * len(values)
        first, last = present[0], present[-1]
        head, tail = values[first], values[last]
        assert head is not None
        assert tail is not None
        for i in range(first):
            out[i] = head
        for a, b in pairwise(present):
            va, vb = values[a], values[b]
            assert va is not None
            assert vb is not None
            out[a] = va
            step = (vb - va) / (b - a)
            for j in range(a + 1, b):
                out[j] = va + step * (j - a)
        for i in range(last, len(values)):
            out[i] = tail
    if out and not math.isfinite(sum(out)):
        finite_samples(name, values)
    return out


def _fastest_cover(d: list[float], target: float) -> tuple[float, float] | None:
    """Shortest duration (in samples) over which `d` grows by `target`, and its start.

    `d` is non-decreasing and linear between samples. Let k be the fewest samples any
    sample-aligned window needs to cover the target. The optimum lasts between k-1 and k samples
    and has a sample at one end; in both cases its start sample i needs exactly k samples, so
    only those starts are evaluated. With e = d[i+k] - d[i] - target (the overshoot), the effort
    ending on sample i+k with its start interpolated lasts k - e / (d[i+1] - d[i]), and the one
    starting on sample i with its end interpolated lasts k - e / (d[i+k] - d[i+k-1]).

    k is found without a per-sample Python loop: a coarse grid of starts and a local refinement
    give an upper bound k_up, one C-level pass lists the starts that reach the target within
    k_up samples, and that list is narrowed lag by lag until no start reaches in k-1.
    """
    n = len(d)
    # "Covers the target" allows a micrometre of float noise: otherwise a window short by one
    # ulp could be pushed across a standing-still stretch and come out a second slower.
    need = target - min(_COVER_TOLERANCE_M, 0.5 * target)
    if d[-1] - d[0] < need:
        return None

    def first_reach(i: int) -> int:
        # First j with d[j] - d[i] >= need; the difference form is the one predicate used
        # everywhere, so bisect's answer on d[i] + need is nudged to agree with it.
        j = bisect_left(d, d[i] + need, i + 1)
        while j > i + 1 and d[j - 1] - d[i] >= need:
            j -= 1
        while j < n and d[j] - d[i] < need:
            j += 1
        return j

    # Last start from which the rest of the activity still covers the target.
    last_start = max(0, bisect_left(d, d[-1] - need) - 1)
    while last_start + 1 < n and d[-1] - d[last_start + 1] >= need:
        last_start += 1
    while last_start > 0 and d[-1] - d[last_start] < need:
        last_start -= 1
    step = max(1, math.isqrt(n))
    k_up = n
    best_start = 0
    for a in range(0, last_start + 1, step):
        lag = first_reach(a) - a
        if lag < k_up:
            k_up, best_start = lag, a
    for i in range(max(0, best_start - step), min(last_start, best_start + step) + 1):
        lag = first_reach(i) - i
        if lag < k_up:
            k_up = lag
    reach = _starts_reaching(d, need, k_up)
    k = k_up
    last = n - 1
    while k > 1:
        quicker = [i for i in reach if d[min(i + k - 1, last)] - d[i] >= need]
        if not quicker:
            break
        reach, k = quicker, k - 1
    best = math.inf
    best_at = 0.0
    for i in reach:
        start = d[i]
        end = d[i + k]
        overshoot = max(0.0, end - start - target)  # within the tolerance counts as exact
        first_step = d[i + 1] - start
        last_step = end - d[i + k - 1]
        if first_step <= last_step:
            duration = k - overshoot / first_step
            if duration < best:
                best, best_at = duration, i + overshoot / first_step
        else:
            duration = k - overshoot / last_step
            if duration < best:
                best, best_at = duration, float(i)
    return best, best_at


_BLOCK = 16


def _starts_reaching(d: list[float], need: float, lag: int) -> list[int]:
    """Every start i with d[min(i + lag, n - 1)] - d[i] >= need, in order.

    Starts near the end get the last sample as their horizon: they may reach in fewer than
    `lag` samples even though a `lag`-sample window no longer fits. Blocks of 16 starts are
    screened first: no start in [a, a+16) can reach unless d[a+15+lag] - d[a] does, which skips
    most of a long effort's blocks for one cheap pass over every 16th sample.
    """
    n = len(d)
    last = d[-1]
    heads = d[::_BLOCK]
    tails = d[_BLOCK - 1 + lag :: _BLOCK]
    tails += [last] * (len(heads) - len(tails))
    blocks = list(compress(count(), map(le, repeat(need), map(sub, tails, heads))))
    if len(blocks) * 2 > len(heads):
        ahead = d[lag:] + [last] * lag
        return list(compress(count(), map(le, repeat(need), map(sub, ahead, d))))
    out: list[int] = []
    i = 0
    while i < len(blocks):
        # Merge consecutive screened blocks into one range [lo, hi) of starts.
        j = i
        while j + 1 < len(blocks) and blocks[j + 1] == blocks[j] + 1:
            j += 1
        lo = blocks[i] * _BLOCK
        hi = min(n, (blocks[j] + 1) * _BLOCK)
        ahead = d[lo + lag : hi + lag]
        ahead += [last] * (hi - lo - len(ahead))
        out.extend(compress(count(lo), map(le, repeat(need), map(sub, ahead, d[lo:hi]))))
        i = j + 1
    return out
