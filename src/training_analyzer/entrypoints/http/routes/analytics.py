"""`/analytics/*`: the fitness chart and everything built on my activities.

Days and weeks are my local days and ISO weeks (Monday to Sunday) in my timezone; "today" is my
local date. Only canonical activities count (a linked duplicate never adds). The rules behind
every figure are in docs/analytics.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from training_analyzer.container import AppContainer
from training_analyzer.core.analysis import RULES, LoadAnalysis, Rule
from training_analyzer.core.analytics import (
    MAX_WINDOW_DAYS,
    CalendarYear,
    PersonalRecords,
    RacePredictions,
    SportDistribution,
    SportGrouping,
    WeekVolume,
    ZoneSummary,
)
from training_analyzer.core.identity import AccessClaims
from training_analyzer.entrypoints.http.routes import history
from training_analyzer.services.analytics import FitnessTimeline, TrainingLoad

_MAX_WEEKS: Final = MAX_WINDOW_DAYS // 7


class WeeklyVolumeOut(msgspec.Struct, frozen=True, kw_only=True):
    """One entry per ISO week, oldest first; the last is the current week."""

    grouping: SportGrouping
    weeks: list[WeekVolume]


class TrainingLoadOut(msgspec.Struct, frozen=True, kw_only=True):
    """The load analysis as of today, and every rule it can apply (documented)."""

    today: date
    analysis: LoadAnalysis | None
    rules: tuple[Rule, ...]


class RacePredictionsOut(msgspec.Struct, frozen=True, kw_only=True):
    """Predictions from the best recent effort; `predictions` is null without one."""

    predictions: RacePredictions | None


@get(
    "/analytics/fitness-timeline",
    tags=["analytics"],
    summary="Daily load, CTL (fitness), ATL (fatigue) and TSB (form)",
)
async def fitness_timeline(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    days: Annotated[int, QueryParameter(ge=1, le=MAX_WINDOW_DAYS)] = 90,
) -> FitnessTimeline:
    """Answer the last `days` days ending today."""
    analytics = await container.analytics()
    days = history.clamp_days(days, await history.window(container, claims.user_id))
    return await analytics.fitness_timeline(user_id=claims.user_id, days=days)


@get(
    "/analytics/weekly-volume",
    tags=["analytics"],
    summary="Time, distance and load per sport for each ISO week",
)
async def weekly_volume(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    weeks: Annotated[int, QueryParameter(ge=1, le=_MAX_WEEKS)] = 12,
    group_by: Annotated[SportGrouping, QueryParameter()] = SportGrouping.FAMILY,
) -> WeeklyVolumeOut:
    """Answer the last `weeks` weeks."""
    analytics = await container.analytics()
    weeks = history.clamp_weeks(weeks, await history.window(container, claims.user_id))
    volume = await analytics.weekly_volume(user_id=claims.user_id, weeks=weeks, grouping=group_by)
    return WeeklyVolumeOut(grouping=group_by, weeks=volume)


@get(
    "/analytics/sport-distribution",
    tags=["analytics"],
    summary="Share of training time per sport (whole percents summing to 100)",
)
async def sport_distribution(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    weeks: Annotated[int, QueryParameter(ge=1, le=_MAX_WEEKS)] = 12,
    group_by: Annotated[SportGrouping, QueryParameter()] = SportGrouping.FAMILY,
) -> SportDistribution:
    """Answer the shares over the last `weeks` weeks."""
    analytics = await container.analytics()
    weeks = history.clamp_weeks(weeks, await history.window(container, claims.user_id))
    return await analytics.sport_distribution(
        user_id=claims.user_id, weeks=weeks, grouping=group_by
    )


@get(
    "/analytics/zones",
    tags=["analytics"],
    summary="Time in heart-rate and power zones",
)
async def zones(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    weeks: Annotated[int, QueryParameter(ge=1, le=_MAX_WEEKS)] = 4,
) -> ZoneSummary:
    """Answer the zone totals over the last `weeks` weeks."""
    analytics = await container.analytics()
    weeks = history.clamp_weeks(weeks, await history.window(container, claims.user_id))
    return await analytics.zones(user_id=claims.user_id, weeks=weeks)


@get(
    "/analytics/calendar",
    tags=["analytics"],
    summary="Every day of a year with its load and a heatmap level 0-4",
)
async def calendar(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    year: Annotated[int | None, QueryParameter(ge=1, le=9998)] = None,
) -> CalendarYear:
    """Answer the year (default: my current year)."""
    analytics = await container.analytics()
    calendar = await analytics.calendar(user_id=claims.user_id, year=year)
    return history.visible_calendar(calendar, await history.window(container, claims.user_id))


@get(
    "/analytics/training-load",
    tags=["analytics"],
    summary="Ramp rate, risk level, form, current CTL/ATL/TSB, recommendations",
    description=(
        "`analysis` is null before any training. Every recommendation names the rule that "
        "produced it; `rules` lists them all with their thresholds and sources."
    ),
)
async def training_load(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> TrainingLoadOut:
    """Answer the analysis as of today."""
    analytics = await container.analytics()
    result: TrainingLoad = await analytics.training_load(user_id=claims.user_id)
    return TrainingLoadOut(today=result.today, analysis=result.analysis, rules=RULES)


@get(
    "/analytics/records",
    tags=["analytics"],
    summary="Best power 5 s to 60 min (rides), fastest 400 m to marathon (runs)",
)
async def records(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> PersonalRecords:
    """Answer my all-time records."""
    analytics = await container.analytics()
    found = await analytics.records(user_id=claims.user_id)
    return history.visible_records(found, await history.window(container, claims.user_id))


@get(
    "/analytics/race-predictions",
    tags=["analytics"],
    summary="5 km to marathon predictions (VDOT and Riegel) from recent best efforts",
)
async def race_predictions(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> RacePredictionsOut:
    """Answer the predictions, or null without a qualifying effort."""
    analytics = await container.analytics()
    predictions = await analytics.race_predictions(user_id=claims.user_id)
    visible = await history.window(container, claims.user_id)
    return RacePredictionsOut(predictions=history.visible_prediction(predictions, visible))


ROUTES: Final[list[Any]] = [
    fitness_timeline,
    weekly_volume,
    sport_distribution,
    zones,
    calendar,
    training_load,
    records,
    race_predictions,
]
