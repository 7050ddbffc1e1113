"""`GET /me/usage`: each limit of the user's plan, what is used and when it resets."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec
from litestar import get
from litestar.di import NamedDependency

from training_analyzer.container import AppContainer
from training_analyzer.core.identity import AccessClaims
from training_analyzer.core.tiers import Tier
from training_analyzer.entrypoints.http.routes.plans import LimitView, limit_view


class UsageItem(msgspec.Struct, frozen=True, kw_only=True):
    """One feature: its limit, the uses counted in the current window and when it resets.

    `used` is null where nothing is counted by the gate (items at once, days of history);
    on/off features count today's uses. `visible_from` (history only) is the first instant
    whose activities are shown; null shows everything.
    """

    limit: LimitView
    used: int | None
    window: str | None
    resets_at: datetime | None
    visible_from: datetime | None


class UsageBody(msgspec.Struct, frozen=True, kw_only=True):
    """The plan in force and every limit with its usage, in the user's timezone."""

    plan: Tier
    timezone: str
    features: tuple[UsageItem, ...]


@get(
    "/me/usage",
    tags=["billing"],
    summary="Each limit of my plan, what is used and when it resets",
    description=(
        "Windows are calendar days and months in the account's timezone: a daily limit "
        "resets at local midnight, a monthly one at the local start of the next month."
    ),
)
async def my_usage(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> UsageBody:
    """Answer the token user's usage report."""
    gate = await container.gates()
    report = await gate.usage(user_id=claims.user_id)
    return UsageBody(
        plan=report.plan,
        timezone=report.timezone,
        features=tuple(
            UsageItem(
                limit=limit_view(line.feature, line.measure, line.limit),
                used=line.used,
                window=line.window,
                resets_at=line.resets_at,
                visible_from=line.visible_from,
            )
            for line in report.features
        ),
    )


ROUTES: Final = [my_usage]
