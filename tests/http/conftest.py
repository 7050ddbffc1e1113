"""HTTP tests run the ASGI app in-process on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.container import AppContainer, build_container
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Environment, Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh SQLite file."""
    return Settings(env=Environment.TEST, database_url=f"sqlite:///{tmp_path / 'api.db'}")


@pytest.fixture
async def container(settings: Settings) -> AppContainer:
    """A container over the migrated test database (the app's lifespan starts it)."""
    await migrate(settings.effective_database_url)
    return build_container(settings)


@pytest.fixture
async def client(container: AppContainer) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An async client running the app's lifespan."""
    async with AsyncTestClient(app=create_app(container)) as test_client:
        yield test_client
