"""PostgreSQL row-level security: the second wall holds even when a query forgets its filter.

These tests reach past the repositories on purpose: they run raw SQL on the unit of work's
connection (as the non-superuser application role) to show what the database itself allows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.contract import storage_builders as make
from training_analyzer.adapters.sql.postgres import APP_ROLE, PostgresStorage
from training_analyzer.adapters.sql.schema import TABLES, TRANSIENT_TABLES
from training_analyzer.ports.storage import Storage


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
async def pg(request: pytest.FixtureRequest) -> AsyncIterator[PostgresStorage]:
    """A PostgreSQL storage working as the application role, on a clean schema."""
    dsn: str = request.getfixturevalue("postgres_dsn")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {', '.join(t.name for t in TABLES)} CASCADE")
    finally:
        await conn.close()
    storage = await PostgresStorage.open(dsn=dsn, app_role=APP_ROLE, min_size=1, max_size=1)
    try:
        yield storage
    finally:
        await storage.close()


def _raw(uow: Any) -> asyncpg.Connection[Any]:
    connection: asyncpg.Connection[Any] = uow.connection
    return connection


async def _tenant_with_everything(storage: Storage) -> str:
    uid = await make.register(storage)
    await make.fill_every_table(storage, uid)
    return uid


# Tables whose rows belong to nobody (plans: every scope reads them, the system writes them).
OWNERLESS = frozenset({"plans"})


def _owner_column(table: str) -> str:
    return "id" if table == "users" else "user_id"


async def test_rls_hides_other_tenants_rows_from_a_query_that_forgot_its_filter(
    pg: PostgresStorage,
) -> None:
    alice = await _tenant_with_everything(pg)
    bob = await _tenant_with_everything(pg)
    async with pg.unit_of_work(user_id=alice) as uow:
        conn = _raw(uow)
        for table in TABLES:
            if table.name in OWNERLESS:
                continue
            owners = await conn.fetch(f"SELECT {_owner_column(table.name)} AS o FROM {table.name}")
            assert owners, f"{table.name}: alice's own rows must stay visible"
            assert {r["o"] for r in owners} == {alice}, f"{table.name} leaks another tenant"
    async with pg.system(reason="test-count-tenants") as uow:
        conn = _raw(uow)
        count = await conn.fetchval("SELECT count(DISTINCT user_id) FROM activities")
        assert count == 2
        assert await conn.fetchval("SELECT count(*) FROM users WHERE id = $1", bob) == 1


async def test_rls_confines_unfiltered_updates_and_deletes_to_the_acting_tenant(
    pg: PostgresStorage,
) -> None:
    alice = await _tenant_with_everything(pg)
    bob = await _tenant_with_everything(pg)
    async with pg.unit_of_work(user_id=alice) as uow:
        conn = _raw(uow)
        assert await conn.execute("UPDATE activities SET name = 'renamed'") == "UPDATE 1"
        assert await conn.execute("DELETE FROM usage_counters") == "DELETE 1"
    async with pg.unit_of_work(user_id=bob) as uow:
        page = await uow.activities.page(user_id=bob)
        assert [a.name for a in page.items] == ["Morning ride"]
        assert await uow.usage.get(user_id=bob, feature="f", window_key="w") == 1


async def test_rls_refuses_a_row_written_for_another_tenant(pg: PostgresStorage) -> None:
    alice = await make.register(pg)
    bob = await make.register(pg)
    async with pg.unit_of_work(user_id=alice) as uow:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _raw(uow).execute(
                "INSERT INTO usage_counters (user_id, window_key, feature, used) "
                "VALUES ($1, 'w', 'f', 1)",
                bob,
            )


async def test_without_the_tenant_setting_the_app_role_sees_nothing(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    await _tenant_with_everything(pg)
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'SET ROLE "{APP_ROLE}"')
        for table in TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table.name}") == 0, table.name
    finally:
        await conn.close()


async def test_the_tenant_setting_does_not_outlive_its_transaction(pg: PostgresStorage) -> None:
    # The storage has a single pooled connection, so both units of work share it.
    alice = await _tenant_with_everything(pg)
    bob = await make.register(pg)
    async with pg.unit_of_work(user_id=alice) as uow:
        alice_pid = _raw(uow).get_server_pid()
    async with pg.unit_of_work(user_id=bob) as uow:
        conn = _raw(uow)
        assert conn.get_server_pid() == alice_pid
        assert await conn.fetchval("SELECT current_setting('app.user_id', true)") == bob
        assert await conn.fetchval("SELECT current_setting('app.scope', true)") == "user"
        assert await conn.fetchval("SELECT count(*) FROM activities") == 0


async def test_the_application_role_cannot_bypass_row_level_security(pg: PostgresStorage) -> None:
    uid = await make.register(pg)
    async with pg.unit_of_work(user_id=uid) as uow:
        row = await _raw(uow).fetchrow(
            "SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
    assert row is not None
    assert (row["name"], row["rolsuper"], row["rolbypassrls"]) == (APP_ROLE, False, False)


async def test_every_table_forces_row_level_security_with_a_tenant_policy(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policies p WHERE p.schemaname = n.nspname "
            " AND p.tablename = c.relname AND p.policyname = 'tenant') AS policies "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND c.relname <> 'schema_migrations'"
        )
    finally:
        await conn.close()
    found = {
        r["relname"]: (r["relrowsecurity"], r["relforcerowsecurity"], r["policies"]) for r in rows
    }
    assert found == {t.name: (True, True, 1) for t in (*TABLES, *TRANSIENT_TABLES)}
