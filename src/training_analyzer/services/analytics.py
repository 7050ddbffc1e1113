"""Analytics use cases: the fitness timeline, volumes, zones, calendar, load analysis, records.

Each reads one user's stored data in one unit of work and hands it to the pure functions of
`core.analytics` and `core.analysis`, with the user's IANA timezone and local `today` (from the
Clock port). Only canonical activities count: a linked duplicate (the same workout recorded by
another source) never adds time, load or records. docs/analytics.md explains every rule.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from training_analyzer.core.activities import Activity, DailyLoad
from training_analyzer.core.analysis import LoadAnalysis, analyse_training_load
from training_analyzer.core.analytics import (
    PREDICTION_LOOKBACK_DAYS,
    CalendarYear,
    PersonalRecords,
    RacePredictions,
    SportDistribution,
    SportGrouping,
    WeekVolume,
    ZoneSummary,
    calendar_year,
    days_window,
    personal_records,
    race_predictions,
    sport_distribution,
    weekly_volume,
    weeks_window,
    zone_summary,
)
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.metrics import load as pmc_model
from training_analyzer.core.metrics.load import PmcDay
from training_analyzer.core.quotas import zone as resolve_zone
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage, UnitOfWork
from training_analyzer.services.activities import local_midnight

# The load analysis looks at this many days: ACWR's 28-day EWMA starts at 0 and needs about
# three time constants to forget that start (core.analysis asks for at least 90 days).
ANALYSIS_WINDOW_DAYS: Final = 120
DEFAULT_TIMELINE_DAYS: Final = 90
DEFAULT_VOLUME_WEEKS: Final = 12
DEFAULT_ZONE_WEEKS: Final = 4


class FitnessDay(msgspec.Struct, frozen=True, kw_only=True):
    """One day of the fitness chart: load, CTL (fitness), ATL (fatigue), TSB (form).

    `estimated` is True when part of the day's load is an RPE estimate.
    """

    day: date
    load: float
    ctl: float
    atl: float
    tsb: float
    estimated: bool = False


class FitnessTimeline(msgspec.Struct, frozen=True, kw_only=True):
    """The last `days` days ending today (the user's local date), oldest first."""

    start: date
    end: date
    days: tuple[FitnessDay, ...]


class TrainingLoad(msgspec.Struct, frozen=True, kw_only=True):
    """The load analysis as of `today`; `analysis` is None before any training."""

    today: date
    analysis: LoadAnalysis | None


class AnalyticsService:
    """Read-only analytics over one user's activities and daily loads."""

    def __init__(self, *, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def fitness_timeline(
        self, *, user_id: str, days: int = DEFAULT_TIMELINE_DAYS
    ) -> FitnessTimeline:
        """Daily load and CTL/ATL/TSB for the `days` local days ending today."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            start, end = days_window(today=today, days=days)
            prior = await uow.daily_loads.latest(user_id=user_id, before=start)
            series = await _pmc(uow, user_id=user_id, start=start, end=end, prior=prior)
        return FitnessTimeline(start=start, end=end, days=tuple(series))

    async def weekly_volume(
        self,
        *,
        user_id: str,
        weeks: int = DEFAULT_VOLUME_WEEKS,
        grouping: SportGrouping = SportGrouping.FAMILY,
    ) -> list[WeekVolume]:
        """Time, distance and load per sport for each of the last `weeks` ISO weeks."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            first, last = weeks_window(today=today, weeks=weeks)
            activities = await _canonical(uow, user_id=user_id, first=first, last=last, tz=tz)
        return weekly_volume(
            activities=activities,
            timezone=tz.key,
            today=today,
            weeks=weeks,
            grouping=grouping,
        )

    async def sport_distribution(
        self,
        *,
        user_id: str,
        weeks: int = DEFAULT_VOLUME_WEEKS,
        grouping: SportGrouping = SportGrouping.FAMILY,
    ) -> SportDistribution:
        """Each sport's share of training time over the last `weeks` ISO weeks."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            first, last = weeks_window(today=today, weeks=weeks)
            activities = await _canonical(uow, user_id=user_id, first=first, last=last, tz=tz)
        return sport_distribution(
            activities=activities, timezone=tz.key, today=today, weeks=weeks, grouping=grouping
        )

    async def zones(self, *, user_id: str, weeks: int = DEFAULT_ZONE_WEEKS) -> ZoneSummary:
        """Time in heart-rate and power zones over the last `weeks` ISO weeks."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            first, last = weeks_window(today=today, weeks=weeks)
            activities = await _canonical(uow, user_id=user_id, first=first, last=last, tz=tz)
        return zone_summary(activities=activities, timezone=tz.key, today=today, weeks=weeks)

    async def calendar(self, *, user_id: str, year: int | None = None) -> CalendarYear:
        """Every day of `year` (default: the user's current year) with its load and level."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            chosen = self._today(tz).year if year is None else year
            if isinstance(chosen, bool) or not 1 <= chosen <= 9998:
                raise InvalidInput("year", f"must be a calendar year, got {chosen!r}")
            rows = await uow.daily_loads.points(
                user_id=user_id, day_from=date(chosen, 1, 1), day_to=date(chosen + 1, 1, 1)
            )
        return calendar_year(loads=[(r.day, r.load) for r in rows], year=chosen)

    async def training_load(self, *, user_id: str) -> TrainingLoad:
        """Ramp rate, risk, form and recommendations as of today (core.analysis)."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            start, end = days_window(today=today, days=ANALYSIS_WINDOW_DAYS)
            prior = await uow.daily_loads.latest(user_id=user_id, before=start)
            series = await _pmc(uow, user_id=user_id, start=start, end=end, prior=prior)
        if not any(d.load > 0 for d in series) and (prior is None or not prior.ctl):
            return TrainingLoad(today=today, analysis=None)
        initial_ctl = prior.ctl if prior is not None and prior.ctl else 0.0
        analysis = analyse_training_load(
            pmc=[PmcDay(load=d.load, ctl=d.ctl, atl=d.atl, tsb=d.tsb) for d in series],
            initial_ctl=max(0.0, initial_ctl),
        )
        return TrainingLoad(today=today, analysis=analysis)

    async def records(self, *, user_id: str) -> PersonalRecords:
        """Best power per duration (rides) and fastest time per distance (runs), all time."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await _zone(uow, user_id)
            bests = await uow.activity_bests.all(user_id=user_id)
            duplicates = await uow.activity_links.duplicate_ids(user_id=user_id)
        return personal_records(bests=[b for b in bests if b.activity_id not in duplicates])

    async def race_predictions(self, *, user_id: str) -> RacePredictions | None:
        """5 km to marathon predictions from the best recent run effort; None without one."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _zone(uow, user_id)
            today = self._today(tz)
            first = today - timedelta(days=PREDICTION_LOOKBACK_DAYS - 1)
            bests = await uow.activity_bests.all(user_id=user_id, day_from=first)
            duplicates = await uow.activity_links.duplicate_ids(user_id=user_id)
        return race_predictions(
            bests=[b for b in bests if b.activity_id not in duplicates], today=today
        )

    def _today(self, tz: ZoneInfo) -> date:
        return self._clock.now().astimezone(tz).date()


async def _zone(uow: UnitOfWork, user_id: str) -> ZoneInfo:
    user = await uow.users.get(user_id=user_id)
    if user is None:
        raise NotFound("no such account", user_id=user_id)
    return resolve_zone(user.timezone)


async def _canonical(
    uow: UnitOfWork, *, user_id: str, first: date, last: date, tz: ZoneInfo
) -> list[Activity]:
    """Canonical activities starting on local days [first, last]."""
    activities = await uow.activities.between(
        user_id=user_id,
        start_from=local_midnight(first, tz),
        start_to=local_midnight(last + timedelta(days=1), tz),
    )
    duplicates = await uow.activity_links.duplicate_ids(user_id=user_id)
    return [a for a in activities if a.id not in duplicates]


async def _pmc(
    uow: UnitOfWork, *, user_id: str, start: date, end: date, prior: DailyLoad | None
) -> list[FitnessDay]:
    """The PMC over local days [start, end] from the stored daily loads.

    Seeded with the CTL/ATL of the last stored day before `start`; a day without a stored row
    had no training (imports store every day from the first activity to the import day, and
    days after the last import are rest days until the next one).
    """
    rows = await uow.daily_loads.points(
        user_id=user_id, day_from=start, day_to=end + timedelta(days=1)
    )
    span = (end - start).days + 1
    loads = [0.0] * span
    estimated = [False] * span
    for r in rows:
        k = (r.day - start).days
        loads[k] = r.load
        estimated[k] = r.estimated
    # The days are consecutive by construction, so the PMC of metrics.load runs on the bare
    # loads (core.analytics.fitness_timeline would check and wrap each day first: a tenth of
    # the time of a ten-year chart).
    points = pmc_model.pmc(
        daily_loads=loads,
        initial_ctl=(prior.ctl or 0.0) if prior is not None else 0.0,
        initial_atl=(prior.atl or 0.0) if prior is not None else 0.0,
    )
    one_day = timedelta(days=1)
    day = start
    out: list[FitnessDay] = []
    for k, p in enumerate(points):
        out.append(
            FitnessDay(
                day=day, load=p.load, ctl=p.ctl, atl=p.atl, tsb=p.tsb, estimated=estimated[k]
            )
        )
        day += one_day
    return out
