"""GET /export on SQLite and PostgreSQL: the export gate through HTTP, and the archive.

Data export is Pro and Coach only (core/tiers.py). The gate's consume path is the one every
gated route takes, so 50 parallel requests prove it through HTTP on both databases: for a Free
user all 50 are refused with the 402 problem body and nothing is counted or built; for a Pro
user all 50 are served and the day's counter ends at exactly 50 (a read-then-write counter
would lose increments under this load).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

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
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.ids import new_id
from training_analyzer.ports.storage import Storage

PARALLEL = 50


class World:
    """An app on one database and a storage of the test's own on the same database."""

    def __init__(self, client: AsyncTestClient[Litestar], url: str) -> None:
        self.client = client
        self.url = url

    async def storage(self) -> Storage:
        dialect, target = parse_database_url(self.url)
        if dialect == "sqlite":
            return await SqliteStorage.open(path=target)
        return await PostgresStorage.open(dsn=target, max_size=2)

    async def signed_up(self, name: str) -> tuple[str, dict[str, str]]:
        # The PostgreSQL schema is shared by the session's tests: emails must not repeat.
        email = f"{name}-{new_id()}@example.com"
        tokens = await register(self.client, email)
        me = await self.client.get("/me", headers=bearer(tokens["access_token"]))
        return me.json()["id"], bearer(tokens["access_token"])

    async def upgrade(self, auth: dict[str, str]) -> None:
        """Buy Pro through the fake checkout page (the demo path of `make run`)."""
        response = await self.client.post(
            "/billing/checkout", json={"plan": "pro", "period": "month"}, headers=auth
        )
        assert response.status_code == 201, response.text
        done = await self.client.post(
            response.json()["url"].removeprefix(BASE_URL), follow_redirects=False
        )
        assert done.status_code == 303

    async def exports_counted(self, user_id: str) -> int:
        storage = await self.storage()
        try:
            async with storage.unit_of_work(user_id=user_id) as uow:
                # The test clock is 2026-03-02 08:00 UTC; exports count per local day.
                return await uow.usage.get(
                    user_id=user_id, feature="data_export", window_key="2026-03-02"
                )
        finally:
            await storage.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[World]:
    """The app (fake payments) on SQLite, and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{db_path}"
        await migrate(url)
    else:
        url = request.getfixturevalue("postgres_dsn")
    # The PostgreSQL schema (and its rate-limit counters) is shared by the session's tests.
    settings = make_settings(db_path, database_url=url, register_limit_per_ip=1_000_000)
    container = make_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as client:
        yield World(client, url)


async def test_free_users_get_402_naming_pro_and_nothing_is_counted(world: World) -> None:
    user_id, auth = await world.signed_up("free")
    responses = await asyncio.gather(
        *(world.client.get("/export", headers=auth) for _ in range(PARALLEL))
    )
    assert [r.status_code for r in responses] == [402] * PARALLEL
    problem = responses[0].json()
    assert responses[0].headers["content-type"].startswith("application/problem+json")
    assert {k: problem[k] for k in ("code", "feature", "limit", "used", "resets_at")} == {
        "code": "quota_exceeded",
        "feature": "data_export",
        "limit": None,
        "used": 0,
        "resets_at": None,
    }
    assert problem["upgrade_to"] == "pro"
    assert await world.exports_counted(user_id) == 0


async def test_fifty_parallel_pro_exports_are_each_counted_exactly_once(world: World) -> None:
    user_id, auth = await world.signed_up("pro")
    await world.upgrade(auth)
    responses = await asyncio.gather(
        *(world.client.get("/export?format=csv", headers=auth) for _ in range(PARALLEL))
    )
    assert [r.status_code for r in responses] == [200] * PARALLEL
    assert await world.exports_counted(user_id) == PARALLEL
    usage = (await world.client.get("/me/usage", headers=auth)).json()
    (export,) = [i for i in usage["features"] if i["limit"]["feature"] == "data_export"]
    assert export["used"] == PARALLEL


async def test_the_archive_holds_the_users_data_in_json_and_csv(world: World) -> None:
    user_id, auth = await world.signed_up("pro")
    await world.upgrade(auth)
    storage = await world.storage()
    try:
        ride = make.activity(user_id)
        async with storage.unit_of_work(user_id=user_id) as uow:
            await uow.activities.add(user_id=user_id, activity=ride)
            await uow.streams.put(user_id=user_id, activity_id=ride.id, streams=make.streams(5))
    finally:
        await storage.close()

    response = await world.client.get("/export?format=json", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment; filename=" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"manifest.json", "account.json", "activities.json", "laps.json"} <= names
    assert f"streams/{ride.id}.json" in names
    (account,) = json.loads(archive.read("account.json"))
    assert account["id"] == user_id
    assert account["email"].startswith("pro-")
    assert "password_hash" not in account
    (activity,) = json.loads(archive.read("activities.json"))
    assert (activity["id"], activity["name"]) == (ride.id, ride.name)
    (subscription,) = json.loads(archive.read("subscriptions.json"))
    assert (subscription["plan"], subscription["status"]) == ("pro", "active")
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["files"]["activities"] == 1
    assert manifest["files"]["streams"] == 1

    response = await world.client.get("/export?format=csv", headers=auth)
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    rows = list(csv.DictReader(io.StringIO(archive.read("activities.csv").decode())))
    assert [r["id"] for r in rows] == [ride.id]
    assert rows[0]["summary.duration_s"] == str(ride.summary.duration_s)
    samples = list(csv.DictReader(io.StringIO(archive.read(f"streams/{ride.id}.csv").decode())))
    assert len(samples) == 5
    assert float(samples[0]["time_s"]) == 0.0


async def test_an_unknown_format_is_400(world: World) -> None:
    _, auth = await world.signed_up("pro")
    response = await world.client.get("/export?format=xml", headers=auth)
    assert response.status_code == 400
