"""Administrators' billing routes: the business figures and changing a plan's limits.

Guarded like every admin route: anonymous 401, a signed-in non-administrator 403.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from litestar import get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from training_analyzer.container import AppContainer
from training_analyzer.core.identity import AccessClaims
from training_analyzer.core.tiers import Feature, Limit
from training_analyzer.entrypoints.http.auth import admin_guard
from training_analyzer.entrypoints.http.routes.plans import PlanView, plan_view
from training_analyzer.services.billing_admin import BillingMetrics

PLAN_BODY_MAX_BYTES: Final = 16_384


class PlanLimitsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """New limits by feature; features left out keep theirs.

    A limit is `{"type": "capped", "maximum": n}` (n >= 1), `{"type": "unlimited"}`,
    `{"type": "included"}` or `{"type": "not_included"}`, and must fit the feature: on/off
    features take included or not_included; history takes capped or unlimited.
    """

    limits: dict[Feature, Limit]


@get(
    "/admin/metrics",
    tags=["admin"],
    summary="Billing figures: users, subscriptions per plan, MRR, conversion, churn, activity",
    description=(
        "Money in integer cents. MRR counts paying subscriptions (active, or past due within "
        "the grace period) at the plans' prices; yearly prices are summed, then divided by 12 "
        "once, rounding half up. Churn counts subscriptions ended since the start of the UTC "
        "month. Active users opened a session or recorded an activity in the last 7 days."
    ),
    guards=[admin_guard],
)
async def billing_metrics(container: NamedDependency[AppContainer]) -> BillingMetrics:
    """Answer the figures at this instant."""
    return await (await container.billing_admin()).metrics()


@put(
    "/admin/plans/{plan_id:str}",
    tags=["admin"],
    summary="Change a plan's limits (applies on the next request)",
    guards=[admin_guard],
    request_max_body_size=PLAN_BODY_MAX_BYTES,
)
async def update_plan(
    plan_id: Annotated[str, PathParameter(max_length=32)],
    data: JSONBody[PlanLimitsBody],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> PlanView:
    """Replace the given limits and answer the plan as stored."""
    admin = await container.billing_admin()
    plan = await admin.update_plan_limits(
        admin_id=claims.user_id, plan_id=plan_id, limits=data.limits
    )
    return plan_view(plan)


ROUTES: Final = [billing_metrics, update_plan]
