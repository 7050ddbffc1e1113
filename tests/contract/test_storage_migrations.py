"""Migrations: apply on an empty database, re-run as a no-op, refuse an edited file."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg
import pytest

from tests.contract.conftest import run_sync
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.copy import inspect_tables
from training_analyzer.adapters.sql.migrate import (
    MIGRATIONS_DIR,
    advisory_lock_key,
    load_migrations,
    migrate,
    split_sqlite_script,
)
from training_analyzer.adapters.sql.schema import TABLES
from training_analyzer.core.errors import ConfigurationError

EXPECTED = {
    "sqlite": [
        "0001_initial.sql",
        "0003_sign_in_flows_and_rate_limits.sql",
        "0005_activity_links_and_bests.sql",
        "0007_billing_plans_customers_subscriptions.sql",
    ],
    "postgres": [
        "0001_initial.sql",
        "0002_row_level_security.postgres.sql",
        "0003_sign_in_flows_and_rate_limits.sql",
        "0004_sign_in_flows_and_rate_limits_rls.postgres.sql",
        "0005_activity_links_and_bests.sql",
        "0006_activity_links_and_bests_rls.postgres.sql",
        "0007_billing_plans_customers_subscriptions.sql",
        "0008_billing_rls.postgres.sql",
    ],
}
EXTRA_TABLE = "CREATE TABLE extra_things (user_id TEXT NOT NULL, n INTEGER NOT NULL);\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each SQL dialect."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    dsn: str = request.getfixturevalue("empty_postgres_dsn")
    return dsn


async def _table_names(url: str) -> set[str]:
    """Table names, without the copy-data registry check."""
    dialect, target = parse_database_url(url)
    if dialect == "sqlite":
        async with aiosqlite.connect(target) as db:
            names = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")
            return {r[0] for r in names}
    conn = await asyncpg.connect(target)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r["table_name"] for r in rows}
    finally:
        await conn.close()


def _dialect(url: str) -> str:
    return parse_database_url(url)[0]


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of the migration files that a test may edit."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


async def test_migrations_apply_on_an_empty_database_and_rerun_as_a_no_op(empty_url: str) -> None:
    assert await migrate(empty_url) == EXPECTED[_dialect(empty_url)]
    assert await migrate(empty_url) == []
    tables = await inspect_tables(empty_url)
    assert tables == {t.name: list(t.column_names) for t in TABLES}


async def test_an_edited_applied_migration_refuses_to_start_naming_it(
    empty_url: str, migrations_copy: Path
) -> None:
    await migrate(empty_url, migrations_dir=migrations_copy)
    first = migrations_copy / "0001_initial.sql"
    first.write_text(first.read_text() + "\n-- a harmless-looking edit\n")
    (migrations_copy / "9000_extra.sql").write_text(EXTRA_TABLE)
    with pytest.raises(ConfigurationError) as caught:
        await migrate(empty_url, migrations_dir=migrations_copy)
    assert "0001_initial.sql" in caught.value.message
    assert caught.value.details["migration"] == "0001_initial.sql"
    # Nothing was applied after the refusal.
    assert "extra_things" not in await _table_names(empty_url)


async def test_a_new_migration_applies_after_the_existing_ones(
    empty_url: str, migrations_copy: Path
) -> None:
    await migrate(empty_url, migrations_dir=migrations_copy)
    (migrations_copy / "9000_extra.sql").write_text(EXTRA_TABLE)
    assert await migrate(empty_url, migrations_dir=migrations_copy) == ["9000_extra.sql"]
    assert "extra_things" in await _table_names(empty_url)
    assert await migrate(empty_url, migrations_dir=migrations_copy) == []


async def test_a_database_ahead_of_the_application_refuses_to_start(
    empty_url: str, migrations_copy: Path
) -> None:
    (migrations_copy / "9000_extra.sql").write_text(EXTRA_TABLE)
    await migrate(empty_url, migrations_dir=migrations_copy)
    with pytest.raises(ConfigurationError) as caught:
        await migrate(empty_url)
    assert "9000_extra.sql" in caught.value.message
    assert "upgrade" in caught.value.message


async def test_a_failing_migration_leaves_no_trace_and_can_be_fixed(
    empty_url: str, migrations_copy: Path
) -> None:
    await migrate(empty_url, migrations_dir=migrations_copy)
    broken = migrations_copy / "9000_extra.sql"
    broken.write_text(EXTRA_TABLE + "CREATE TABLE oops (;\n")
    with pytest.raises(ConfigurationError) as caught:
        await migrate(empty_url, migrations_dir=migrations_copy)
    assert "9000_extra.sql" in caught.value.message
    assert "extra_things" not in await _table_names(empty_url)
    broken.write_text(EXTRA_TABLE)
    assert await migrate(empty_url, migrations_dir=migrations_copy) == ["9000_extra.sql"]


async def test_concurrent_migrations_apply_each_file_once(empty_url: str) -> None:
    results = await asyncio.gather(*(migrate(empty_url) for _ in range(4)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(EXPECTED[_dialect(empty_url)])


def test_each_dialect_gets_its_own_file_where_one_exists(tmp_path: Path) -> None:
    for name, text in {
        "0001_base.sql": "CREATE TABLE a (x INTEGER);",
        "0002_special.postgres.sql": "SELECT 1;",
        "0003_both.sql": "SELECT 2;",
        "0003_both.sqlite.sql": "SELECT 3;",
    }.items():
        (tmp_path / name).write_text(text)
    sqlite_files = [m.name for m in load_migrations("sqlite", tmp_path)]
    postgres_files = [m.name for m in load_migrations("postgres", tmp_path)]
    assert sqlite_files == ["0001_base.sql", "0003_both.sqlite.sql"]
    assert postgres_files == ["0001_base.sql", "0002_special.postgres.sql", "0003_both.sql"]


def test_a_misnamed_or_duplicated_migration_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "1_bad name.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigurationError, match=r"1_bad name\.sql"):
        load_migrations("sqlite", tmp_path)
    (tmp_path / "1_bad name.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigurationError, match="0001"):
        load_migrations("sqlite", tmp_path)


def test_crlf_line_endings_do_not_change_a_checksum(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_bytes(b"CREATE TABLE a (x INTEGER);\n")
    lf = load_migrations("sqlite", tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_bytes(b"CREATE TABLE a (x INTEGER);\r\n")
    assert load_migrations("sqlite", tmp_path)[0].checksum == lf


def test_sqlite_scripts_split_into_statements_with_comments_and_strings() -> None:
    script = (
        "-- leading comment; with a semicolon\n"
        "CREATE TABLE a (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;\n"
        "-- trailing comment\n"
    )
    statements = split_sqlite_script(script)
    assert len(statements) == 2
    assert statements[0].endswith("DEFAULT 'a;b');")
    assert "CREATE TRIGGER" in statements[1]
    assert statements[1].endswith("END;")
    with pytest.raises(ConfigurationError):
        split_sqlite_script("CREATE TABLE b (x INTEGER)")


def test_the_advisory_lock_key_is_per_schema_and_a_signed_bigint() -> None:
    keys = {advisory_lock_key(s) for s in ("public", "tenant_a", "tenant_b")}
    assert len(keys) == 3
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_lock_key("public") == advisory_lock_key("public")


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def app_login_dsn(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(owner DSN, DSN of a login role that only has the application role's rights)."""
    owner_dsn: str = request.getfixturevalue("empty_postgres_dsn")
    login = f"ta_test_login_{secrets.token_hex(4)}"
    run_sync(_admin(owner_dsn, f'CREATE ROLE "{login}" LOGIN'))
    parts = urlsplit(owner_dsn)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    app_dsn = urlunsplit(parts._replace(netloc=f"{login}@{host}{port}"))
    try:
        yield owner_dsn, app_dsn
    finally:
        run_sync(_admin(owner_dsn, f'DROP ROLE "{login}"'))


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_app_role_may_check_an_up_to_date_schema_but_not_migrate(
    app_login_dsn: tuple[str, str], migrations_copy: Path
) -> None:
    owner_dsn, app_dsn = app_login_dsn
    await migrate(owner_dsn, migrations_dir=migrations_copy)
    login = urlsplit(app_dsn).username
    await _admin(owner_dsn, f'GRANT training_analyzer_app TO "{login}"')
    # `serve` migrates on start: with nothing pending the application's own role suffices.
    assert await migrate(app_dsn, migrations_dir=migrations_copy) == []
    (migrations_copy / "9000_extra.sql").write_text(EXTRA_TABLE)
    with pytest.raises(ConfigurationError) as caught:
        await migrate(app_dsn, migrations_dir=migrations_copy)
    assert "9000_extra.sql" in caught.value.message
    assert "owner" in caught.value.message
    await _admin(owner_dsn, f'REVOKE training_analyzer_app FROM "{login}"')
