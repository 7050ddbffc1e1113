"""Storage contract fixtures: one suite over memory, SQLite and PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_DSN (a superuser or schema owner: it creates a schema per
test session, migrates it, and drops it at the end, so parallel runs and reruns never collide).
Tests reach it through the non-superuser role training_analyzer_app, as the application does,
so row-level security is in force. If the server is unreachable or the variable unset, the
postgres ids skip with the reason; with CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.adapters.sql.postgres import APP_ROLE, PostgresStorage
from training_analyzer.adapters.sql.schema import TABLES, TRANSIENT_TABLES
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.ports.storage import Storage

POSTGRES_DSN_ENV = "TEST_POSTGRES_DSN"


def run_sync[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running.

    Session fixtures are first requested from inside async fixtures (getfixturevalue), where
    asyncio.run would refuse; a worker thread has no running loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true requires PostgreSQL: {reason}", pytrace=False)
    pytest.skip(reason)


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.username or ''}@{host}{port}{parts.path}"


def with_search_path(dsn: str, schema: str) -> str:
    """`dsn` with asyncpg's search_path server setting pointed at `schema`."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _admin_execute(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    """The DSN of the test server (skips, or fails with CI=true, when unavailable)."""
    dsn = os.environ.get(POSTGRES_DSN_ENV, "").strip()
    if not dsn:
        _unavailable(f"{POSTGRES_DSN_ENV} is not set")
    try:
        run_sync(_admin_execute(dsn, "SELECT 1"))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _unavailable(f"PostgreSQL at {_redact(dsn)} is unreachable: {type(exc).__name__}: {exc}")
    return dsn


def _new_schema_name() -> str:
    return f"ta_test_{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def postgres_dsn(postgres_admin_dsn: str) -> Iterator[str]:
    """A migrated schema for this test session, dropped at the end."""
    schema = _new_schema_name()
    run_sync(_admin_execute(postgres_admin_dsn, f'CREATE SCHEMA "{schema}"'))
    dsn = with_search_path(postgres_admin_dsn, schema)
    try:
        run_sync(migrate(dsn))
        yield dsn
    finally:
        run_sync(_admin_execute(postgres_admin_dsn, f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def empty_postgres_dsn(postgres_admin_dsn: str) -> Iterator[str]:
    """A new, empty schema for one test (migration tests), dropped afterwards."""
    schema = _new_schema_name()
    run_sync(_admin_execute(postgres_admin_dsn, f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(postgres_admin_dsn, schema)
    finally:
        run_sync(_admin_execute(postgres_admin_dsn, f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_sync(migrate(f"sqlite:///{path}"))
    return path


@dataclass
class Backend:
    """The storage under test and how to reach its database again."""

    name: str
    storage: Storage
    url: str | None
    _open: Callable[[], Awaitable[Storage]]
    _opened: list[Storage] = field(default_factory=list)

    async def open_another(self) -> Storage:
        """Another storage instance on the same database (memory: the same instance)."""
        other = await self._open()
        if other is not self.storage:
            self._opened.append(other)
        return other

    async def close(self) -> None:
        """Close every storage this backend opened."""
        for s in [*self._opened, self.storage]:
            await s.close()


async def _truncate(dsn: str) -> None:
    # Every table, the transient ones (sign-in flows, rate-limit windows) included, so no
    # test sees another's counters.
    names = ", ".join(t.name for t in (*TABLES, *TRANSIENT_TABLES))
    await _admin_execute(dsn, f"TRUNCATE {names} CASCADE")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The storage under test, one id per adapter."""
    match request.param:
        case "memory":
            memory = InMemoryStorage()

            async def same() -> Storage:
                return memory

            b = Backend("memory", memory, None, same)
        case "sqlite":
            path = tmp_path / "contract.db"
            template: Path = request.getfixturevalue("sqlite_template")
            await asyncio.to_thread(shutil.copyfile, template, path)

            async def open_sqlite() -> Storage:
                return await SqliteStorage.open(path=str(path))

            b = Backend("sqlite", await open_sqlite(), f"sqlite:///{path}", open_sqlite)
        case "postgres":
            dsn: str = request.getfixturevalue("postgres_dsn")
            await _truncate(dsn)

            async def open_postgres() -> Storage:
                return await PostgresStorage.open(dsn=dsn, app_role=APP_ROLE, max_size=10)

            b = Backend("postgres", await open_postgres(), dsn, open_postgres)
        case other:
            raise AssertionError(other)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def storage(backend: Backend) -> Storage:
    """The storage port under test."""
    return backend.storage
