"""copy-data: move every table between SQLite and PostgreSQL (either way), re-runnably.

The move from a laptop to a production database: stop the application, then
`training-analyzer copy-data --from sqlite:///old.db --to postgresql://...`. The target is
migrated first; the source must already be at this version's schema. Tables are copied in
dependency order, in batches ordered by primary key (keyset, never OFFSET), each batch one
transaction with `ON CONFLICT DO NOTHING`, so an interrupted copy can simply be run again:
rows already there are skipped. The source is read inside one read transaction, a consistent
snapshot. At the end the row count of every table must be equal on both sides; otherwise
(the target held other data, e.g. a different account with the same email) copy_data raises
Conflict with the per-table counts.

On PostgreSQL the copy is a named system-scope operation: its session sets
`app.scope = 'system:copy-data'`, which the row-level-security policies admit.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import msgspec

from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.dialect import SqlDialect
from training_analyzer.adapters.sql.migrate import load_migrations, migrate, verify_applied
from training_analyzer.adapters.sql.postgres import translate_postgres_error
from training_analyzer.adapters.sql.schema import NOT_COPIED, TABLES, Kind, Table
from training_analyzer.adapters.sql.sqlite import connect as sqlite_connect
from training_analyzer.adapters.sql.sqlite import sqlite_value, translate_sqlite_error
from training_analyzer.core.errors import ConfigurationError, Conflict
from training_analyzer.core.pagination import from_micros

DEFAULT_BATCH_SIZE = 500
COPY_SCOPE = "system:copy-data"

type Progress = Callable[[str, int, int], None]


class TableCopy(msgspec.Struct, frozen=True, kw_only=True):
    """Row counts of one table: in the source, in the target before and after the copy."""

    table: str
    source_rows: int
    target_rows_before: int
    target_rows: int

    @property
    def inserted(self) -> int:
        """Rows this run added to the target."""
        return self.target_rows - self.target_rows_before

    @property
    def matches(self) -> bool:
        """True when source and target hold the same number of rows."""
        return self.source_rows == self.target_rows


class CopyReport(msgspec.Struct, frozen=True, kw_only=True):
    """What copy_data did, table by table (in copy order)."""

    tables: list[TableCopy]

    @property
    def ok(self) -> bool:
        """True when every table's counts match."""
        return all(t.matches for t in self.tables)

    @property
    def inserted(self) -> int:
        """Rows added to the target in total."""
        return sum(t.inserted for t in self.tables)


class _Endpoint(abc.ABC):
    """One side of a copy: a database opened for bulk reading or writing."""

    dialect: SqlDialect

    @abc.abstractmethod
    async def columns(self) -> dict[str, list[str]]:
        """Every table (except bookkeeping) and its columns."""

    @abc.abstractmethod
    async def applied(self) -> dict[str, tuple[str, str]]:
        """Recorded migrations: version → (name, checksum)."""

    @abc.abstractmethod
    async def count(self, table: Table) -> int:
        """Rows in `table`."""

    @abc.abstractmethod
    async def read(self, table: Table, after: Sequence[Any] | None, limit: int) -> list[Any]:
        """The next `limit` rows by primary key after key values `after` (raw values)."""

    @abc.abstractmethod
    def decode(self, kind: Kind, value: Any) -> Any:
        """A raw value of this database as a Python value."""

    @abc.abstractmethod
    async def write(self, table: Table, rows: list[list[Any]]) -> None:
        """Insert rows (Python values), skipping conflicts, in one transaction."""

    @abc.abstractmethod
    async def begin_snapshot(self) -> None:
        """Start the read transaction that all reads of this side share."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End any transaction and disconnect."""


def _select(table: Table, after: bool, placeholder: Callable[[int], str]) -> str:
    key = ", ".join(table.key)
    where = ""
    if after:
        values = ", ".join(placeholder(i) for i in range(len(table.key)))
        where = f" WHERE ({key}) > ({values})"
    limit = placeholder(len(table.key) if after else 0)
    return (
        f"SELECT {', '.join(table.column_names)} FROM {table.name}{where} "  # noqa: S608
        f"ORDER BY {key} LIMIT {limit}"
    )


def _insert(table: Table, placeholder: Callable[[int], str]) -> str:
    values = ", ".join(placeholder(i) for i in range(len(table.columns)))
    return (
        f"INSERT INTO {table.name} ({', '.join(table.column_names)}) "  # noqa: S608
        f"VALUES ({values}) ON CONFLICT DO NOTHING"
    )


class _SqliteEndpoint(_Endpoint):
    dialect: SqlDialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._in_snapshot = False

    async def columns(self) -> dict[str, list[str]]:
        rows = await self._db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        result = {}
        for (name,) in rows:
            if name in NOT_COPIED:
                continue
            info = await self._db.execute_fetchall(f'PRAGMA table_info("{name}")')
            result[name] = [r[1] for r in info]
        return result

    async def applied(self) -> dict[str, tuple[str, str]]:
        try:
            rows = await self._db.execute_fetchall(
                "SELECT version, name, checksum FROM schema_migrations"
            )
        except sqlite3.OperationalError:
            return {}
        return {r[0]: (r[1], r[2]) for r in rows}

    async def count(self, table: Table) -> int:
        rows = list(await self._db.execute_fetchall(f"SELECT count(*) FROM {table.name}"))  # noqa: S608
        return int(rows[0][0])

    async def read(self, table: Table, after: Sequence[Any] | None, limit: int) -> list[Any]:
        sql = _select(table, after is not None, lambda i: "?")
        params = [*(after or ()), limit]
        return list(await self._db.execute_fetchall(sql, params))

    def decode(self, kind: Kind, value: Any) -> Any:
        if value is None:
            return None
        match kind:
            case Kind.TIME:
                return from_micros(int(value))
            case Kind.DATE:
                return date.fromisoformat(value)
            case Kind.BOOL:
                return bool(value)
            case Kind.FLOAT:
                return float(value)
            case Kind.INT:
                return int(value)
            case Kind.BYTES:
                return bytes(value)
            case Kind.TEXT:
                return str(value)

    async def write(self, table: Table, rows: list[list[Any]]) -> None:
        sql = _insert(table, lambda i: "?")
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.executemany(sql, [[sqlite_value(v) for v in row] for row in rows])
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        await self._db.execute("COMMIT")

    async def begin_snapshot(self) -> None:
        # A deferred read transaction in WAL mode sees one snapshot until it ends.
        await self._db.execute("BEGIN")
        self._in_snapshot = True

    async def close(self) -> None:
        if self._in_snapshot:
            await self._db.execute("COMMIT")
        await self._db.close()


class _PostgresEndpoint(_Endpoint):
    dialect: SqlDialect = "postgres"

    def __init__(self, conn: asyncpg.Connection[Any]) -> None:
        self._conn = conn
        self._snapshot: Any = None

    async def columns(self) -> dict[str, list[str]]:
        rows = await self._conn.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position"
        )
        result: dict[str, list[str]] = {}
        for r in rows:
            if r["table_name"] not in NOT_COPIED:
                result.setdefault(r["table_name"], []).append(r["column_name"])
        return result

    async def applied(self) -> dict[str, tuple[str, str]]:
        exists = await self._conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return {}
        rows = await self._conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        return {r["version"]: (r["name"], r["checksum"]) for r in rows}

    async def count(self, table: Table) -> int:
        value = await self._conn.fetchval(f"SELECT count(*) FROM {table.name}")  # noqa: S608
        return int(value)

    async def read(self, table: Table, after: Sequence[Any] | None, limit: int) -> list[Any]:
        sql = _select(table, after is not None, lambda i: f"${i + 1}")
        return list(await self._conn.fetch(sql, *(after or ()), limit))

    def decode(self, kind: Kind, value: Any) -> Any:
        return value

    async def write(self, table: Table, rows: list[list[Any]]) -> None:
        sql = _insert(table, lambda i: f"${i + 1}")
        async with self._conn.transaction():
            await self._conn.executemany(sql, rows)

    async def begin_snapshot(self) -> None:
        self._snapshot = self._conn.transaction(isolation="repeatable_read", readonly=True)
        await self._snapshot.start()

    async def close(self) -> None:
        if self._snapshot is not None:
            await self._snapshot.commit()
        await self._conn.close()


async def _open(url: str) -> _Endpoint:
    dialect, target = parse_database_url(url)
    if dialect == "sqlite":
        return _SqliteEndpoint(await sqlite_connect(target))
    if dialect == "postgres":
        try:
            conn: asyncpg.Connection[Any] = await asyncpg.connect(target)
            # Session-level system scope for the row-level-security policies.
            await conn.execute("SELECT set_config('app.scope', $1, false)", COPY_SCOPE)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise translate_postgres_error(exc) from exc
        return _PostgresEndpoint(conn)
    raise ConfigurationError("copy-data works between SQLite and PostgreSQL databases only")


def _check_tables(side: str, found: dict[str, list[str]]) -> None:
    registered = {t.name: list(t.column_names) for t in TABLES}
    unknown = sorted(set(found) - set(registered))
    if unknown:
        raise ConfigurationError(
            f"{side} has tables copy-data does not know ({', '.join(unknown)}): register them "
            "in training_analyzer.adapters.sql.schema"
        )
    for name, columns in registered.items():
        if name not in found:
            raise ConfigurationError(f"{side} lacks table {name}: migrate it first")
        if sorted(found[name]) != sorted(columns):
            raise ConfigurationError(
                f"{side} table {name} has columns {found[name]}, the registry {columns}"
            )


def _is_file(path: str) -> bool:
    return Path(path).expanduser().is_file()


async def inspect_tables(url: str) -> dict[str, list[str]]:
    """Every data table of the database at `url` with its columns (for checks and tests)."""
    endpoint = await _open(url)
    try:
        return await endpoint.columns()
    finally:
        await endpoint.close()


async def copy_data(
    *,
    source_url: str,
    target_url: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every table from `source_url` to `target_url` and verify the row counts.

    `progress(table, rows_done, rows_total)` is called at the start of each table and after
    each batch. Re-running after a failure or a completed copy is safe. Raises
    ConfigurationError (bad URLs, same database, source not migrated), Conflict (counts differ
    after the copy; `details["report"]` has them) and ExternalServiceError.
    """
    if batch_size < 1:
        raise ConfigurationError(f"batch size must be at least 1, got {batch_size}")
    if source_url.strip() == target_url.strip():
        raise ConfigurationError("copy-data needs two different databases")
    source_dialect, source_target = parse_database_url(source_url)
    if source_dialect == "sqlite" and not await asyncio.to_thread(_is_file, source_target):
        raise ConfigurationError(f"the source database file {source_target} does not exist")
    await migrate(target_url)
    source = await _open(source_url)
    try:
        target = await _open(target_url)
        try:
            return await _copy(source, target, source_dialect, batch_size, progress)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(
    source: _Endpoint,
    target: _Endpoint,
    source_dialect: str,
    batch_size: int,
    progress: Progress | None,
) -> CopyReport:
    if source_dialect not in ("sqlite", "postgres"):
        raise ConfigurationError("copy-data works between SQLite and PostgreSQL databases only")
    migrations = load_migrations(source.dialect)
    applied = await source.applied()
    verify_applied(applied, migrations)
    missing = [m.name for m in migrations if m.version not in applied]
    if missing:
        raise ConfigurationError(
            f"the source database lacks migrations {', '.join(missing)}: migrate it first"
        )
    _check_tables("the source database", await source.columns())
    _check_tables("the target database", await target.columns())
    try:
        await source.begin_snapshot()
        results = []
        for table in TABLES:
            results.append(await _copy_table(source, target, table, batch_size, progress))
    except sqlite3.Error as exc:
        raise translate_sqlite_error(exc) from exc
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
        raise translate_postgres_error(exc) from exc
    report = CopyReport(tables=results)
    if not report.ok:
        bad = ", ".join(
            f"{t.table} ({t.source_rows} in source, {t.target_rows} in target)"
            for t in results
            if not t.matches
        )
        raise Conflict(f"row counts differ after the copy: {bad}", report=report)
    return report


async def _copy_table(
    source: _Endpoint,
    target: _Endpoint,
    table: Table,
    batch_size: int,
    progress: Progress | None,
) -> TableCopy:
    total = await source.count(table)
    before = await target.count(table)
    if progress is not None:
        progress(table.name, 0, total)
    key_positions = [table.column_names.index(k) for k in table.key]
    kinds = [kind for _, kind in table.columns]
    done = 0
    after: list[Any] | None = None
    while True:
        rows = await source.read(table, after, batch_size)
        if not rows:
            break
        values = [
            [source.decode(kind, raw) for kind, raw in zip(kinds, row, strict=True)] for row in rows
        ]
        await target.write(table, values)
        last = rows[-1]
        after = [last[i] for i in key_positions]
        done += len(rows)
        if progress is not None:
            progress(table.name, done, total)
        if len(rows) < batch_size:
            break
    return TableCopy(
        table=table.name,
        source_rows=total,
        target_rows_before=before,
        target_rows=await target.count(table),
    )
