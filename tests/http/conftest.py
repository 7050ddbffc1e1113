"""HTTP tests run the ASGI app in-process on a real SQLite file.

The container is the production one with three substitutions a test needs: a fake clock (token
expiry without sleeping), a cheap Argon2id hasher (same code, tiny cost parameters) and fixed
signing keys (so two app instances accept each other's tokens).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from training_analyzer.adapters.identity.passwords import Argon2PasswordHasher
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.container import AppContainer, build_container
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Environment, Secret, Settings

BASE_URL = "http://testserver.local"
JWT_KEYS = Secret("test-key-1:" + "k" * 48)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """CLI tests configure logging on a captured stream; later tests must not write to it."""
    root = logging.getLogger()
    level = root.level
    yield
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if getattr(handler, "_training_analyzer", False):
            root.removeHandler(handler)
    root.setLevel(level)


def cheap_hasher() -> Argon2PasswordHasher:
    """Argon2id with the smallest parameters RFC 9106 allows: the same code path, fast."""
    return Argon2PasswordHasher(time_cost=1, memory_cost_kib=64, parallelism=1)


def make_settings(db: Path, **overrides: Any) -> Settings:
    """Test settings on the SQLite file `db` with fixed signing keys."""
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": f"sqlite:///{db}",
        "jwt_keys": JWT_KEYS,
        "public_base_url": BASE_URL,
    }
    values.update(overrides)
    return Settings(**values)


def make_container(settings: Settings, clock: FakeClock) -> AppContainer:
    """The production container with the test clock and the cheap hasher."""
    container = build_container(settings)
    container.override("clock", clock)
    container.override("passwords", cheap_hasher())
    return container


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The SQLite file of the test."""
    return tmp_path / "api.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    """Settings pointing at a fresh SQLite file."""
    return make_settings(db_path)


@pytest.fixture
def clock() -> FakeClock:
    """The time the app sees; tests move it forward."""
    return FakeClock(START)


@pytest.fixture
async def container(settings: Settings, clock: FakeClock) -> AppContainer:
    """A container over the migrated test database (the app's lifespan starts it)."""
    await migrate(settings.effective_database_url)
    return make_container(settings, clock)


@pytest.fixture
async def client(container: AppContainer) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An async client running the app's lifespan."""
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Register through the API; return the token response."""
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# The PostgreSQL fixtures of the storage suite (a migrated schema per session; skipped when the
# server is unreachable, a failure with CI=true).
from tests.contract.conftest import postgres_admin_dsn, postgres_dsn  # noqa: E402

__all__ = ["postgres_admin_dsn", "postgres_dsn"]
