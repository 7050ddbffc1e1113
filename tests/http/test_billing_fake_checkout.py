"""The demo upgrade of `make run`: without a Stripe key the fake gateway stands in, its checkout
URL is the app's own page, and confirming there sends the fake's signed Stripe webhooks through
the same handler as Stripe's. Prices are the tier table's (Pro $9.99 a month, core/tiers.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from tests.http.conftest import BASE_URL, bearer, make_container, make_settings, register
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.payments import FakePaymentGateway
from training_analyzer.container import AppContainer, build_container
from training_analyzer.core.errors import ConfigurationError
from training_analyzer.settings import Environment


async def test_the_fake_checkout_page_completes_an_upgrade(
    client: AsyncTestClient[Litestar], container: AppContainer
) -> None:
    auth = bearer((await register(client, "demo@example.com"))["access_token"])
    response = await client.post(
        "/billing/checkout", json={"plan": "pro", "period": "month"}, headers=auth
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == f"{BASE_URL}/billing/fake-checkout/{body['session_id']}"
    path = body["url"].removeprefix(BASE_URL)
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Pro" in page.text
    assert "$9.99" in page.text
    assert '<form method="post">' in page.text
    done = await client.post(path, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"{BASE_URL}/billing/return?result=success"
    subscription = (await client.get("/me/subscription", headers=auth)).json()
    assert (subscription["plan"], subscription["status"]) == ("pro", "active")
    # The account's summary follows (GET /me reads the one-row subscription summary).
    assert (await client.get("/me", headers=auth)).json()["tier"] == "pro"
    # The same session cannot be paid twice.
    again = await client.post(path, follow_redirects=False)
    assert again.status_code == 409
    assert isinstance(container.payments(), FakePaymentGateway)


async def test_an_unknown_fake_session_is_404(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/billing/fake-checkout/cs_test_nothing")).status_code == 404
    assert (await client.post("/billing/fake-checkout/cs_test_nothing")).status_code == 404


async def test_the_return_page_says_what_happens_next(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/billing/return?result=cancel")
    assert page.status_code == 200
    assert "Nothing was charged" in page.text


async def test_the_start_up_log_says_the_fake_stands_in(db_path: Path, clock: FakeClock) -> None:
    container = make_container(make_settings(db_path, database_url="memory://"), clock)
    with capture_logs() as logs:
        await container.start()
    try:
        assert any(e["event"] == "billing.fake_payments" for e in logs)
    finally:
        await container.stop()


def test_production_refuses_the_fake_payment_provider(db_path: Path) -> None:
    settings = make_settings(
        db_path, env=Environment.PRODUCTION, public_base_url="https://api.example.com"
    )
    with pytest.raises(ConfigurationError, match="TA_STRIPE_SECRET_KEY"):
        build_container(settings).payments()
