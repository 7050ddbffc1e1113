"""PostgreSQL storage (asyncpg pool) with row-level security as a second wall.

Each unit of work is one transaction on a pooled connection that starts with
`set_config('app.user_id', <acting user>, true)` and `set_config('app.scope', ..., true)`:
transaction-local settings that the RLS policies of every user-owned table compare against
(see migrations/0002_row_level_security.postgres.sql). They vanish at commit or rollback, so a
pooled connection never carries one request's identity into the next.

Policies bind only roles without BYPASSRLS that are not superusers. The app therefore works as
the non-superuser role `training_analyzer_app` (created by the migrations): connect as a login
role that is a member of it and pass `app_role="training_analyzer_app"` (each pooled connection
then runs `SET ROLE`), or connect directly as a login role that has only its privileges.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from training_analyzer.adapters.sql.dialect import Params, Query, Row, Scope, plain
from training_analyzer.adapters.sql.repositories import SqlUnitOfWork, transaction_scope
from training_analyzer.core.errors import (
    ConfigurationError,
    Conflict,
    DomainError,
    ExternalServiceError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from training_analyzer.ports.storage import SystemUnitOfWork, UnitOfWork

APP_ROLE = "training_analyzer_app"
_SET_SCOPE = "SELECT set_config('app.user_id', $1, true), set_config('app.scope', $2, true)"
# Driver errors, plus those meaning the server could not be reached or dropped the connection.
DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
)


def translate_postgres_error(exc: BaseException) -> DomainError:
    """The core error for an asyncpg or connection error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(f"duplicate: {exc.constraint_name or exc}")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFound(f"referenced row missing: {exc.constraint_name or exc}")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return Forbidden(f"refused by the database: {exc}")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError | asyncpg.DataError):
        return InvalidInput("value", str(exc))
    if isinstance(exc, asyncpg.UndefinedTableError):
        return ConfigurationError(
            f"the database has no schema ({exc}): run `training-analyzer migrate`"
        )
    if isinstance(
        exc, asyncpg.InvalidCatalogNameError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return ConfigurationError(f"cannot use the configured PostgreSQL database: {exc}")
    return ExternalServiceError(f"PostgreSQL failed: {type(exc).__name__}: {exc}")


def _args(query: Query, params: Params | None) -> tuple[str, list[object]]:
    sql, names = query.postgres
    if not names:
        return sql, []
    assert params is not None, f"parameters missing for {query!r}"
    return sql, [plain(params[name]) for name in names]


class PostgresConnection:
    """`SqlConnection` over one asyncpg connection inside a transaction."""

    def __init__(self, conn: PoolConnectionProxy[Any] | asyncpg.Connection[Any]) -> None:
        self.raw = conn
        self.closed = False

    @property
    def dialect(self) -> Literal["postgres"]:
        """Always "postgres"."""
        return "postgres"

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("this unit of work has already ended")

    async def fetch(self, query: Query, params: Params | None = None) -> list[Row]:
        """All rows."""
        self._check()
        sql, args = _args(query, params)
        try:
            if query.is_write:
                async with self.raw.transaction():  # a savepoint inside the unit of work
                    return list(await self.raw.fetch(sql, *args))
            return list(await self.raw.fetch(sql, *args))
        except DB_ERRORS as exc:
            raise translate_postgres_error(exc) from exc

    async def fetchrow(self, query: Query, params: Params | None = None) -> Row | None:
        """The first row, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def execute(self, query: Query, params: Params | None = None) -> None:
        """Run a statement."""
        await self.fetch(query, params)

    async def executemany(self, query: Query, rows: Sequence[Params]) -> None:
        """Run a statement for each parameter set (pipelined by asyncpg), all or nothing."""
        self._check()
        sql, names = query.postgres
        try:
            async with self.raw.transaction():
                await self.raw.executemany(sql, [[plain(r[n]) for n in names] for r in rows])
        except DB_ERRORS as exc:
            raise translate_postgres_error(exc) from exc

    def time(self, value: Any) -> datetime:
        """timestamptz arrives as an aware UTC datetime."""
        result: datetime = value
        return result

    def day(self, value: Any) -> date:
        """date arrives as a date."""
        result: date = value
        return result

    def flag(self, value: Any) -> bool:
        """boolean arrives as a bool."""
        return bool(value)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _RoleInit:
    """Pool `init` callback: switch each new connection to the application role."""

    def __init__(self, app_role: str | None) -> None:
        self._app_role = app_role

    async def __call__(self, conn: asyncpg.Connection[asyncpg.Record], /) -> None:
        if self._app_role:
            # Session-level, and asyncpg's reset on release (RESET ALL) keeps it.
            await conn.execute(f"SET ROLE {_quote_ident(self._app_role)}")


class PostgresStorage:
    """The storage port on PostgreSQL through an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls,
        *,
        dsn: str,
        app_role: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> PostgresStorage:
        """Open a pool on `dsn`; with `app_role`, every connection works as that role.

        Raises ExternalServiceError if the server cannot be reached, ConfigurationError if the
        database or role is wrong.
        """
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                init=_RoleInit(app_role),
                statement_cache_size=512,
            )
        except (asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError) as exc:
            raise ExternalServiceError(f"PostgreSQL refused connections: {exc}") from exc
        except asyncpg.PostgresError as exc:
            # Wrong password, database or role: the settings, not the server, are at fault.
            raise ConfigurationError(f"cannot open the PostgreSQL database: {exc}") from exc
        except DB_ERRORS as exc:
            raise translate_postgres_error(exc) from exc
        return cls(pool)

    async def close(self) -> None:
        """Close the pool."""
        await self._pool.close()

    async def ping(self) -> None:
        """Check the database answers."""
        try:
            async with self._pool.acquire(timeout=5) as conn:
                await conn.fetchval("SELECT 1")
        except DB_ERRORS as exc:
            raise ExternalServiceError(f"PostgreSQL does not answer: {exc}") from exc

    def unit_of_work(self, *, user_id: str) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction acting as `user_id`."""
        return self._transaction(Scope.user(user_id))

    def system(self, *, reason: str) -> AbstractAsyncContextManager[SystemUnitOfWork]:
        """A transaction in the system scope (RLS admits every row)."""
        return self._transaction(Scope.system(reason))

    @asynccontextmanager
    async def _transaction(self, scope: Scope) -> AsyncIterator[PostgresUnitOfWork]:
        try:
            raw = await self._pool.acquire()
        except DB_ERRORS as exc:
            raise translate_postgres_error(exc) from exc
        try:
            conn = PostgresConnection(raw)
            tx = raw.transaction()
            try:
                await tx.start()
                await raw.fetchrow(_SET_SCOPE, scope.user_id or "", scope.setting)
            except DB_ERRORS as exc:
                with suppress(Exception):
                    await tx.rollback()
                raise translate_postgres_error(exc) from exc

            async def end(commit: bool) -> None:
                conn.closed = True
                try:
                    await (tx.commit() if commit else tx.rollback())
                except DB_ERRORS as exc:
                    raise translate_postgres_error(exc) from exc

            async with transaction_scope(PostgresUnitOfWork(conn, scope, end)) as uow:
                yield uow
        finally:
            await self._pool.release(raw)


class PostgresUnitOfWork(SqlUnitOfWork):
    """A unit of work that also exposes its connection, for adapter-level checks and tests."""

    def __init__(
        self, conn: PostgresConnection, scope: Scope, end: Callable[[bool], Awaitable[None]]
    ) -> None:
        super().__init__(conn, scope, end)
        self.connection = conn.raw
