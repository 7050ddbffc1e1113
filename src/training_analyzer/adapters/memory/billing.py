"""In-memory billing repositories (`ports.billing_storage`) over the fake storage's tables.

They live on the same working copy of the tables as the rest of `InMemoryStorage`, so they
commit and roll back with the unit of work, and pass the same contract suite as SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from training_analyzer.core.errors import Conflict, Forbidden, NotFound
from training_analyzer.core.tiers import Plan
from training_analyzer.ports.billing_storage import BillingSubscription

if TYPE_CHECKING:
    from training_analyzer.adapters.memory.storage import _Tx


class InMemoryPlanRepository:
    """Plans: readable in every scope, written in the system scope."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def all(self) -> list[Plan]:
        """Every plan, cheapest first."""
        return sorted(self._tx.t.plans.values(), key=lambda p: (p.rank, p.tier.value))

    async def seed(self, *, plans: Sequence[Plan], at: datetime) -> int:
        """Insert the missing tiers."""
        self._tx.scope.require_system("seeding plans")
        stored = self._tx.t.plans
        inserted = 0
        for plan in plans:
            if plan.tier.value not in stored:
                stored[plan.tier.value] = plan
                inserted += 1
        return inserted

    async def replace(self, *, plan: Plan, at: datetime) -> None:
        """Replace a stored plan."""
        self._tx.scope.require_system("changing plans")
        stored = self._tx.t.plans
        if plan.tier.value not in stored:
            raise NotFound(f"no plan {plan.tier.value!r}", plan=plan.tier.value)
        stored[plan.tier.value] = plan


class InMemoryBillingRepository:
    """Payment customers and subscriptions."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def customer_id(self, *, user_id: str) -> str | None:
        """The user's customer id."""
        self._tx.user(user_id)
        return self._tx.t.billing_customers.get(user_id)

    async def add_customer(self, *, user_id: str, customer_id: str, at: datetime) -> str:
        """Keep the first customer stored for the user."""
        self._tx.user(user_id)
        t = self._tx.t
        if any(c == customer_id and u != user_id for u, c in t.billing_customers.items()):
            raise Conflict("this customer belongs to another account")
        if user_id not in t.billing_customers:
            self._tx.require_user_row(user_id)
            t.billing_customers[user_id] = customer_id
        return t.billing_customers[user_id]

    async def subscriptions(self, *, user_id: str) -> list[BillingSubscription]:
        """The user's subscriptions, newest event first."""
        self._tx.user(user_id)
        mine = [s for (owner, _), s in self._tx.t.billing_subscriptions.items() if owner == user_id]
        mine.sort(key=lambda s: s.subscription_id)
        mine.sort(key=lambda s: s.state.last_event_created, reverse=True)
        return mine

    async def get_subscription(
        self, *, user_id: str, subscription_id: str
    ) -> BillingSubscription | None:
        """One subscription."""
        self._tx.user(user_id)
        return self._tx.t.billing_subscriptions.get((user_id, subscription_id))

    async def save_subscription(
        self, *, user_id: str, subscription: BillingSubscription, expected_version: int
    ) -> bool:
        """Compare-and-set on the version."""
        self._tx.user(user_id)
        if subscription.user_id != user_id:
            raise Forbidden("the subscription belongs to another user than the one named")
        t = self._tx.t
        key = (user_id, subscription.subscription_id)
        current = t.billing_subscriptions.get(key)
        if expected_version == 0:
            if current is not None:
                return False
            if any(sid == subscription.subscription_id for _, sid in t.billing_subscriptions):
                raise Conflict("duplicate: the subscription id belongs to another account")
            self._tx.require_user_row(user_id)
        elif current is None or current.version != expected_version:
            return False
        t.billing_subscriptions[key] = BillingSubscription(
            user_id=user_id,
            state=subscription.state,
            tier=subscription.tier,
            period=subscription.period,
            updated_at=subscription.updated_at,
            version=expected_version + 1,
        )
        return True

    async def find_customer(self, *, customer_id: str) -> str | None:
        """The user owning a customer id."""
        self._tx.scope.require_system("finding a payment customer")
        return next((u for u, c in self._tx.t.billing_customers.items() if c == customer_id), None)

    async def live_subscriptions(self) -> list[BillingSubscription]:
        """Every subscription that has not ended."""
        self._tx.scope.require_system("listing every subscription")
        return [
            s for _, s in sorted(self._tx.t.billing_subscriptions.items()) if s.ended_at is None
        ]

    async def count_ended(self, *, since: datetime, until: datetime) -> int:
        """Subscriptions that ended in [since, until)."""
        self._tx.scope.require_system("counting ended subscriptions")
        return sum(
            1
            for s in self._tx.t.billing_subscriptions.values()
            if s.ended_at is not None and since <= s.ended_at < until
        )

    async def count_active_users(self, *, since: datetime, until: datetime) -> int:
        """Users with a session opened or an activity recorded in [since, until)."""
        self._tx.scope.require_system("counting active users")
        t = self._tx.t
        active = {s.user_id for s in t.sessions.values() if since <= s.created_at < until}
        active |= {a.user_id for a in t.activities.values() if since <= a.created_at < until}
        return len(active)
