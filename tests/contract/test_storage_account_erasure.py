"""Deleting an account erases every row the user owns, in every table, now and later.

`UserRepository.delete` is the storage layer's "delete everything of user X": on SQL it is one
DELETE on `users` whose foreign keys cascade. Two checks keep that true as tables are added:
- the schema check reads the migrated database's catalog (SQLite and PostgreSQL) and requires
  every table with a `user_id` column to reach `users` through ON DELETE CASCADE (or SET NULL,
  for records kept detached: the audit log and payment events) - a new table that forgets it
  fails here without anyone editing this test;
- the data check fills every table, deletes the account, and scans every table with a
  `user_id` column for a row still naming the user.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from tests.contract import storage_builders as make
from tests.contract.conftest import Backend
from training_analyzer.adapters.sql import parse_database_url

# ON DELETE actions that leave no row naming a deleted user.
_ERASING_ACTIONS = {"CASCADE", "SET NULL"}


async def _user_columns(url: str) -> dict[str, str]:
    """Every table with a user-owner column, and that column (`id` for `users`)."""
    dialect, target = parse_database_url(url)
    tables: dict[str, str] = {}
    if dialect == "sqlite":
        async with aiosqlite.connect(target) as db:
            names = await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            for (name,) in names:
                columns = await db.execute_fetchall(f'PRAGMA table_info("{name}")')
                if any(c[1] == "user_id" for c in columns):
                    tables[name] = "user_id"
    else:
        conn = await asyncpg.connect(target)
        try:
            rows = await conn.fetch(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'user_id'"
            )
        finally:
            await conn.close()
        tables = {r["table_name"]: "user_id" for r in rows}
    tables["users"] = "id"
    return tables


async def _count_rows_naming(url: str, uid: str) -> dict[str, int]:
    """Rows naming `uid` in every owner column, read past row-level security."""
    dialect, target = parse_database_url(url)
    counts: dict[str, int] = {}
    tables = await _user_columns(url)
    if dialect == "sqlite":
        async with aiosqlite.connect(target) as db:
            for table, column in tables.items():
                rows = await db.execute_fetchall(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" = ?',
                    (uid,),
                )
                counts[table] = int(next(iter(rows))[0])
        return counts
    conn = await asyncpg.connect(target)  # the test server's superuser: RLS does not apply
    try:
        for table, column in tables.items():
            counts[table] = int(
                await conn.fetchval(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" = $1',
                    uid,
                )
            )
    finally:
        await conn.close()
    return counts


async def _foreign_keys(url: str) -> dict[str, list[tuple[tuple[str, ...], str, str]]]:
    """Each table's foreign keys as (local columns, referenced table, ON DELETE action)."""
    dialect, target = parse_database_url(url)
    keys: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
    if dialect == "sqlite":
        async with aiosqlite.connect(target) as db:
            names = await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            for (name,) in names:
                grouped: dict[int, tuple[list[str], str, str]] = {}
                rows = await db.execute_fetchall(f'PRAGMA foreign_key_list("{name}")')
                # id, seq, table, from, to, on_update, on_delete, match
                for r in rows:
                    columns, _, _ = grouped.setdefault(r[0], ([], r[2], str(r[6]).upper()))
                    columns.append(r[3])
                keys[name] = [(tuple(c), t, a) for c, t, a in grouped.values()]
        return keys
    conn = await asyncpg.connect(target)
    try:
        records = await conn.fetch(
            "SELECT c.conrelid::regclass::text AS tbl, c.confrelid::regclass::text AS ref, "
            "c.confdeltype AS action, "
            "ARRAY(SELECT a.attname FROM unnest(c.conkey) k "
            "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS cols "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = current_schema()"
        )
    finally:
        await conn.close()
    actions = {"c": "CASCADE", "n": "SET NULL", "a": "NO ACTION", "r": "RESTRICT", "d": "DEFAULT"}
    for record in records:
        code = record["action"]
        action = actions[code.decode() if isinstance(code, bytes) else code]
        keys.setdefault(record["tbl"], []).append((tuple(record["cols"]), record["ref"], action))
    return keys


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated database of each SQL dialect (the in-memory adapter has no catalog)."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


async def test_every_table_with_a_user_id_is_erased_with_its_user(migrated_url: str) -> None:
    url = migrated_url
    owner_tables = await _user_columns(url)
    keys = await _foreign_keys(url)
    assert len(owner_tables) >= 12, owner_tables  # the scan really found the schema

    def erased_with_user(table: str, seen: frozenset[str] = frozenset()) -> bool:
        if table == "users":
            return True
        if table in seen:
            return False
        return any(
            "user_id" in columns
            and action in _ERASING_ACTIONS
            and erased_with_user(ref.split(".")[-1].strip('"'), seen | {table})
            for columns, ref, action in keys.get(table, [])
        )

    unsafe = sorted(t for t in owner_tables if not erased_with_user(t))
    assert unsafe == [], (
        f"tables whose rows would outlive their user: {unsafe}; give user_id a foreign key "
        "to users (or to a table that cascades from users) with ON DELETE CASCADE"
    )


async def test_deleting_an_account_leaves_no_row_naming_it(backend: Backend) -> None:
    storage = backend.storage
    victim = await make.register(storage)
    bystander = await make.register(storage)
    await make.fill_every_table(storage, victim)
    await make.fill_every_table(storage, bystander)
    async with storage.unit_of_work(user_id=victim) as uow:
        assert await uow.users.delete(user_id=victim)
    async with storage.unit_of_work(user_id=victim) as uow:
        assert await uow.users.get(user_id=victim) is None
        assert await uow.sessions.list_active(user_id=victim, now=make.T0) == []
        assert await uow.identities.all(user_id=victim) == []
        assert (await uow.activities.page(user_id=victim)).items == []
        assert await uow.athletes.get(user_id=victim) is None
        assert await uow.subscriptions.get(user_id=victim) is None
        assert await uow.usage.all(user_id=victim) == []
        assert (await uow.audit.page(user_id=victim)).items == []
    if backend.url is None:
        return
    after: dict[str, Any] = await _count_rows_naming(backend.url, victim)
    assert after == dict.fromkeys(after, 0)
    kept = await _count_rows_naming(backend.url, bystander)
    # The bystander keeps a row in every table the fill touched.
    assert {t for t, n in kept.items() if n == 0} == set()
