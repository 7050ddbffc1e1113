"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Response, get
from litestar.di import NamedDependency

from training_analyzer import __version__
from training_analyzer.container import AppContainer
from training_analyzer.core.errors import DomainError
from training_analyzer.entrypoints.http.errors import problem

log = structlog.get_logger(__name__)


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """The process is up."""

    status: str
    version: str


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """Every dependency answered."""

    status: str
    checks: dict[str, str]


@get(
    "/health",
    tags=["health"],
    summary="Liveness: the process answers",
    exclude_from_auth=True,
    security=[{}],
)
async def health() -> Health:
    """Answer 200 while the process runs (no dependency is touched)."""
    return Health(status="ok", version=__version__)


@get(
    "/ready",
    tags=["health"],
    summary="Readiness: every dependency answers",
    exclude_from_auth=True,
    security=[{}],
    responses={},
)
async def ready(container: NamedDependency[AppContainer]) -> Response[Any]:
    """Answer 200 when the database answers, else 503 naming what failed."""
    checks: dict[str, str] = {}
    failed = False
    try:
        storage = await container.storage()
        await storage.ping()
        checks["database"] = "ok"
    except DomainError as exc:
        checks["database"] = exc.message
        failed = True
    except Exception as exc:  # readiness reports any failure instead of crashing the probe
        log.warning("ready.database_failed", error=type(exc).__name__)
        checks["database"] = f"unreachable ({type(exc).__name__})"
        failed = True
    if failed:
        return problem(503, code="not_ready", detail="a dependency is unavailable", checks=checks)
    return Response(Readiness(status="ok", checks=checks))
