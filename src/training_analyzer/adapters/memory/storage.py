"""In-memory storage: a faithful fake of the storage port that ships with the library.

It passes the same contract suite as SQLite and PostgreSQL: tenancy checks, Conflict on
duplicates, NotFound on missing references, cascades on account deletion, keyset pagination,
atomic usage counters, and all-or-nothing units of work. Units of work are serialised by a lock
(like SQLite's single writer) and work on a copy of the tables that replaces the committed
state only on commit. Streams are kept packed, exactly as the SQL adapters store them.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

import msgspec

from training_analyzer.adapters.memory.billing import (
    InMemoryBillingRepository,
    InMemoryPlanRepository,
)
from training_analyzer.adapters.sql.dialect import Scope
from training_analyzer.adapters.sql.repositories import check_rate_limit_hit
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
    normalize_email,
)
from training_analyzer.core.activities import (
    Activity,
    DailyLoad,
    Source,
    Sport,
    SportFamily,
    pack_streams,
    unpack_streams,
)
from training_analyzer.core.analytics import ActivityBests
from training_analyzer.core.athletes import AthleteProfile
from training_analyzer.core.errors import (
    Conflict,
    ExternalServiceError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.pagination import (
    Cursor,
    Page,
    decode_cursor,
    encode_cursor,
    page_limit,
    to_micros,
)
from training_analyzer.core.tiers import Plan
from training_analyzer.ports.billing_storage import BillingSubscription
from training_analyzer.ports.storage import (
    ActivityLink,
    LoadPoint,
    SystemUnitOfWork,
    UnitOfWork,
)

_ACTIVITY_CURSOR = "activities"
_AUDIT_CURSOR = "audit"
_ALL_AUDIT_CURSOR = "audit-all"
_USER_CURSOR = "users"


@dataclass
class _Tables:
    """Every table, keyed like its primary key."""

    users: dict[str, User] = field(default_factory=dict)
    sessions: dict[tuple[str, str], RefreshSession] = field(default_factory=dict)
    identities: dict[tuple[str, str], LinkedIdentity] = field(default_factory=dict)
    profiles: dict[str, AthleteProfile] = field(default_factory=dict)
    activities: dict[tuple[str, str], Activity] = field(default_factory=dict)
    streams: dict[tuple[str, str], bytes] = field(default_factory=dict)
    daily_loads: dict[tuple[str, date], DailyLoad] = field(default_factory=dict)
    activity_links: dict[tuple[str, str], ActivityLink] = field(default_factory=dict)
    activity_bests: dict[tuple[str, str], ActivityBests] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    usage: dict[tuple[str, str, str], int] = field(default_factory=dict)
    payment_events: dict[str, PaymentEvent] = field(default_factory=dict)
    audit: dict[str, AuditEvent] = field(default_factory=dict)
    oidc_flows: dict[str, OidcFlow] = field(default_factory=dict)
    rate_limits: dict[str, RateLimitHit] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    billing_customers: dict[str, str] = field(default_factory=dict)
    billing_subscriptions: dict[tuple[str, str], BillingSubscription] = field(default_factory=dict)

    def clone(self) -> _Tables:
        # Values are frozen structs (or bytes/ints), so copying the dicts is a full snapshot.
        return _Tables(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


class _Tx:
    """The working copy of one unit of work."""

    def __init__(self, tables: _Tables, scope: Scope) -> None:
        self._tables = tables
        self.scope = scope
        self.ended = False

    @property
    def t(self) -> _Tables:
        if self.ended:
            raise RuntimeError("this unit of work has already ended")
        return self._tables

    def user(self, user_id: str | None) -> None:
        """Check the scope may act for `user_id`."""
        self.scope.check(user_id)

    def require_user_row(self, user_id: str) -> None:
        """NotFound unless the account exists (the SQL foreign keys)."""
        if user_id not in self.t.users:
            raise NotFound("no such account", user_id=user_id)


def _drop_owned[K: tuple[object, ...], V](table: dict[K, V], user_id: str) -> None:
    for key in [k for k in table if k[0] == user_id]:
        del table[key]


def _same_owner(user_id: str | None, owner: str | None, what: str) -> None:
    if owner != user_id:
        raise Forbidden(f"the {what} belongs to another user than the one named", user_id=user_id)


def _keyset_page[T](
    items: Iterable[T],
    *,
    key: Callable[[T], tuple[datetime, str]],
    cursor: str | None,
    kind: str,
    limit: int,
) -> Page[T]:
    """Newest-first keyset page, as the SQL adapters compute it."""
    page_limit(limit)
    ordered = sorted(items, key=lambda i: _sort_key(key(i)), reverse=True)
    if cursor is not None:
        after = decode_cursor(cursor, kind=kind)
        position = (to_micros(after.at), after.id)
        ordered = [i for i in ordered if _sort_key(key(i)) < position]
    chosen = ordered[:limit]
    next_cursor = None
    if len(ordered) > limit:
        at, item_id = key(chosen[-1])
        next_cursor = encode_cursor(Cursor(at=at, id=item_id), kind=kind)
    return Page(items=chosen, next_cursor=next_cursor)


def _sort_key(value: tuple[datetime, str]) -> tuple[int, str]:
    return to_micros(value[0]), value[1]


class InMemoryUserRepository:
    """Accounts."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def add(self, *, user_id: str, user: User) -> None:
        """Create an account."""
        self._tx.user(user_id)
        _same_owner(user_id, user.id, "account")
        t = self._tx.t
        if user.id in t.users or any(u.email == user.email for u in t.users.values()):
            raise Conflict("an account with this id or email exists", user_id=user.id)
        t.users[user.id] = user

    async def get(self, *, user_id: str) -> User | None:
        """One account."""
        self._tx.user(user_id)
        return self._tx.t.users.get(user_id)

    async def update(self, *, user_id: str, user: User) -> None:
        """Replace an account."""
        self._tx.user(user_id)
        _same_owner(user_id, user.id, "account")
        t = self._tx.t
        if user.id not in t.users:
            raise NotFound("no such account", user_id=user.id)
        if any(u.email == user.email and u.id != user.id for u in t.users.values()):
            raise Conflict("another account uses this email", user_id=user.id)
        t.users[user.id] = user

    async def delete(self, *, user_id: str) -> bool:
        """Delete an account and, by cascade, everything it owns."""
        self._tx.user(user_id)
        t = self._tx.t
        if t.users.pop(user_id, None) is None:
            return False
        _drop_owned(t.sessions, user_id)
        _drop_owned(t.identities, user_id)
        _drop_owned(t.activities, user_id)
        _drop_owned(t.streams, user_id)
        _drop_owned(t.daily_loads, user_id)
        _drop_owned(t.activity_links, user_id)
        _drop_owned(t.activity_bests, user_id)
        _drop_owned(t.usage, user_id)
        t.profiles.pop(user_id, None)
        t.subscriptions.pop(user_id, None)
        t.billing_customers.pop(user_id, None)
        _drop_owned(t.billing_subscriptions, user_id)
        # Payment and audit records stay, detached (ON DELETE SET NULL).
        for pid, p in list(t.payment_events.items()):
            if p.user_id == user_id:
                t.payment_events[pid] = msgspec.structs.replace(p, user_id=None)
        for aid, a in list(t.audit.items()):
            if a.user_id == user_id:
                t.audit[aid] = msgspec.structs.replace(a, user_id=None)
        return True


class InMemorySessionRepository:
    """Refresh-token sessions."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def add(self, *, user_id: str, session: RefreshSession) -> None:
        """Store a new session."""
        self._tx.user(user_id)
        _same_owner(user_id, session.user_id, "session")
        self._tx.require_user_row(user_id)
        t = self._tx.t
        if (user_id, session.id) in t.sessions or any(
            s.token_hash == session.token_hash for s in t.sessions.values()
        ):
            raise Conflict("session id or token hash exists", session_id=session.id)
        t.sessions[(user_id, session.id)] = session

    async def get(self, *, user_id: str, session_id: str) -> RefreshSession | None:
        """One session."""
        self._tx.user(user_id)
        return self._tx.t.sessions.get((user_id, session_id))

    async def revoke(
        self, *, user_id: str, session_id: str, at: datetime, replaced_by: str | None = None
    ) -> bool:
        """Revoke one session if still unrevoked."""
        self._tx.user(user_id)
        t = self._tx.t
        session = t.sessions.get((user_id, session_id))
        if session is None or session.revoked_at is not None:
            return False
        t.sessions[(user_id, session_id)] = msgspec.structs.replace(
            session, revoked_at=at, replaced_by=replaced_by
        )
        return True

    async def revoke_family(self, *, user_id: str, family_id: str, at: datetime) -> int:
        """Revoke a rotation family."""
        self._tx.user(user_id)
        return self._revoke(user_id, at, lambda s: s.family_id == family_id)

    async def revoke_all(self, *, user_id: str, at: datetime) -> int:
        """Revoke every session of the user."""
        self._tx.user(user_id)
        return self._revoke(user_id, at, lambda s: True)

    def _revoke(self, user_id: str, at: datetime, which: Callable[[RefreshSession], bool]) -> int:
        t = self._tx.t
        count = 0
        for key, s in list(t.sessions.items()):
            if key[0] == user_id and s.revoked_at is None and which(s):
                t.sessions[key] = msgspec.structs.replace(s, revoked_at=at)
                count += 1
        return count

    async def list_active(self, *, user_id: str, now: datetime) -> list[RefreshSession]:
        """Active sessions, newest first."""
        self._tx.user(user_id)
        active = [
            s
            for (owner, _), s in self._tx.t.sessions.items()
            if owner == user_id and s.revoked_at is None and s.expires_at > now
        ]
        return sorted(active, key=lambda s: (to_micros(s.created_at), s.id), reverse=True)


class InMemoryLinkedIdentityRepository:
    """Linked external accounts."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def link(self, *, user_id: str, identity: LinkedIdentity) -> None:
        """Store a link."""
        self._tx.user(user_id)
        _same_owner(user_id, identity.user_id, "identity")
        self._tx.require_user_row(user_id)
        t = self._tx.t
        for (owner, iid), other in t.identities.items():
            if (
                owner == user_id and (iid == identity.id or other.provider is identity.provider)
            ) or (other.provider is identity.provider and other.subject == identity.subject):
                raise Conflict(
                    "this external account or provider is already linked",
                    provider=str(identity.provider),
                )
        t.identities[(user_id, identity.id)] = identity

    async def all(self, *, user_id: str) -> list[LinkedIdentity]:
        """The user's links, by provider."""
        self._tx.user(user_id)
        mine = [i for (owner, _), i in self._tx.t.identities.items() if owner == user_id]
        return sorted(mine, key=lambda i: str(i.provider))

    async def unlink(self, *, user_id: str, provider: IdentityProvider) -> bool:
        """Remove a link."""
        self._tx.user(user_id)
        t = self._tx.t
        for key, identity in list(t.identities.items()):
            if key[0] == user_id and identity.provider == provider:
                del t.identities[key]
                return True
        return False


class InMemoryAthleteProfileRepository:
    """Athlete profiles with thresholds."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def get(self, *, user_id: str) -> AthleteProfile | None:
        """The profile."""
        self._tx.user(user_id)
        return self._tx.t.profiles.get(user_id)

    async def save(self, *, user_id: str, profile: AthleteProfile) -> None:
        """Create or replace the profile."""
        self._tx.user(user_id)
        _same_owner(user_id, profile.user_id, "profile")
        self._tx.require_user_row(user_id)
        self._tx.t.profiles[user_id] = profile


class InMemoryActivityRepository:
    """Activities."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def add(self, *, user_id: str, activity: Activity) -> None:
        """Store a new activity."""
        await self.add_many(user_id=user_id, activities=[activity])

    async def add_many(self, *, user_id: str, activities: Sequence[Activity]) -> None:
        """Store new activities, all or none."""
        self._tx.user(user_id)
        for a in activities:
            _same_owner(user_id, a.user_id, "activity")
        if not activities:
            return
        self._tx.require_user_row(user_id)
        t = self._tx.t
        staged: dict[tuple[str, str], Activity] = {}
        for a in activities:
            key = (user_id, a.id)
            if (
                key in t.activities
                or key in staged
                or self._source_taken([*t.activities.values(), *staged.values()], a)
            ):
                raise Conflict(
                    "activity already stored (same id, or same source and source id)",
                    user_id=user_id,
                )
            staged[key] = a
        t.activities.update(staged)

    @staticmethod
    def _source_taken(existing: Iterable[Activity], a: Activity) -> bool:
        if a.source_id is None:
            return False
        return any(
            o.user_id == a.user_id
            and o.id != a.id
            and o.source == a.source
            and o.source_id == a.source_id
            for o in existing
        )

    async def get(self, *, user_id: str, activity_id: str) -> Activity | None:
        """One activity."""
        self._tx.user(user_id)
        return self._tx.t.activities.get((user_id, activity_id))

    async def find_by_source(
        self, *, user_id: str, source: Source, source_id: str
    ) -> Activity | None:
        """The activity with this source id."""
        self._tx.user(user_id)
        for (owner, _), a in self._tx.t.activities.items():
            if owner == user_id and a.source == source and a.source_id == source_id:
                return a
        return None

    async def update(self, *, user_id: str, activity: Activity) -> None:
        """Replace an activity."""
        self._tx.user(user_id)
        _same_owner(user_id, activity.user_id, "activity")
        t = self._tx.t
        key = (user_id, activity.id)
        if key not in t.activities:
            raise NotFound("no such activity", activity_id=activity.id)
        if self._source_taken(t.activities.values(), activity):
            raise Conflict("another activity has this source id", activity_id=activity.id)
        t.activities[key] = activity

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete an activity and its streams."""
        self._tx.user(user_id)
        t = self._tx.t
        t.streams.pop((user_id, activity_id), None)
        t.activity_bests.pop((user_id, activity_id), None)
        t.activity_links.pop((user_id, activity_id), None)
        # The foreign key on duplicate_of cascades: duplicates' links go with their canonical.
        for key in [
            k
            for k, link in t.activity_links.items()
            if k[0] == user_id and link.duplicate_of == activity_id
        ]:
            del t.activity_links[key]
        return t.activities.pop((user_id, activity_id), None) is not None

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
        """A page of activities, newest first."""
        self._tx.user(user_id)
        page_limit(limit)
        sport_value = None if sport is None else Sport(sport)
        family_value = None if family is None else SportFamily(family)
        selected = [
            a
            for (owner, _), a in self._tx.t.activities.items()
            if owner == user_id
            and (sport_value is None or a.sport is sport_value)
            and (family_value is None or a.sport.family is family_value)
            and (start_from is None or a.start_time >= start_from)
            and (start_to is None or a.start_time < start_to)
        ]
        return _keyset_page(
            selected,
            key=lambda a: (a.start_time, a.id),
            cursor=cursor,
            kind=_ACTIVITY_CURSOR,
            limit=limit,
        )

    async def between(
        self, *, user_id: str, start_from: datetime, start_to: datetime
    ) -> list[Activity]:
        """Activities in a start range, oldest first."""
        self._tx.user(user_id)
        selected = [
            a
            for (owner, _), a in self._tx.t.activities.items()
            if owner == user_id and start_from <= a.start_time < start_to
        ]
        return sorted(selected, key=lambda a: (to_micros(a.start_time), a.id))


class InMemoryStreamRepository:
    """Stream blobs."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def put(self, *, user_id: str, activity_id: str, streams: Streams) -> None:
        """Store or replace streams."""
        self._tx.user(user_id)
        t = self._tx.t
        blob = pack_streams(streams)
        if (user_id, activity_id) not in t.activities:
            raise NotFound("no such activity", activity_id=activity_id)
        t.streams[(user_id, activity_id)] = blob

    async def get(self, *, user_id: str, activity_id: str) -> Streams | None:
        """An activity's streams."""
        self._tx.user(user_id)
        blob = self._tx.t.streams.get((user_id, activity_id))
        return None if blob is None else unpack_streams(blob)

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete an activity's streams."""
        self._tx.user(user_id)
        return self._tx.t.streams.pop((user_id, activity_id), None) is not None


class InMemoryDailyLoadRepository:
    """Daily loads."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def upsert(self, *, user_id: str, loads: Sequence[DailyLoad]) -> None:
        """Create or replace days."""
        self._tx.user(user_id)
        for load in loads:
            _same_owner(user_id, load.user_id, "daily load")
        if not loads:
            return
        self._tx.require_user_row(user_id)
        for load in loads:
            self._tx.t.daily_loads[(user_id, load.day)] = load

    async def range(self, *, user_id: str, day_from: date, day_to: date) -> list[DailyLoad]:
        """Days in [day_from, day_to)."""
        self._tx.user(user_id)
        days = [
            d
            for (owner, day), d in self._tx.t.daily_loads.items()
            if owner == user_id and day_from <= day < day_to
        ]
        return sorted(days, key=lambda d: d.day)

    async def delete_from(self, *, user_id: str, day_from: date) -> int:
        """Delete days on or after day_from."""
        self._tx.user(user_id)
        t = self._tx.t
        doomed = [k for k in t.daily_loads if k[0] == user_id and k[1] >= day_from]
        for k in doomed:
            del t.daily_loads[k]
        return len(doomed)

    async def latest(self, *, user_id: str, before: date) -> DailyLoad | None:
        """The stored day closest before `before`."""
        self._tx.user(user_id)
        earlier = [
            d
            for (owner, day), d in self._tx.t.daily_loads.items()
            if owner == user_id and day < before
        ]
        return max(earlier, key=lambda d: d.day, default=None)

    async def points(self, *, user_id: str, day_from: date, day_to: date) -> list[LoadPoint]:
        """Day, load and estimate flag of the days in [day_from, day_to)."""
        days = await self.range(user_id=user_id, day_from=day_from, day_to=day_to)
        return [LoadPoint(day=d.day, load=d.load, estimated=d.estimated) for d in days]

    async def lock(self, *, user_id: str) -> None:
        """Nothing to take: units of work run one at a time here."""
        self._tx.user(user_id)


class InMemoryActivityLinkRepository:
    """Duplicate and multi-sport links."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def put(self, *, user_id: str, link: ActivityLink) -> None:
        """Create or replace a link."""
        self._tx.user(user_id)
        t = self._tx.t
        for activity_id in (link.activity_id, link.duplicate_of):
            if activity_id is not None and (user_id, activity_id) not in t.activities:
                raise NotFound("no such activity", activity_id=activity_id)
        t.activity_links[(user_id, link.activity_id)] = link

    async def get_many(
        self, *, user_id: str, activity_ids: Sequence[str]
    ) -> dict[str, ActivityLink]:
        """Links of the given activities."""
        self._tx.user(user_id)
        links = self._tx.t.activity_links
        return {i: links[(user_id, i)] for i in activity_ids if (user_id, i) in links}

    async def duplicates_of(self, *, user_id: str, activity_id: str) -> list[ActivityLink]:
        """Links of the duplicates of an activity."""
        self._tx.user(user_id)
        found = [
            link
            for (owner, _), link in self._tx.t.activity_links.items()
            if owner == user_id and link.duplicate_of == activity_id
        ]
        return sorted(found, key=lambda link: link.activity_id)

    async def group(self, *, user_id: str, multisport_group: str) -> list[ActivityLink]:
        """Legs of a multi-sport group."""
        self._tx.user(user_id)
        found = [
            link
            for (owner, _), link in self._tx.t.activity_links.items()
            if owner == user_id and link.multisport_group == multisport_group
        ]
        return sorted(found, key=lambda link: (link.multisport_index or 0, link.activity_id))

    async def duplicate_ids(self, *, user_id: str) -> frozenset[str]:
        """Ids of every linked duplicate."""
        self._tx.user(user_id)
        return frozenset(
            activity_id
            for (owner, activity_id), link in self._tx.t.activity_links.items()
            if owner == user_id and link.duplicate_of is not None
        )


class InMemoryActivityBestsRepository:
    """Per-activity bests."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def put(self, *, user_id: str, bests: ActivityBests) -> None:
        """Create or replace an activity's bests."""
        self._tx.user(user_id)
        t = self._tx.t
        if (user_id, bests.activity_id) not in t.activities:
            raise NotFound("no such activity", activity_id=bests.activity_id)
        t.activity_bests[(user_id, bests.activity_id)] = bests

    async def get(self, *, user_id: str, activity_id: str) -> ActivityBests | None:
        """One activity's bests."""
        self._tx.user(user_id)
        return self._tx.t.activity_bests.get((user_id, activity_id))

    async def all(self, *, user_id: str, day_from: date | None = None) -> list[ActivityBests]:
        """Every bests record, by day then activity id."""
        self._tx.user(user_id)
        found = [
            b
            for (owner, _), b in self._tx.t.activity_bests.items()
            if owner == user_id and (day_from is None or b.day >= day_from)
        ]
        return sorted(found, key=lambda b: (b.day, b.activity_id))


class InMemorySubscriptionRepository:
    """Subscriptions."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def get(self, *, user_id: str) -> Subscription | None:
        """The subscription."""
        self._tx.user(user_id)
        return self._tx.t.subscriptions.get(user_id)

    async def save(self, *, user_id: str, subscription: Subscription) -> bool:
        """Store unless a newer event's state is stored."""
        self._tx.user(user_id)
        _same_owner(user_id, subscription.user_id, "subscription")
        self._tx.require_user_row(user_id)
        t = self._tx.t
        customer = subscription.provider_customer_id
        if customer is not None and any(
            s.provider_customer_id == customer and s.user_id != user_id
            for s in t.subscriptions.values()
        ):
            raise Conflict(
                "another account has this payment customer id", provider_customer_id=customer
            )
        current = t.subscriptions.get(user_id)
        if current is not None and current.event_at > subscription.event_at:
            return False
        t.subscriptions[user_id] = subscription
        return True


class InMemoryUsageCounterRepository:
    """Usage counters."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def consume(
        self, *, user_id: str, feature: str, window_key: str, limit: int
    ) -> UsageGrant:
        """Take one use if below the limit."""
        self._tx.user(user_id)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidInput("limit", f"must be a non-negative integer, got {limit!r}")
        t = self._tx.t
        key = (user_id, window_key, str(feature))
        used = t.usage.get(key)
        if limit > 0:
            if used is None:
                self._tx.require_user_row(user_id)
                t.usage[key] = 1
                return UsageGrant(granted=True, used=1)
            if used < limit:
                t.usage[key] = used + 1
                return UsageGrant(granted=True, used=used + 1)
        return UsageGrant(granted=False, used=used or 0)

    async def release(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Give one use back."""
        self._tx.user(user_id)
        t = self._tx.t
        key = (user_id, window_key, str(feature))
        used = t.usage.get(key)
        if used is None:
            return 0
        if used > 0:
            used -= 1
            t.usage[key] = used
        return used

    async def get(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Uses in the window."""
        self._tx.user(user_id)
        return self._tx.t.usage.get((user_id, window_key, str(feature)), 0)

    async def all(self, *, user_id: str, window_key: str | None = None) -> list[UsageCounter]:
        """The user's counters."""
        self._tx.user(user_id)
        return [
            UsageCounter(user_id=owner, feature=feature, window_key=window, used=used)
            for (owner, window, feature), used in sorted(self._tx.t.usage.items())
            if owner == user_id and (window_key is None or window == window_key)
        ]


class InMemoryAuditLog:
    """The audit log."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def append(self, *, user_id: str | None, event: AuditEvent) -> None:
        """Record an event."""
        self._tx.user(user_id)
        _same_owner(user_id, event.user_id, "audit event")
        if user_id is not None:
            self._tx.require_user_row(user_id)
        t = self._tx.t
        if event.id in t.audit:
            raise Conflict("audit event id exists", event_id=event.id)
        t.audit[event.id] = event

    async def page(
        self, *, user_id: str, cursor: str | None = None, limit: int = 50
    ) -> Page[AuditEvent]:
        """The user's events, newest first."""
        self._tx.user(user_id)
        mine = [e for e in self._tx.t.audit.values() if e.user_id == user_id]
        return _keyset_page(
            mine, key=lambda e: (e.at, e.id), cursor=cursor, kind=_AUDIT_CURSOR, limit=limit
        )


class InMemoryPaymentEventRepository:
    """Payment webhook events."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def record(self, *, event: PaymentEvent) -> bool:
        """Store the event once."""
        self._tx.scope.require_system("recording a payment event")
        t = self._tx.t
        if event.id in t.payment_events:
            return False
        if event.user_id is not None:
            self._tx.require_user_row(event.user_id)
        t.payment_events[event.id] = event
        return True

    async def get(self, *, event_id: str) -> PaymentEvent | None:
        """A stored event."""
        self._tx.scope.require_system("reading payment events")
        return self._tx.t.payment_events.get(event_id)

    async def mark_processed(self, *, event_id: str, at: datetime) -> None:
        """Set the processed time."""
        self._tx.scope.require_system("updating payment events")
        t = self._tx.t
        event = t.payment_events.get(event_id)
        if event is None:
            raise NotFound("no such payment event", event_id=event_id)
        t.payment_events[event_id] = msgspec.structs.replace(event, processed_at=at)


class InMemoryOidcFlowRepository:
    """Started sign-ins."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def put(self, *, flow: OidcFlow) -> None:
        """Store a new flow."""
        self._tx.scope.require_system("storing a sign-in flow")
        flows = self._tx.t.oidc_flows
        if flow.state_hash in flows:
            raise Conflict("a sign-in flow with this state exists")
        flows[flow.state_hash] = flow

    async def take(self, *, state_hash: str, now: datetime) -> OidcFlow | None:
        """Remove the flow and return it if still live."""
        self._tx.scope.require_system("taking a sign-in flow")
        flow = self._tx.t.oidc_flows.pop(state_hash, None)
        return flow if flow is not None and flow.is_live(now) else None

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete flows no longer live."""
        self._tx.scope.require_system("purging sign-in flows")
        flows = self._tx.t.oidc_flows
        doomed = [k for k, f in flows.items() if not f.is_live(now)]
        for k in doomed:
            del flows[k]
        return len(doomed)


class InMemoryRateLimitRepository:
    """Fixed-window attempt counters."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def hit(self, *, key: str, window_s: int, now: datetime) -> RateLimitHit:
        """Count one attempt."""
        self._tx.scope.require_system("counting a rate-limited attempt")
        check_rate_limit_hit(key=key, window_s=window_s)
        buckets = self._tx.t.rate_limits
        current = buckets.get(key)
        if current is None or current.reset_at <= now:
            hit = RateLimitHit(key=key, count=1, reset_at=now + timedelta(seconds=window_s))
        else:
            hit = msgspec.structs.replace(current, count=current.count + 1)
        buckets[key] = hit
        return hit

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete counters whose window has ended."""
        self._tx.scope.require_system("purging rate-limit counters")
        buckets = self._tx.t.rate_limits
        doomed = [k for k, b in buckets.items() if b.reset_at <= now]
        for k in doomed:
            del buckets[k]
        return len(doomed)


class InMemoryAccountDirectory:
    """Cross-user lookups."""

    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    async def find_user_by_email(self, *, email: str) -> User | None:
        """The account with this email."""
        self._tx.scope.require_system("finding a user by email")
        try:
            normalized = normalize_email(email)
        except InvalidInput:
            return None
        return next((u for u in self._tx.t.users.values() if u.email == normalized), None)

    async def list_users(self, *, cursor: str | None = None, limit: int = 50) -> Page[User]:
        """Every account, newest first."""
        self._tx.scope.require_system("listing users")
        return _keyset_page(
            self._tx.t.users.values(),
            key=lambda u: (u.created_at, u.id),
            cursor=cursor,
            kind=_USER_CURSOR,
            limit=limit,
        )

    async def count_users(self) -> int:
        """How many accounts exist."""
        self._tx.scope.require_system("counting users")
        return len(self._tx.t.users)

    async def find_identity(
        self, *, provider: IdentityProvider, subject: str
    ) -> LinkedIdentity | None:
        """The link for an external account."""
        self._tx.scope.require_system("finding a linked identity")
        return next(
            (
                i
                for i in self._tx.t.identities.values()
                if i.provider == provider and i.subject == subject
            ),
            None,
        )

    async def find_session(self, *, token_hash: str) -> RefreshSession | None:
        """The session with this token hash."""
        self._tx.scope.require_system("finding a session by token")
        return next((s for s in self._tx.t.sessions.values() if s.token_hash == token_hash), None)

    async def find_subscription(self, *, provider_customer_id: str) -> Subscription | None:
        """The subscription of a payment customer."""
        self._tx.scope.require_system("finding a subscription by customer")
        return next(
            (
                s
                for s in self._tx.t.subscriptions.values()
                if s.provider_customer_id == provider_customer_id
            ),
            None,
        )

    async def purge_expired_sessions(self, *, before: datetime) -> int:
        """Delete sessions expired before `before`."""
        self._tx.scope.require_system("purging sessions")
        t = self._tx.t
        doomed = [k for k, s in t.sessions.items() if s.expires_at < before]
        for k in doomed:
            del t.sessions[k]
        return len(doomed)

    async def audit_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Every audit event, newest first."""
        self._tx.scope.require_system("reading the whole audit log")
        return _keyset_page(
            self._tx.t.audit.values(),
            key=lambda e: (e.at, e.id),
            cursor=cursor,
            kind=_ALL_AUDIT_CURSOR,
            limit=limit,
        )


class InMemoryUnitOfWork:
    """One unit of work over a working copy of the tables."""

    def __init__(self, tx: _Tx, end: Callable[[bool], None]) -> None:
        self._tx = tx
        self._end = end
        self.users = InMemoryUserRepository(tx)
        self.sessions = InMemorySessionRepository(tx)
        self.identities = InMemoryLinkedIdentityRepository(tx)
        self.athletes = InMemoryAthleteProfileRepository(tx)
        self.activities = InMemoryActivityRepository(tx)
        self.streams = InMemoryStreamRepository(tx)
        self.daily_loads = InMemoryDailyLoadRepository(tx)
        self.activity_links = InMemoryActivityLinkRepository(tx)
        self.activity_bests = InMemoryActivityBestsRepository(tx)
        self.subscriptions = InMemorySubscriptionRepository(tx)
        self.usage = InMemoryUsageCounterRepository(tx)
        self.audit = InMemoryAuditLog(tx)
        self.plans = InMemoryPlanRepository(tx)
        self.billing = InMemoryBillingRepository(tx)
        self.directory = InMemoryAccountDirectory(tx)
        self.payment_events = InMemoryPaymentEventRepository(tx)
        self.oidc_flows = InMemoryOidcFlowRepository(tx)
        self.rate_limits = InMemoryRateLimitRepository(tx)

    @property
    def ended(self) -> bool:
        """True once committed or rolled back."""
        return self._tx.ended

    async def commit(self) -> None:
        """Publish the working copy and end."""
        self._finish(commit=True)

    async def rollback(self) -> None:
        """Drop the working copy and end."""
        self._finish(commit=False)

    def _finish(self, *, commit: bool) -> None:
        if self._tx.ended:
            raise RuntimeError("this unit of work has already ended")
        self._tx.ended = True
        self._end(commit)


class InMemoryStorage:
    """The storage port in process memory (satisfies `ports.storage.Storage`)."""

    def __init__(self) -> None:
        self._tables = _Tables()
        self._lock = asyncio.Lock()
        self._closed = False

    async def ping(self) -> None:
        """Always answers while open."""
        if self._closed:
            raise ExternalServiceError("the in-memory storage is closed")

    async def close(self) -> None:
        """Mark closed (the data stays readable to nobody)."""
        self._closed = True

    def unit_of_work(self, *, user_id: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work acting as `user_id`."""
        return self._transaction(Scope.user(user_id))

    def system(self, *, reason: str) -> AbstractAsyncContextManager[SystemUnitOfWork]:
        """A unit of work in the system scope."""
        return self._transaction(Scope.system(reason))

    @asynccontextmanager
    async def _transaction(self, scope: Scope) -> AsyncIterator[InMemoryUnitOfWork]:
        await self.ping()
        async with self._lock:
            working = self._tables.clone()

            def end(commit: bool) -> None:
                if commit:
                    self._tables = working

            uow = InMemoryUnitOfWork(_Tx(working, scope), end)
            try:
                yield uow
            except BaseException:
                if not uow.ended:
                    with suppress(RuntimeError):
                        await uow.rollback()
                raise
            if not uow.ended:
                await uow.commit()
