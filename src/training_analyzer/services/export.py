"""Data export: a zip of everything the product keeps about one user (Pro and Coach).

`GET /export?format=json|csv`. The feature gate decides first (Free gets 402 naming Pro as the
upgrade) and counts the export; if building the archive fails the use is given back. The
archive holds, one file per kind of data (JSON: one document each; CSV: one table each, nested
fields flattened to dotted columns, lists as JSON text):

    manifest.json           what is inside, when it was made, row counts
    account                 the account (never the password hash)
    identities              linked external accounts
    thresholds              the athlete's dated thresholds (and birth year in account)
    activities, laps        every activity (hidden history included: it is the user's data)
    streams/<activity id>   per-second samples, one file per activity
    daily_loads             daily load and PMC values
    subscriptions           payment subscriptions (status, plan, period end)
    usage                   usage counters per window
    audit_log               the user's security events

Everything is read in one unit of work, so the archive is one consistent snapshot.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import msgspec

from training_analyzer.core.activities import Activity
from training_analyzer.core.errors import NotFound
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.tiers import Feature
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage, UnitOfWork
from training_analyzer.services.gates import FeatureGate

_PAGE = 200  # the storage port's largest page
_FIRST_DAY = date(1, 1, 1)
_LAST_DAY = date(9999, 12, 31)


class ExportFormat(StrEnum):
    """The archive's inner file format."""

    JSON = "json"
    CSV = "csv"


class ExportFile(msgspec.Struct, frozen=True, kw_only=True):
    """A finished export: the zip's bytes and the name to download it under."""

    filename: str
    media_type: str
    content: bytes


class _Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    tables: dict[str, list[dict[str, Any]]]
    streams: dict[str, Streams]


def _builtins(value: object) -> Any:
    return msgspec.to_builtins(value)


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns; lists become JSON text (one cell)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{name}.")
        elif isinstance(value, list):
            flat[name] = msgspec.json.encode(value).decode()
        else:
            flat[name] = value
    return flat


def _csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    flat = [_flatten(r) for r in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns |= dict.fromkeys(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def _stream_rows(streams: Streams) -> list[dict[str, Any]]:
    channels = {
        name: values
        for name, values in _builtins(streams).items()
        if isinstance(values, list) and name != "time_s"
    }
    return [
        {"time_s": t} | {name: values[i] for name, values in channels.items()}
        for i, t in enumerate(streams.time_s)
    ]


def build_archive(
    snapshot: Mapping[str, list[dict[str, Any]]],
    streams: Mapping[str, Streams],
    *,
    fmt: ExportFormat,
    now: datetime,
) -> bytes:
    """The zip of one snapshot in `fmt` (pure CPU work; run it off the event loop)."""
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    buffer = io.BytesIO()

    def put(name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)

    with zipfile.ZipFile(buffer, "w") as archive:
        manifest = {
            "format": fmt.value,
            "generated_at": now.isoformat(),
            "files": {name: len(rows) for name, rows in snapshot.items()}
            | {"streams": len(streams)},
        }
        put("manifest.json", msgspec.json.format(msgspec.json.encode(manifest)))
        for name, rows in snapshot.items():
            if fmt is ExportFormat.JSON:
                put(f"{name}.json", msgspec.json.format(msgspec.json.encode(rows)))
            else:
                put(f"{name}.csv", _csv(rows))
        for activity_id, samples in streams.items():
            if fmt is ExportFormat.JSON:
                put(f"streams/{activity_id}.json", msgspec.json.encode(samples))
            else:
                put(f"streams/{activity_id}.csv", _csv(_stream_rows(samples)))
    return buffer.getvalue()


class ExportService:
    """Builds the data-export archive behind the export gate."""

    def __init__(self, *, storage: Storage, clock: Clock, gate: FeatureGate) -> None:
        self._storage = storage
        self._clock = clock
        self._gate = gate

    async def export(self, *, user_id: str, fmt: ExportFormat) -> ExportFile:
        """Gate, count and build the user's archive.

        Raises QuotaExceeded (the plan has no export: HTTP 402) and NotFound (no such user).
        """
        fmt = ExportFormat(fmt)
        async with self._gate.use(user_id=user_id, feature=Feature.DATA_EXPORT):
            now = self._clock.now()
            async with self._storage.unit_of_work(user_id=user_id) as uow:
                snapshot = await _snapshot(uow, user_id)
            content = await asyncio.to_thread(
                build_archive, snapshot.tables, snapshot.streams, fmt=fmt, now=now
            )
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        return ExportFile(
            filename=f"training-analyzer-export-{stamp}-{fmt.value}.zip",
            media_type="application/zip",
            content=content,
        )


async def _snapshot(uow: UnitOfWork, user_id: str) -> _Snapshot:
    user = await uow.users.get(user_id=user_id)
    if user is None:
        raise NotFound("no such account", user_id=user_id)
    account = _builtins(user)
    account.pop("password_hash", None)  # a secret, even hashed; not the user's data
    profile = await uow.athletes.get(user_id=user_id)
    account["birth_year"] = None if profile is None else profile.birth_year
    activities = await _all_activities(uow, user_id)
    streams: dict[str, Streams] = {}
    for activity in activities:
        samples = await uow.streams.get(user_id=user_id, activity_id=activity.id)
        if samples is not None:
            streams[activity.id] = samples
    laps = [
        {"activity_id": a.id, "index": i} | _builtins(lap)
        for a in activities
        for i, lap in enumerate(a.laps)
    ]
    audit: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await uow.audit.page(user_id=user_id, cursor=cursor, limit=_PAGE)
        audit.extend(_builtins(e) for e in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    subscriptions = [
        {
            "subscription_id": s.subscription_id,
            "plan": None if s.tier is None else s.tier.value,
            "billing_period": None if s.period is None else s.period.value,
            "status": s.state.subscription.status.value,
            "current_period_end": _builtins(s.state.subscription.current_period_end),
            "cancel_at_period_end": s.state.subscription.cancel_at_period_end,
            "ended_at": _builtins(s.ended_at),
        }
        for s in await uow.billing.subscriptions(user_id=user_id)
    ]
    tables: dict[str, list[dict[str, Any]]] = {
        "account": [account],
        "identities": [_builtins(i) for i in await uow.identities.all(user_id=user_id)],
        "thresholds": [] if profile is None else [_builtins(t) for t in profile.thresholds],
        "activities": [_activity_row(a) for a in activities],
        "laps": laps,
        "daily_loads": [
            _builtins(d)
            for d in await uow.daily_loads.range(
                user_id=user_id, day_from=_FIRST_DAY, day_to=_LAST_DAY
            )
        ],
        "subscriptions": subscriptions,
        "usage": [_builtins(u) for u in await uow.usage.all(user_id=user_id)],
        "audit_log": audit,
    }
    return _Snapshot(tables=tables, streams=streams)


def _activity_row(activity: Activity) -> dict[str, Any]:
    row: dict[str, Any] = _builtins(activity)
    row.pop("laps", None)  # in laps.csv / laps.json, one row per lap
    return row


async def _all_activities(uow: UnitOfWork, user_id: str) -> list[Activity]:
    found: list[Activity] = []
    cursor: str | None = None
    while True:
        page = await uow.activities.page(user_id=user_id, cursor=cursor, limit=_PAGE)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
