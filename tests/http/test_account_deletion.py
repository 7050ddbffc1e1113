"""DELETE /me erases every row the account owns in every table, then the account; audited.

Checked on SQLite and PostgreSQL by scanning the catalog for every table with a `user_id`
column, so tables added later are included without editing this test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiosqlite
import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.contract import storage_builders as make
from tests.http.conftest import BASE_URL, bearer, make_container, make_settings, register
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.adapters.sql.postgres import PostgresStorage
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.container import AppContainer
from training_analyzer.core.accounts import IdentityProvider
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.ids import new_id
from training_analyzer.ports.storage import Storage


class World:
    """An app on one database, and how to read that database past the app."""

    def __init__(self, client: AsyncTestClient[Litestar], container: AppContainer, url: str):
        self.client = client
        self.container = container
        self.url = url

    async def rows_naming(self, uid: str) -> dict[str, int]:
        """Rows naming `uid` in every table with a user_id column (and in users.id)."""
        dialect, target = parse_database_url(self.url)
        counts: dict[str, int] = {}
        if dialect == "sqlite":
            async with aiosqlite.connect(target) as conn:
                names = await conn.execute_fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
                for (name,) in names:
                    cols = [
                        c[1] for c in await conn.execute_fetchall(f'PRAGMA table_info("{name}")')
                    ]
                    owner = "id" if name == "users" else "user_id"
                    if owner in cols:
                        rows = list(
                            await conn.execute_fetchall(
                                f'SELECT count(*) FROM "{name}" WHERE "{owner}" = ?', (uid,)
                            )
                        )
                        counts[name] = int(rows[0][0])
            return counts
        pg = await asyncpg.connect(target)  # the test server's superuser: RLS does not apply
        try:
            tables = await pg.fetch(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'user_id'"
            )
            for name in [*(r["table_name"] for r in tables), "users"]:
                owner = "id" if name == "users" else "user_id"
                value = await pg.fetchval(
                    f'SELECT count(*) FROM "{name}" WHERE "{owner}" = $1', uid
                )
                counts[name] = int(value)
        finally:
            await pg.close()
        return counts

    async def deletion_events(self, uid: str) -> list[tuple[str | None, str]]:
        """The account.deleted audit events naming `uid` in their details."""
        dialect, target = parse_database_url(self.url)
        query = "SELECT user_id, details FROM audit_log WHERE action = 'account.deleted'"
        if dialect == "sqlite":
            async with aiosqlite.connect(target) as conn:
                rows = [tuple(r) for r in await conn.execute_fetchall(query)]
        else:
            pg = await asyncpg.connect(target)
            try:
                rows = [(r["user_id"], r["details"]) for r in await pg.fetch(query)]
            finally:
                await pg.close()
        return [(r[0], r[1]) for r in rows if uid in r[1]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[World]:
    """The app on SQLite, and on PostgreSQL (a migrated schema of the test session)."""
    if request.param == "sqlite":
        url = f"sqlite:///{db_path}"
        await migrate(url)
    else:
        url = request.getfixturevalue("postgres_dsn")
    container = make_container(make_settings(db_path, database_url=url), clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as client:
        yield World(client, container, url)


async def _open(url: str) -> Storage:
    """A storage of its own on the test's event loop (the app's pool lives on the app's loop)."""
    dialect, target = parse_database_url(url)
    if dialect == "sqlite":
        return await SqliteStorage.open(path=target)
    return await PostgresStorage.open(dsn=target, max_size=2)


async def _fill(url: str, uid: str) -> None:
    storage = await _open(url)
    try:
        await _fill_with(storage, uid)
    finally:
        await storage.close()


async def _fill_with(storage: Storage, uid: str) -> None:
    ride = make.activity(uid)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=make.streams(30))
        await uow.identities.link(
            user_id=uid, identity=make.identity(uid, provider=IdentityProvider.STRAVA)
        )
        await uow.athletes.save(user_id=uid, profile=make.profile(uid))
        await uow.daily_loads.upsert(user_id=uid, loads=[make.daily_load(uid, date(2026, 3, 1))])
        await uow.subscriptions.save(user_id=uid, subscription=make.subscription(uid))
        await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=5)
    async with storage.system(reason="test-fill") as uow:
        await uow.payment_events.record(event=make.payment_event(uid))


async def test_deleting_the_account_leaves_no_row_naming_it(world: World) -> None:
    client = world.client
    tokens = await register(client, f"leaver-{new_id()}@example.com")
    stays = await register(client, f"stayer-{new_id()}@example.com")
    uid = (await client.get("/me", headers=bearer(tokens["access_token"]))).json()["id"]
    other = (await client.get("/me", headers=bearer(stays["access_token"]))).json()["id"]
    await _fill(world.url, uid)
    await _fill(world.url, other)
    await client.patch(
        "/me", json={"timezone": "Europe/Berlin"}, headers=bearer(tokens["access_token"])
    )
    before = await world.rows_naming(uid)
    assert before["users"] == 1
    assert before["audit_log"] >= 2  # registered, account.updated
    assert sum(n > 0 for n in before.values()) >= 10  # the fill reached every kind of row

    response = await client.delete("/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204

    after = await world.rows_naming(uid)
    assert after == dict.fromkeys(after, 0), {t: n for t, n in after.items() if n}
    assert set(after) >= set(before)
    # The other account keeps everything.
    kept = await world.rows_naming(other)
    assert all(kept[t] > 0 for t, n in before.items() if n > 0 and t != "audit_log")
    # Audited, detached from the erased account.
    events = await world.deletion_events(uid)
    assert len(events) == 1
    assert events[0][0] is None
    # The old tokens are dead: the access token's account is gone, the refresh token too.
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 401
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    again = await client.delete("/me", headers=bearer(tokens["access_token"]))
    assert again.status_code == 401


async def test_the_email_of_a_deleted_account_can_register_again(world: World) -> None:
    email = f"again-{new_id()}@example.com"
    first = await register(world.client, email)
    assert (
        await world.client.delete("/me", headers=bearer(first["access_token"]))
    ).status_code == 204
    second = await register(world.client, email)
    me = await world.client.get("/me", headers=bearer(second["access_token"]))
    assert me.json()["email"] == email
