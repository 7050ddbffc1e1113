"""The Litestar application: `create_app(container)` builds it; uvicorn serves `app_factory`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, YamlRenderPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from training_analyzer import __version__
from training_analyzer.container import AppContainer, build_container
from training_analyzer.core.errors import DomainError
from training_analyzer.entrypoints.http.errors import (
    domain_error_handler,
    http_exception_handler,
    internal_error_handler,
)
from training_analyzer.entrypoints.http.routes.health import health, ready
from training_analyzer.logging import configure_logging
from training_analyzer.settings import load_settings

log = structlog.get_logger(__name__)

# Bodies larger than this are refused with 413 before a handler runs (uploads set their own).
DEFAULT_MAX_BODY_BYTES = 1_048_576


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (echoed as X-Request-ID), bind it to logs, log the outcome."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            log.info(
                "http.request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    return middleware


def create_app(container: AppContainer, *, manage_container: bool = True) -> Litestar:
    """Build the HTTP app around a container (started and stopped by the app's lifespan)."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if manage_container:
            await container.start()
        try:
            yield
        finally:
            if manage_container:
                await container.stop()

    async def provide_container() -> AppContainer:
        return container

    config = AppConfig(
        route_handlers=[health, ready],
        dependencies={"container": Provide(provide_container, use_cache=True)},
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        lifespan=[lifespan],
        middleware=[request_context_middleware],
        request_max_body_size=DEFAULT_MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Training Analyzer API",
            version=__version__,
            description=(
                "Training-load metrics (TRIMP, hrTSS, NP/IF/TSS, CTL/ATL/TSB), an AI coach and "
                "subscriptions for endurance athletes. Errors are RFC 9457 problem details."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        debug=False,
    )
    return Litestar.from_config(config)


def app_factory() -> Litestar:
    """uvicorn's factory: settings from the environment, a fresh container per process."""
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    return create_app(build_container(settings))


__all__: list[Any] = ["app_factory", "create_app"]
