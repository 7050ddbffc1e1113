"""The container never lets the app run PostgreSQL as a role that bypasses row-level security."""

from __future__ import annotations

import pytest

from training_analyzer.container import running
from training_analyzer.settings import Environment, Settings

pytestmark = pytest.mark.postgres


async def test_a_superuser_login_still_works_as_the_app_role(postgres_dsn: str) -> None:
    # The test DSN logs in as the `postgres` superuser, which would bypass every policy.
    settings = Settings(env=Environment.TEST, database_url=postgres_dsn)
    async with running(settings) as container:
        storage = await container.storage()
        pool = storage._pool  # type: ignore[attr-defined]  # white-box: the role of a pooled connection
        async with pool.acquire() as conn:
            role = await conn.fetchval("SELECT current_user")
            bypasses = await conn.fetchval(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
    assert role == "training_analyzer_app"
    assert bypasses is False


async def test_an_empty_app_role_keeps_the_login_role(postgres_dsn: str) -> None:
    settings = Settings(env=Environment.TEST, database_url=postgres_dsn, database_app_role="")
    async with running(settings) as container:
        storage = await container.storage()
        pool = storage._pool  # type: ignore[attr-defined]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == "postgres"
