"""SQLite storage (aiosqlite): the embedded default, one file, WAL mode.

One connection per storage instance; units of work take an asyncio lock and run as
`BEGIN IMMEDIATE` transactions, so writers never meet the "database is locked" deadlock of a
read transaction upgraded to a write. Several processes on one file (e.g. `serve` with two
workers) queue on SQLite's file lock, waiting up to the busy timeout. Connection settings:
`journal_mode=WAL` (readers do not block the writer), `foreign_keys=ON` (cascades and
tenancy-preserving references), `busy_timeout=5000`, `synchronous=NORMAL` (in WAL mode a power
loss can lose the last commits but never corrupts the file).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from training_analyzer.adapters.sql.dialect import PASS_THROUGH, Params, Query, Row, Scope, plain
from training_analyzer.adapters.sql.repositories import SqlUnitOfWork, transaction_scope
from training_analyzer.core.errors import (
    ConfigurationError,
    Conflict,
    DomainError,
    ExternalServiceError,
    InvalidInput,
    NotFound,
)
from training_analyzer.core.pagination import from_micros, to_micros
from training_analyzer.ports.storage import SystemUnitOfWork, UnitOfWork

BUSY_TIMEOUT_MS = 5000


def sqlite_value(value: object) -> object:
    """A Python value as SQLite stores it (see `adapters.sql.dialect`)."""
    if type(value) in PASS_THROUGH:
        return value
    value = plain(value)
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _encode(params: Params | None) -> dict[str, object]:
    if params is None:
        return {}
    passing = PASS_THROUGH
    return {k: v if type(v) in passing else sqlite_value(v) for k, v in params.items()}


def translate_sqlite_error(exc: sqlite3.Error) -> DomainError:
    """The core error for a sqlite3 error."""
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        if message.startswith("UNIQUE") or "PRIMARY KEY" in message:
            return Conflict(f"duplicate: {message}")
        if "FOREIGN KEY" in message:
            return NotFound(f"referenced row missing: {message}")
        return InvalidInput("value", message)
    if "no such table" in message:
        return ConfigurationError(
            f"the database has no schema ({message}): run `training-analyzer migrate`"
        )
    return ExternalServiceError(f"SQLite failed: {message}")


class SqliteConnection:
    """`SqlConnection` over one aiosqlite connection (inside a transaction of the storage)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.closed = False

    @property
    def dialect(self) -> Literal["sqlite"]:
        """Always "sqlite"."""
        return "sqlite"

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("this unit of work has already ended")

    async def fetch(self, query: Query, params: Params | None = None) -> list[Row]:
        """All rows."""
        self._check()
        try:
            rows = await self._db.execute_fetchall(query.text, _encode(params))
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc) from exc
        return list(rows)

    async def fetchrow(self, query: Query, params: Params | None = None) -> Row | None:
        """The first row, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def execute(self, query: Query, params: Params | None = None) -> None:
        """Run a statement."""
        await self.fetch(query, params)

    async def executemany(self, query: Query, rows: Sequence[Params]) -> None:
        """Run a statement for each parameter set."""
        self._check()
        # Each row is its own statement to SQLite: a savepoint makes the batch all or nothing.
        await self._db.execute("SAVEPOINT executemany")
        try:
            cursor = await self._db.executemany(query.text, [_encode(r) for r in rows])
            await cursor.close()
        except sqlite3.Error as exc:
            await self._db.execute("ROLLBACK TO executemany")
            await self._db.execute("RELEASE executemany")
            raise translate_sqlite_error(exc) from exc
        await self._db.execute("RELEASE executemany")

    def time(self, value: Any) -> datetime:
        """Microseconds since the epoch as an aware UTC datetime."""
        return from_micros(int(value))

    def day(self, value: Any) -> date:
        """ISO text as a date."""
        return date.fromisoformat(value)

    def flag(self, value: Any) -> bool:
        """0/1 as a bool."""
        return bool(value)


def _prepare_file(path: str) -> str:
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    return str(file)


async def connect(path: str) -> aiosqlite.Connection:
    """Open a SQLite connection with the project's settings (WAL, foreign keys, busy timeout)."""
    try:
        location = path if path == ":memory:" else await asyncio.to_thread(_prepare_file, path)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the SQLite database at {path}: {exc}") from exc
    try:
        db = await aiosqlite.connect(location, isolation_level=None)
    except sqlite3.Error as exc:
        raise ExternalServiceError(f"cannot open SQLite database {path}: {exc}") from exc
    db.row_factory = sqlite3.Row
    try:
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await _enable_wal(db)
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        await db.close()
        raise translate_sqlite_error(exc) from exc
    except BaseException:
        await db.close()
        raise
    return db


async def _enable_wal(db: aiosqlite.Connection) -> None:
    """Switch a new file to WAL; retry while another connection is switching it at once.

    The switch needs an exclusive lock and SQLite does not run the busy handler for it, so
    two processes opening a fresh file together would otherwise see "database is locked".
    WAL is stored in the file: once any connection has switched it, the rest find it set.
    """
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            async with db.execute("PRAGMA journal_mode = WAL") as cursor:
                await cursor.fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)


class SqliteStorage:
    """The storage port on a SQLite file."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, *, path: str) -> SqliteStorage:
        """Open (creating parent directories and the file if needed) the database at `path`.

        Does not migrate: call `adapters.sql.migrate.migrate` first.
        """
        return cls(await connect(path), path)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def ping(self) -> None:
        """Check the database answers."""
        try:
            await self._db.execute_fetchall("SELECT 1")
        except (sqlite3.Error, ValueError) as exc:
            raise ExternalServiceError(f"SQLite does not answer: {exc}") from exc

    def unit_of_work(self, *, user_id: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction acting as `user_id`."""
        return self._transaction(Scope.user(user_id))

    def system(self, *, reason: str) -> AbstractAsyncContextManager[SystemUnitOfWork]:
        """A transaction in the system scope."""
        return self._transaction(Scope.system(reason))

    @asynccontextmanager
    async def _transaction(self, scope: Scope) -> AsyncIterator[SqlUnitOfWork]:
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate_sqlite_error(exc) from exc
            conn = SqliteConnection(self._db)

            async def end(commit: bool) -> None:
                conn.closed = True
                try:
                    await self._db.execute("COMMIT" if commit else "ROLLBACK")
                except sqlite3.Error as exc:
                    if commit:
                        # A failed COMMIT leaves the transaction open; close it before leaving.
                        await self._db.execute("ROLLBACK")
                    raise translate_sqlite_error(exc) from exc

            async with transaction_scope(SqlUnitOfWork(conn, scope, end)) as uow:
                yield uow
