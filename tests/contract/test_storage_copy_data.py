"""copy-data moves a populated database SQLite → PostgreSQL → SQLite without losing a bit."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.contract import storage_builders as make
from training_analyzer.adapters.sql.copy import CopyReport, copy_data
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.adapters.sql.postgres import APP_ROLE, PostgresStorage
from training_analyzer.adapters.sql.schema import TABLES
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.core.errors import ConfigurationError, Conflict
from training_analyzer.ports.storage import Storage

USERS = 3
ACTIVITIES_PER_USER = 25


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def target_dsn(request: pytest.FixtureRequest) -> str:
    """An empty PostgreSQL schema to copy into."""
    dsn: str = request.getfixturevalue("empty_postgres_dsn")
    return dsn


@pytest.fixture
async def source_url(tmp_path: Path) -> str:
    """A populated SQLite database."""
    url = f"sqlite:///{tmp_path / 'laptop.db'}"
    await migrate(url)
    storage = await SqliteStorage.open(path=str(tmp_path / "laptop.db"))
    try:
        for _ in range(USERS):
            await _populate(storage)
        async with storage.system(reason="stripe-webhook") as uow:
            # A webhook for an unknown customer and an anonymous audit event (user_id NULL).
            await uow.payment_events.record(event=make.payment_event(None))
            await uow.audit.append(user_id=None, event=make.audit_event(None))
    finally:
        await storage.close()
    return url


async def _populate(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        rides = [
            make.activity(uid, start=make.T0 + timedelta(hours=i), source_id=f"{uid}-{i}")
            for i in range(ACTIVITIES_PER_USER)
        ]
        await uow.activities.add_many(user_id=uid, activities=rides)
        for ride in rides[:3]:
            await uow.streams.put(user_id=uid, activity_id=ride.id, streams=make.streams(120))
        await uow.sessions.add(user_id=uid, session=make.session(uid))
        await uow.identities.link(user_id=uid, identity=make.identity(uid))
        await uow.athletes.save(user_id=uid, profile=make.profile(uid))
        loads = [make.daily_load(uid, date(2024, 5, 1) + timedelta(days=d)) for d in range(9)]
        await uow.daily_loads.upsert(user_id=uid, loads=loads)
        await uow.subscriptions.save(user_id=uid, subscription=make.subscription(uid))
        await uow.usage.consume(user_id=uid, feature="f", window_key="2024-05", limit=5)
        await uow.audit.append(user_id=uid, event=make.audit_event(uid))
    async with storage.system(reason="stripe-webhook") as uow:
        await uow.payment_events.record(event=make.payment_event(uid, event_id=f"evt_{uid}"))


async def snapshot(storage: Storage) -> dict[str, Any]:
    """Everything readable through the port, user by user."""
    result: dict[str, Any] = {}
    async with storage.system(reason="test-snapshot") as uow:
        users = (await uow.directory.list_users(limit=200)).items
        result["users"] = users
        for user in users:
            uid = user.id
            activities = (await uow.activities.page(user_id=uid, limit=200)).items
            result[uid] = {
                "activities": activities,
                "streams": [
                    await uow.streams.get(user_id=uid, activity_id=a.id) for a in activities
                ],
                "sessions": await uow.sessions.list_active(user_id=uid, now=make.T0),
                "identities": await uow.identities.all(user_id=uid),
                "profile": await uow.athletes.get(user_id=uid),
                "loads": await uow.daily_loads.range(
                    user_id=uid, day_from=date(2024, 1, 1), day_to=date(2025, 1, 1)
                ),
                "subscription": await uow.subscriptions.get(user_id=uid),
                "usage": await uow.usage.all(user_id=uid),
                "audit": (await uow.audit.page(user_id=uid, limit=200)).items,
                "payment": await uow.payment_events.get(event_id=f"evt_{uid}"),
            }
    return result


async def _pg_snapshot(dsn: str) -> dict[str, Any]:
    storage = await PostgresStorage.open(dsn=dsn, app_role=APP_ROLE)
    try:
        return await snapshot(storage)
    finally:
        await storage.close()


async def _sqlite_snapshot(url: str) -> dict[str, Any]:
    storage = await SqliteStorage.open(path=url.removeprefix("sqlite:///"))
    try:
        return await snapshot(storage)
    finally:
        await storage.close()


def _counts(report: CopyReport) -> dict[str, int]:
    return {t.table: t.source_rows for t in report.tables}


async def test_copy_data_round_trips_a_populated_database(
    source_url: str, target_dsn: str, tmp_path: Path
) -> None:
    before = await _sqlite_snapshot(source_url)
    assert len(before["users"]) == USERS
    seen: list[tuple[str, int, int]] = []
    report = await copy_data(
        source_url=source_url,
        target_url=target_dsn,
        batch_size=7,
        progress=lambda table, done, total: seen.append((table, done, total)),
    )
    assert report.ok
    assert _counts(report)["activities"] == USERS * ACTIVITIES_PER_USER
    assert _counts(report)["payment_events"] == USERS + 1
    assert _counts(report)["audit_log"] == USERS + 1
    assert report.inserted == sum(_counts(report).values())
    assert [t.table for t in report.tables] == [t.name for t in TABLES]
    # Progress starts each table at 0 and ends it at its total, in batches of 7.
    activity_progress = [done for table, done, _ in seen if table == "activities"]
    assert activity_progress == [0, *range(7, 75, 7), 75]
    assert await _pg_snapshot(target_dsn) == before

    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    back = await copy_data(source_url=target_dsn, target_url=back_url, batch_size=500)
    assert back.ok
    assert _counts(back) == _counts(report)
    assert await _sqlite_snapshot(back_url) == before


async def test_copy_data_can_be_rerun_and_resumes_after_an_interruption(
    source_url: str, target_dsn: str
) -> None:
    class StopError(Exception):
        pass

    def stop_in_activities(table: str, done: int, total: int) -> None:
        if table == "activities" and done >= 20:
            raise StopError

    with pytest.raises(StopError):
        await copy_data(
            source_url=source_url,
            target_url=target_dsn,
            batch_size=10,
            progress=stop_in_activities,
        )
    resumed = await copy_data(source_url=source_url, target_url=target_dsn, batch_size=10)
    assert resumed.ok
    activities = next(t for t in resumed.tables if t.table == "activities")
    assert (activities.target_rows_before, activities.inserted) == (20, 55)
    again = await copy_data(source_url=source_url, target_url=target_dsn)
    assert again.ok
    assert again.inserted == 0
    assert await _pg_snapshot(target_dsn) == await _sqlite_snapshot(source_url)


async def test_copy_data_into_a_database_with_other_data_reports_the_mismatch(
    source_url: str, target_dsn: str
) -> None:
    await migrate(target_dsn)
    storage = await PostgresStorage.open(dsn=target_dsn, app_role=APP_ROLE)
    try:
        await make.register(storage)
    finally:
        await storage.close()
    with pytest.raises(Conflict) as caught:
        await copy_data(source_url=source_url, target_url=target_dsn)
    assert "users" in caught.value.message
    report = caught.value.details["report"]
    users = next(t for t in report.tables if t.table == "users")
    assert (users.source_rows, users.target_rows) == (USERS, USERS + 1)


async def test_copy_data_refuses_an_unmigrated_source_or_the_same_database(
    tmp_path: Path, target_dsn: str
) -> None:
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    with pytest.raises(ConfigurationError, match="does not exist"):
        await copy_data(source_url=missing, target_url=target_dsn)
    assert not (tmp_path / "typo.db").exists()
    bare = tmp_path / "bare.db"
    bare.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="migrate"):
        await copy_data(source_url=f"sqlite:///{bare}", target_url=target_dsn)
    with pytest.raises(ConfigurationError, match="different"):
        await copy_data(source_url=target_dsn, target_url=target_dsn)
    with pytest.raises(ConfigurationError):
        await copy_data(source_url="memory://", target_url=target_dsn)
