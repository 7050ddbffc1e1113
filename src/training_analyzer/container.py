"""The composition root: the only place adapters are chosen, from settings.

Embedders and entrypoints call `build_container(settings)`, then `await container.start()`
(opens pools, applies nothing else) and `await container.stop()` when done, or use
`async with running(settings) as container:`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from dependency_injector import containers, providers

from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.postgres import PostgresStorage
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.adapters.system_clock import SystemClock
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage
from training_analyzer.settings import Settings

log = structlog.get_logger(__name__)


async def _open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """The storage resource: one adapter chosen by TA_DATABASE_URL, closed on shutdown.

    One Resource that matches on the URL, rather than a Selector over three Resources,
    because `init_resources()` initialises every Resource it can reach, selected or not.
    """
    dialect, location = parse_database_url(settings.effective_database_url)
    storage: Storage
    match dialect:
        case "memory":
            log.warning("storage.in_memory", detail="data lives in this process only")
            storage = InMemoryStorage()
        case "sqlite":
            storage = await SqliteStorage.open(path=location)
            log.info("storage.opened", dialect="sqlite", path=location)
        case _:
            storage = await PostgresStorage.open(dsn=location)
            log.info("storage.opened", dialect="postgres")
    try:
        yield storage
    finally:
        await storage.close()


class Container(containers.DeclarativeContainer):
    """Providers for every port, each chosen by settings."""

    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Clock] = providers.Singleton(SystemClock)
    storage: providers.Provider[Storage] = providers.Resource(_open_storage, settings)


class AppContainer:
    """A started container's typed facade: what entrypoints and embedders use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._di = Container(settings=settings)

    async def start(self) -> None:
        """Open resources (database pools)."""
        result = self._di.init_resources()
        if inspect.isawaitable(result):
            await result

    async def stop(self) -> None:
        """Close resources."""
        result = self._di.shutdown_resources()
        if inspect.isawaitable(result):
            await result

    async def storage(self) -> Storage:
        """The storage adapter selected by TA_DATABASE_URL."""
        return await resolve(self._di.storage)

    def clock(self) -> Clock:
        """The clock."""
        value: Clock = self._di.clock()
        return value

    def override(self, name: str, instance: Any) -> None:
        """Replace one port with an instance (tests and embedders use this for fakes)."""
        getattr(self._di, name).override(providers.Object(instance))


async def resolve[T](provider: providers.Provider[T]) -> T:
    """Call a provider, awaiting the result when it is an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    result: T = value
    return result


def build_container(settings: Settings) -> AppContainer:
    """Wire every adapter the settings select; call `start()` before use."""
    return AppContainer(settings)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AppContainer]:
    """A started container for the duration of the block (the embedding entry point)."""
    container = build_container(settings)
    await container.start()
    try:
        yield container
    finally:
        await container.stop()
