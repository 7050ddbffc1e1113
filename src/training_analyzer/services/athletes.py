"""Athlete thresholds with effective dates, the zones derived from them, and the recompute.

A `PUT` records a partial update effective from a local date (`core.athletes.Thresholds`:
fields left None keep their earlier value). Every activity whose thresholds in force change
because of it is scored again (`core.analytics.activity_metrics`), and the daily loads and the
CTL/ATL/TSB series are recomputed from the earliest affected day (docs/activities.md).
"""

from __future__ import annotations

from datetime import date

import msgspec
import structlog

from training_analyzer.core.activities import Sport
from training_analyzer.core.athletes import (
    AthleteProfile,
    Thresholds,
    thresholds_on,
    with_thresholds,
)
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.metrics import zones
from training_analyzer.core.metrics.zones import ZoneSet
from training_analyzer.core.quotas import zone as resolve_zone
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage
from training_analyzer.services.activities import (
    END_OF_TIME,
    hr_zone_set,
    local_midnight,
    power_zone_set,
    recompute_daily_loads,
    rescore,
)

log = structlog.get_logger(__name__)


class Zones(msgspec.Struct, frozen=True, kw_only=True):
    """The zones the thresholds give: HR for running and for cycling, power, run pace.

    Heart-rate zones follow the same choice as the stored metrics: Friel's LTHR zones (run and
    bike tables) when LTHR is known, else Karvonen zones from max and rest HR, else zones at
    percents of max HR. None where the thresholds do not define them.
    """

    hr_run: ZoneSet | None = None
    hr_bike: ZoneSet | None = None
    power: ZoneSet | None = None
    pace: ZoneSet | None = None


class ThresholdsView(msgspec.Struct, frozen=True, kw_only=True):
    """The thresholds in force today, the dated history they come from, and their zones."""

    current: Thresholds | None
    history: tuple[Thresholds, ...]
    zones: Zones


class ThresholdsUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """The result of recording thresholds: the new view and how much was scored again."""

    view: ThresholdsView
    rescored_count: int
    recomputed_from: date | None


def zones_for(thresholds: Thresholds | None) -> Zones:
    """Every zone set the thresholds define."""
    if thresholds is None:
        return Zones()
    pace = None
    if thresholds.threshold_pace_s_per_km is not None:
        pace = zones.pace_zones_friel(threshold_pace_s_per_km=thresholds.threshold_pace_s_per_km)
    return Zones(
        hr_run=hr_zone_set(sport=Sport.RUN, thresholds=thresholds),
        hr_bike=hr_zone_set(sport=Sport.RIDE, thresholds=thresholds),
        power=power_zone_set(sport=Sport.RIDE, thresholds=thresholds),
        pace=pace,
    )


class AthleteService:
    """Read and record an athlete's thresholds; rescore what they affect."""

    def __init__(self, *, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def get_thresholds(self, *, user_id: str) -> ThresholdsView:
        """The thresholds in force today (user's timezone), their history and zones."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            profile = await uow.athletes.get(user_id=user_id)
        today = self._clock.now().astimezone(resolve_zone(user.timezone)).date()
        return _view(profile, today)

    async def put_thresholds(self, *, user_id: str, thresholds: Thresholds) -> ThresholdsUpdate:
        """Record `thresholds` from its effective date (replacing a record of that date).

        Raises InvalidInput when no value is set, or when the merged history contradicts itself
        on some day (e.g. a max HR not above a rest HR set by another record).
        """
        if thresholds.is_empty():
            raise InvalidInput("thresholds", "set at least one threshold value")
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await uow.daily_loads.lock(user_id=user_id)  # see ActivityService._store
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tz = resolve_zone(user.timezone)
            before = await uow.athletes.get(user_id=user_id) or AthleteProfile(user_id=user_id)
            after = with_thresholds(before, thresholds)
            # Every record from the effective date on must still merge into a valid set.
            for record in after.thresholds:
                if record.effective_from >= thresholds.effective_from:
                    thresholds_on(after.thresholds, record.effective_from)
            await uow.athletes.save(user_id=user_id, profile=after)
            affected = await uow.activities.between(
                user_id=user_id,
                start_from=local_midnight(thresholds.effective_from, tz),
                start_to=END_OF_TIME,
            )
            rescored = 0
            first_changed: date | None = None
            for activity in affected:
                day = activity.start_time.astimezone(tz).date()
                if before.thresholds_on(day) == after.thresholds_on(day):
                    continue
                streams = await uow.streams.get(user_id=user_id, activity_id=activity.id)
                metrics = rescore(activity, streams=streams, profile=after, tz=tz)
                if metrics == activity.metrics:
                    continue
                await uow.activities.update(
                    user_id=user_id,
                    activity=msgspec.structs.replace(activity, metrics=metrics, updated_at=now),
                )
                rescored += 1
                if first_changed is None or day < first_changed:
                    first_changed = day
            today = now.astimezone(tz).date()
            if first_changed is not None:
                await recompute_daily_loads(
                    uow,
                    user_id=user_id,
                    timezone=user.timezone,
                    from_day=first_changed,
                    today=today,
                )
        log.info(
            "athletes.thresholds_recorded",
            user_id=user_id,
            effective_from=thresholds.effective_from.isoformat(),
            rescored=rescored,
        )
        return ThresholdsUpdate(
            view=_view(after, today), rescored_count=rescored, recomputed_from=first_changed
        )

    async def today(self, *, user_id: str) -> date:
        """The user's local date now (the default effective date of an update)."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
        return self._clock.now().astimezone(resolve_zone(user.timezone)).date()


def _view(profile: AthleteProfile | None, today: date) -> ThresholdsView:
    if profile is None:
        return ThresholdsView(current=None, history=(), zones=Zones())
    current = profile.thresholds_on(today)
    return ThresholdsView(current=current, history=profile.thresholds, zones=zones_for(current))
