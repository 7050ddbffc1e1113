"""The repositories of the storage port, written once over `SqlConnection` for both dialects.

Every statement filters by the acting user's id (and every index leads with it); the scope
check turns a call for another user into Forbidden before any SQL runs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from training_analyzer.adapters.sql.billing import SqlBillingRepository, SqlPlanRepository
from training_analyzer.adapters.sql.dialect import Params, Query, Row, Scope, SqlConnection, plain
from training_analyzer.core.accounts import (
    AuditEvent,
    IdentityProvider,
    LinkedIdentity,
    OidcFlow,
    PaymentEvent,
    RateLimitHit,
    RefreshSession,
    Role,
    Subscription,
    SubscriptionStatus,
    UsageCounter,
    UsageGrant,
    User,
    normalize_email,
)
from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    DailyLoad,
    Lap,
    Source,
    Sport,
    SportFamily,
    Summary,
    pack_streams,
    sports_in_family,
    unpack_streams,
)
from training_analyzer.core.analytics import ActivityBests, PowerBest
from training_analyzer.core.athletes import THRESHOLD_FIELDS, AthleteProfile, Sex, Thresholds
from training_analyzer.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from training_analyzer.core.metrics.pace import BestEffort
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.pagination import (
    Cursor,
    Page,
    decode_cursor,
    encode_cursor,
    page_limit,
)
from training_analyzer.core.tiers import Tier
from training_analyzer.ports.storage import ActivityLink, LoadPoint

ACTIVITY_CURSOR = "activities"
AUDIT_CURSOR = "audit"
ALL_AUDIT_CURSOR = "audit-all"
USER_CURSOR = "users"


def _opt_float(value: Any) -> float | None:
    # SQLite hands back REAL values from RETURNING before affinity (as int); normalise.
    return None if value is None else float(value)


def _insert(table: str, columns: Sequence[str], suffix: str = "") -> Query:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return Query(f"INSERT INTO {table} ({names}) VALUES ({values}){suffix}")  # noqa: S608


def _same_owner(user_id: str | None, owner: str | None, what: str) -> None:
    if owner != user_id:
        raise Forbidden(f"the {what} belongs to another user than the one named", user_id=user_id)


# ---------------------------------------------------------------------------------------------
# users


_USER_COLUMNS = (
    "id",
    "email",
    "display_name",
    "role",
    "password_hash",
    "email_verified",
    "timezone",
    "created_at",
    "updated_at",
    "disabled_at",
)
_USER_SELECT = ", ".join(_USER_COLUMNS)
_USER_INSERT = _insert("users", _USER_COLUMNS)
_USER_GET = Query(f"SELECT {_USER_SELECT} FROM users WHERE id = :user_id")  # noqa: S608
_USER_UPDATE = Query(
    "UPDATE users SET email = :email, display_name = :display_name, role = :role, "
    "password_hash = :password_hash, email_verified = :email_verified, timezone = :timezone, "
    "created_at = :created_at, updated_at = :updated_at, disabled_at = :disabled_at "
    "WHERE id = :id RETURNING id"
)
_USER_DELETE = Query("DELETE FROM users WHERE id = :user_id RETURNING id")
_USER_BY_EMAIL = Query(f"SELECT {_USER_SELECT} FROM users WHERE email = :email")  # noqa: S608
_USER_COUNT = Query("SELECT count(*) AS n FROM users")


def _user_values(user: User) -> dict[str, object]:
    return {c: getattr(user, c) for c in _USER_COLUMNS}


def _user(conn: SqlConnection, r: Row) -> User:
    return User(
        id=r["id"],
        email=r["email"],
        display_name=r["display_name"],
        role=Role(r["role"]),
        password_hash=r["password_hash"],
        email_verified=conn.flag(r["email_verified"]),
        timezone=r["timezone"],
        created_at=conn.time(r["created_at"]),
        updated_at=conn.time(r["updated_at"]),
        disabled_at=None if r["disabled_at"] is None else conn.time(r["disabled_at"]),
    )


class SqlUserRepository:
    """Accounts in the `users` table."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def add(self, *, user_id: str, user: User) -> None:
        """Create an account."""
        self._scope.check(user_id)
        _same_owner(user_id, user.id, "account")
        try:
            await self._conn.execute(_USER_INSERT, row_params(_user_values(user)))
        except Conflict:
            raise Conflict("an account with this id or email exists", user_id=user.id) from None

    async def get(self, *, user_id: str) -> User | None:
        """One account by id."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_USER_GET, {"user_id": user_id})
        return None if row is None else _user(self._conn, row)

    async def update(self, *, user_id: str, user: User) -> None:
        """Replace an account."""
        self._scope.check(user_id)
        _same_owner(user_id, user.id, "account")
        try:
            row = await self._conn.fetchrow(_USER_UPDATE, row_params(_user_values(user)))
        except Conflict:
            raise Conflict("another account uses this email", user_id=user.id) from None
        if row is None:
            raise NotFound("no such account", user_id=user.id)

    async def delete(self, *, user_id: str) -> bool:
        """Delete an account and everything it owns."""
        self._scope.check(user_id)
        return await self._conn.fetchrow(_USER_DELETE, {"user_id": user_id}) is not None


# ---------------------------------------------------------------------------------------------
# refresh sessions


_SESSION_COLUMNS = (
    "id",
    "user_id",
    "family_id",
    "token_hash",
    "created_at",
    "expires_at",
    "revoked_at",
    "replaced_by",
    "user_agent",
    "ip",
)
_SESSION_SELECT = ", ".join(_SESSION_COLUMNS)
_SESSION_INSERT = _insert("refresh_sessions", _SESSION_COLUMNS)
_SESSION_GET = Query(
    f"SELECT {_SESSION_SELECT} FROM refresh_sessions WHERE user_id = :user_id AND id = :id"  # noqa: S608
)
_SESSION_REVOKE = Query(
    "UPDATE refresh_sessions SET revoked_at = :at, replaced_by = :replaced_by "
    "WHERE user_id = :user_id AND id = :id AND revoked_at IS NULL RETURNING id"
)
_SESSION_REVOKE_FAMILY = Query(
    "UPDATE refresh_sessions SET revoked_at = :at "
    "WHERE user_id = :user_id AND family_id = :family_id AND revoked_at IS NULL RETURNING id"
)
_SESSION_REVOKE_ALL = Query(
    "UPDATE refresh_sessions SET revoked_at = :at "
    "WHERE user_id = :user_id AND revoked_at IS NULL RETURNING id"
)
_SESSION_ACTIVE = Query(
    f"SELECT {_SESSION_SELECT} FROM refresh_sessions "  # noqa: S608
    "WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at > :now "
    "ORDER BY created_at DESC, id DESC"
)
_SESSION_BY_HASH = Query(
    f"SELECT {_SESSION_SELECT} FROM refresh_sessions WHERE token_hash = :token_hash"  # noqa: S608
)
_SESSION_PURGE = Query("DELETE FROM refresh_sessions WHERE expires_at < :before RETURNING id")


def _session(conn: SqlConnection, r: Row) -> RefreshSession:
    return RefreshSession(
        id=r["id"],
        user_id=r["user_id"],
        family_id=r["family_id"],
        token_hash=r["token_hash"],
        created_at=conn.time(r["created_at"]),
        expires_at=conn.time(r["expires_at"]),
        revoked_at=None if r["revoked_at"] is None else conn.time(r["revoked_at"]),
        replaced_by=r["replaced_by"],
        user_agent=r["user_agent"],
        ip=r["ip"],
    )


class SqlSessionRepository:
    """Refresh-token sessions in `refresh_sessions`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def add(self, *, user_id: str, session: RefreshSession) -> None:
        """Store a new session."""
        self._scope.check(user_id)
        _same_owner(user_id, session.user_id, "session")
        values = {c: getattr(session, c) for c in _SESSION_COLUMNS}
        try:
            await self._conn.execute(_SESSION_INSERT, row_params(values))
        except Conflict:
            raise Conflict("session id or token hash exists", session_id=session.id) from None

    async def get(self, *, user_id: str, session_id: str) -> RefreshSession | None:
        """One session."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_SESSION_GET, {"user_id": user_id, "id": session_id})
        return None if row is None else _session(self._conn, row)

    async def revoke(
        self, *, user_id: str, session_id: str, at: datetime, replaced_by: str | None = None
    ) -> bool:
        """Revoke one session if still unrevoked."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "id": session_id, "at": at, "replaced_by": replaced_by}
        return await self._conn.fetchrow(_SESSION_REVOKE, params) is not None

    async def revoke_family(self, *, user_id: str, family_id: str, at: datetime) -> int:
        """Revoke a rotation family."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "family_id": family_id, "at": at}
        return len(await self._conn.fetch(_SESSION_REVOKE_FAMILY, params))

    async def revoke_all(self, *, user_id: str, at: datetime) -> int:
        """Revoke every session of the user."""
        self._scope.check(user_id)
        return len(await self._conn.fetch(_SESSION_REVOKE_ALL, {"user_id": user_id, "at": at}))

    async def list_active(self, *, user_id: str, now: datetime) -> list[RefreshSession]:
        """Active sessions, newest first."""
        self._scope.check(user_id)
        rows = await self._conn.fetch(_SESSION_ACTIVE, {"user_id": user_id, "now": now})
        return [_session(self._conn, r) for r in rows]


# ---------------------------------------------------------------------------------------------
# linked identities


_IDENTITY_COLUMNS = ("id", "user_id", "provider", "subject", "email", "created_at")
_IDENTITY_SELECT = ", ".join(_IDENTITY_COLUMNS)
_IDENTITY_INSERT = _insert("linked_identities", _IDENTITY_COLUMNS)
_IDENTITY_ALL = Query(
    f"SELECT {_IDENTITY_SELECT} FROM linked_identities "  # noqa: S608
    "WHERE user_id = :user_id ORDER BY provider"
)
_IDENTITY_UNLINK = Query(
    "DELETE FROM linked_identities WHERE user_id = :user_id AND provider = :provider RETURNING id"
)
_IDENTITY_FIND = Query(
    f"SELECT {_IDENTITY_SELECT} FROM linked_identities "  # noqa: S608
    "WHERE provider = :provider AND subject = :subject"
)


def _identity(conn: SqlConnection, r: Row) -> LinkedIdentity:
    return LinkedIdentity(
        id=r["id"],
        user_id=r["user_id"],
        provider=IdentityProvider(r["provider"]),
        subject=r["subject"],
        email=r["email"],
        created_at=conn.time(r["created_at"]),
    )


class SqlLinkedIdentityRepository:
    """Links to external accounts in `linked_identities`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def link(self, *, user_id: str, identity: LinkedIdentity) -> None:
        """Store a link."""
        self._scope.check(user_id)
        _same_owner(user_id, identity.user_id, "identity")
        values = {c: getattr(identity, c) for c in _IDENTITY_COLUMNS}
        try:
            await self._conn.execute(_IDENTITY_INSERT, row_params(values))
        except Conflict:
            raise Conflict(
                "this external account or provider is already linked",
                provider=str(identity.provider),
            ) from None

    async def all(self, *, user_id: str) -> list[LinkedIdentity]:
        """The user's links."""
        self._scope.check(user_id)
        rows = await self._conn.fetch(_IDENTITY_ALL, {"user_id": user_id})
        return [_identity(self._conn, r) for r in rows]

    async def unlink(self, *, user_id: str, provider: IdentityProvider) -> bool:
        """Remove a link."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "provider": plain(provider)}
        return await self._conn.fetchrow(_IDENTITY_UNLINK, params) is not None


# ---------------------------------------------------------------------------------------------
# athlete profiles and thresholds


_PROFILE_UPSERT = Query(
    "INSERT INTO athlete_profiles (user_id, birth_year) VALUES (:user_id, :birth_year) "
    "ON CONFLICT (user_id) DO UPDATE SET birth_year = excluded.birth_year"
)
_PROFILE_GET = Query("SELECT user_id, birth_year FROM athlete_profiles WHERE user_id = :user_id")
_THRESHOLD_COLUMNS = ("user_id", "effective_from", *THRESHOLD_FIELDS)
_THRESHOLDS_DELETE = Query("DELETE FROM athlete_thresholds WHERE user_id = :user_id")
_THRESHOLDS_INSERT = _insert("athlete_thresholds", _THRESHOLD_COLUMNS)
_THRESHOLDS_GET = Query(
    f"SELECT {', '.join(_THRESHOLD_COLUMNS)} FROM athlete_thresholds "  # noqa: S608
    "WHERE user_id = :user_id ORDER BY effective_from"
)


def _thresholds(conn: SqlConnection, r: Row) -> Thresholds:
    return Thresholds(
        effective_from=conn.day(r["effective_from"]),
        ftp_w=_opt_float(r["ftp_w"]),
        lthr_bpm=_opt_float(r["lthr_bpm"]),
        max_hr_bpm=_opt_float(r["max_hr_bpm"]),
        rest_hr_bpm=_opt_float(r["rest_hr_bpm"]),
        threshold_pace_s_per_km=_opt_float(r["threshold_pace_s_per_km"]),
        swim_css_s_per_100m=_opt_float(r["swim_css_s_per_100m"]),
        sex=None if r["sex"] is None else Sex(r["sex"]),
        weight_kg=_opt_float(r["weight_kg"]),
    )


class SqlAthleteProfileRepository:
    """Profiles in `athlete_profiles`, threshold history in `athlete_thresholds`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def get(self, *, user_id: str) -> AthleteProfile | None:
        """The profile with its thresholds."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_PROFILE_GET, {"user_id": user_id})
        if row is None:
            return None
        rows = await self._conn.fetch(_THRESHOLDS_GET, {"user_id": user_id})
        return AthleteProfile(
            user_id=row["user_id"],
            birth_year=row["birth_year"],
            thresholds=tuple(_thresholds(self._conn, r) for r in rows),
        )

    async def save(self, *, user_id: str, profile: AthleteProfile) -> None:
        """Create or replace the profile and its threshold history."""
        self._scope.check(user_id)
        _same_owner(user_id, profile.user_id, "profile")
        try:
            await self._conn.execute(
                _PROFILE_UPSERT, {"user_id": user_id, "birth_year": profile.birth_year}
            )
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None
        await self._conn.execute(_THRESHOLDS_DELETE, {"user_id": user_id})
        if profile.thresholds:
            rows = [
                row_params(
                    {"user_id": user_id, "effective_from": t.effective_from}
                    | {f: getattr(t, f) for f in THRESHOLD_FIELDS},
                )
                for t in profile.thresholds
            ]
            await self._conn.executemany(_THRESHOLDS_INSERT, rows)


# ---------------------------------------------------------------------------------------------
# activities

SUMMARY_FIELDS: tuple[str, ...] = tuple(Summary.__struct_fields__)
ACTIVITY_COLUMNS: tuple[str, ...] = (
    "id",
    "user_id",
    "sport",
    "name",
    "start_time",
    "utc_offset_s",
    "source",
    "source_id",
    "device",
    "notes",
    "rpe",
    *SUMMARY_FIELDS,
    "laps",
    "metrics",
    "created_at",
    "updated_at",
)
_ACTIVITY_SELECT = ", ".join(ACTIVITY_COLUMNS)
_ACTIVITY_INSERT = _insert("activities", ACTIVITY_COLUMNS)
_ACTIVITY_GET = Query(
    f"SELECT {_ACTIVITY_SELECT} FROM activities WHERE user_id = :user_id AND id = :id"  # noqa: S608
)
_ACTIVITY_BY_SOURCE = Query(
    f"SELECT {_ACTIVITY_SELECT} FROM activities "  # noqa: S608
    "WHERE user_id = :user_id AND source = :source AND source_id = :source_id"
)
_ACTIVITY_UPDATE = Query(
    "UPDATE activities SET "  # noqa: S608
    + ", ".join(f"{c} = :{c}" for c in ACTIVITY_COLUMNS if c not in ("id", "user_id"))
    + " WHERE user_id = :user_id AND id = :id RETURNING id"
)
_ACTIVITY_DELETE = Query(
    "DELETE FROM activities WHERE user_id = :user_id AND id = :id RETURNING id"
)
_ACTIVITY_BETWEEN = Query(
    f"SELECT {_ACTIVITY_SELECT} FROM activities "  # noqa: S608
    "WHERE user_id = :user_id AND start_time >= :start_from AND start_time < :start_to "
    "ORDER BY start_time, id"
)
_laps_decoder = msgspec.json.Decoder(tuple[Lap, ...])
_metrics_decoder = msgspec.json.Decoder(ActivityMetrics)


def _activity_values(activity: Activity) -> dict[str, object]:
    values: dict[str, object] = {
        "id": activity.id,
        "user_id": activity.user_id,
        "sport": activity.sport,
        "name": activity.name,
        "start_time": activity.start_time,
        "utc_offset_s": activity.utc_offset_s,
        "source": activity.source,
        "source_id": activity.source_id,
        "device": activity.device,
        "notes": activity.notes,
        "rpe": activity.rpe,
        "laps": msgspec.json.encode(activity.laps).decode(),
        "metrics": None
        if activity.metrics is None
        else msgspec.json.encode(activity.metrics).decode(),
        "created_at": activity.created_at,
        "updated_at": activity.updated_at,
    }
    for f in SUMMARY_FIELDS:
        values[f] = getattr(activity.summary, f)
    # Enums are unwrapped by the connection, like every other value.
    return values


def _activity(conn: SqlConnection, r: Row) -> Activity:
    summary = Summary(
        duration_s=float(r["duration_s"]),
        **{f: _opt_float(r[f]) for f in SUMMARY_FIELDS if f != "duration_s"},
    )
    metrics = r["metrics"]
    return Activity(
        id=r["id"],
        user_id=r["user_id"],
        sport=Sport(r["sport"]),
        name=r["name"],
        start_time=conn.time(r["start_time"]),
        utc_offset_s=r["utc_offset_s"],
        source=Source(r["source"]),
        source_id=r["source_id"],
        device=r["device"],
        notes=r["notes"],
        rpe=r["rpe"],
        summary=summary,
        laps=_laps_decoder.decode(r["laps"]),
        metrics=None if metrics is None else _metrics_decoder.decode(metrics),
        created_at=conn.time(r["created_at"]),
        updated_at=conn.time(r["updated_at"]),
    )


@functools.cache
def _activity_page_query(
    sport: bool, family_size: int, start_from: bool, start_to: bool, after: bool
) -> Query:
    """The listing statement for one combination of filters (a fixed set, so cached)."""
    where = ["user_id = :user_id"]
    if sport:
        where.append("sport = :sport")
    if family_size:
        where.append(f"sport IN ({', '.join(f':family_{i}' for i in range(family_size))})")
    if start_from:
        where.append("start_time >= :start_from")
    if start_to:
        where.append("start_time < :start_to")
    if after:
        # Row-value comparison: both SQLite (>= 3.15) and PostgreSQL turn it into a range scan
        # of the (user_id, start_time, id) index, so any page costs the same as the first.
        where.append("(start_time, id) < (:cursor_at, :cursor_id)")
    return Query(
        f"SELECT {_ACTIVITY_SELECT} FROM activities WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY start_time DESC, id DESC LIMIT :limit"
    )


class SqlActivityRepository:
    """Activities in `activities`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def add(self, *, user_id: str, activity: Activity) -> None:
        """Store a new activity."""
        await self.add_many(user_id=user_id, activities=[activity])

    async def add_many(self, *, user_id: str, activities: Sequence[Activity]) -> None:
        """Store new activities (all or none)."""
        self._scope.check(user_id)
        for activity in activities:
            _same_owner(user_id, activity.user_id, "activity")
        if not activities:
            return
        rows = [_activity_values(a) for a in activities]
        try:
            if len(rows) == 1:
                await self._conn.execute(_ACTIVITY_INSERT, rows[0])
            else:
                await self._conn.executemany(_ACTIVITY_INSERT, rows)
        except Conflict:
            raise Conflict(
                "activity already stored (same id, or same source and source id)",
                user_id=user_id,
            ) from None
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None

    async def get(self, *, user_id: str, activity_id: str) -> Activity | None:
        """One activity."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_ACTIVITY_GET, {"user_id": user_id, "id": activity_id})
        return None if row is None else _activity(self._conn, row)

    async def find_by_source(
        self, *, user_id: str, source: Source, source_id: str
    ) -> Activity | None:
        """The activity with this source id."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "source": plain(source), "source_id": source_id}
        row = await self._conn.fetchrow(_ACTIVITY_BY_SOURCE, params)
        return None if row is None else _activity(self._conn, row)

    async def update(self, *, user_id: str, activity: Activity) -> None:
        """Replace an activity."""
        self._scope.check(user_id)
        _same_owner(user_id, activity.user_id, "activity")
        try:
            row = await self._conn.fetchrow(_ACTIVITY_UPDATE, _activity_values(activity))
        except Conflict:
            raise Conflict("another activity has this source id", activity_id=activity.id) from None
        if row is None:
            raise NotFound("no such activity", activity_id=activity.id)

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete an activity (and its streams, by cascade)."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "id": activity_id}
        return await self._conn.fetchrow(_ACTIVITY_DELETE, params) is not None

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
        self._scope.check(user_id)
        page_limit(limit)
        after = None if cursor is None else decode_cursor(cursor, kind=ACTIVITY_CURSOR)
        family_sports = () if family is None else sports_in_family(SportFamily(family))
        query = _activity_page_query(
            sport is not None,
            len(family_sports),
            start_from is not None,
            start_to is not None,
            after is not None,
        )
        params: dict[str, object] = {"user_id": user_id, "limit": limit + 1}
        if sport is not None:
            params["sport"] = plain(Sport(sport))
        for i, s in enumerate(family_sports):
            params[f"family_{i}"] = plain(s)
        if start_from is not None:
            params["start_from"] = start_from
        if start_to is not None:
            params["start_to"] = start_to
        if after is not None:
            params["cursor_at"] = after.at
            params["cursor_id"] = after.id
        rows = await self._conn.fetch(query, params)
        items = [_activity(self._conn, r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(
                Cursor(at=last.start_time, id=last.id), kind=ACTIVITY_CURSOR
            )
        return Page(items=items, next_cursor=next_cursor)

    async def between(
        self, *, user_id: str, start_from: datetime, start_to: datetime
    ) -> list[Activity]:
        """Activities in a start-time range, oldest first."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "start_from": start_from, "start_to": start_to}
        rows = await self._conn.fetch(_ACTIVITY_BETWEEN, params)
        return [_activity(self._conn, r) for r in rows]


# ---------------------------------------------------------------------------------------------
# streams

_STREAM_UPSERT = Query(
    "INSERT INTO activity_streams (user_id, activity_id, data) "
    "VALUES (:user_id, :activity_id, :data) "
    "ON CONFLICT (user_id, activity_id) DO UPDATE SET data = excluded.data"
)
_STREAM_GET = Query(
    "SELECT data FROM activity_streams WHERE user_id = :user_id AND activity_id = :activity_id"
)
_STREAM_DELETE = Query(
    "DELETE FROM activity_streams WHERE user_id = :user_id AND activity_id = :activity_id "
    "RETURNING activity_id"
)


class SqlStreamRepository:
    """Stream blobs (see `core.activities.pack_streams`) in `activity_streams`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def put(self, *, user_id: str, activity_id: str, streams: Streams) -> None:
        """Store or replace an activity's streams."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "activity_id": activity_id, "data": pack_streams(streams)}
        try:
            await self._conn.execute(_STREAM_UPSERT, params)
        except NotFound:
            raise NotFound("no such activity", activity_id=activity_id) from None

    async def get(self, *, user_id: str, activity_id: str) -> Streams | None:
        """An activity's streams."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "activity_id": activity_id}
        row = await self._conn.fetchrow(_STREAM_GET, params)
        return None if row is None else unpack_streams(bytes(row["data"]))

    async def delete(self, *, user_id: str, activity_id: str) -> bool:
        """Delete an activity's streams."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "activity_id": activity_id}
        return await self._conn.fetchrow(_STREAM_DELETE, params) is not None


# ---------------------------------------------------------------------------------------------
# activity links and bests

_LINK_COLUMNS = ("user_id", "activity_id", "duplicate_of", "multisport_group", "multisport_index")
_LINK_SELECT = ", ".join(_LINK_COLUMNS[1:])
_LINK_UPSERT = _insert(
    "activity_links",
    _LINK_COLUMNS,
    " ON CONFLICT (user_id, activity_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _LINK_COLUMNS[2:]),
)
_LINK_DUPLICATES_OF = Query(
    f"SELECT {_LINK_SELECT} FROM activity_links "  # noqa: S608
    "WHERE user_id = :user_id AND duplicate_of = :activity_id ORDER BY activity_id"
)
_LINK_GROUP = Query(
    f"SELECT {_LINK_SELECT} FROM activity_links "  # noqa: S608
    "WHERE user_id = :user_id AND multisport_group = :multisport_group "
    "ORDER BY multisport_index, activity_id"
)
_LINK_DUPLICATE_IDS = Query(
    "SELECT activity_id FROM activity_links WHERE user_id = :user_id AND duplicate_of IS NOT NULL"
)
# Ids per lookup: well under SQLite's 32,766 host parameters and one page of a listing (200).
_LINK_BATCH = 500


@functools.cache
def _links_by_id_query(count: int) -> Query:
    ids = ", ".join(f":id_{i}" for i in range(count))
    return Query(
        f"SELECT {_LINK_SELECT} FROM activity_links "  # noqa: S608
        f"WHERE user_id = :user_id AND activity_id IN ({ids})"
    )


def _link(r: Row) -> ActivityLink:
    return ActivityLink(
        activity_id=r["activity_id"],
        duplicate_of=r["duplicate_of"],
        multisport_group=r["multisport_group"],
        multisport_index=r["multisport_index"],
    )


class SqlActivityLinkRepository:
    """Duplicate and multi-sport links in `activity_links`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def put(self, *, user_id: str, link: ActivityLink) -> None:
        """Create or replace a link."""
        self._scope.check(user_id)
        params = {
            "user_id": user_id,
            "activity_id": link.activity_id,
            "duplicate_of": link.duplicate_of,
            "multisport_group": link.multisport_group,
            "multisport_index": link.multisport_index,
        }
        try:
            await self._conn.execute(_LINK_UPSERT, params)
        except NotFound:
            raise NotFound("no such activity", activity_id=link.activity_id) from None

    async def get_many(
        self, *, user_id: str, activity_ids: Sequence[str]
    ) -> dict[str, ActivityLink]:
        """Links of the given activities."""
        self._scope.check(user_id)
        ids = list(dict.fromkeys(activity_ids))
        out: dict[str, ActivityLink] = {}
        for first in range(0, len(ids), _LINK_BATCH):
            chunk = ids[first : first + _LINK_BATCH]
            params: dict[str, object] = {"user_id": user_id}
            params.update({f"id_{i}": v for i, v in enumerate(chunk)})
            for r in await self._conn.fetch(_links_by_id_query(len(chunk)), params):
                out[r["activity_id"]] = _link(r)
        return out

    async def duplicates_of(self, *, user_id: str, activity_id: str) -> list[ActivityLink]:
        """Links of the duplicates of an activity."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "activity_id": activity_id}
        return [_link(r) for r in await self._conn.fetch(_LINK_DUPLICATES_OF, params)]

    async def group(self, *, user_id: str, multisport_group: str) -> list[ActivityLink]:
        """Legs of a multi-sport group."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "multisport_group": multisport_group}
        return [_link(r) for r in await self._conn.fetch(_LINK_GROUP, params)]

    async def duplicate_ids(self, *, user_id: str) -> frozenset[str]:
        """Ids of every linked duplicate."""
        self._scope.check(user_id)
        rows = await self._conn.fetch(_LINK_DUPLICATE_IDS, {"user_id": user_id})
        return frozenset(r["activity_id"] for r in rows)


_BESTS_COLUMNS = ("user_id", "activity_id", "day", "sport", "power", "efforts")
_BESTS_SELECT = ", ".join(_BESTS_COLUMNS[1:])
_BESTS_UPSERT = _insert(
    "activity_bests",
    _BESTS_COLUMNS,
    " ON CONFLICT (user_id, activity_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _BESTS_COLUMNS[2:]),
)
_BESTS_GET = Query(
    f"SELECT {_BESTS_SELECT} FROM activity_bests "  # noqa: S608
    "WHERE user_id = :user_id AND activity_id = :activity_id"
)
_BESTS_ALL = Query(
    f"SELECT {_BESTS_SELECT} FROM activity_bests "  # noqa: S608
    "WHERE user_id = :user_id ORDER BY day, activity_id"
)
_BESTS_FROM = Query(
    f"SELECT {_BESTS_SELECT} FROM activity_bests "  # noqa: S608
    "WHERE user_id = :user_id AND day >= :day_from ORDER BY day, activity_id"
)
_power_bests_decoder = msgspec.json.Decoder(tuple[PowerBest, ...])
_efforts_decoder = msgspec.json.Decoder(tuple[BestEffort, ...])


def _bests(conn: SqlConnection, r: Row) -> ActivityBests:
    return ActivityBests(
        activity_id=r["activity_id"],
        day=conn.day(r["day"]),
        sport=Sport(r["sport"]),
        power=_power_bests_decoder.decode(r["power"]),
        efforts=_efforts_decoder.decode(r["efforts"]),
    )


class SqlActivityBestsRepository:
    """Per-activity bests in `activity_bests` (power and efforts as JSON)."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def put(self, *, user_id: str, bests: ActivityBests) -> None:
        """Create or replace an activity's bests."""
        self._scope.check(user_id)
        params = {
            "user_id": user_id,
            "activity_id": bests.activity_id,
            "day": bests.day,
            "sport": plain(bests.sport),
            "power": msgspec.json.encode(bests.power).decode(),
            "efforts": msgspec.json.encode(bests.efforts).decode(),
        }
        try:
            await self._conn.execute(_BESTS_UPSERT, params)
        except NotFound:
            raise NotFound("no such activity", activity_id=bests.activity_id) from None

    async def get(self, *, user_id: str, activity_id: str) -> ActivityBests | None:
        """One activity's bests."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "activity_id": activity_id}
        row = await self._conn.fetchrow(_BESTS_GET, params)
        return None if row is None else _bests(self._conn, row)

    async def all(self, *, user_id: str, day_from: date | None = None) -> list[ActivityBests]:
        """Every bests record, by day then activity id."""
        self._scope.check(user_id)
        if day_from is None:
            rows = await self._conn.fetch(_BESTS_ALL, {"user_id": user_id})
        else:
            rows = await self._conn.fetch(_BESTS_FROM, {"user_id": user_id, "day_from": day_from})
        return [_bests(self._conn, r) for r in rows]


# ---------------------------------------------------------------------------------------------
# daily loads

_LOAD_COLUMNS = (
    "user_id",
    "day",
    "load",
    "activity_count",
    "duration_s",
    "distance_m",
    "ctl",
    "atl",
    "estimated",
)
_LOAD_UPSERT = _insert(
    "daily_loads",
    _LOAD_COLUMNS,
    " ON CONFLICT (user_id, day) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _LOAD_COLUMNS if c not in ("user_id", "day")),
)
_LOAD_RANGE = Query(
    f"SELECT {', '.join(_LOAD_COLUMNS)} FROM daily_loads "  # noqa: S608
    "WHERE user_id = :user_id AND day >= :day_from AND day < :day_to ORDER BY day"
)
_LOAD_DELETE_FROM = Query(
    "DELETE FROM daily_loads WHERE user_id = :user_id AND day >= :day_from RETURNING day"
)
_LOAD_POINTS = Query(
    "SELECT day, load, estimated FROM daily_loads "
    "WHERE user_id = :user_id AND day >= :day_from AND day < :day_to ORDER BY day"
)
# A transaction-scoped advisory lock per user (released at commit or rollback). The key is a
# 64-bit hash of a namespaced text, so it cannot collide with the migration lock's key space
# by accident more often than any two 64-bit hashes do.
_LOAD_LOCK = Query("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_LOAD_LATEST = Query(
    f"SELECT {', '.join(_LOAD_COLUMNS)} FROM daily_loads "  # noqa: S608
    "WHERE user_id = :user_id AND day < :before ORDER BY day DESC LIMIT 1"
)


def _daily_load(conn: SqlConnection, r: Row) -> DailyLoad:
    return DailyLoad(
        user_id=r["user_id"],
        day=conn.day(r["day"]),
        load=float(r["load"]),
        activity_count=r["activity_count"],
        duration_s=float(r["duration_s"]),
        distance_m=float(r["distance_m"]),
        ctl=_opt_float(r["ctl"]),
        atl=_opt_float(r["atl"]),
        estimated=conn.flag(r["estimated"]),
    )


class SqlDailyLoadRepository:
    """Daily loads in `daily_loads`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def upsert(self, *, user_id: str, loads: Sequence[DailyLoad]) -> None:
        """Create or replace days."""
        self._scope.check(user_id)
        for load in loads:
            _same_owner(user_id, load.user_id, "daily load")
        if not loads:
            return
        rows = [{c: plain(getattr(load, c)) for c in _LOAD_COLUMNS} for load in loads]
        try:
            await self._conn.executemany(_LOAD_UPSERT, rows)
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None

    async def range(self, *, user_id: str, day_from: date, day_to: date) -> list[DailyLoad]:
        """Days in [day_from, day_to)."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "day_from": day_from, "day_to": day_to}
        return [_daily_load(self._conn, r) for r in await self._conn.fetch(_LOAD_RANGE, params)]

    async def delete_from(self, *, user_id: str, day_from: date) -> int:
        """Delete days on or after day_from."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "day_from": day_from}
        return len(await self._conn.fetch(_LOAD_DELETE_FROM, params))

    async def latest(self, *, user_id: str, before: date) -> DailyLoad | None:
        """The stored day closest before `before`."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_LOAD_LATEST, {"user_id": user_id, "before": before})
        return None if row is None else _daily_load(self._conn, row)

    async def points(self, *, user_id: str, day_from: date, day_to: date) -> list[LoadPoint]:
        """Day, load and estimate flag of the days in [day_from, day_to)."""
        self._scope.check(user_id)
        params = {"user_id": user_id, "day_from": day_from, "day_to": day_to}
        rows = await self._conn.fetch(_LOAD_POINTS, params)
        day, flag = self._conn.day, self._conn.flag
        return [
            LoadPoint(day=day(r["day"]), load=float(r["load"]), estimated=flag(r["estimated"]))
            for r in rows
        ]

    async def lock(self, *, user_id: str) -> None:
        """Take the user's load lock until the transaction ends (PostgreSQL only: SQLite units
        of work hold the database's write lock from their first statement)."""
        self._scope.check(user_id)
        if self._conn.dialect == "postgres":
            await self._conn.fetch(_LOAD_LOCK, {"key": f"training_analyzer:loads:{user_id}"})


# ---------------------------------------------------------------------------------------------
# subscriptions

_SUBSCRIPTION_COLUMNS = (
    "user_id",
    "tier",
    "status",
    "event_at",
    "updated_at",
    "provider_customer_id",
    "provider_subscription_id",
    "current_period_end",
    "cancel_at_period_end",
)
_SUBSCRIPTION_SELECT = ", ".join(_SUBSCRIPTION_COLUMNS)
_SUBSCRIPTION_SAVE = _insert(
    "subscriptions",
    _SUBSCRIPTION_COLUMNS,
    " ON CONFLICT (user_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SUBSCRIPTION_COLUMNS if c != "user_id")
    # The guard that makes webhooks order-independent: an older event never overwrites.
    + " WHERE subscriptions.event_at <= excluded.event_at RETURNING user_id",
)
_SUBSCRIPTION_GET = Query(
    f"SELECT {_SUBSCRIPTION_SELECT} FROM subscriptions WHERE user_id = :user_id"  # noqa: S608
)
_SUBSCRIPTION_BY_CUSTOMER = Query(
    f"SELECT {_SUBSCRIPTION_SELECT} FROM subscriptions "  # noqa: S608
    "WHERE provider_customer_id = :customer_id"
)


def _subscription(conn: SqlConnection, r: Row) -> Subscription:
    period_end = r["current_period_end"]
    return Subscription(
        user_id=r["user_id"],
        tier=Tier(r["tier"]),
        status=SubscriptionStatus(r["status"]),
        event_at=conn.time(r["event_at"]),
        updated_at=conn.time(r["updated_at"]),
        provider_customer_id=r["provider_customer_id"],
        provider_subscription_id=r["provider_subscription_id"],
        current_period_end=None if period_end is None else conn.time(period_end),
        cancel_at_period_end=conn.flag(r["cancel_at_period_end"]),
    )


class SqlSubscriptionRepository:
    """Subscriptions in `subscriptions` (one row per user)."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def get(self, *, user_id: str) -> Subscription | None:
        """The user's subscription."""
        self._scope.check(user_id)
        row = await self._conn.fetchrow(_SUBSCRIPTION_GET, {"user_id": user_id})
        return None if row is None else _subscription(self._conn, row)

    async def save(self, *, user_id: str, subscription: Subscription) -> bool:
        """Store unless a newer event's state is stored."""
        self._scope.check(user_id)
        _same_owner(user_id, subscription.user_id, "subscription")
        values = {c: plain(getattr(subscription, c)) for c in _SUBSCRIPTION_COLUMNS}
        try:
            return await self._conn.fetchrow(_SUBSCRIPTION_SAVE, values) is not None
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None
        except Conflict:
            # Two first saves for this user can race: the loser may trip the unique
            # customer-id index before the user_id arbiter. Its own row now exists, so the
            # upsert takes the update path; only a customer id of another account conflicts.
            if await self.get(user_id=user_id) is not None:
                try:
                    return await self._conn.fetchrow(_SUBSCRIPTION_SAVE, values) is not None
                except Conflict:
                    pass
            raise Conflict(
                "another account has this payment customer id",
                provider_customer_id=subscription.provider_customer_id,
            ) from None


# ---------------------------------------------------------------------------------------------
# usage counters

_USAGE_CONSUME = Query(
    "INSERT INTO usage_counters (user_id, window_key, feature, used) "
    "VALUES (:user_id, :window_key, :feature, 1) "
    "ON CONFLICT (user_id, window_key, feature) "
    "DO UPDATE SET used = usage_counters.used + 1 WHERE usage_counters.used < :limit "
    "RETURNING used"
)
_USAGE_RELEASE = Query(
    "UPDATE usage_counters SET used = used - 1 "
    "WHERE user_id = :user_id AND window_key = :window_key AND feature = :feature AND used > 0 "
    "RETURNING used"
)
_USAGE_GET = Query(
    "SELECT used FROM usage_counters "
    "WHERE user_id = :user_id AND window_key = :window_key AND feature = :feature"
)
_USAGE_ALL = Query(
    "SELECT user_id, window_key, feature, used FROM usage_counters "
    "WHERE user_id = :user_id ORDER BY window_key, feature"
)
_USAGE_WINDOW = Query(
    "SELECT user_id, window_key, feature, used FROM usage_counters "
    "WHERE user_id = :user_id AND window_key = :window_key ORDER BY window_key, feature"
)


class SqlUsageCounterRepository:
    """Usage counters in `usage_counters`; consume is one guarded upsert."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def consume(
        self, *, user_id: str, feature: str, window_key: str, limit: int
    ) -> UsageGrant:
        """Take one use if below the limit (atomic)."""
        self._scope.check(user_id)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidInput("limit", f"must be a non-negative integer, got {limit!r}")
        key = {"user_id": user_id, "window_key": window_key, "feature": plain(feature)}
        if limit > 0:
            # The insert branch writes used = 1, which a limit of 0 must not allow; the update
            # branch only fires while used < limit, re-checked on the locked row.
            try:
                row = await self._conn.fetchrow(_USAGE_CONSUME, key | {"limit": limit})
            except NotFound:
                raise NotFound("no such account", user_id=user_id) from None
            if row is not None:
                return UsageGrant(granted=True, used=int(row["used"]))
        current = await self._conn.fetchrow(_USAGE_GET, key)
        return UsageGrant(granted=False, used=0 if current is None else int(current["used"]))

    async def release(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Give one use back."""
        self._scope.check(user_id)
        key = {"user_id": user_id, "window_key": window_key, "feature": plain(feature)}
        row = await self._conn.fetchrow(_USAGE_RELEASE, key)
        if row is not None:
            return int(row["used"])
        current = await self._conn.fetchrow(_USAGE_GET, key)
        return 0 if current is None else int(current["used"])

    async def get(self, *, user_id: str, feature: str, window_key: str) -> int:
        """Uses in the window."""
        self._scope.check(user_id)
        key = {"user_id": user_id, "window_key": window_key, "feature": plain(feature)}
        row = await self._conn.fetchrow(_USAGE_GET, key)
        return 0 if row is None else int(row["used"])

    async def all(self, *, user_id: str, window_key: str | None = None) -> list[UsageCounter]:
        """The user's counters."""
        self._scope.check(user_id)
        if window_key is None:
            rows = await self._conn.fetch(_USAGE_ALL, {"user_id": user_id})
        else:
            params = {"user_id": user_id, "window_key": window_key}
            rows = await self._conn.fetch(_USAGE_WINDOW, params)
        return [
            UsageCounter(
                user_id=r["user_id"],
                feature=r["feature"],
                window_key=r["window_key"],
                used=int(r["used"]),
            )
            for r in rows
        ]


# ---------------------------------------------------------------------------------------------
# audit log

_AUDIT_COLUMNS = ("id", "user_id", "action", "at", "ip", "details")
_AUDIT_SELECT = ", ".join(_AUDIT_COLUMNS)
_AUDIT_INSERT = _insert("audit_log", _AUDIT_COLUMNS)
_details_decoder = msgspec.json.Decoder(dict[str, str])


@functools.cache
def _audit_page_query(after: bool) -> Query:
    keyset = " AND (at, id) < (:cursor_at, :cursor_id)" if after else ""
    return Query(
        f"SELECT {_AUDIT_SELECT} FROM audit_log WHERE user_id = :user_id{keyset} "  # noqa: S608
        "ORDER BY at DESC, id DESC LIMIT :limit"
    )


def _audit(conn: SqlConnection, r: Row) -> AuditEvent:
    return AuditEvent(
        id=r["id"],
        user_id=r["user_id"],
        action=r["action"],
        at=conn.time(r["at"]),
        ip=r["ip"],
        details=_details_decoder.decode(r["details"]),
    )


class SqlAuditLog:
    """The audit log in `audit_log`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def append(self, *, user_id: str | None, event: AuditEvent) -> None:
        """Record an event."""
        self._scope.check(user_id)
        _same_owner(user_id, event.user_id, "audit event")
        values: dict[str, object] = {c: getattr(event, c) for c in _AUDIT_COLUMNS}
        values["details"] = msgspec.json.encode(event.details).decode()
        try:
            await self._conn.execute(_AUDIT_INSERT, values)
        except Conflict:
            raise Conflict("audit event id exists", event_id=event.id) from None
        except NotFound:
            raise NotFound("no such account", user_id=user_id) from None

    async def page(
        self, *, user_id: str, cursor: str | None = None, limit: int = 50
    ) -> Page[AuditEvent]:
        """The user's events, newest first."""
        self._scope.check(user_id)
        page_limit(limit)
        after = None if cursor is None else decode_cursor(cursor, kind=AUDIT_CURSOR)
        params: dict[str, object] = {"user_id": user_id, "limit": limit + 1}
        if after is not None:
            params |= {"cursor_at": after.at, "cursor_id": after.id}
        rows = await self._conn.fetch(_audit_page_query(after is not None), params)
        items = [_audit(self._conn, r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(Cursor(at=items[-1].at, id=items[-1].id), kind=AUDIT_CURSOR)
        return Page(items=items, next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------
# payment events (system scope)

_PAYMENT_COLUMNS = (
    "id",
    "type",
    "received_at",
    "user_id",
    "processed_at",
    "amount_cents",
    "currency",
)
_PAYMENT_RECORD = _insert(
    "payment_events", _PAYMENT_COLUMNS, " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_PAYMENT_GET = Query(
    f"SELECT {', '.join(_PAYMENT_COLUMNS)} FROM payment_events WHERE id = :id"  # noqa: S608
)
_PAYMENT_PROCESSED = Query(
    "UPDATE payment_events SET processed_at = :at WHERE id = :id RETURNING id"
)


class SqlPaymentEventRepository:
    """Payment webhook events in `payment_events`, keyed by the provider's event id."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def record(self, *, event: PaymentEvent) -> bool:
        """Store the event once."""
        self._scope.require_system("recording a payment event")
        values = {c: plain(getattr(event, c)) for c in _PAYMENT_COLUMNS}
        try:
            return await self._conn.fetchrow(_PAYMENT_RECORD, values) is not None
        except NotFound:
            raise NotFound("no such account", user_id=event.user_id) from None

    async def get(self, *, event_id: str) -> PaymentEvent | None:
        """A stored event."""
        self._scope.require_system("reading payment events")
        row = await self._conn.fetchrow(_PAYMENT_GET, {"id": event_id})
        if row is None:
            return None
        processed = row["processed_at"]
        return PaymentEvent(
            id=row["id"],
            type=row["type"],
            received_at=self._conn.time(row["received_at"]),
            user_id=row["user_id"],
            processed_at=None if processed is None else self._conn.time(processed),
            amount_cents=row["amount_cents"],
            currency=row["currency"],
        )

    async def mark_processed(self, *, event_id: str, at: datetime) -> None:
        """Set the processed time."""
        self._scope.require_system("updating payment events")
        if await self._conn.fetchrow(_PAYMENT_PROCESSED, {"id": event_id, "at": at}) is None:
            raise NotFound("no such payment event", event_id=event_id)


# ---------------------------------------------------------------------------------------------
# started external sign-ins (system scope)

_FLOW_COLUMNS = (
    "state_hash",
    "provider",
    "code_verifier",
    "nonce",
    "redirect_uri",
    "return_to",
    "created_at",
    "expires_at",
)
_FLOW_INSERT = _insert("oidc_flows", _FLOW_COLUMNS)
_FLOW_TAKE = Query(
    f"DELETE FROM oidc_flows WHERE state_hash = :state_hash "  # noqa: S608
    f"RETURNING {', '.join(_FLOW_COLUMNS)}"
)
_FLOW_PURGE = Query("DELETE FROM oidc_flows WHERE expires_at <= :now RETURNING state_hash")


class SqlOidcFlowRepository:
    """Started sign-ins in `oidc_flows`; `take` is one DELETE ... RETURNING (single use)."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def put(self, *, flow: OidcFlow) -> None:
        """Store a new flow."""
        self._scope.require_system("storing a sign-in flow")
        try:
            await self._conn.execute(_FLOW_INSERT, row_params(msgspec.structs.asdict(flow)))
        except Conflict:
            raise Conflict("a sign-in flow with this state exists") from None

    async def take(self, *, state_hash: str, now: datetime) -> OidcFlow | None:
        """Remove the flow and return it if still live."""
        self._scope.require_system("taking a sign-in flow")
        row = await self._conn.fetchrow(_FLOW_TAKE, {"state_hash": state_hash})
        if row is None:
            return None
        flow = OidcFlow(
            state_hash=row["state_hash"],
            provider=IdentityProvider(row["provider"]),
            code_verifier=row["code_verifier"],
            nonce=row["nonce"],
            redirect_uri=row["redirect_uri"],
            return_to=row["return_to"],
            created_at=self._conn.time(row["created_at"]),
            expires_at=self._conn.time(row["expires_at"]),
        )
        return flow if flow.is_live(now) else None

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete flows no longer live."""
        self._scope.require_system("purging sign-in flows")
        return len(await self._conn.fetch(_FLOW_PURGE, {"now": now}))


# ---------------------------------------------------------------------------------------------
# rate-limit counters (system scope)

# One statement decides "new window or same window" on the locked row, so concurrent hits
# from several instances count exactly (SET expressions all read the old row).
_RATE_HIT = Query(
    "INSERT INTO rate_limit_buckets (key, hits, reset_at) VALUES (:key, 1, :reset_at) "
    "ON CONFLICT (key) DO UPDATE SET "
    "hits = CASE WHEN rate_limit_buckets.reset_at <= :now THEN 1 "
    "ELSE rate_limit_buckets.hits + 1 END, "
    "reset_at = CASE WHEN rate_limit_buckets.reset_at <= :now THEN excluded.reset_at "
    "ELSE rate_limit_buckets.reset_at END "
    "RETURNING hits, reset_at"
)
_RATE_PURGE = Query("DELETE FROM rate_limit_buckets WHERE reset_at <= :now RETURNING key")


class SqlRateLimitRepository:
    """Fixed-window attempt counters in `rate_limit_buckets`."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def hit(self, *, key: str, window_s: int, now: datetime) -> RateLimitHit:
        """Count one attempt (one atomic upsert)."""
        self._scope.require_system("counting a rate-limited attempt")
        check_rate_limit_hit(key=key, window_s=window_s)
        params = {"key": key, "now": now, "reset_at": now + timedelta(seconds=window_s)}
        row = await self._conn.fetchrow(_RATE_HIT, params)
        assert row is not None, "an upsert with RETURNING always returns its row"
        return RateLimitHit(
            key=key, count=int(row["hits"]), reset_at=self._conn.time(row["reset_at"])
        )

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete counters whose window has ended."""
        self._scope.require_system("purging rate-limit counters")
        return len(await self._conn.fetch(_RATE_PURGE, {"now": now}))


def check_rate_limit_hit(*, key: str, window_s: int) -> None:
    """Raise InvalidInput for an empty key or a window under one second (shared with fakes)."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("key", "must be a non-empty string")
    if isinstance(window_s, bool) or not isinstance(window_s, int) or window_s < 1:
        raise InvalidInput("window_s", f"must be an integer >= 1, got {window_s!r}")


# ---------------------------------------------------------------------------------------------
# directory (system scope)


@functools.cache
def _users_page_query(after: bool) -> Query:
    keyset = " WHERE (created_at, id) < (:cursor_at, :cursor_id)" if after else ""
    return Query(
        f"SELECT {_USER_SELECT} FROM users{keyset} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT :limit"
    )


@functools.cache
def _all_audit_page_query(after: bool) -> Query:
    keyset = " WHERE (at, id) < (:cursor_at, :cursor_id)" if after else ""
    return Query(
        f"SELECT {_AUDIT_SELECT} FROM audit_log{keyset} "  # noqa: S608
        "ORDER BY at DESC, id DESC LIMIT :limit"
    )


class SqlAccountDirectory:
    """Cross-user lookups."""

    def __init__(self, conn: SqlConnection, scope: Scope) -> None:
        self._conn = conn
        self._scope = scope

    async def find_user_by_email(self, *, email: str) -> User | None:
        """The account with this email."""
        self._scope.require_system("finding a user by email")
        try:
            normalized = normalize_email(email)
        except InvalidInput:
            return None
        row = await self._conn.fetchrow(_USER_BY_EMAIL, {"email": normalized})
        return None if row is None else _user(self._conn, row)

    async def list_users(self, *, cursor: str | None = None, limit: int = 50) -> Page[User]:
        """Every account, newest first."""
        self._scope.require_system("listing users")
        page_limit(limit)
        after = None if cursor is None else decode_cursor(cursor, kind=USER_CURSOR)
        params: dict[str, object] = {"limit": limit + 1}
        if after is not None:
            params |= {"cursor_at": after.at, "cursor_id": after.id}
        rows = await self._conn.fetch(_users_page_query(after is not None), params)
        items = [_user(self._conn, r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(at=last.created_at, id=last.id), kind=USER_CURSOR)
        return Page(items=items, next_cursor=next_cursor)

    async def count_users(self) -> int:
        """How many accounts exist."""
        self._scope.require_system("counting users")
        row = await self._conn.fetchrow(_USER_COUNT)
        return 0 if row is None else int(row["n"])

    async def find_identity(
        self, *, provider: IdentityProvider, subject: str
    ) -> LinkedIdentity | None:
        """The link for an external account."""
        self._scope.require_system("finding a linked identity")
        params = {"provider": plain(provider), "subject": subject}
        row = await self._conn.fetchrow(_IDENTITY_FIND, params)
        return None if row is None else _identity(self._conn, row)

    async def find_session(self, *, token_hash: str) -> RefreshSession | None:
        """The session with this token hash."""
        self._scope.require_system("finding a session by token")
        row = await self._conn.fetchrow(_SESSION_BY_HASH, {"token_hash": token_hash})
        return None if row is None else _session(self._conn, row)

    async def find_subscription(self, *, provider_customer_id: str) -> Subscription | None:
        """The subscription of a payment customer."""
        self._scope.require_system("finding a subscription by customer")
        params = {"customer_id": provider_customer_id}
        row = await self._conn.fetchrow(_SUBSCRIPTION_BY_CUSTOMER, params)
        return None if row is None else _subscription(self._conn, row)

    async def purge_expired_sessions(self, *, before: datetime) -> int:
        """Delete sessions expired before `before`."""
        self._scope.require_system("purging sessions")
        return len(await self._conn.fetch(_SESSION_PURGE, {"before": before}))

    async def audit_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Every audit event, newest first."""
        self._scope.require_system("reading the whole audit log")
        page_limit(limit)
        after = None if cursor is None else decode_cursor(cursor, kind=ALL_AUDIT_CURSOR)
        params: dict[str, object] = {"limit": limit + 1}
        if after is not None:
            params |= {"cursor_at": after.at, "cursor_id": after.id}
        rows = await self._conn.fetch(_all_audit_page_query(after is not None), params)
        items = [_audit(self._conn, r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(at=last.at, id=last.id), kind=ALL_AUDIT_CURSOR)
        return Page(items=items, next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------
# the unit of work


class SqlUnitOfWork:
    """The repositories of one transaction; `end(commit)` is the adapter's commit/rollback.

    Serves both `UnitOfWork` and `SystemUnitOfWork`: in a user scope the directory, payment
    events, sign-in flows and rate limits exist but refuse with Forbidden.
    """

    def __init__(
        self, conn: SqlConnection, scope: Scope, end: Callable[[bool], Awaitable[None]]
    ) -> None:
        self.scope = scope
        self.users = SqlUserRepository(conn, scope)
        self.sessions = SqlSessionRepository(conn, scope)
        self.identities = SqlLinkedIdentityRepository(conn, scope)
        self.athletes = SqlAthleteProfileRepository(conn, scope)
        self.activities = SqlActivityRepository(conn, scope)
        self.streams = SqlStreamRepository(conn, scope)
        self.daily_loads = SqlDailyLoadRepository(conn, scope)
        self.activity_links = SqlActivityLinkRepository(conn, scope)
        self.activity_bests = SqlActivityBestsRepository(conn, scope)
        self.subscriptions = SqlSubscriptionRepository(conn, scope)
        self.usage = SqlUsageCounterRepository(conn, scope)
        self.audit = SqlAuditLog(conn, scope)
        self.plans = SqlPlanRepository(conn, scope)
        self.billing = SqlBillingRepository(conn, scope)
        self.directory = SqlAccountDirectory(conn, scope)
        self.payment_events = SqlPaymentEventRepository(conn, scope)
        self.oidc_flows = SqlOidcFlowRepository(conn, scope)
        self.rate_limits = SqlRateLimitRepository(conn, scope)
        self._end = end
        self.ended = False

    async def commit(self) -> None:
        """Commit and end the unit of work."""
        await self._finish(commit=True)

    async def rollback(self) -> None:
        """Roll back and end the unit of work."""
        await self._finish(commit=False)

    async def _finish(self, *, commit: bool) -> None:
        if self.ended:
            raise RuntimeError("this unit of work has already ended")
        self.ended = True
        await self._end(commit)


@asynccontextmanager
async def transaction_scope[U: SqlUnitOfWork](uow: U) -> AsyncIterator[U]:
    """Commit `uow` on normal exit unless it ended already; roll back on any exception."""
    try:
        yield uow
    except BaseException:
        if not uow.ended:
            # A failed rollback (the connection is gone) must not hide the original error.
            with contextlib.suppress(Exception):
                await uow.rollback()
        raise
    if not uow.ended:
        await uow.commit()


def row_params(values: dict[str, Any]) -> Params:
    """Plain parameter values (enums unwrapped) for a statement."""
    return {k: plain(v) for k, v in values.items()}
