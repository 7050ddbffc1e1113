"""The storage port's billing part: plans with editable limits, customers, subscription states.

Reached through a unit of work (`uow.plans`, `uow.billing`) with the tenancy rules of
`ports.storage`: user-scoped methods take the acting user as `user_id` and see only that
user's rows; the methods marked "system scope only" raise Forbidden in a user's unit of work.

- `plans` holds one row per tier, seeded from `core.tiers.plan_table()` and then owned by the
  database: an administrator changes limits without a deploy and the feature gate reads them
  from here. Prices stay those of the tier table (Stripe's prices are what is charged).
- `billing` holds each user's payment-provider customer (one per user, created once and
  reused) and one `BillingSubscription` per provider subscription: the `core.billing`
  `SubscriptionState` that the out-of-order rule maintains, plus the tier and period its price
  sells. Writes are compare-and-set on a version, so two instances applying webhooks for one
  subscription at once cannot lose an update: the loser gets False and re-reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from training_analyzer.core.billing import BillingPeriod, SubscriptionState
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.tiers import Plan, Tier


class BillingSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """One provider subscription of a user, as stored.

    `tier` and `period` are what the subscription's price sells according to the price
    catalog when it was saved (None for a price the catalog does not list). `version` counts
    saves: 0 for one never stored, then 1, 2, ...; pass the version read to
    `save_subscription` as the expected one.
    """

    user_id: str
    state: SubscriptionState
    tier: Tier | None
    period: BillingPeriod | None
    updated_at: datetime
    version: int = 0

    def __post_init__(self) -> None:
        if not self.user_id:
            raise InvalidInput("user_id", "must not be empty")
        if self.updated_at.utcoffset() is None:
            raise InvalidInput("updated_at", "must be timezone-aware")
        if isinstance(self.version, bool) or self.version < 0:
            raise InvalidInput("version", f"must be an integer >= 0, got {self.version!r}")

    @property
    def subscription_id(self) -> str:
        """The provider's subscription id."""
        return self.state.subscription.subscription_id

    @property
    def ended_at(self) -> datetime | None:
        """When the subscription ended for good (the ending event's time), or None."""
        return self.state.last_event_created if self.state.ended else None


class PlanRepository(Protocol):
    """Plans and their limits (not user-owned: every scope reads them, the system writes)."""

    async def all(self) -> list[Plan]:
        """Every stored plan, cheapest (lowest rank) first; [] before seeding."""
        ...

    async def seed(self, *, plans: Sequence[Plan], at: datetime) -> int:
        """Insert the plans whose tier has no row yet (stored rows win); returns how many.

        System scope only. Concurrent seeds insert each tier once.
        """
        ...

    async def replace(self, *, plan: Plan, at: datetime) -> None:
        """Replace a stored plan (its limits, name and prices). System scope only.

        Raises NotFound if the tier has no row.
        """
        ...


class BillingRepository(Protocol):
    """Payment customers and subscriptions."""

    async def customer_id(self, *, user_id: str) -> str | None:
        """The user's payment-provider customer id, or None if none was created."""
        ...

    async def add_customer(self, *, user_id: str, customer_id: str, at: datetime) -> str:
        """Remember the user's customer unless one is stored; return the stored one.

        Of two concurrent calls for one user, both get the id that was stored first. Raises
        Conflict if the customer id belongs to another user; NotFound if the user is absent.
        """
        ...

    async def subscriptions(self, *, user_id: str) -> list[BillingSubscription]:
        """The user's subscriptions (ended ones included), newest event first."""
        ...

    async def get_subscription(
        self, *, user_id: str, subscription_id: str
    ) -> BillingSubscription | None:
        """One subscription of the user, or None."""
        ...

    async def save_subscription(
        self, *, user_id: str, subscription: BillingSubscription, expected_version: int
    ) -> bool:
        """Store `subscription` if the stored version is `expected_version` (0: none stored).

        The stored version becomes `expected_version + 1` (whatever `subscription.version`
        says). False, with nothing written, when another write came first. Raises Conflict if
        the subscription id is stored under another user; NotFound if the user is absent.
        """
        ...

    async def find_customer(self, *, customer_id: str) -> str | None:
        """The user id owning a customer id, or None. System scope only."""
        ...

    async def live_subscriptions(self) -> list[BillingSubscription]:
        """Every subscription that has not ended, any user's. System scope only."""
        ...

    async def count_ended(self, *, since: datetime, until: datetime) -> int:
        """Subscriptions that ended in [`since`, `until`). System scope only."""
        ...

    async def count_active_users(self, *, since: datetime, until: datetime) -> int:
        """Users who opened a session or recorded an activity in [`since`, `until`).

        "Opened a session": a refresh session created in the range (a sign-in or a token
        refresh, which a client does at least every access-token lifetime while in use);
        "recorded an activity": an activity row created in the range. System scope only.
        """
        ...
