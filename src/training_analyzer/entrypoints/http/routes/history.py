"""History hiding for the activity and analytics routes: one call per route.

A Free plan shows the last 180 local days (the `plans` table's `history_days` limit): older
activities answer 404 like absent ones, listings and windows stop at the first visible day,
and records or predictions set before it are left out. Nothing is deleted, so an upgrade
shows everything again on the next request. The window comes from the feature gate
(`FeatureGate.history_window`).
"""

from __future__ import annotations

import msgspec

from training_analyzer.container import AppContainer
from training_analyzer.core.analytics import CalendarYear, PersonalRecords, RacePredictions
from training_analyzer.services.gates import HistoryWindow


async def window(container: AppContainer, user_id: str) -> HistoryWindow | None:
    """The user's visible history now (None: everything is visible)."""
    return await (await container.gates()).history_window(user_id=user_id)


async def require_visible(container: AppContainer, user_id: str, activity_id: str) -> None:
    """404 for an activity older than the visible history."""
    await (await container.gates()).require_visible(user_id=user_id, activity_id=activity_id)


def clamp_days(days: int, visible: HistoryWindow | None) -> int:
    """A window of `days` ending today, cut to the visible days."""
    return days if visible is None else min(days, visible.days)


def clamp_weeks(weeks: int, visible: HistoryWindow | None) -> int:
    """A window of `weeks` ISO weeks ending this week, cut to weeks wholly visible.

    The current week holds up to 7 visible days and each earlier week 7 more, so `n` weeks fit
    in `days` when 7 * n <= days; at least the current week stays.
    """
    return weeks if visible is None else max(1, min(weeks, visible.days // 7))


def visible_calendar(calendar: CalendarYear, visible: HistoryWindow | None) -> CalendarYear:
    """The calendar without the hidden days."""
    if visible is None:
        return calendar
    days = tuple(d for d in calendar.days if d.day >= visible.first_day)
    return msgspec.structs.replace(calendar, days=days)


def visible_records(records: PersonalRecords, visible: HistoryWindow | None) -> PersonalRecords:
    """Records set on visible days only."""
    if visible is None:
        return records
    return PersonalRecords(
        power=tuple(r for r in records.power if r.day >= visible.first_day),
        efforts=tuple(r for r in records.efforts if r.day >= visible.first_day),
    )


def visible_prediction(
    predictions: RacePredictions | None, visible: HistoryWindow | None
) -> RacePredictions | None:
    """Predictions only from an effort on a visible day."""
    if predictions is None or visible is None or predictions.source.day >= visible.first_day:
        return predictions
    return None
