"""Production-only headers and CORS from settings, through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import BASE_URL, make_container, make_settings
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Environment

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
async def production(db_path: Path, clock: FakeClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A production-configured app (its container is not started: /health needs none)."""
    settings = make_settings(
        db_path, env=Environment.PRODUCTION, public_base_url="https://api.example.com"
    )
    app = create_app(make_container(settings, clock), manage_container=False)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def with_cors(db_path: Path, clock: FakeClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app that lets one browser origin call it."""
    settings = make_settings(db_path, cors_origins=(APP_ORIGIN,))
    app = create_app(make_container(settings, clock), manage_container=False)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        yield client


async def test_production_answers_carry_strict_transport_security(
    production: AsyncTestClient[Litestar],
) -> None:
    for response in [await production.get("/health"), await production.get("/me")]:
        # Two years with subdomains (OWASP HTTP Headers Cheat Sheet).
        assert response.headers["strict-transport-security"] == (
            "max-age=63072000; includeSubDomains"
        )
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_allowed_origin_gets_cors_headers_on_preflight_and_answers(
    with_cors: AsyncTestClient[Litestar],
) -> None:
    preflight = await with_cors.options(
        "/auth/login",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code in {200, 204}
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers
    answer = await with_cors.get("/health", headers={"Origin": APP_ORIGIN})
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Retry-After" in answer.headers["access-control-expose-headers"]


async def test_another_origin_gets_no_cors_headers(with_cors: AsyncTestClient[Litestar]) -> None:
    answer = await with_cors.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers
    preflight = await with_cors.options(
        "/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_without_configured_origins_there_is_no_cors_at_all(
    client: AsyncTestClient[Litestar],
) -> None:
    answer = await client.get("/health", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in answer.headers
