"""Liveness, readiness, OpenAPI and the problem-details error shape."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from training_analyzer import __version__
from training_analyzer.container import build_container
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Environment, Settings


async def test_health_answers_ok_with_the_version(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    assert len(response.headers["x-request-id"]) == 32


async def test_ready_checks_the_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_ready_is_503_with_a_problem_body_when_the_database_is_down() -> None:
    # Port 9 (discard) on loopback: nothing listens, so the pool cannot connect.
    settings = Settings(env=Environment.TEST, database_url="postgresql://nobody@127.0.0.1:9/none")
    container = build_container(settings)
    async with AsyncTestClient(app=create_app(container, manage_container=False)) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "not_ready"
    assert body["checks"]["database"] != "ok"


async def test_openapi_schema_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Training Analyzer API"
    assert {"/health", "/ready"} <= set(schema["paths"])
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


async def test_unknown_route_is_a_problem_body(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert body["title"] == "Not Found"


async def test_wrong_method_is_a_problem_body(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/health", content=b"{}")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
