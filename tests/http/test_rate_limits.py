"""Login and register are rate-limited per IP and per account, with counters in the database.

Two app instances over one SQLite file stand for two server processes: the counter is shared,
so an attacker gains nothing by spreading attempts over instances. A refusal is a 429 problem
body with Retry-After, and is decided before any password is checked or account created.
Per account, login counts only failed attempts: a user's own logins never lock them out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import BASE_URL, PASSWORD, make_container, make_settings, register
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.entrypoints.http.app import create_app


@pytest.fixture
async def two_instances(
    db_path: Path, clock: FakeClock
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]]]:
    """Two apps (own containers, own connections) on one database, with small limits."""
    settings = make_settings(
        db_path,
        login_limit_per_account=3,
        login_limit_per_ip=100,
        login_window_s=300,
        register_limit_per_ip=4,
        register_limit_per_account=2,
        register_window_s=3600,
    )
    await migrate(settings.effective_database_url)
    first = create_app(make_container(settings, clock))
    second = create_app(make_container(settings, clock))
    async with (
        AsyncTestClient(app=first, base_url=BASE_URL) as one,
        AsyncTestClient(app=second, base_url=BASE_URL) as two,
    ):
        yield one, two


async def _login(client: AsyncTestClient[Litestar], email: str, password: str) -> int:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    return response.status_code


async def test_failed_logins_for_one_account_are_limited_across_instances(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
    clock: FakeClock,
) -> None:
    one, two = two_instances
    await register(one, "target@example.com")
    # Three attempts per account per 5 minutes, counted in the shared database.
    assert await _login(one, "target@example.com", "guess-one!!") == 401
    assert await _login(two, "Target@Example.com", "guess-two!!") == 401
    assert await _login(one, "target@example.com", "guess-three") == 401
    refused = await two.post(
        "/auth/login", json={"email": "target@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "rate_limited"
    # The window opened at the first attempt and lasts 300 s; the fake clock has not moved.
    assert refused.headers["retry-after"] == "300"
    assert refused.json()["retry_after_s"] == 300
    clock.advance(seconds=299)
    assert await _login(one, "target@example.com", PASSWORD) == 429
    clock.advance(seconds=1)  # the window has ended
    assert await _login(two, "target@example.com", PASSWORD) == 200


async def test_successful_logins_do_not_use_the_account_limit(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
) -> None:
    one, two = two_instances
    await register(one, "owner@example.com")
    # Three failures per account per 5 minutes; successes are not counted against it.
    for i in range(6):
        assert await _login((one, two)[i % 2], "owner@example.com", PASSWORD) == 200
    for _ in range(3):
        assert await _login(one, "owner@example.com", "wrong-guess") == 401
    assert await _login(two, "owner@example.com", PASSWORD) == 429


async def test_the_account_limit_does_not_tell_whether_the_account_exists(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
) -> None:
    one, two = two_instances
    await register(one, "real@example.com")
    answers = {}
    for email in ("real@example.com", "ghost@example.com"):
        statuses = [await _login(one if i % 2 else two, email, "wrong-guess") for i in range(4)]
        answers[email] = statuses
    assert answers["real@example.com"] == answers["ghost@example.com"] == [401, 401, 401, 429]


async def test_register_is_limited_per_ip_across_instances_before_anything_is_created(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
    db_path: Path,
) -> None:
    one, two = two_instances
    for i in range(4):  # four registrations per IP per hour
        client = (one, two)[i % 2]
        await register(client, f"runner{i}@example.com")
    refused = await one.post(
        "/auth/register", json={"email": "runner4@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3600"
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT count(*) FROM users"))
    assert rows[0][0] == 4


async def test_register_is_limited_per_email(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
) -> None:
    one, two = two_instances
    body = {"email": "twice@example.com", "password": PASSWORD}
    assert (await one.post("/auth/register", json=body)).status_code == 201
    assert (await two.post("/auth/register", json=body)).status_code == 409
    assert (await one.post("/auth/register", json=body)).status_code == 429


async def test_counters_live_in_the_database_as_digests(
    two_instances: tuple[AsyncTestClient[Litestar], AsyncTestClient[Litestar]],
    db_path: Path,
) -> None:
    one, _ = two_instances
    await _login(one, "private@example.com", "wrong-guess")
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT key, hits FROM rate_limit_buckets"))
    keys = {r[0]: r[1] for r in rows}
    assert keys["login:ip:testclient"] == 1
    assert not any("private@example.com" in k for k in keys)
    assert sum(k.startswith("login:account:") for k in keys) == 1
