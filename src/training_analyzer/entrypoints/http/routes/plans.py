"""`GET /plans`: what a pricing page needs, public. Also the limit rendering other routes share.

Every limit is spelled out for people as well as typed for programs: `kind` is `capped`,
`unlimited`, `included` or `not_included`; `maximum` is set only when capped; `text` reads
"5 per month", "unlimited", "180 days", "included" or "not included".
"""

from __future__ import annotations

from typing import Final

import msgspec
from litestar import get
from litestar.di import NamedDependency

from training_analyzer.container import AppContainer
from training_analyzer.core.billing import BillingPeriod
from training_analyzer.core.tiers import (
    Capped,
    Feature,
    Included,
    Limit,
    Measure,
    NotIncluded,
    Plan,
    Tier,
    Unlimited,
)

_UNIT: Final = {
    Measure.PER_DAY: " per day",
    Measure.PER_MONTH: " per month",
    Measure.CONCURRENT: " at once",
    Measure.DAYS_OF_HISTORY: " days",
    Measure.ACCESS: "",
}


class LimitView(msgspec.Struct, frozen=True, kw_only=True):
    """One feature's limit, typed and in words."""

    feature: Feature
    measure: Measure
    kind: str
    maximum: int | None
    text: str


class PriceView(msgspec.Struct, frozen=True, kw_only=True):
    """The price of one billing period, in integer cents."""

    billing_period: BillingPeriod
    amount_cents: int


class PlanView(msgspec.Struct, frozen=True, kw_only=True):
    """A plan as a pricing page shows it."""

    id: Tier
    name: str
    rank: int
    currency: str
    prices: tuple[PriceView, ...]
    limits: tuple[LimitView, ...]


class PlanList(msgspec.Struct, frozen=True, kw_only=True):
    """Every plan, cheapest first."""

    plans: tuple[PlanView, ...]


def limit_view(feature: Feature, measure: Measure, limit: Limit) -> LimitView:
    """Render one limit for the API."""
    match limit:
        case Capped(maximum=maximum):
            return LimitView(
                feature=feature,
                measure=measure,
                kind="capped",
                maximum=maximum,
                text=f"{maximum}{_UNIT[measure]}",
            )
        case Unlimited():
            kind, text = "unlimited", "unlimited"
        case Included():
            kind, text = "included", "included"
        case NotIncluded():
            kind, text = "not_included", "not included"
    return LimitView(feature=feature, measure=measure, kind=kind, maximum=None, text=text)


def plan_view(plan: Plan) -> PlanView:
    """Render one plan for the API."""
    return PlanView(
        id=plan.tier,
        name=plan.name,
        rank=plan.rank,
        currency=plan.currency,
        prices=(
            PriceView(billing_period=BillingPeriod.MONTH, amount_cents=plan.monthly_price_cents),
            PriceView(billing_period=BillingPeriod.YEAR, amount_cents=plan.yearly_price_cents),
        ),
        limits=tuple(limit_view(e.feature, e.measure, e.limit) for e in plan.entitlements),
    )


@get(
    "/plans",
    tags=["billing"],
    summary="Plans, prices and every limit (public)",
    description=(
        "Prices are integer cents per billing period (a year costs ten months). Limits come "
        "from the database, so an administrator's change shows here at once."
    ),
    exclude_from_auth=True,
    security=[{}],
)
async def list_plans(container: NamedDependency[AppContainer]) -> PlanList:
    """Answer every plan, cheapest first."""
    gate = await container.gates()
    return PlanList(plans=tuple(plan_view(p) for p in await gate.plans()))


ROUTES: Final = [list_plans]
