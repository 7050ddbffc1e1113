"""The billing repositories (`ports.billing_storage`) over `SqlConnection`, for both dialects.

Tables from migration 0007: `plans` (one row per tier, limits as JSON), `billing_customers`
(one payment customer per user) and `billing_subscriptions` (one row per provider
subscription, its `core.billing.SubscriptionState` as JSON plus the columns the admin queries
filter on). A subscription is written compare-and-set on `version`, so concurrent webhooks for
one subscription never lose an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from training_analyzer.adapters.sql.dialect import Query, Row, Scope, SqlConnection
from training_analyzer.core.billing import BillingPeriod, SubscriptionState
from training_analyzer.core.errors import Conflict, Forbidden, NotFound
from training_analyzer.core.tiers import Entitlement, Plan, Tier
from training_analyzer.ports.billing_storage import BillingSubscription

_entitlements = msgspec.json.Decoder(tuple[Entitlement, ...])
_state = msgspec.json.Decoder(SubscriptionState)

_PLAN_COLUMNS = (
    "id",
    "name",
    "rank",
    "currency",
    "monthly_price_cents",
    "yearly_price_cents",
    "entitlements",
    "updated_at",
)
_PLAN_ALL = Query(f"SELECT {', '.join(_PLAN_COLUMNS)} FROM plans ORDER BY rank, id")  # noqa: S608
_PLAN_SEED = Query(
    f"INSERT INTO plans ({', '.join(_PLAN_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in _PLAN_COLUMNS)}) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)
_PLAN_REPLACE = Query(
    "UPDATE plans SET name = :name, rank = :rank, currency = :currency, "
    "monthly_price_cents = :monthly_price_cents, yearly_price_cents = :yearly_price_cents, "
    "entitlements = :entitlements, updated_at = :updated_at WHERE id = :id RETURNING id"
)


def plan_values(plan: Plan, at: datetime) -> dict[str, object]:
    """A plan as the `plans` row's parameters."""
    return {
        "id": plan.tier.value,
        "name": plan.name,
        "rank": plan.rank,
        "currency": plan.currency,
        "monthly_price_cents": plan.monthly_price_cents,
        "yearly_price_cents": plan.yearly_price_cents,
        "entitlements": msgspec.json.encode(plan.entitlements).decode(),
        "updated_at": at,
    }


def _plan(r: Row) -> Plan:
    return Plan(
        tier=Tier(r["id"]),
        name=r["name"],
        rank=int(r["rank"]),
        currency=r["currency"],
        monthly_price_cents=int(r["monthly_price_cents"]),
        yearly_price_cents=int(r["yearly_price_cents"]),
        entitlements=_entitlements.decode(r["entitlements"]),
    )


class SqlPlanRepository:
    """Plans in `plans`: readable in every scope, written in the system scope."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def all(self) -> list[Plan]:
        """Every plan, cheapest first."""
        return [_plan(r) for r in await self._conn.fetch(_PLAN_ALL)]

    async def seed(self, *, plans: Sequence[Plan], at: datetime) -> int:
        """Insert the missing tiers."""
        self._scope.require_system("seeding plans")
        inserted = 0
        for plan in plans:
            if await self._conn.fetchrow(_PLAN_SEED, plan_values(plan, at)) is not None:
                inserted += 1
        return inserted

    async def replace(self, *, plan: Plan, at: datetime) -> None:
        """Replace a stored plan."""
        self._scope.require_system("changing plans")
        if await self._conn.fetchrow(_PLAN_REPLACE, plan_values(plan, at)) is None:
            raise NotFound(f"no plan {plan.tier.value!r}", plan=plan.tier.value)


_CUSTOMER_GET = Query("SELECT customer_id FROM billing_customers WHERE user_id = :user_id")
_CUSTOMER_ADD = Query(
    "INSERT INTO billing_customers (user_id, customer_id, created_at) "
    "VALUES (:user_id, :customer_id, :at) ON CONFLICT (user_id) DO NOTHING"
)
_CUSTOMER_FIND = Query("SELECT user_id FROM billing_customers WHERE customer_id = :customer_id")

_SUB_COLUMNS = (
    "user_id",
    "subscription_id",
    "customer_id",
    "status",
    "tier",
    "period",
    "ended_at",
    "last_event_at",
    "state",
    "version",
    "updated_at",
)
_SUB_SELECT = ", ".join(_SUB_COLUMNS)
_SUB_OF_USER = Query(
    f"SELECT {_SUB_SELECT} FROM billing_subscriptions WHERE user_id = :user_id "  # noqa: S608
    "ORDER BY last_event_at DESC, subscription_id"
)
_SUB_GET = Query(
    f"SELECT {_SUB_SELECT} FROM billing_subscriptions "  # noqa: S608
    "WHERE user_id = :user_id AND subscription_id = :subscription_id"
)
_SUB_INSERT = Query(
    f"INSERT INTO billing_subscriptions ({_SUB_SELECT}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in _SUB_COLUMNS)}) "
    # Only a lost race on this user's own row is "nothing written"; the same subscription id
    # under another user violates the UNIQUE constraint and surfaces as Conflict.
    "ON CONFLICT (user_id, subscription_id) DO NOTHING RETURNING subscription_id"
)
_SUB_UPDATE = Query(
    "UPDATE billing_subscriptions SET customer_id = :customer_id, status = :status, "
    "tier = :tier, period = :period, ended_at = :ended_at, last_event_at = :last_event_at, "
    "state = :state, version = :version, updated_at = :updated_at "
    "WHERE user_id = :user_id AND subscription_id = :subscription_id "
    "AND version = :expected RETURNING subscription_id"
)
_SUB_LIVE = Query(
    f"SELECT {_SUB_SELECT} FROM billing_subscriptions WHERE ended_at IS NULL "  # noqa: S608
    "ORDER BY user_id, subscription_id"
)
_SUB_ENDED = Query(
    "SELECT count(*) AS n FROM billing_subscriptions WHERE ended_at >= :since AND ended_at < :until"
)
_ACTIVE_USERS = Query(
    "SELECT count(*) AS n FROM ("
    "SELECT user_id FROM refresh_sessions WHERE created_at >= :since AND created_at < :until "
    "UNION "
    "SELECT user_id FROM activities WHERE created_at >= :since AND created_at < :until"
    ") AS active"
)


def subscription_values(sub: BillingSubscription, version: int) -> dict[str, object]:
    """A subscription as the `billing_subscriptions` row's parameters."""
    s = sub.state.subscription
    return {
        "user_id": sub.user_id,
        "subscription_id": s.subscription_id,
        "customer_id": s.customer_id,
        "status": s.status.value,
        "tier": None if sub.tier is None else sub.tier.value,
        "period": None if sub.period is None else sub.period.value,
        "ended_at": sub.ended_at,
        "last_event_at": sub.state.last_event_created,
        "state": msgspec.json.encode(sub.state).decode(),
        "version": version,
        "updated_at": sub.updated_at,
    }


def _subscription(conn: SqlConnection, r: Row) -> BillingSubscription:
    return BillingSubscription(
        user_id=r["user_id"],
        state=_state.decode(r["state"]),
        tier=None if r["tier"] is None else Tier(r["tier"]),
        period=None if r["period"] is None else BillingPeriod(r["period"]),
        updated_at=conn.time(r["updated_at"]),
        version=int(r["version"]),
    )


class SqlBillingRepository:
    """Payment customers and subscriptions of users."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def customer_id(self, *, user_id: str) -> str | None:
        """The user's customer id."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_CUSTOMER_GET, {"user_id": user_id})
        return None if row is None else str(row["customer_id"])

    async def add_customer(self, *, user_id: str, customer_id: str, at: datetime) -> str:
        """Keep the first customer stored for the user."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "customer_id": customer_id, "at": at}
        try:
            await self._conn.execute(_CUSTOMER_ADD, params)
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None
        except Conflict:
            raise Conflict("this customer belongs to another account") from None
        stored = await self.customer_id(user_id=user_id)
        assert stored is not None  # inserted now or before, in this transaction's view
        return stored

    async def subscriptions(self, *, user_id: str) -> list[BillingSubscription]:
        """The user's subscriptions, newest event first."""
        self._scope.check(user_id)
        rows = await self._conn.fetch(_SUB_OF_USER, {"user_id": user_id})
        return [_subscription(self._conn, r) for r in rows]

    async def get_subscription(
        self, *, user_id: str, subscription_id: str
    ) -> BillingSubscription | None:
        """One subscription."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "subscription_id": subscription_id}
        row = await self._conn.fetchrow(_SUB_GET, params)
        return None if row is None else _subscription(self._conn, row)

    async def save_subscription(
        self, *, user_id: str, subscription: BillingSubscription, expected_version: int
    ) -> bool:
        """Compare-and-set on the version."""
        self._scope.check(user_id)
        if subscription.user_id != user_id:
            raise Forbidden("the subscription belongs to another user than the one named")
        values = subscription_values(subscription, expected_version + 1)
        if expected_version == 0:
            try:
                return await self._conn.fetchrow(_SUB_INSERT, values) is not None
            except NotFound:
                raise NotFound("no such account", user_id=user_id) from None
            except Conflict:
                # A concurrent insert of this same row may trip the UNIQUE(subscription_id)
                # index before the primary-key arbiter: that is a lost race, not a conflict.
                mine = await self.get_subscription(
                    user_id=user_id, subscription_id=subscription.subscription_id
                )
                if mine is not None:
                    return False
                raise
        row = await self._conn.fetchrow(_SUB_UPDATE, values | {"expected": expected_version})
        return row is not None

    async def find_customer(self, *, customer_id: str) -> str | None:
        """The user owning a customer id."""
        self._scope.require_system("finding a payment customer")
        row = await self._conn.fetchrow(_CUSTOMER_FIND, {"customer_id": customer_id})
        return None if row is None else str(row["user_id"])

    async def live_subscriptions(self) -> list[BillingSubscription]:
        """Every subscription that has not ended."""
        self._scope.require_system("listing every subscription")
        return [_subscription(self._conn, r) for r in await self._conn.fetch(_SUB_LIVE)]

    async def count_ended(self, *, since: datetime, until: datetime) -> int:
        """Subscriptions that ended in [since, until)."""
        self._scope.require_system("counting ended subscriptions")
        row = await self._conn.fetchrow(_SUB_ENDED, {"since": since, "until": until})
        return 0 if row is None else int(row["n"])

    async def count_active_users(self, *, since: datetime, until: datetime) -> int:
        """Users with a session opened or an activity recorded in [since, until)."""
        self._scope.require_system("counting active users")
        row = await self._conn.fetchrow(_ACTIVE_USERS, {"since": since, "until": until})
        return 0 if row is None else int(row["n"])
