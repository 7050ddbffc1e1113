"""Cycling power metrics: NP, IF, TSS, VI, efficiency factor, Pa:HR decoupling, power curve.

Stream forms take the 1 Hz `power_w` channel from `streams.resample_1hz`: each present sample
is one second of recording. None samples (long sensor dropouts) are left out, and paused time
has no samples at all, so both are removed, as ARCHITECTURE.md section 7a decides. Recorded
zeros (coasting) are real data and stay in. A negative or non-finite sample is impossible
input.

Formulas, sources and worked examples: docs/metrics/power.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate, compress, islice
from operator import sub
from typing import Final, cast

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import check_time, present_samples
from training_analyzer.core.validation import non_negative, positive, same_length

# Coggan's Normalized Power: 30 s rolling mean, full windows only (ARCHITECTURE.md 7a).
NP_WINDOW_S: Final = 30

# Mean-maximal power durations reported by `power_curve`: 5 s, 10 s, 30 s, 1, 2, 5, 10, 20,
# 30 and 60 min.
STANDARD_DURATIONS_S: Final = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

_SECONDS_PER_HOUR: Final = 3600.0
# `power_curve` searches durations of a minute and more block by block (see
# `_best_window_sum`); a block of 16 s keeps its bound within 15 s of riding of the truth,
# and searching one surviving block costs about as much as 40 windows of a full pass.
_PRUNE_MIN_DURATION_S: Final = 60
_PRUNE_BLOCK_S: Final = 16
_BLOCK_OVERHEAD_WINDOWS: Final = 40
# Timestamps this close to a whole second apart count as consecutive 1 Hz samples.
_TIME_EPS_S: Final = 1e-6


class PowerSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The power metrics of one activity, from one pass over its 1 Hz power channel."""

    duration_s: float
    """Seconds with a power sample: the sample set behind every other field."""
    average_power_w: float
    normalized_power_w: float | None
    """None with fewer than 30 samples."""
    intensity_factor: float | None
    """None without NP or FTP."""
    training_stress_score: float | None
    """None without NP or FTP."""
    variability_index: float | None
    """None without NP or when average power is 0."""


def average_power(*, power_w: Sequence[float | None] | None) -> float | None:
    """Mean of the present samples in W, zeros included; None without power data."""
    samples = _present_power(power_w)
    if not samples:
        return None
    return math.fsum(samples) / len(samples)


def normalized_power(*, power_w: Sequence[float | None] | None) -> float | None:
    """Coggan's Normalized Power in W; None with fewer than 30 present samples.

    30 s trailing rolling mean over full windows only, fourth-power mean, fourth root.
    """
    samples = _present_power(power_w)
    if samples is None or len(samples) < NP_WINDOW_S:
        return None
    return _normalized(list(accumulate(samples, initial=0.0)))


def intensity_factor(*, normalized_power_w: float, ftp_w: float) -> float:
    """Intensity factor IF = NP / FTP (dimensionless)."""
    ftp = positive("ftp_w", ftp_w)
    return non_negative("normalized_power_w", normalized_power_w) / ftp


def training_stress_score(*, duration_s: float, normalized_power_w: float, ftp_w: float) -> float:
    """Coggan's TSS = hours x IF^2 x 100; one hour at exactly FTP scores 100.

    Pass the duration of the samples NP was computed from (`training_stress_score_stream`
    and `power_summary` do that for you).
    """
    hours = non_negative("duration_s", duration_s) / _SECONDS_PER_HOUR
    factor = intensity_factor(normalized_power_w=normalized_power_w, ftp_w=ftp_w)
    return hours * factor * factor * 100.0


def training_stress_score_stream(
    *, power_w: Sequence[float | None] | None, ftp_w: float
) -> float | None:
    """TSS of a 1 Hz power channel: NP and duration from the same samples; None without NP."""
    positive("ftp_w", ftp_w)
    summary = power_summary(power_w=power_w, ftp_w=ftp_w)
    return None if summary is None else summary.training_stress_score


def variability_index(*, normalized_power_w: float, average_power_w: float) -> float | None:
    """Variability index VI = NP / average power; None when average power is 0 (undefined)."""
    np_w = non_negative("normalized_power_w", normalized_power_w)
    avg = non_negative("average_power_w", average_power_w)
    return None if avg == 0.0 else np_w / avg


def efficiency_factor(*, normalized_power_w: float, average_hr_bpm: float) -> float:
    """Efficiency factor EF = NP / average HR, in W per bpm (Friel)."""
    np_w = non_negative("normalized_power_w", normalized_power_w)
    return np_w / positive("average_hr_bpm", average_hr_bpm)


def power_summary(
    *, power_w: Sequence[float | None] | None, ftp_w: float | None = None
) -> PowerSummary | None:
    """Average power, NP, IF, TSS and VI from one set of prefix sums; None without power data.

    Same values as the single functions; IF and TSS need `ftp_w`.
    """
    ftp = None if ftp_w is None else positive("ftp_w", ftp_w)
    samples = _present_power(power_w)
    if not samples:
        return None
    prefix = list(accumulate(samples, initial=0.0))
    n = len(samples)
    avg = prefix[-1] / n
    np_w = _normalized(prefix) if n >= NP_WINDOW_S else None
    factor = None if np_w is None or ftp is None else np_w / ftp
    return PowerSummary(
        duration_s=float(n),
        average_power_w=avg,
        normalized_power_w=np_w,
        intensity_factor=factor,
        training_stress_score=None
        if factor is None
        else n / _SECONDS_PER_HOUR * factor * factor * 100.0,
        variability_index=None if np_w is None or avg == 0.0 else np_w / avg,
    )


def aerobic_decoupling_pct(
    *, power_w: Sequence[float | None] | None, hr_bpm: Sequence[float | None] | None
) -> float | None:
    """Pa:HR decoupling in %: 100 x (r1 - r2) / r1, r = average power / average HR per half.

    The 1 Hz samples are split at the middle (pauses have no samples, so this is the middle
    of the recorded time). Each half averages only the seconds with both a power sample and a
    heart rate above 0, as GoldenCheetah does. Positive means heart rate drifted up relative
    to power (Friel flags > 5 %). None when either channel is missing, a half has no paired
    seconds, or the first half's power is 0.
    """
    if power_w is None or hr_bpm is None:
        return None
    same_length(("power_w", "hr_bpm"), power_w, hr_bpm)
    clean_power = present_samples("power_w", power_w, non_negative=True)
    present_samples("hr_bpm", hr_bpm, non_negative=True)
    half = len(power_w) // 2
    if len(clean_power) == len(power_w):
        # selecting power by the HR readings keeps exactly the seconds with HR > 0 (None and
        # 0 are falsy), and filter(None, ...) sums the same seconds' HR; all in C
        p = cast("Sequence[float]", power_w)
        first = _ratio(
            math.fsum(compress(p[:half], hr_bpm[:half])), math.fsum(filter(None, hr_bpm[:half]))
        )
        second = _ratio(
            math.fsum(compress(p[half:], hr_bpm[half:])), math.fsum(filter(None, hr_bpm[half:]))
        )
    else:
        # `h and p is not None` is falsy for a missing or 0 HR reading and a missing power one
        paired = [h and p is not None for p, h in zip(power_w, hr_bpm, strict=True)]
        first = _paired_ratio(power_w[:half], hr_bpm[:half], paired[:half])
        second = _paired_ratio(power_w[half:], hr_bpm[half:], paired[half:])
    if first is None or second is None or first == 0.0:
        return None
    return 100.0 * (first - second) / first


def power_curve(
    *,
    power_w: Sequence[float | None] | None,
    time_s: Sequence[float] | None = None,
    durations_s: Sequence[int] = STANDARD_DURATIONS_S,
) -> dict[int, float] | None:
    """Mean-maximal power: the best average W over any window of each duration.

    Only durations the ride is long enough for appear. A missing sample counts as 0 W inside
    a window, and when `time_s` is given a pause (a step > 1 s) counts as that many seconds
    of 0 W, so an effort never gains from a rest or a dropout (GoldenCheetah likewise fills
    long recording gaps with zeros, src/FileIO/FixGaps.cpp). None without power data.

    Mean-maximal power falls with duration whenever the longer duration is a multiple of the
    shorter one, but not always otherwise: 1 min on / 1 min off gives a higher 5 min than
    2 min value, because every 2 min window holds exactly one minute on.
    """
    wanted = [_check_duration(i, d) for i, d in enumerate(durations_s)]
    if power_w is None:
        return None
    present = present_samples("power_w", power_w, non_negative=True)
    if not present:
        return None
    samples: list[float] = (
        list(present)
        if len(present) == len(power_w)
        else [0.0 if p is None else p for p in power_w]
    )
    if time_s is not None:
        same_length(("time_s", "power_w"), time_s, power_w)
        check_time(time_s)
        samples = _zero_fill_pauses(samples, time_s)
    prefix = list(accumulate(samples, initial=0.0))
    n = len(samples)
    return {d: _best_window_sum(prefix, d) / d for d in wanted if d <= n}


def _best_window_sum(prefix: list[float], d: int) -> float:
    """The largest prefix[i + d] - prefix[i]: exact, usually without visiting every window.

    Power is never negative, so prefix sums never decrease (and float rounding keeps that
    order). Every window starting in the block [s, s + B) therefore sums to at most
    prefix[s + B - 1 + d] - prefix[s]. Blocks whose bound cannot beat the best block-aligned
    window are skipped; the others are searched window by window, highest bound first, and
    the winner is computed by the same subtraction as a full pass, so the result is identical.
    On an even ride too many blocks survive, and one full pass (in C) is cheaper.
    """
    n = len(prefix) - 1
    last = n - d  # last window start
    block = _PRUNE_BLOCK_S
    if d < _PRUNE_MIN_DURATION_S or last < 8 * block:
        return float(max(map(sub, prefix[d:], prefix)))
    starts = prefix[: last + 1 : block]
    ends = prefix[block - 1 + d :: block]
    if len(ends) < len(starts):  # the last block is partial: its windows end by prefix[n]
        ends.append(prefix[n])
    bounds = list(map(sub, ends, starts))
    best: float = max(map(sub, prefix[d::block], starts))
    survivors = [k for k, bound in enumerate(bounds) if bound > best]
    if len(survivors) * (block + _BLOCK_OVERHEAD_WINDOWS) > (last + 1) // 2:
        return float(max(map(sub, prefix[d:], prefix)))
    survivors.sort(key=bounds.__getitem__, reverse=True)
    for k in survivors:
        if bounds[k] <= best:
            break
        lo = k * block
        hi = min(lo + block, last + 1)
        best = max(best, *map(sub, prefix[lo + d : hi + d], prefix[lo:hi]))
    return best


def _present_power(power_w: Sequence[float | None] | None) -> Sequence[float] | None:
    """Present samples in order (checked), or None when the channel is absent."""
    if power_w is None:
        return None
    return present_samples("power_w", power_w, non_negative=True)


def _normalized(prefix: Sequence[float]) -> float:
    """NP from the prefix sums of at least 30 samples.

    Each 30 s window sum is prefix[i + 30] - prefix[i]; mean((sum / 30)^4) is computed as
    sumprod(sum^2, sum^2) / 30^4, so the per-window work is one subtraction and one square.
    """
    squares = [s * s for s in map(sub, prefix[NP_WINDOW_S:], prefix)]
    mean_fourth = math.sumprod(squares, squares) / len(squares)
    return math.sqrt(math.sqrt(mean_fourth)) / NP_WINDOW_S


def _ratio(total_power: float, total_hr: float) -> float | None:
    return None if total_hr == 0.0 else total_power / total_hr


def _paired_ratio(
    power_w: Sequence[float | None], hr_bpm: Sequence[float | None], paired: Sequence[object]
) -> float | None:
    # `paired` keeps only seconds where both readings are present
    return _ratio(
        math.fsum(compress(cast("Sequence[float]", power_w), paired)),
        math.fsum(compress(cast("Sequence[float]", hr_bpm), paired)),
    )


def _check_duration(index: int, duration: int) -> int:
    if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
        raise InvalidInput(
            f"durations_s[{index}]", f"must be a whole number of seconds > 0, got {duration!r}"
        )
    return duration


def _zero_fill_pauses(samples: list[float], time_s: Sequence[float]) -> list[float]:
    steps = list(map(sub, islice(time_s, 1, None), time_s))
    if not steps or max(steps) <= 1.0 + _TIME_EPS_S:
        return samples
    out: list[float] = []
    start = 0
    for i, step in enumerate(steps):
        if step > 1.0 + _TIME_EPS_S:
            out.extend(samples[start : i + 1])
            out.extend([0.0] * (round(step) - 1))
            start = i + 1
    out.extend(samples[start:])
    return out
