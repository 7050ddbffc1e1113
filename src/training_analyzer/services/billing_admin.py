"""Administration of billing: the business figures and the plans' limits.

Metrics (`GET /admin/metrics`), all computed at the clock's `now`, money in integer cents:

- `users`: every account.
- `active_subscriptions`: per plan (and per billing period), the subscriptions that grant a
  paid tier now under the same rule as the feature gate (`core.billing.access_for`: active,
  trialing, or past due within the grace period).
- `paying_users`: users with a paid tier now (a user with two subscriptions counts once).
- `mrr_cents`: monthly recurring revenue of the subscriptions that pay (active, and past due
  within the grace period; a trial pays nothing yet) at the plans' prices. A monthly price
  counts whole; yearly prices are summed and the sum divided by 12 once, rounding half up
  (`(sum + 6) // 12`), so the figure is within half a cent of the exact value however many
  yearly plans there are (one yearly Pro, 9,990 / 12 = 832.5, counts 833).
- `free_to_paid_conversion`: paying users / users (0.0 with no users), a ratio in [0, 1].
- `churned_this_month`: subscriptions that ended (deleted, canceled, expired) since the start
  of the current UTC calendar month; `churn_rate_this_month` = churned / (churned + paid
  subscriptions now), a ratio in [0, 1] (0.0 when both are zero).
- `active_users_last_7_days`: users who signed in, refreshed a session or recorded an
  activity in the last 7 x 24 hours.

Limits: `update_plan_limits` replaces some of a plan's limits. The new plan is validated by the
core (`Plan` refuses a limit that does not fit its feature, e.g. a cap on an on/off feature),
stored, and audited; the gate reads it on the next request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import msgspec
import structlog

from training_analyzer.core.accounts import AuditEvent
from training_analyzer.core.billing import AccessReason, BillingPeriod, PriceCatalog, access_for
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.tiers import Entitlement, Feature, Limit, Plan, Tier
from training_analyzer.ids import new_id
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage
from training_analyzer.services.gates import FeatureGate, plan_in

log = structlog.get_logger(__name__)

_PAYING = frozenset({AccessReason.ACTIVE, AccessReason.GRACE})
_ACTIVE_WINDOW = timedelta(days=7)
_INSTANT = timedelta(microseconds=1)  # the storage's time resolution


class PlanCount(msgspec.Struct, frozen=True, kw_only=True):
    """Paid subscriptions of one plan now, in total and per billing period."""

    plan: Tier
    total: int
    monthly: int
    yearly: int


class BillingMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of `GET /admin/metrics` (see the module docstring for each definition)."""

    as_of: datetime
    users: int
    paying_users: int
    active_subscriptions: tuple[PlanCount, ...]
    mrr_cents: int
    currency: str
    free_to_paid_conversion: float
    churned_this_month: int
    churn_rate_this_month: float
    active_users_last_7_days: int


def mrr_cents(*, monthly_cents: int, yearly_cents: int) -> int:
    """MRR from summed monthly and summed yearly prices: yearly / 12, rounded half up once."""
    if monthly_cents < 0 or yearly_cents < 0:
        raise InvalidInput("cents", "sums of prices cannot be negative")
    return monthly_cents + (yearly_cents + 6) // 12


def month_start_utc(now: datetime) -> datetime:
    """00:00 UTC on the first day of `now`'s UTC month."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(month_start: datetime) -> datetime:
    if month_start.month == 12:
        return month_start.replace(year=month_start.year + 1, month=1)
    return month_start.replace(month=month_start.month + 1)


def _ratio(part: int, whole: int) -> float:
    return 0.0 if whole == 0 else round(part / whole, 6)


class BillingAdminService:
    """Billing metrics and plan limits for administrators."""

    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock,
        catalog: PriceCatalog,
        grace_period_s: int,
        gate: FeatureGate,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._catalog = catalog
        self._grace_s = grace_period_s
        self._gate = gate

    async def metrics(self) -> BillingMetrics:
        """Compute the billing figures at the clock's now."""
        plans = await self._gate.plans()
        now = self._clock.now()
        async with self._storage.system(reason="admin billing metrics") as uow:
            users = await uow.directory.count_users()
            live = await uow.billing.live_subscriptions()
            month = month_start_utc(now)
            churned = await uow.billing.count_ended(since=month, until=_next_month(month))
            active_users = await uow.billing.count_active_users(
                since=now - _ACTIVE_WINDOW,
                until=now + _INSTANT,  # now itself included
            )
        counts = {p.tier: {"month": 0, "year": 0} for p in plans if p.tier is not Tier.FREE}
        monthly = yearly = 0
        paying: set[str] = set()
        for sub in live:
            access = access_for(
                state=sub.state, catalog=self._catalog, now=now, grace_period_s=self._grace_s
            )
            price = self._catalog.lookup(sub.state.subscription.price_id)
            if access.tier is Tier.FREE or price is None:
                continue
            paying.add(sub.user_id)
            counts.setdefault(access.tier, {"month": 0, "year": 0})[price.period.value] += 1
            if access.reason not in _PAYING:
                continue  # a trial: a subscription, but no revenue yet
            plan = plan_in(plans, price.tier)
            if price.period is BillingPeriod.MONTH:
                monthly += plan.monthly_price_cents
            else:
                yearly += plan.yearly_price_cents
        per_plan = tuple(
            PlanCount(plan=tier, total=c["month"] + c["year"], monthly=c["month"], yearly=c["year"])
            for tier, c in counts.items()
        )
        paid_subscriptions = sum(c.total for c in per_plan)
        return BillingMetrics(
            as_of=now,
            users=users,
            paying_users=len(paying),
            active_subscriptions=per_plan,
            mrr_cents=mrr_cents(monthly_cents=monthly, yearly_cents=yearly),
            currency=plans[0].currency,
            free_to_paid_conversion=_ratio(len(paying), users),
            churned_this_month=churned,
            churn_rate_this_month=_ratio(churned, churned + paid_subscriptions),
            active_users_last_7_days=active_users,
        )

    async def update_plan_limits(
        self, *, admin_id: str, plan_id: str, limits: Mapping[Feature, Limit]
    ) -> Plan:
        """Replace the given limits of plan `plan_id` (a tier); the others stay; return it.

        Raises InvalidInput when a limit does not fit its feature (the core's Plan rules) or
        no limit is given; NotFound for an unknown tier.
        """
        if not limits:
            raise InvalidInput("limits", "name at least one feature")
        try:
            tier = Tier(plan_id)
        except ValueError:
            raise NotFound(f"no plan {plan_id!r}", plan=plan_id) from None
        current = next(p for p in await self._gate.plans() if p.tier is tier)
        entitlements = tuple(
            Entitlement(feature=e.feature, measure=e.measure, limit=limits.get(e.feature, e.limit))
            for e in current.entitlements
        )
        # replace() runs Plan.__post_init__, which refuses a limit that does not fit.
        plan = msgspec.structs.replace(current, entitlements=entitlements)
        now = self._clock.now()
        async with self._storage.system(reason="admin updates plan limits") as uow:
            await uow.plans.replace(plan=plan, at=now)
            await uow.audit.append(
                user_id=admin_id,
                event=AuditEvent(
                    id=new_id(),
                    action="admin.plan_limits_updated",
                    at=now,
                    user_id=admin_id,
                    details={
                        "plan": tier.value,
                        "features": ",".join(sorted(f.value for f in limits)),
                    },
                ),
            )
        log.info("admin.plan_limits_updated", plan=tier.value, features=len(limits))
        return plan
