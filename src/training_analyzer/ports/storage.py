"""The storage port: a unit of work per transaction, exposing one repository per kind of data.

Tenancy. Every unit of work is opened for one acting user (`Storage.unit_of_work(user_id=...)`)
and every repository method takes that user as `user_id` and touches only that user's rows; a
row of another user is indistinguishable from a missing one (None, False or NotFound). Passing a
`user_id` other than the unit of work's raises Forbidden: it is a bug in the caller, not a
missing row. On PostgreSQL, row-level security keyed on the same user is a second wall behind
the query filters.

System scope. A few operations are not about one user: finding the account behind an email at
login, an admin listing, applying a payment webhook, purging expired sessions, keeping a
started Google sign-in until its callback, counting login attempts per IP. They run in
`Storage.system(reason=...)`, a named scope whose unit of work additionally exposes
`directory`, `payment_events`, `oidc_flows` and `rate_limits` (rows that belong to no user),
and whose repositories accept any `user_id` (still filtering by it). The reason is recorded
with the transaction (on PostgreSQL in `app.scope`) so a cross-tenant query is always
deliberate and greppable.

Transactions. Leaving the `async with` block normally commits; an exception rolls everything
back and propagates. `commit()` / `rollback()` end the transaction early; the unit of work
cannot be used afterwards. Units of work must not be nested (the SQLite and in-memory adapters
serialise them and would wait forever).

Errors every method may raise: ExternalServiceError (the database is unreachable or failed),
Forbidden (`user_id` is not the acting user). Others are named per method.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Protocol

import msgspec

from training_analyzer.core.accounts import (
    AuditEvent,
    IdentityProvider,
    LinkedIdentity,
    OidcFlow,
    PaymentEvent,
    RateLimitHit,
    RefreshSession,
    Subscription,
    UsageCounter,
    UsageGrant,
    User,
)
from training_analyzer.core.activities import Activity, DailyLoad, Source, Sport, SportFamily
from training_analyzer.core.analytics import ActivityBests
from training_analyzer.core.athletes import AthleteProfile
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.pagination import Page
from training_analyzer.ports.billing_storage import BillingRepository, PlanRepository


class UserRepository(Protocol):
    """The acting user's account record."""

    async def add(self, *, user_id: str, user: User) -> None:
        """Create the account `user` (whose id must be `user_id`).

        Raises Conflict if the id or the email is already taken.
        """
        ...

    async def get(self, *, user_id: str) -> User | None:
        """The account, or None if it does not exist."""
        ...

    async def update(self, *, user_id: str, user: User) -> None:
        """Replace the stored account with `user`. Raises NotFound, or Conflict (email taken)."""
        ...

    async def delete(self, *, user_id: str) -> bool:
        """Delete the account and, by cascade, every row the user owns. False if absent."""
        ...


class SessionRepository(Protocol):
    """Refresh-token sessions of the acting user."""

    async def add(self, *, user_id: str, session: RefreshSession) -> None:
        """Store a new session. Raises Conflict if its id or token hash exists."""
        ...

    async def get(self, *, user_id: str, session_id: str) -> RefreshSession | None:
        """One session by id, or None."""
        ...

    async def revoke(
        self, *, user_id: str, session_id: str, at: datetime, replaced_by: str | None = None
    ) -> bool:
        """Revoke a session if it is not revoked yet, atomically; True if this call revoked it.

        Rotation calls this with `replaced_by`; of two concurrent rotations of one token only
        one gets True, which is how reuse of a refresh token is detected.
        """
        ...

    async def revoke_family(self, *, user_id: str, family_id: str, at: datetime) -> int:
        """Revoke every unrevoked session of a rotation family; returns how many."""
        ...

    async def revoke_all(self, *, user_id: str, at: datetime) -> int:
        """Revoke every unrevoked session of the user (log out everywhere); returns how many."""
        ...

    async def list_active(self, *, user_id: str, now: datetime) -> list[RefreshSession]:
        """Sessions neither revoked nor expired at `now`, newest first."""
        ...


class LinkedIdentityRepository(Protocol):
    """External accounts (Google, Garmin, Strava) linked to the acting user."""

    async def link(self, *, user_id: str, identity: LinkedIdentity) -> None:
        """Store a link. Raises Conflict if this external account is linked to any user, or
        the user already has a link to that provider."""
        ...

    async def all(self, *, user_id: str) -> list[LinkedIdentity]:
        """The user's links, ordered by provider."""
        ...

    async def unlink(self, *, user_id: str, provider: IdentityProvider) -> bool:
        """Remove the user's link to `provider`; False if there was none."""
        ...


class AthleteProfileRepository(Protocol):
    """The acting user's athlete profile with its dated threshold history (one aggregate)."""

    async def get(self, *, user_id: str) -> AthleteProfile | None:
        """The profile with its thresholds ordered by date, or None if never saved."""
        ...

    async def save(self, *, user_id: str, profile: AthleteProfile) -> None:
        """Create or replace the profile, including its whole threshold history.

        Raises NotFound if the user does not exist.
        """
        ...


class ActivityRepository(Protocol):
    """The acting user's activities."""

    async def add(self, *, user_id: str, activity: Activity) -> None:
        """Store a new activity.

        Raises Conflict if its id exists, or if the user already has an activity with the same
        (source, source_id) — a re-import is never a second row. Raises NotFound if the user
        does not exist.
        """
        ...

    async def add_many(self, *, user_id: str, activities: Sequence[Activity]) -> None:
        """Store several new activities in one go (bulk import); all or none (see `add`)."""
        ...

    async def get(self, *, user_id: str, activity_id: str) -> Activity | None:
        """One activity by id, or None."""
        ...

    async def find_by_source(
        self, *, user_id: str, source: Source, source_id: str
    ) -> Activity | None:
        """The activity imported from `source` with the provider's id `source_id`, or None."""
        ...

    async def update(self, *, user_id: str, activity: Activity) -> None:
        """Replace a stored activity. Raises NotFound, or Conflict (source id taken)."""
        ...

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete an activity and its streams; False if absent."""
        ...

    async def page(
        self,
        *,
        user_id: str,
        sport: Sport | None = None,
        family: SportFamily | None = None,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page[Activity]:
        """A page of activities, newest start first (ties by id), with keyset pagination.

        Filters: `sport`, `family`, and start time in [`start_from`, `start_to`). Pass the
        previous page's `next_cursor` as `cursor` for the next page; pages stay stable while
        activities are added. Raises InvalidInput for a malformed cursor or a `limit` outside
        1..200.
        """
        ...

    async def between(
        self, *, user_id: str, start_from: datetime, start_to: datetime
    ) -> list[Activity]:
        """Every activity starting in [`start_from`, `start_to`), oldest first.

        For dedup candidates and load recomputation; callers keep the range bounded.
        """
        ...


class StreamRepository(Protocol):
    """Per-second streams, one compact blob per activity of the acting user."""

    async def put(self, *, user_id: str, activity_id: str, streams: Streams) -> None:
        """Store or replace the streams of an activity. Raises NotFound if the activity is not
        the user's."""
        ...

    async def get(self, *, user_id: str, activity_id: str) -> Streams | None:
        """The streams of an activity, or None if none were stored."""
        ...

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete the streams of an activity; False if there were none."""
        ...


class ActivityLink(msgspec.Struct, frozen=True, kw_only=True):
    """How one activity relates to others (docs/activities.md).

    `duplicate_of` names the canonical activity when this one records the same workout from
    another source (only canonical activities count toward load, volume and records);
    `multisport_group` and `multisport_index` tie the legs of one multi-sport file together.
    """

    activity_id: str
    duplicate_of: str | None = None
    multisport_group: str | None = None
    multisport_index: int | None = None

    def __post_init__(self) -> None:
        if not self.activity_id:
            raise InvalidInput("activity_id", "must not be empty")
        if self.duplicate_of is not None and self.duplicate_of == self.activity_id:
            raise InvalidInput("duplicate_of", "an activity cannot duplicate itself")
        if (self.multisport_group is None) != (self.multisport_index is None):
            raise InvalidInput(
                "multisport_index", "multisport_group and multisport_index go together"
            )
        if self.multisport_index is not None and self.multisport_index < 0:
            raise InvalidInput("multisport_index", f"must be >= 0, got {self.multisport_index}")


class ActivityLinkRepository(Protocol):
    """Duplicate and multi-sport links between the acting user's activities.

    A link row goes with its activity (deleted with it); deleting a canonical activity also
    deletes the links of its duplicates unless the caller re-linked them first.
    """

    async def put(self, *, user_id: str, link: ActivityLink) -> None:
        """Create or replace the link of `link.activity_id`.

        Raises NotFound if the activity or the `duplicate_of` activity is not the user's.
        """
        ...

    async def get_many(
        self, *, user_id: str, activity_ids: Sequence[str]
    ) -> dict[str, ActivityLink]:
        """The links of the given activities, by activity id (activities without one absent)."""
        ...

    async def duplicates_of(self, *, user_id: str, activity_id: str) -> list[ActivityLink]:
        """The links of every activity recorded as a duplicate of `activity_id`, by id."""
        ...

    async def group(self, *, user_id: str, multisport_group: str) -> list[ActivityLink]:
        """The legs of a multi-sport group, by index."""
        ...

    async def duplicate_ids(self, *, user_id: str) -> frozenset[str]:
        """The ids of every activity that is a linked duplicate (not canonical)."""
        ...


class ActivityBestsRepository(Protocol):
    """Per-activity bests (mean-maximal power, fastest distances) kept for records."""

    async def put(self, *, user_id: str, bests: ActivityBests) -> None:
        """Create or replace the bests of `bests.activity_id`. Raises NotFound if the activity
        is not the user's."""
        ...

    async def get(self, *, user_id: str, activity_id: str) -> ActivityBests | None:
        """The bests of one activity, or None."""
        ...

    async def all(self, *, user_id: str, day_from: date | None = None) -> list[ActivityBests]:
        """Every stored bests record (of local days on or after `day_from` if given), ordered
        by day then activity id."""
        ...


class LoadPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One stored day's load, read without the rest of its row (long charts read thousands)."""

    day: date
    load: float
    estimated: bool = False


class DailyLoadRepository(Protocol):
    """The acting user's daily training loads (and PMC state) by calendar day."""

    async def upsert(self, *, user_id: str, loads: Sequence[DailyLoad]) -> None:
        """Create or replace the given days. Raises NotFound if the user does not exist."""
        ...

    async def range(self, *, user_id: str, day_from: date, day_to: date) -> list[DailyLoad]:
        """Stored days in [`day_from`, `day_to`), oldest first (days without a row are absent)."""
        ...

    async def delete_from(self, *, user_id: str, day_from: date) -> int:
        """Delete every day on or after `day_from` (before a recomputation); returns how many."""
        ...

    async def latest(self, *, user_id: str, before: date) -> DailyLoad | None:
        """The stored day closest before `before` (the seed of a recomputation), or None."""
        ...

    async def points(self, *, user_id: str, day_from: date, day_to: date) -> list[LoadPoint]:
        """Day, load and estimate flag of the stored days in [`day_from`, `day_to`), oldest
        first: what a chart needs, without building whole rows."""
        ...

    async def lock(self, *, user_id: str) -> None:
        """Hold the user's load lock until the unit of work ends.

        A unit of work that changes activities and recomputes loads (import, delete, a new
        threshold) takes it first, so two of them for one user run one after the other: the
        second sees the first's activities, for dedup and for its recomputation. Adapters
        whose units of work already run one at a time (SQLite, in-memory) need do nothing.
        """
        ...


class SubscriptionRepository(Protocol):
    """The acting user's subscription (one row per user)."""

    async def get(self, *, user_id: str) -> Subscription | None:
        """The subscription, or None (the user is on the free tier)."""
        ...

    async def save(self, *, user_id: str, subscription: Subscription) -> bool:
        """Store `subscription` unless a state from a newer event is stored; True if stored.

        The comparison on `event_at` happens in the same statement as the write, so webhooks
        delivered out of order or concurrently cannot roll the subscription back.
        Raises NotFound if the user does not exist.
        """
        ...


class UsageCounterRepository(Protocol):
    """Per-window usage counters of the acting user (quota enforcement)."""

    async def consume(
        self, *, user_id: str, feature: str, window_key: str, limit: int
    ) -> UsageGrant:
        """Take one use if fewer than `limit` are used, as one atomic guarded write.

        Correct under concurrency: N concurrent callers with a limit L get exactly min(N, L)
        grants. Raises InvalidInput if `limit` is negative; NotFound if the user does not exist.
        """
        ...

    async def release(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Give one use back (a failed call), never below zero; returns the count after."""
        ...

    async def get(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Uses counted in the window (0 if none)."""
        ...

    async def all(self, *, user_id: str, window_key: str | None = None) -> list[UsageCounter]:
        """The user's counters (optionally of one window), ordered by window then feature."""
        ...


class AuditLog(Protocol):
    """Append-only log of security-relevant events."""

    async def append(self, *, user_id: str | None, event: AuditEvent) -> None:
        """Record `event` (whose user_id must equal `user_id`). `user_id=None` (an event about
        no known account) is allowed only in the system scope. Raises Conflict on a reused id."""
        ...

    async def page(
        self, *, user_id: str, cursor: str | None = None, limit: int = 50
    ) -> Page[AuditEvent]:
        """The user's events, newest first, keyset-paginated (InvalidInput on a bad cursor)."""
        ...


class PaymentEventRepository(Protocol):
    """Payment-provider webhook events, each stored once (system scope only)."""

    async def record(self, *, event: PaymentEvent) -> bool:
        """Store `event` if its id is new; True if stored, False if it was seen before.

        Atomic: of two concurrent deliveries of one event exactly one gets True.
        """
        ...

    async def get(self, *, event_id: str) -> PaymentEvent | None:
        """A stored event, or None."""
        ...

    async def mark_processed(self, *, event_id: str, at: datetime) -> None:
        """Set the event's processed time. Raises NotFound if it was never recorded."""
        ...


class OidcFlowRepository(Protocol):
    """Started external sign-ins (system scope only: they belong to nobody yet).

    A flow is single use: `take` removes it whether or not it is still live, so a replayed or
    forged callback finds nothing.
    """

    async def put(self, *, flow: OidcFlow) -> None:
        """Store a new flow. Raises Conflict if its state hash is stored already."""
        ...

    async def take(self, *, state_hash: str, now: datetime) -> OidcFlow | None:
        """Remove the flow with this state hash and return it if it is live at `now`.

        Atomic: of two concurrent takes of one flow at most one gets it. An expired flow is
        removed too, and gives None.
        """
        ...

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete the flows no longer live at `now`; returns how many."""
        ...


class RateLimitRepository(Protocol):
    """Attempt counters shared by every instance (system scope only: keyed by IP or account).

    Fixed windows: the first hit on a key (or the first after its window ended) opens a window
    of `window_s` seconds; later hits in it count up.
    """

    async def hit(self, *, key: str, window_s: int, now: datetime) -> RateLimitHit:
        """Count one attempt against `key` and return the count and the window's end.

        One atomic upsert: N concurrent hits on a key produce the counts 1..N exactly once each.
        Raises InvalidInput for an empty key or a window shorter than one second.
        """
        ...

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete the counters whose window ended at or before `now`; returns how many."""
        ...


class AccountDirectory(Protocol):
    """Cross-user lookups (system scope only): login, token refresh, webhooks, admin."""

    async def find_user_by_email(self, *, email: str) -> User | None:
        """The account with this email (normalised before lookup), or None."""
        ...

    async def list_users(self, *, cursor: str | None = None, limit: int = 50) -> Page[User]:
        """Every account, newest first, keyset-paginated (InvalidInput on a bad cursor)."""
        ...

    async def count_users(self) -> int:
        """How many accounts exist."""
        ...

    async def find_identity(
        self, *, provider: IdentityProvider, subject: str
    ) -> LinkedIdentity | None:
        """The link for an external account (to find its user at login), or None."""
        ...

    async def find_session(self, *, token_hash: str) -> RefreshSession | None:
        """The session holding this refresh-token hash, or None."""
        ...

    async def find_subscription(self, *, provider_customer_id: str) -> Subscription | None:
        """The subscription of a payment-provider customer, or None."""
        ...

    async def purge_expired_sessions(self, *, before: datetime) -> int:
        """Delete sessions that expired before `before`; returns how many."""
        ...

    async def audit_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Every user's audit events (and those of no user), newest first, keyset-paginated.

        For administrators. Raises InvalidInput on a bad cursor or a limit outside 1..200.
        """
        ...


class UnitOfWork(Protocol):
    """One transaction, scoped to one acting user, with a repository per kind of data."""

    @property
    def users(self) -> UserRepository:
        """The account record."""
        ...

    @property
    def sessions(self) -> SessionRepository:
        """Refresh-token sessions."""
        ...

    @property
    def identities(self) -> LinkedIdentityRepository:
        """Linked external accounts."""
        ...

    @property
    def athletes(self) -> AthleteProfileRepository:
        """Athlete profile and thresholds."""
        ...

    @property
    def activities(self) -> ActivityRepository:
        """Activities."""
        ...

    @property
    def streams(self) -> StreamRepository:
        """Activity streams."""
        ...

    @property
    def daily_loads(self) -> DailyLoadRepository:
        """Daily loads."""
        ...

    @property
    def activity_links(self) -> ActivityLinkRepository:
        """Duplicate and multi-sport links between activities."""
        ...

    @property
    def activity_bests(self) -> ActivityBestsRepository:
        """Per-activity bests for records and predictions."""
        ...

    @property
    def subscriptions(self) -> SubscriptionRepository:
        """The subscription."""
        ...

    @property
    def usage(self) -> UsageCounterRepository:
        """Usage counters."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log."""
        ...

    @property
    def plans(self) -> PlanRepository:
        """Plans and their limits (see `ports.billing_storage`)."""
        ...

    @property
    def billing(self) -> BillingRepository:
        """Payment customers and subscriptions (see `ports.billing_storage`)."""
        ...

    async def commit(self) -> None:
        """Commit now and end the unit of work."""
        ...

    async def rollback(self) -> None:
        """Discard every change and end the unit of work."""
        ...


class SystemUnitOfWork(UnitOfWork, Protocol):
    """A unit of work in the named system scope: any user's rows, plus cross-user lookups."""

    @property
    def directory(self) -> AccountDirectory:
        """Cross-user lookups."""
        ...

    @property
    def payment_events(self) -> PaymentEventRepository:
        """Payment webhook events."""
        ...

    @property
    def oidc_flows(self) -> OidcFlowRepository:
        """Started external sign-ins."""
        ...

    @property
    def rate_limits(self) -> RateLimitRepository:
        """Shared attempt counters."""
        ...


class Storage(Protocol):
    """Opens units of work; one instance per process, shared by every request."""

    def unit_of_work(self, *, user_id: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction acting as `user_id`: `async with storage.unit_of_work(...) as uow:`."""
        ...

    def system(self, *, reason: str) -> AbstractAsyncContextManager[SystemUnitOfWork]:
        """A transaction in the system scope, for the cross-user operation named by `reason`."""
        ...

    async def ping(self) -> None:
        """Check the database answers. Raises ExternalServiceError if it does not."""
        ...

    async def close(self) -> None:
        """Release connections; the storage cannot be used afterwards."""
        ...
