"""Training load over days: PMC (CTL/ATL/TSB), ramp rate, ACWR, Foster monotony and strain.

Input is one load per calendar day, oldest first, 0 on rest days (the caller buckets activities
into days in the athlete's timezone).

PMC (the GoldenCheetah / intervals.icu rule): `M_d = M_{d-1} + a (L_d - M_{d-1})` with
`a = 1 - exp(-1/N)`, N = 42 days for CTL (fitness) and 7 for ATL (fatigue), both starting at 0
unless seeded. TSB (form) for a day is by default `CTL - ATL` of the *previous* day, i.e. form
on the morning before that day's training (GoldenCheetah's and TrainingPeaks' default); the
same-day variant (Runalyze) is a parameter.

Ramp rate is the CTL change over the last 7 days (CTL points per week); the first 7 days compare
against the initial CTL.

ACWR (acute:chronic workload ratio), both from day 28 on (None before, and None when the chronic
load is 0):
* rolling (Hulin et al. 2014, Gabbett 2016; "coupled"): acute = sum of the last 7 days; chronic =
  the average week of the last 28 days (their sum / 4); ratio = acute / chronic. The acute week
  is part of the chronic window, as in the original papers.
* EWMA (Williams et al. 2017, Br J Sports Med 51:209-210): `E_d = L_d x l + (1 - l) x E_{d-1}`
  with `l = 2 / (N + 1)`, N = 7 (acute) and 28 (chronic), both starting at 0 unless seeded;
  ratio = acute / chronic.

Foster (1998) monotony = mean / standard deviation of exactly 7 daily loads, using the
*population* SD (divide by 7; a spreadsheet's sample SD gives a ~7 % lower value); strain =
weekly total x monotony. A flat week (SD 0) has no monotony and raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from itertools import accumulate
from operator import sub

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.validation import finite, finite_samples, non_negative

CTL_DAYS = 42
ATL_DAYS = 7
RAMP_DAYS = 7
ACWR_ACUTE_DAYS = 7
ACWR_CHRONIC_DAYS = 28
FOSTER_WEEK_DAYS = 7


class TsbConvention(StrEnum):
    """Which day's CTL and ATL give a day's TSB."""

    PREVIOUS_DAY = "previous_day"
    SAME_DAY = "same_day"


class PmcDay(msgspec.Struct, frozen=True, kw_only=True):
    """One day of the performance-management chart."""

    load: float
    ctl: float
    atl: float
    tsb: float


def pmc(
    *,
    daily_loads: Sequence[float],
    initial_ctl: float = 0.0,
    initial_atl: float = 0.0,
    ctl_days: float = CTL_DAYS,
    atl_days: float = ATL_DAYS,
    tsb_convention: TsbConvention = TsbConvention.PREVIOUS_DAY,
) -> list[PmcDay]:
    """CTL, ATL and TSB for each day of `daily_loads` (oldest first)."""
    _check_loads("daily_loads", daily_loads)
    ctl = non_negative("initial_ctl", initial_ctl)
    atl = non_negative("initial_atl", initial_atl)
    k_ctl = 1.0 - math.exp(-1.0 / _time_constant("ctl_days", ctl_days))
    k_atl = 1.0 - math.exp(-1.0 / _time_constant("atl_days", atl_days))
    same_day = tsb_convention is TsbConvention.SAME_DAY
    out: list[PmcDay] = []
    append = out.append
    for load in daily_loads:
        form_before = ctl - atl
        ctl += k_ctl * (load - ctl)
        atl += k_atl * (load - atl)
        append(
            PmcDay(
                load=float(load),
                ctl=ctl,
                atl=atl,
                tsb=ctl - atl if same_day else form_before,
            )
        )
    return out


def ramp_rates(
    *, ctl: Sequence[float], initial_ctl: float = 0.0, days: int = RAMP_DAYS
) -> list[float]:
    """CTL change over the last `days` days, for each day (earlier days use `initial_ctl`)."""
    if days < 1:
        raise InvalidInput("days", f"must be >= 1, got {days!r}")
    start = finite("initial_ctl", initial_ctl)
    finite_samples("ctl", ctl)
    before = [start] * min(days, len(ctl)) + list(ctl[: max(0, len(ctl) - days)])
    return list(map(sub, ctl, before))


def ramp_rate(
    *, ctl: Sequence[float], initial_ctl: float = 0.0, days: int = RAMP_DAYS
) -> float | None:
    """CTL change over the `days` days up to the last one; None for an empty series."""
    if days < 1:
        raise InvalidInput("days", f"must be >= 1, got {days!r}")
    start = finite("initial_ctl", initial_ctl)
    if not ctl:
        return None
    before = ctl[-days - 1] if len(ctl) > days else start
    return finite("ctl", ctl[-1]) - finite("ctl", before)


def acwr_rolling_series(*, daily_loads: Sequence[float]) -> list[float | None]:
    """Rolling ACWR per day: 7-day sum / (28-day sum / 4); None before day 28 or at chronic 0."""
    _check_loads("daily_loads", daily_loads)
    prefix = list(accumulate(daily_loads, initial=0.0))
    out: list[float | None] = [None] * min(len(daily_loads), ACWR_CHRONIC_DAYS - 1)
    for d in range(ACWR_CHRONIC_DAYS - 1, len(daily_loads)):
        acute = prefix[d + 1] - prefix[d + 1 - ACWR_ACUTE_DAYS]
        chronic_week = (prefix[d + 1] - prefix[d + 1 - ACWR_CHRONIC_DAYS]) / 4.0
        out.append(acute / chronic_week if chronic_week > 0 else None)
    return out


def acwr_rolling(*, daily_loads: Sequence[float]) -> float | None:
    """Rolling ACWR of the last day (see `acwr_rolling_series`)."""
    _check_loads("daily_loads", daily_loads)  # the whole series, not only the last 28 days
    if len(daily_loads) < ACWR_CHRONIC_DAYS:
        return None
    return acwr_rolling_series(daily_loads=daily_loads[-ACWR_CHRONIC_DAYS:])[-1]


def acwr_ewma_series(
    *,
    daily_loads: Sequence[float],
    initial_acute: float = 0.0,
    initial_chronic: float = 0.0,
) -> list[float | None]:
    """EWMA ACWR per day (Williams et al. 2017); None before day 28 or at chronic 0."""
    _check_loads("daily_loads", daily_loads)
    acute = non_negative("initial_acute", initial_acute)
    chronic = non_negative("initial_chronic", initial_chronic)
    l_acute = 2.0 / (ACWR_ACUTE_DAYS + 1)
    l_chronic = 2.0 / (ACWR_CHRONIC_DAYS + 1)
    out: list[float | None] = []
    for d, load in enumerate(daily_loads):
        acute = load * l_acute + (1.0 - l_acute) * acute
        chronic = load * l_chronic + (1.0 - l_chronic) * chronic
        if d < ACWR_CHRONIC_DAYS - 1 or chronic <= 0:
            out.append(None)
        else:
            out.append(acute / chronic)
    return out


def acwr_ewma(
    *,
    daily_loads: Sequence[float],
    initial_acute: float = 0.0,
    initial_chronic: float = 0.0,
) -> float | None:
    """EWMA ACWR of the last day (see `acwr_ewma_series`); None with under 28 days."""
    series = acwr_ewma_series(
        daily_loads=daily_loads, initial_acute=initial_acute, initial_chronic=initial_chronic
    )
    return series[-1] if series else None


def monotony(*, daily_loads: Sequence[float]) -> float:
    """Foster monotony of exactly 7 daily loads: mean / population SD."""
    mean, sd = _week_mean_sd(daily_loads)
    return mean / sd


def strain(*, daily_loads: Sequence[float]) -> float:
    """Foster strain of exactly 7 daily loads: weekly total x monotony."""
    mean, sd = _week_mean_sd(daily_loads)
    return FOSTER_WEEK_DAYS * mean * (mean / sd)


def _week_mean_sd(daily_loads: Sequence[float]) -> tuple[float, float]:
    if len(daily_loads) != FOSTER_WEEK_DAYS:
        raise InvalidInput(
            "daily_loads",
            f"need exactly {FOSTER_WEEK_DAYS} daily loads (rest days as 0), got {len(daily_loads)}",
        )
    _check_loads("daily_loads", daily_loads)
    # Identical loads are tested exactly: fsum(x) / 7 need not round back to x, which would
    # leave a tiny positive variance and a monotony near 1e15 instead of an error.
    if max(daily_loads) == min(daily_loads):
        raise InvalidInput(
            "daily_loads", "monotony is undefined for a week of identical loads (SD 0)"
        )
    mean = math.fsum(daily_loads) / FOSTER_WEEK_DAYS
    variance = math.fsum((x - mean) ** 2 for x in daily_loads) / FOSTER_WEEK_DAYS
    if variance <= 0:
        raise InvalidInput(
            "daily_loads", "monotony is undefined for a week of identical loads (SD 0)"
        )
    return mean, math.sqrt(variance)


def _check_loads(name: str, loads: Sequence[float]) -> None:
    # One C-level sum and min in the common case; the per-item walk only runs to name a culprit.
    if not loads:
        return
    if not math.isfinite(sum(loads)):
        finite_samples(name, loads)
    low = min(loads)
    if low < 0:
        raise InvalidInput(name, f"daily loads must be >= 0, got {low!r}")


def _time_constant(name: str, days: float) -> float:
    v = finite(name, days)
    if v <= 0:
        raise InvalidInput(name, f"must be > 0, got {days!r}")
    return v
