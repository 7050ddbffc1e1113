"""Analytics over one user's activities: local days and weeks, volumes, records, predictions.

Everything here is pure: the caller passes the activities, the user's IANA timezone and the
local `today`; nothing reads a clock. The rules and the reasoning behind each choice are in
docs/analytics.md; the short version:

* **Local day.** An activity belongs to the calendar day on which it *started*, in the
  user's timezone (not the device's reported offset, not UTC). `zoneinfo` applies the DST
  rules of the IANA database, so 23:30 on the night the clocks change lands on that day.
* **Weeks** are ISO weeks, Monday to Sunday, of local days; a week is seven dates whatever
  the clocks did, so a week across a DST change still has seven days.
* **Activity time** is the moving time when recorded (and > 0), else the elapsed duration
  (GoldenCheetah's rule for TRIMP/TSS durations, metrics reference section 6).
* **Load** per activity follows ARCHITECTURE.md section 7a (`select_load`): power TSS, else
  rTSS for runs with a threshold pace, else hrTSS, else a duration x RPE estimate.
* **Percentages** of a whole (sport mix, time in zones) are integers that add up to exactly
  100, by the largest-remainder (Hamilton) method over integer seconds.
* **Calendar levels** 0-4: 0 for a day without load, 1-4 from the quartiles of the year's
  training days (type-7 quantiles, Hyndman & Fan 1996).
* **Records** are the best mean-maximal power (rides) and the fastest time over standard
  distances (runs), each naming its activity and local day; an effort is timed on elapsed
  time, so a pause never makes it faster.
* **Race predictions** come from the best recent effort of at least 1,500 m, ranked by VDOT,
  and give both Daniels-Gilbert VDOT-equivalent times and Riegel times.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    LoadMethod,
    Sport,
    SportFamily,
    Summary,
)
from training_analyzer.core.athletes import Sex, Thresholds
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics import heart_rate, pace, power, running, zones
from training_analyzer.core.metrics import load as pmc_model
from training_analyzer.core.metrics.pace import BestEffort
from training_analyzer.core.metrics.running import RaceDistance, RacePrediction
from training_analyzer.core.metrics.streams import Streams, resample_1hz
from training_analyzer.core.quotas import zone as resolve_zone
from training_analyzer.core.validation import non_negative

# TrainingPeaks' rule of thumb for entering a workout by feel: an hour at RPE n (CR-10) is worth
# about 10 x n TSS, so an all-out hour (RPE 10) scores 100 like an hour at threshold ("If you
# exercised at a level 5 for two hours, then you would accumulate 50 TSS/hour", TrainingPeaks
# help text as quoted by teamtrilife.com, 2018). That is Foster's session RPE (RPE x minutes)
# divided by 6.
RPE_TSS_PER_HOUR_PER_POINT: Final = 10.0

# Daniels & Gilbert fitted their VDOT curves to races from about 1.5 km up (metrics reference
# section 5.1: shorter races are outside the fit); shorter efforts do not feed predictions.
PREDICTION_MIN_DISTANCE_M: Final = 1500.0
# "Recent" for race predictions: our choice, not a published constant. 90 days is about two
# CTL time constants; an older best effort says little about today's fitness.
PREDICTION_LOOKBACK_DAYS: Final = 90
PREDICTION_TARGETS: Final[tuple[RaceDistance, ...]] = tuple(
    d for d in running.STANDARD_DISTANCES if d.distance_m >= 5000.0
)

CALENDAR_LEVELS: Final = 4
# A window longer than a century is a typo (or an attack on memory), not a question.
MAX_WINDOW_DAYS: Final = 36_600

_DAYS_PER_WEEK: Final = 7


class SportGrouping(StrEnum):
    """How volumes are keyed: by sport (`trail_run`) or by family (`run`)."""

    SPORT = "sport"
    FAMILY = "family"


class LoadBasis(StrEnum):
    """What the selected load was computed from."""

    STREAM = "stream"
    SUMMARY = "summary"
    RPE = "rpe"


# --------------------------------------------------------------------------------------------
# Result types


class DayLoad(msgspec.Struct, frozen=True, kw_only=True):
    """Total training load of one local day."""

    day: date
    load: float


class TimelineDay(msgspec.Struct, frozen=True, kw_only=True):
    """One day of the fitness timeline: load, CTL (fitness), ATL (fatigue), TSB (form)."""

    day: date
    load: float
    ctl: float
    atl: float
    tsb: float


class SportVolume(msgspec.Struct, frozen=True, kw_only=True):
    """Totals of one sport (or of all sports) over a period.

    `load` sums the loads of scored activities; `unscored_count` counts activities without
    metrics (their time and distance still count); `estimated` is True when any summed load
    is an RPE estimate.
    """

    sport: str
    activity_count: int
    time_s: float
    distance_m: float
    load: float
    estimated: bool = False
    unscored_count: int = 0


class WeekVolume(msgspec.Struct, frozen=True, kw_only=True):
    """One ISO week (Monday to Sunday, local dates) of volume, per sport and in total."""

    week_start: date
    week_end: date
    iso_year: int
    iso_week: int
    sports: tuple[SportVolume, ...]
    total: SportVolume


class SportShare(msgspec.Struct, frozen=True, kw_only=True):
    """One sport's share of the training time; percents of all shares add up to 100."""

    sport: str
    activity_count: int
    time_s: int
    percent: int


class SportDistribution(msgspec.Struct, frozen=True, kw_only=True):
    """Share of time per sport over `[start, end]` (local dates), largest share first."""

    start: date
    end: date
    total_time_s: int
    shares: tuple[SportShare, ...]


class CalendarDay(msgspec.Struct, frozen=True, kw_only=True):
    """One cell of the calendar heatmap: the day's load and its intensity level 0-4."""

    day: date
    load: float
    level: int


class CalendarYear(msgspec.Struct, frozen=True, kw_only=True):
    """Every day of `year` with its load and level; `quartiles` are the level cut points."""

    year: int
    quartiles: tuple[float, float, float] | None
    days: tuple[CalendarDay, ...]


class ZoneDistribution(msgspec.Struct, frozen=True, kw_only=True):
    """Time in zones summed over activities that share one zone layout.

    `zone_s[i]` is the seconds in zone i + 1. `skipped_count` counts activities left out
    because their zones had a different number of zones (the athlete changed zone system).
    """

    zone_s: tuple[float, ...]
    percent: tuple[int, ...]
    activity_count: int
    skipped_count: int = 0


class ZoneSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Heart-rate and power time in zones over `[start, end]`; None where no activity had any."""

    start: date
    end: date
    hr: ZoneDistribution | None
    power: ZoneDistribution | None


class LoadSelection(msgspec.Struct, frozen=True, kw_only=True):
    """The load chosen for one activity by ARCHITECTURE.md section 7a, and how it was made."""

    load: float
    method: LoadMethod
    estimated: bool
    basis: LoadBasis


class PowerBest(msgspec.Struct, frozen=True, kw_only=True):
    """Best mean power over `duration_s` within one activity."""

    duration_s: int
    power_w: float


class ActivityBests(msgspec.Struct, frozen=True, kw_only=True):
    """The bests of one activity that records and predictions are built from."""

    activity_id: str
    day: date
    sport: Sport
    power: tuple[PowerBest, ...] = ()
    efforts: tuple[BestEffort, ...] = ()


class PowerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The athlete's best mean power for one duration, and where it was set."""

    duration_s: int
    power_w: float
    activity_id: str
    day: date


class EffortRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The athlete's fastest time over one distance, and where it was set."""

    name: str
    distance_m: float
    duration_s: float
    pace_s_per_km: float
    activity_id: str
    day: date


class PersonalRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Best power per duration (shortest first) and fastest effort per distance (shortest first)."""

    power: tuple[PowerRecord, ...]
    efforts: tuple[EffortRecord, ...]


class RacePredictions(msgspec.Struct, frozen=True, kw_only=True):
    """Predicted race times from the best recent effort (`source`) and its VDOT."""

    source: EffortRecord
    vdot: float
    predictions: tuple[RacePrediction, ...]


# --------------------------------------------------------------------------------------------
# Local days and weeks


def local_day(*, instant: datetime, timezone: str) -> date:
    """The calendar day on which the aware `instant` falls in the IANA zone `timezone`."""
    return _local_date(_aware("instant", instant), resolve_zone(timezone))


def week_start(*, day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def weeks_window(*, today: date, weeks: int) -> tuple[date, date]:
    """First Monday and last Sunday of the `weeks` ISO weeks ending with the week of `today`."""
    n = _count("weeks", weeks, MAX_WINDOW_DAYS // _DAYS_PER_WEEK)
    monday = week_start(day=today)
    return _shift(monday, -_DAYS_PER_WEEK * (n - 1)), _shift(monday, _DAYS_PER_WEEK - 1)


def days_window(*, today: date, days: int) -> tuple[date, date]:
    """First and last local date of the `days` days ending with `today` (inclusive)."""
    n = _count("days", days, MAX_WINDOW_DAYS)
    return _shift(today, -(n - 1)), today


def activity_time_s(*, summary: Summary) -> float:
    """Training time of an activity: moving time when recorded and > 0, else duration."""
    moving = summary.moving_time_s
    return moving if moving is not None and moving > 0 else summary.duration_s


def activity_day_loads(
    *, activities: Iterable[Activity], timezone: str
) -> list[tuple[date, float]]:
    """(local day, load) of every activity that has metrics, in input order."""
    tz = resolve_zone(timezone)
    return [
        (_local_date(a.start_time, tz), a.metrics.load) for a in activities if a.metrics is not None
    ]


def daily_load_series(
    *, loads: Iterable[tuple[date, float]], start: date, end: date
) -> list[DayLoad]:
    """One DayLoad per date of `[start, end]`: loads of the same day summed, 0 where none.

    Pairs dated outside the window are left out: the caller chose the window.
    """
    span = _span("end", start, end)
    totals = [0.0] * span
    for i, (day, value) in enumerate(loads):
        amount = non_negative(f"loads[{i}]", value)
        offset = (day - start).days
        if 0 <= offset < span:
            totals[offset] += amount
    return [DayLoad(day=start + timedelta(days=k), load=totals[k]) for k in range(span)]


def fitness_timeline(
    *,
    daily: Sequence[DayLoad],
    initial_ctl: float = 0.0,
    initial_atl: float = 0.0,
    tsb_convention: pmc_model.TsbConvention = pmc_model.TsbConvention.PREVIOUS_DAY,
) -> list[TimelineDay]:
    """CTL, ATL and TSB for each day of a consecutive daily series (see metrics.load.pmc).

    To recompute from the earliest changed day, pass the days from that day on and seed with
    the stored CTL and ATL of the day before it.
    """
    for i in range(1, len(daily)):
        if daily[i].day != daily[i - 1].day + timedelta(days=1):
            raise InvalidInput(
                "daily",
                f"days must be consecutive; {daily[i].day} follows {daily[i - 1].day}",
            )
    points = pmc_model.pmc(
        daily_loads=[d.load for d in daily],
        initial_ctl=initial_ctl,
        initial_atl=initial_atl,
        tsb_convention=tsb_convention,
    )
    return [
        TimelineDay(day=d.day, load=p.load, ctl=p.ctl, atl=p.atl, tsb=p.tsb)
        for d, p in zip(daily, points, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# Volume, sport mix, calendar, zones


def weekly_volume(
    *,
    activities: Iterable[Activity],
    timezone: str,
    today: date,
    weeks: int,
    grouping: SportGrouping = SportGrouping.FAMILY,
) -> list[WeekVolume]:
    """Time, distance and load per sport for each of the last `weeks` ISO weeks, oldest first.

    The last week is the one holding `today`; weeks without activities are present with no
    sports and zero totals.
    """
    first, last = weeks_window(today=today, weeks=weeks)
    tz = resolve_zone(timezone)
    buckets: list[dict[str, _Accumulator]] = [{} for _ in range(_count("weeks", weeks))]
    for activity in activities:
        day = _local_date(activity.start_time, tz)
        if first <= day <= last:
            week = buckets[(day - first).days // _DAYS_PER_WEEK]
            key = _sport_key(activity.sport, grouping)
            week.setdefault(key, _Accumulator(key)).add(activity)
    out: list[WeekVolume] = []
    for k, week in enumerate(buckets):
        monday = first + timedelta(days=_DAYS_PER_WEEK * k)
        iso = monday.isocalendar()
        total = _Accumulator("all")
        for acc in week.values():
            total.merge(acc)
        out.append(
            WeekVolume(
                week_start=monday,
                week_end=monday + timedelta(days=_DAYS_PER_WEEK - 1),
                iso_year=iso.year,
                iso_week=iso.week,
                sports=tuple(week[key].volume() for key in _sport_order(week, grouping)),
                total=total.volume(),
            )
        )
    return out


def sport_distribution(
    *,
    activities: Iterable[Activity],
    timezone: str,
    today: date,
    weeks: int,
    grouping: SportGrouping = SportGrouping.FAMILY,
) -> SportDistribution:
    """Each sport's share of training time over the last `weeks` ISO weeks.

    Time per sport is rounded to whole seconds, then the percentages are apportioned by
    `largest_remainder_percentages`, so they are integers summing to 100 (all 0 when the
    total is 0). Shares are ordered by time, largest first, then by sport name.
    """
    first, last = weeks_window(today=today, weeks=weeks)
    tz = resolve_zone(timezone)
    time_by_key: dict[str, float] = {}
    count_by_key: dict[str, int] = {}
    for activity in activities:
        if first <= _local_date(activity.start_time, tz) <= last:
            key = _sport_key(activity.sport, grouping)
            time_by_key[key] = time_by_key.get(key, 0.0) + activity_time_s(summary=activity.summary)
            count_by_key[key] = count_by_key.get(key, 0) + 1
    keys = sorted(time_by_key, key=lambda k: (-_round_s(time_by_key[k]), k))
    seconds = [_round_s(time_by_key[k]) for k in keys]
    percents = largest_remainder_percentages(values=seconds)
    return SportDistribution(
        start=first,
        end=last,
        total_time_s=sum(seconds),
        shares=tuple(
            SportShare(sport=k, activity_count=count_by_key[k], time_s=s, percent=p)
            for k, s, p in zip(keys, seconds, percents, strict=True)
        ),
    )


def largest_remainder_percentages(*, values: Sequence[int]) -> list[int]:
    """Integer percentages of `values` that sum to exactly 100 (Hamilton's method).

    Each share first gets the floor of its exact percentage; the points still missing go one
    each to the shares with the largest remainders (ties: larger value first, then earlier
    position). Exact integer arithmetic, so the result does not depend on float rounding.
    All zeros (or no values) give all zeros.
    """
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InvalidInput(f"values[{i}]", f"must be an integer >= 0, got {v!r}")
    total = sum(values)
    if total == 0:
        return [0] * len(values)
    floors = [v * 100 // total for v in values]
    remainders = [v * 100 % total for v in values]
    missing = 100 - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-remainders[i], -values[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return floors


def calendar_year(*, loads: Iterable[tuple[date, float]], year: int) -> CalendarYear:
    """Every day of `year` (365 or 366) with its summed load and an intensity level 0-4.

    Level 0: no load. Levels 1-4 split the year's days with load > 0 at their quartiles
    q1 <= q2 <= q3 (linear interpolation between order statistics, Hyndman & Fan type 7):
    below q1 is 1, [q1, q2) is 2, [q2, q3) is 3, q3 and above is 4. A load exactly on a cut
    goes to the upper level, as a value on a zone boundary does (ARCHITECTURE.md section 7a).
    Pairs dated in other years are left out.
    """
    if (
        isinstance(year, bool)
        or not isinstance(year, int)
        or not date.min.year <= year <= date.max.year
    ):
        raise InvalidInput("year", f"must be a calendar year, got {year!r}")
    series = daily_load_series(loads=loads, start=date(year, 1, 1), end=date(year, 12, 31))
    training = sorted(d.load for d in series if d.load > 0)
    if not training:
        return CalendarYear(
            year=year,
            quartiles=None,
            days=tuple(CalendarDay(day=d.day, load=d.load, level=0) for d in series),
        )
    cuts = (_quantile(training, 0.25), _quantile(training, 0.5), _quantile(training, 0.75))
    return CalendarYear(
        year=year,
        quartiles=cuts,
        days=tuple(
            CalendarDay(
                day=d.day,
                load=d.load,
                level=0 if d.load <= 0 else 1 + bisect_right(cuts, d.load),
            )
            for d in series
        ),
    )


def zone_summary(
    *, activities: Iterable[Activity], timezone: str, today: date, weeks: int
) -> ZoneSummary:
    """Time in heart-rate and power zones summed over the last `weeks` ISO weeks.

    Zone seconds come from each activity's stored metrics. Activities are summed only with
    others that have the same number of zones as the most recent one (a change of zone
    system would otherwise add unrelated zones); the rest are counted as skipped.
    """
    first, last = weeks_window(today=today, weeks=weeks)
    tz = resolve_zone(timezone)
    metrics = [
        a.metrics
        for a in sorted(activities, key=lambda a: (a.start_time, a.id))
        if a.metrics is not None and first <= _local_date(a.start_time, tz) <= last
    ]
    return ZoneSummary(
        start=first,
        end=last,
        hr=_zone_distribution([m.hr_zone_s for m in metrics]),
        power=_zone_distribution([m.power_zone_s for m in metrics]),
    )


# --------------------------------------------------------------------------------------------
# Load of one activity (ARCHITECTURE.md section 7a)


def select_load(
    *,
    sport: Sport,
    summary: Summary,
    streams: Streams | None,
    thresholds: Thresholds | None,
    rpe: float | None = None,
) -> LoadSelection | None:
    """The activity's training load by the first model whose data and thresholds exist.

    1. power TSS: rides with a power stream (>= 30 samples) and an FTP;
    2. rTSS: runs with a threshold pace, from the speed stream (grade-adjusted when distance
       and altitude exist), else from the summary's average speed;
    3. hrTSS (HRSS): LTHR, max and rest HR known, from the HR stream, else the average HR;
    4. RPE estimate: RPE (CR-10) x hours x 10, flagged `estimated`.

    Power TSS is limited to the ride family: the athlete has one FTP, a cycling one, and
    running or rowing power against it would misstate the load. Returns None when no model
    applies (missing data, never a made-up number). `thresholds` are those in force on the
    activity's local day (`AthleteProfile.thresholds_on`).
    """
    samples = None if streams is None else resample_1hz(streams=streams)
    return _select(sport, summary, samples, thresholds, rpe)


def activity_metrics(
    *,
    sport: Sport,
    summary: Summary,
    streams: Streams | None,
    thresholds: Thresholds | None,
    rpe: float | None = None,
) -> ActivityMetrics | None:
    """The stored metrics of an activity: its load (`select_load`) plus TRIMP, NP, IF, zones.

    None when no load model applies. HR zones are Friel's LTHR zones (run table for runs,
    bike table otherwise) when LTHR is known, else Karvonen zones from max and rest HR, else
    zones at percents of max HR; power zones are Coggan's, for rides with an FTP.
    """
    samples = None if streams is None else resample_1hz(streams=streams)
    selection = _select(sport, summary, samples, thresholds, rpe)
    if selection is None:
        return None
    hr = None if samples is None else samples.hr_bpm
    watts = None if samples is None else samples.power_w
    t = thresholds
    trimp = None
    if t is not None and t.max_hr_bpm is not None and t.rest_hr_bpm is not None:
        trimp = heart_rate.banister_trimp_stream(
            hr_bpm=hr, rest_hr_bpm=t.rest_hr_bpm, max_hr_bpm=t.max_hr_bpm, sex=_sex(t.sex)
        )
        if trimp is None and summary.avg_hr_bpm is not None:
            trimp = heart_rate.banister_trimp(
                duration_s=activity_time_s(summary=summary),
                avg_hr_bpm=summary.avg_hr_bpm,
                rest_hr_bpm=t.rest_hr_bpm,
                max_hr_bpm=t.max_hr_bpm,
                sex=_sex(t.sex),
            )
    normalized = None
    intensity = None
    power_zone_s: tuple[float, ...] = ()
    if sport.family is SportFamily.RIDE:
        normalized = power.normalized_power(power_w=watts)
        if t is not None and t.ftp_w is not None:
            if normalized is not None:
                intensity = power.intensity_factor(normalized_power_w=normalized, ftp_w=t.ftp_w)
            if watts is not None and watts.count(None) < len(watts):
                power_zone_s = tuple(
                    zones.time_in_zones(
                        samples=watts, zones=zones.power_zones_coggan(ftp_w=t.ftp_w)
                    )
                )
    hr_zone_s: tuple[float, ...] = ()
    hr_zone_set = _hr_zone_set(sport, t)
    if hr is not None and hr_zone_set is not None:
        # A 0 bpm reading is a strap that lost contact (metrics.heart_rate), not a heart rate.
        readings = [v or None for v in hr]
        if readings.count(None) < len(readings):
            hr_zone_s = tuple(zones.time_in_zones(samples=readings, zones=hr_zone_set))
    return ActivityMetrics(
        load=selection.load,
        load_method=selection.method,
        estimated=selection.estimated,
        trimp=trimp,
        intensity_factor=intensity,
        normalized_power_w=normalized,
        hr_zone_s=hr_zone_s,
        power_zone_s=power_zone_s,
    )


# --------------------------------------------------------------------------------------------
# Records and race predictions


def activity_bests(
    *, activity_id: str, sport: Sport, day: date, streams: Streams | None
) -> ActivityBests:
    """Mean-maximal power (rides) and fastest standard distances (runs) of one activity.

    Both are timed on elapsed time: a pause counts as 0 W for power (metrics.power.power_curve)
    and as time spent for distance (the distance is interpolated across the pause), so a
    stop at a traffic light never produces a record.
    """
    if not activity_id:
        raise InvalidInput("activity_id", "must not be empty")
    if streams is None or len(streams.time_s) < 2:
        return ActivityBests(activity_id=activity_id, day=day, sport=sport)
    samples = resample_1hz(streams=streams)
    best_power: tuple[PowerBest, ...] = ()
    efforts: tuple[BestEffort, ...] = ()
    if sport.family is SportFamily.RIDE:
        curve = power.power_curve(power_w=samples.power_w, time_s=samples.time_s)
        if curve:
            best_power = tuple(PowerBest(duration_s=d, power_w=w) for d, w in sorted(curve.items()))
    if sport.family is SportFamily.RUN and samples.distance_m is not None:
        dense = _elapsed_grid(samples.time_s, samples.distance_m)
        efforts = tuple(pace.best_efforts(distance_m=dense))
    return ActivityBests(
        activity_id=activity_id, day=day, sport=sport, power=best_power, efforts=efforts
    )


def personal_records(*, bests: Iterable[ActivityBests]) -> PersonalRecords:
    """The best power per duration and the fastest effort per distance across activities.

    Power records come from rides, effort records from runs. On a tie the record stays with
    the earlier day (the athlete set it first), then the smaller activity id.
    """
    top_power: dict[int, PowerRecord] = {}
    top_effort: dict[float, EffortRecord] = {}
    for b in bests:
        if b.sport.family is SportFamily.RIDE:
            for p in b.power:
                cand = PowerRecord(
                    duration_s=p.duration_s, power_w=p.power_w, activity_id=b.activity_id, day=b.day
                )
                held = top_power.get(p.duration_s)
                if held is None or _power_key(cand) < _power_key(held):
                    top_power[p.duration_s] = cand
        if b.sport.family is SportFamily.RUN:
            for e in b.efforts:
                rec = _effort_record(b, e)
                kept = top_effort.get(e.distance_m)
                if kept is None or _effort_key(rec) < _effort_key(kept):
                    top_effort[e.distance_m] = rec
    return PersonalRecords(
        power=tuple(top_power[d] for d in sorted(top_power)),
        efforts=tuple(top_effort[d] for d in sorted(top_effort)),
    )


def race_predictions(
    *,
    bests: Iterable[ActivityBests],
    today: date,
    lookback_days: int = PREDICTION_LOOKBACK_DAYS,
    targets: tuple[RaceDistance, ...] = PREDICTION_TARGETS,
) -> RacePredictions | None:
    """Race times for `targets` (5 km to marathon) from the best recent run effort.

    Candidates are run efforts of at least 1,500 m on a local day in the `lookback_days`
    ending with `today`. The one with the highest VDOT (Daniels-Gilbert) is the source (ties:
    the more recent, then the longer); each target gets its VDOT-equivalent and its Riegel
    (exponent 1.06) time from it. None when no effort qualifies.
    """
    first = _shift(today, -(_count("lookback_days", lookback_days, MAX_WINDOW_DAYS) - 1))
    best: tuple[tuple[float, int, float, str], float, EffortRecord] | None = None
    for b in bests:
        if b.sport.family is not SportFamily.RUN or not first <= b.day <= today:
            continue
        for e in b.efforts:
            if e.distance_m < PREDICTION_MIN_DISTANCE_M:
                continue
            try:
                score = running.vdot(distance_m=e.distance_m, duration_s=e.duration_s)
            except InvalidInput:
                continue  # slower than the Daniels-Gilbert cost curve reaches: no VDOT
            # The smallest key wins: highest VDOT, then latest day, then longest, then id.
            key = (-score, -b.day.toordinal(), -e.distance_m, b.activity_id)
            if best is None or key < best[0]:
                best = (key, score, _effort_record(b, e))
    if best is None:
        return None
    _, score, source = best
    return RacePredictions(
        source=source,
        vdot=score,
        predictions=tuple(
            running.predict_races(
                distance_m=source.distance_m, duration_s=source.duration_s, targets=targets
            )
        ),
    )


# --------------------------------------------------------------------------------------------
# Internals


class _Accumulator:
    """Running totals for one sport key (mutable on purpose: it never leaves this module)."""

    __slots__ = ("count", "distance_m", "estimated", "key", "load", "time_s", "unscored")

    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0
        self.time_s = 0.0
        self.distance_m = 0.0
        self.load = 0.0
        self.estimated = False
        self.unscored = 0

    def add(self, activity: Activity) -> None:
        self.count += 1
        self.time_s += activity_time_s(summary=activity.summary)
        self.distance_m += activity.summary.distance_m or 0.0
        if activity.metrics is None:
            self.unscored += 1
        else:
            self.load += activity.metrics.load
            self.estimated = self.estimated or activity.metrics.estimated

    def merge(self, other: _Accumulator) -> None:
        self.count += other.count
        self.time_s += other.time_s
        self.distance_m += other.distance_m
        self.load += other.load
        self.estimated = self.estimated or other.estimated
        self.unscored += other.unscored

    def volume(self) -> SportVolume:
        return SportVolume(
            sport=self.key,
            activity_count=self.count,
            time_s=self.time_s,
            distance_m=self.distance_m,
            load=self.load,
            estimated=self.estimated,
            unscored_count=self.unscored,
        )


_SPORT_RANK: Final = {s.value: i for i, s in enumerate(Sport)}
_FAMILY_RANK: Final = {f.value: i for i, f in enumerate(SportFamily)}


def _sport_key(sport: Sport, grouping: SportGrouping) -> str:
    return sport.value if grouping is SportGrouping.SPORT else sport.family.value


def _sport_order(keys: Iterable[str], grouping: SportGrouping) -> list[str]:
    rank = _SPORT_RANK if grouping is SportGrouping.SPORT else _FAMILY_RANK
    return sorted(keys, key=lambda k: rank[k])


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(name, "must be a timezone-aware datetime")
    return value


def _local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _count(name: str, value: int, maximum: int = MAX_WINDOW_DAYS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(name, f"must be a whole number from 1 to {maximum}, got {value!r}")
    return value


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise InvalidInput("today", f"{day} {days:+d} days is outside the calendar") from None


def _span(name: str, start: date, end: date) -> int:
    span = (end - start).days + 1
    if span < 1:
        raise InvalidInput(name, f"must not be before start ({start}), got {end}")
    if span > MAX_WINDOW_DAYS:
        raise InvalidInput(name, f"window of {span} days exceeds {MAX_WINDOW_DAYS}")
    return span


def _round_s(seconds: float) -> int:
    # Half up rather than Python's half-to-even: 0.5 s more shows as one more second.
    return math.floor(seconds + 0.5)


def _quantile(ordered: Sequence[float], p: float) -> float:
    """Type-7 quantile (Hyndman & Fan 1996; numpy's default) of sorted, non-empty data."""
    h = (len(ordered) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def _zone_distribution(layouts: Sequence[tuple[float, ...]]) -> ZoneDistribution | None:
    present = [z for z in layouts if z]
    if not present:
        return None
    width = len(present[-1])
    kept = [z for z in present if len(z) == width]
    totals = tuple(math.fsum(z[i] for z in kept) for i in range(width))
    return ZoneDistribution(
        zone_s=totals,
        percent=tuple(largest_remainder_percentages(values=[_round_s(s) for s in totals])),
        activity_count=len(kept),
        skipped_count=len(present) - len(kept),
    )


def _sex(sex: Sex | None) -> heart_rate.Sex | None:
    match sex:
        case Sex.MALE:
            return "male"
        case Sex.FEMALE:
            return "female"
        case _:
            return None


def _hr_zone_set(sport: Sport, t: Thresholds | None) -> zones.ZoneSet | None:
    if t is None:
        return None
    if t.lthr_bpm is not None:
        friel = zones.FrielSport.RUN if sport.family is SportFamily.RUN else zones.FrielSport.BIKE
        return zones.hr_zones_friel(lthr_bpm=t.lthr_bpm, sport=friel)
    if t.max_hr_bpm is not None and t.rest_hr_bpm is not None:
        return zones.hr_zones_karvonen(hr_max_bpm=t.max_hr_bpm, hr_rest_bpm=t.rest_hr_bpm)
    if t.max_hr_bpm is not None:
        return zones.hr_zones_percent_max(hr_max_bpm=t.max_hr_bpm)
    return None


type _LoadModel = Callable[
    [Sport, Summary, Streams | None, Thresholds | None, float | None], LoadSelection | None
]


def _power_tss(
    sport: Sport,
    summary: Summary,
    samples: Streams | None,
    t: Thresholds | None,
    rpe: float | None,
) -> LoadSelection | None:
    if sport.family is not SportFamily.RIDE or t is None or t.ftp_w is None or samples is None:
        return None
    tss = power.training_stress_score_stream(power_w=samples.power_w, ftp_w=t.ftp_w)
    # All-zero power is a dead or unpaired meter, not a free ride: let the next model score it.
    if tss is None or tss <= 0:
        return None
    return LoadSelection(
        load=tss, method=LoadMethod.POWER_TSS, estimated=False, basis=LoadBasis.STREAM
    )


def _run_tss(
    sport: Sport,
    summary: Summary,
    samples: Streams | None,
    t: Thresholds | None,
    rpe: float | None,
) -> LoadSelection | None:
    if sport.family is not SportFamily.RUN or t is None or t.threshold_pace_s_per_km is None:
        return None
    threshold = t.threshold_pace_s_per_km
    if samples is not None and samples.speed_m_s is not None:
        grade = None
        if samples.distance_m is not None and samples.altitude_m is not None:
            grade = pace.grade_stream(distance_m=samples.distance_m, altitude_m=samples.altitude_m)
        stress = pace.run_stress(
            speed_m_s=samples.speed_m_s, threshold_pace_s_per_km=threshold, grade=grade
        )
        # A zero-speed stream (treadmill without a footpod) says nothing about the effort.
        if stress is not None and stress.rtss > 0:
            return LoadSelection(
                load=stress.rtss, method=LoadMethod.RUN_TSS, estimated=False, basis=LoadBasis.STREAM
            )
    time_s = activity_time_s(summary=summary)
    speed = summary.avg_speed_m_s
    if summary.distance_m is not None and time_s > 0:
        speed = summary.distance_m / time_s
    if speed is None or speed <= 0 or time_s <= 0:
        return None
    intensity = pace.running_intensity_factor(
        ngp_speed_m_s=speed, threshold_pace_s_per_km=threshold
    )
    return LoadSelection(
        load=pace.rtss(duration_s=time_s, intensity_factor=intensity),
        method=LoadMethod.RUN_TSS,
        estimated=False,
        basis=LoadBasis.SUMMARY,
    )


def _hr_tss(
    sport: Sport,
    summary: Summary,
    samples: Streams | None,
    t: Thresholds | None,
    rpe: float | None,
) -> LoadSelection | None:
    if t is None or t.lthr_bpm is None or t.max_hr_bpm is None or t.rest_hr_bpm is None:
        return None
    stream_score = heart_rate.hrss_stream(
        hr_bpm=None if samples is None else samples.hr_bpm,
        rest_hr_bpm=t.rest_hr_bpm,
        max_hr_bpm=t.max_hr_bpm,
        lthr_bpm=t.lthr_bpm,
        sex=_sex(t.sex),
    )
    if stream_score is not None:
        return LoadSelection(
            load=stream_score, method=LoadMethod.HR_TSS, estimated=False, basis=LoadBasis.STREAM
        )
    if summary.avg_hr_bpm is None:
        return None
    score = heart_rate.hrss(
        duration_s=activity_time_s(summary=summary),
        avg_hr_bpm=summary.avg_hr_bpm,
        rest_hr_bpm=t.rest_hr_bpm,
        max_hr_bpm=t.max_hr_bpm,
        lthr_bpm=t.lthr_bpm,
        sex=_sex(t.sex),
    )
    return LoadSelection(
        load=score, method=LoadMethod.HR_TSS, estimated=False, basis=LoadBasis.SUMMARY
    )


def _rpe_estimate(
    sport: Sport,
    summary: Summary,
    samples: Streams | None,
    t: Thresholds | None,
    rpe: float | None,
) -> LoadSelection | None:
    if rpe is None:
        return None
    # session_rpe_load is RPE x minutes (Foster); / 60 x 10 puts it on the TSS scale.
    session = heart_rate.session_rpe_load(rpe=rpe, duration_s=activity_time_s(summary=summary))
    return LoadSelection(
        load=session / 60.0 * RPE_TSS_PER_HOUR_PER_POINT,
        method=LoadMethod.RPE_ESTIMATE,
        estimated=True,
        basis=LoadBasis.RPE,
    )


_LOAD_MODELS: Final[tuple[_LoadModel, ...]] = (_power_tss, _run_tss, _hr_tss, _rpe_estimate)


def _select(
    sport: Sport,
    summary: Summary,
    samples: Streams | None,
    thresholds: Thresholds | None,
    rpe: float | None,
) -> LoadSelection | None:
    """The first model of section 7a that applies to 1 Hz `samples`."""
    for model in _LOAD_MODELS:
        found = model(sport, summary, samples, thresholds, rpe)
        if found is not None:
            return found
    return None


def _elapsed_grid(
    time_s: Sequence[float], distance_m: Sequence[float | None]
) -> list[float | None]:
    """The distance channel on one sample per elapsed second: pauses become missing samples.

    `pace.best_efforts` interpolates missing samples of a cumulative channel, so the distance
    covered over a pause is spread across its real duration.
    """
    out: list[float | None] = [distance_m[0]]
    for i in range(1, len(time_s)):
        missing = round(time_s[i] - time_s[i - 1]) - 1
        if missing > 0:
            out.extend([None] * missing)
        out.append(distance_m[i])
    return out


def _effort_record(b: ActivityBests, e: BestEffort) -> EffortRecord:
    return EffortRecord(
        name=e.name,
        distance_m=e.distance_m,
        duration_s=e.duration_s,
        pace_s_per_km=e.pace_s_per_km,
        activity_id=b.activity_id,
        day=b.day,
    )


def _power_key(r: PowerRecord) -> tuple[float, date, str]:
    return (-r.power_w, r.day, r.activity_id)


def _effort_key(r: EffortRecord) -> tuple[float, date, str]:
    return (r.duration_s, r.day, r.activity_id)
