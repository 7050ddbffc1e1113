"""The Litestar application: `create_app(container)` builds it; uvicorn serves `app_factory`."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders, State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from training_analyzer import __version__
from training_analyzer.container import AppContainer, build_container
from training_analyzer.core.errors import DomainError
from training_analyzer.entrypoints.http.auth import (
    CONTAINER_STATE_KEY,
    SCHEMA_PATH,
    provide_claims,
    provide_client,
    require_bearer,
)
from training_analyzer.entrypoints.http.errors import (
    domain_error_handler,
    http_exception_handler,
    internal_error_handler,
)
from training_analyzer.entrypoints.http.routes import activities as activity_routes
from training_analyzer.entrypoints.http.routes import admin as admin_routes
from training_analyzer.entrypoints.http.routes import admin_billing as admin_billing_routes
from training_analyzer.entrypoints.http.routes import analytics as analytics_routes
from training_analyzer.entrypoints.http.routes import athletes as athlete_routes
from training_analyzer.entrypoints.http.routes import auth as auth_routes
from training_analyzer.entrypoints.http.routes import billing as billing_routes
from training_analyzer.entrypoints.http.routes import export as export_routes
from training_analyzer.entrypoints.http.routes import me as me_routes
from training_analyzer.entrypoints.http.routes import plans as plans_routes
from training_analyzer.entrypoints.http.routes import usage as usage_routes
from training_analyzer.entrypoints.http.routes.health import health, ready
from training_analyzer.entrypoints.http.security import cors_config, security_headers
from training_analyzer.logging import configure_logging
from training_analyzer.services.accounts import AccountService
from training_analyzer.services.admin import AdminService
from training_analyzer.settings import load_settings

log = structlog.get_logger(__name__)

# Bodies larger than this are refused with 413 before a handler runs (uploads set their own).
DEFAULT_MAX_BODY_BYTES = 1_048_576
# Expired sign-in flows, rate-limit windows and sessions are deleted this often (each instance
# purges; the deletes are idempotent).
PURGE_INTERVAL_S: Final = 600.0


async def _purge_periodically(container: AppContainer, interval_s: float) -> None:
    """Delete expired auth rows every `interval_s` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            accounts = await container.accounts()
            counts = await accounts.purge_expired()
            log.info("auth.purged", **counts)
        except Exception as exc:  # a failed purge must not end the loop; the next one retries
            log.warning("auth.purge_failed", error=type(exc).__name__)


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

    settings = container.settings

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if manage_container:
            await container.start()
        purger = asyncio.create_task(_purge_periodically(container, PURGE_INTERVAL_S))
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            if manage_container:
                await container.stop()

    async def provide_container() -> AppContainer:
        return container

    async def provide_accounts() -> AccountService:
        return await container.accounts()

    async def provide_admin() -> AdminService:
        return await container.admin()

    config = AppConfig(
        route_handlers=[
            health,
            ready,
            *auth_routes.ROUTES,
            *me_routes.ROUTES,
            *admin_routes.ROUTES,
            *plans_routes.ROUTES,
            *billing_routes.ROUTES,
            *usage_routes.ROUTES,
            *export_routes.ROUTES,
            *admin_billing_routes.ROUTES,
            activity_routes.upload_router(max_upload_bytes=settings.max_upload_bytes),
            *activity_routes.ROUTES,
            *athlete_routes.ROUTES,
            *analytics_routes.ROUTES,
        ],
        dependencies={
            "container": Provide(provide_container, use_cache=True),
            "accounts": Provide(provide_accounts),
            "admin": Provide(provide_admin),
            "claims": Provide(provide_claims),
            "client": Provide(provide_client),
        },
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        lifespan=[lifespan],
        middleware=[request_context_middleware],
        guards=[require_bearer],
        before_send=[security_headers(production=settings.is_production)],
        cors_config=cors_config(settings),
        state=State({CONTAINER_STATE_KEY: container}),
        request_max_body_size=DEFAULT_MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Training Analyzer API",
            version=__version__,
            description=(
                "Training-load metrics (TRIMP, hrTSS, NP/IF/TSS, CTL/ATL/TSB), an AI coach and "
                "subscriptions for endurance athletes. Errors are RFC 9457 problem details. "
                "Every route needs `Authorization: Bearer <access token>` unless marked public "
                "(no security requirement); get tokens from /auth/login, /auth/register or "
                "/auth/google/login."
            ),
            path=SCHEMA_PATH,
            render_plugins=[ScalarRenderPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="A 15-minute access token from the /auth routes.",
                    )
                }
            ),
            security=[{"BearerToken": []}],
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
