"""Numbered raw-SQL migrations, shared by SQLite and PostgreSQL, forward-only.

Files in `migrations/` are named `NNNN_name.sql` (both dialects) or `NNNN_name.<dialect>.sql`
(`sqlite` or `postgres`) where a statement cannot be shared. For each number a dialect uses its
own file if there is one, else the shared one; a number with only another dialect's file does
not apply (e.g. row-level security exists on PostgreSQL only).

`schema_migrations` records each applied file with the SHA-256 of its text. Before applying
anything, every recorded migration is checked against the file on disk: an edited applied
migration (or one missing from this version) stops the run with ConfigurationError naming it,
so a server never starts on a schema that differs from what its files say. Each migration runs
in its own transaction together with its record. PostgreSQL runs take a session advisory lock
keyed on the schema, so instances starting together apply each file once; SQLite runs serialise
on `BEGIN IMMEDIATE` and re-read the records inside each transaction.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.dialect import SqlDialect
from training_analyzer.adapters.sql.postgres import translate_postgres_error
from training_analyzer.adapters.sql.sqlite import connect as sqlite_connect
from training_analyzer.adapters.sql.sqlite import translate_sqlite_error
from training_analyzer.core.errors import ConfigurationError
from training_analyzer.core.pagination import to_micros

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<dialect>sqlite|postgres))?\.sql$"
)

CREATE_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
    "applied_at TIMESTAMPTZ NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file as it applies to one dialect."""

    version: str
    name: str
    sql: str
    checksum: str


def load_migrations(dialect: SqlDialect, directory: Path | None = None) -> list[Migration]:
    """The migrations that apply to `dialect`, in order. Raises ConfigurationError on a stray
    or ambiguous file."""
    folder = directory or MIGRATIONS_DIR
    by_version: dict[str, dict[str | None, Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if match is None:
            raise ConfigurationError(
                f"migration file {path.name!r} is not named NNNN_name[.sqlite|.postgres].sql"
            )
        slot = by_version.setdefault(match["version"], {})
        # A version's shared and per-dialect files must be one migration under one name:
        # otherwise a dialect would silently skip the other file's statements.
        other = next(iter(slot.values()), None)
        if other is not None and _FILE.match(other.name)["name"] != match["name"]:  # type: ignore[index]
            raise ConfigurationError(
                f"two different migrations share version {match['version']}: "
                f"{other.name} and {path.name} (give the new one the next free number)"
            )
        if match["dialect"] in slot:
            raise ConfigurationError(
                f"two migration files for version {match['version']}: "
                f"{slot[match['dialect']].name} and {path.name}"
            )
        slot[match["dialect"]] = path
    migrations = []
    for version in sorted(by_version):
        files = by_version[version]
        chosen = files.get(dialect) or files.get(None)
        if chosen is None:
            continue
        # Normalise line endings so a checkout with CRLF does not look like an edit.
        text = chosen.read_text(encoding="utf-8").replace("\r\n", "\n")
        checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        migrations.append(Migration(version=version, name=chosen.name, sql=text, checksum=checksum))
    return migrations


def verify_applied(applied: dict[str, tuple[str, str]], migrations: list[Migration]) -> None:
    """Raise ConfigurationError if a recorded migration was edited or is unknown."""
    known = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise ConfigurationError(
                f"the database has migration {name} applied, which this version of the "
                "application does not have: upgrade the application",
                migration=name,
            )
        if migration.checksum != checksum:
            raise ConfigurationError(
                f"migration {name} was edited after it was applied (recorded checksum "
                f"{checksum[:12]}…, file {migration.checksum[:12]}…): restore the file and add "
                "a new migration instead",
                migration=name,
            )


def split_sqlite_script(script: str) -> list[str]:
    """Split a SQL script into single statements (sqlite3 executes one at a time)."""
    statements: list[str] = []
    start = 0
    for i, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : i + 1]):
            statement = script[start : i + 1].strip()
            if _has_code(statement):
                statements.append(statement)
            start = i + 1
    if _has_code(script[start:]):
        raise ConfigurationError("migration ends with an incomplete statement")
    return statements


def _has_code(text: str) -> bool:
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return bool(code.strip(" \n\t;"))


async def migrate(url: str, *, migrations_dir: Path | None = None) -> list[str]:
    """Apply pending migrations to the database at `url`; return the file names applied.

    `url` is `sqlite:///path` or `postgresql://...` (`memory://` has nothing to migrate).
    Raises ConfigurationError on an edited or unknown applied migration or a bad URL, and
    ExternalServiceError if the database cannot be reached.
    """
    dialect, target = parse_database_url(url)
    if dialect == "memory":
        return []
    if dialect == "sqlite":
        return await _migrate_sqlite(target, load_migrations("sqlite", migrations_dir))
    return await _migrate_postgres(target, load_migrations("postgres", migrations_dir))


async def _sqlite_applied(db: aiosqlite.Connection) -> dict[str, tuple[str, str]]:
    rows = await db.execute_fetchall("SELECT version, name, checksum FROM schema_migrations")
    return {r[0]: (r[1], r[2]) for r in rows}


async def _migrate_sqlite(path: str, migrations: list[Migration]) -> list[str]:
    db = await sqlite_connect(path)
    applied_now: list[str] = []
    try:
        await db.execute(CREATE_SCHEMA_MIGRATIONS)
        while True:
            await db.execute("BEGIN IMMEDIATE")
            try:
                applied = await _sqlite_applied(db)
                verify_applied(applied, migrations)
                pending = [m for m in migrations if m.version not in applied]
                if not pending:
                    await db.execute("COMMIT")
                    return applied_now
                migration = pending[0]
                try:
                    for statement in split_sqlite_script(migration.sql):
                        await db.execute(statement)
                except sqlite3.Error as exc:
                    raise ConfigurationError(
                        f"migration {migration.name} failed: {exc}", migration=migration.name
                    ) from exc
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, migration.checksum, _now_micros()),
                )
                await db.execute("COMMIT")
                applied_now.append(migration.name)
            except BaseException:
                await db.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise translate_sqlite_error(exc) from exc
    finally:
        await db.close()


def _now_micros() -> int:
    return to_micros(datetime.now(UTC))


def advisory_lock_key(schema: str) -> int:
    """The advisory-lock key for migrating `schema` (a signed 64-bit int from SHA-256)."""
    digest = hashlib.sha256(f"training_analyzer.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _migrate_postgres(dsn: str, migrations: list[Migration]) -> list[str]:
    try:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn)
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
        raise translate_postgres_error(exc) from exc
    applied_now: list[str] = []
    try:
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            raise ConfigurationError(
                "PostgreSQL has no schema to migrate into: the search_path names none that exists"
            )
        key = advisory_lock_key(schema)
        # Session-level lock: held across the per-migration transactions, released below (and
        # by the server if this process dies).
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        try:
            # Only create the table when missing: the application role may check an up-to-date
            # schema at start-up but has no right to create anything.
            if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                await conn.execute(CREATE_SCHEMA_MIGRATIONS)
            rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
            applied = {r["version"]: (r["name"], r["checksum"]) for r in rows}
            verify_applied(applied, migrations)
            for migration in migrations:
                if migration.version in applied:
                    continue
                async with conn.transaction():
                    try:
                        await conn.execute(migration.sql)
                    except asyncpg.PostgresError as exc:
                        hint = ""
                        if isinstance(exc, asyncpg.InsufficientPrivilegeError):
                            hint = " (run migrations as the schema owner, not the app role)"
                        raise ConfigurationError(
                            f"migration {migration.name} failed: {exc}{hint}",
                            migration=migration.name,
                        ) from exc
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                        "VALUES ($1, $2, $3, $4)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                        datetime.now(UTC),
                    )
                applied_now.append(migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
        raise translate_postgres_error(exc) from exc
    finally:
        await conn.close()
    return applied_now
