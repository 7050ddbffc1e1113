"""Billing through HTTP with the real Stripe adapter against the loopback fake Stripe API.

The app is the production one with TA_STRIPE_SECRET_KEY set and TA_STRIPE_API_BASE_URL pointed
at tests/fakeservers/stripe.py, so stripe-python's async client sends form-encoded requests
over real HTTP. Webhook bodies are hand-written in Stripe's event shape
(docs.stripe.com/api/events/object) by the fake server's builders and signed as Stripe signs
them (docs.stripe.com/webhooks#verify-manually: `t=<unix>,v1=<hex HMAC-SHA256(secret,
f"{t}.{body}")>`); a signature older than 300 s is stale (stripe-python's DEFAULT_TOLERANCE).
Prices are the tier table's: Pro $9.99 a month, Coach $299.90 a year (core/tiers.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from tests.fakeservers.stripe import (
    FakePrice,
    FakeStripeServer,
    event_payload,
    invoice_object,
    price_object,
    running_stripe_server,
    sign_payload,
    subscription_object,
)
from tests.http.conftest import BASE_URL, bearer, make_container, make_settings, register
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.container import AppContainer
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Secret

API_KEY = "sk_test_51HttpBillingSuite"
WEBHOOK_SECRET = "whsec_http_billing_suite"
PRICES = {
    "price_1ProMonth": FakePrice(amount_cents=999, interval="month"),
    "price_1ProYear": FakePrice(amount_cents=9_990, interval="year"),
    "price_1CoachMonth": FakePrice(amount_cents=2_999, interval="month"),
    "price_1CoachYear": FakePrice(amount_cents=29_990, interval="year"),
}


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripeServer]:
    """One loopback fake Stripe for the module; each test resets it."""
    with running_stripe_server(api_key=API_KEY, prices=PRICES) as server:
        yield server


class Shop:
    """The app on real Stripe code, the fake Stripe behind it, and helpers to drive both."""

    def __init__(
        self,
        client: AsyncTestClient[Litestar],
        container: AppContainer,
        stripe: FakeStripeServer,
        clock: FakeClock,
    ) -> None:
        self.client = client
        self.container = container
        self.stripe = stripe
        self.clock = clock

    async def user(self, email: str) -> dict[str, str]:
        tokens = await register(self.client, email)
        return bearer(tokens["access_token"])

    def signed(self, payload: bytes, *, at_s: int | None = None) -> dict[str, str]:
        timestamp = int(self.clock.now().timestamp()) if at_s is None else at_s
        return {
            "Stripe-Signature": sign_payload(payload, secret=WEBHOOK_SECRET, timestamp=timestamp),
            "Content-Type": "application/json",
        }

    async def post_event(self, payload: bytes, **kw: Any) -> Any:
        return await self.client.post(
            "/webhooks/stripe", content=payload, headers=self.signed(payload, **kw)
        )

    async def deliver(self, payloads: tuple[bytes, ...] | list[bytes]) -> list[str]:
        outcomes = []
        for payload in payloads:
            response = await self.post_event(payload)
            assert response.status_code == 200, response.text
            outcomes.append(response.json()["outcome"])
        return outcomes

    async def checkout(self, auth: dict[str, str], plan: str = "pro", period: str = "month") -> str:
        response = await self.client.post(
            "/billing/checkout", json={"plan": plan, "period": period}, headers=auth
        )
        assert response.status_code == 201, response.text
        session_id: str = response.json()["session_id"]
        return session_id

    async def subscribe(self, auth: dict[str, str]) -> dict[str, Any]:
        session_id = await self.checkout(auth)
        await self.deliver(self.stripe.complete_checkout(session_id, now=self.clock.now()))
        session = self.stripe.checkout_sessions[session_id]
        subscription: dict[str, Any] = self.stripe.subscriptions[session["subscription"]]
        return subscription

    async def subscription(self, auth: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get("/me/subscription", headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def sub_event(self, kind: str, sub: dict[str, Any], status: str, *, after_s: int) -> bytes:
        created = int(self.clock.now().timestamp())
        price = sub["items"]["data"][0]["price"]
        obj = subscription_object(
            subscription_id=sub["id"],
            customer_id=sub["customer"],
            price=price,
            status=status,
            created=sub["created"],
            current_period_start=sub["items"]["data"][0]["current_period_start"],
            current_period_end=sub["items"]["data"][0]["current_period_end"],
            user_id=sub["metadata"].get("user_id"),
            ended_at=created + after_s if kind == "deleted" else None,
        )
        return event_payload(
            event_type=f"customer.subscription.{kind}", obj=obj, created=created + after_s
        )


@pytest.fixture
async def shop(
    stripe_server: FakeStripeServer, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Shop]:
    stripe_server.reset()
    settings = make_settings(
        tmp_path / "billing.db",
        stripe_secret_key=Secret(API_KEY),
        stripe_webhook_secret=Secret(WEBHOOK_SECRET),
        stripe_api_base_url=stripe_server.base_url,
        stripe_price_pro_month="price_1ProMonth",
        stripe_price_pro_year="price_1ProYear",
        stripe_price_coach_month="price_1CoachMonth",
        stripe_price_coach_year="price_1CoachYear",
        billing_grace_period_s=3 * 86_400,
    )
    await migrate(settings.effective_database_url)
    container = make_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as client:
        yield Shop(client, container, stripe_server, clock)


async def test_checkout_goes_to_stripe_with_our_price_customer_and_user(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    response = await shop.client.post(
        "/billing/checkout", json={"plan": "coach", "period": "year"}, headers=auth
    )
    assert response.status_code == 201, response.text
    body = response.json()
    session = shop.stripe.checkout_sessions[body["session_id"]]
    assert body["url"] == session["url"]
    (customer,) = shop.stripe.customers.values()
    user_id = customer["metadata"]["user_id"]
    assert customer["email"] == "rita@example.com"
    assert session["customer"] == customer["id"]
    assert session["mode"] == "subscription"
    assert session["_price"] == "price_1CoachYear"
    assert session["metadata"] == {"user_id": user_id}
    assert session["client_reference_id"] == user_id
    created = [r for r in shop.stripe.requests if r.path == "/v1/checkout/sessions"]
    assert created[-1].form["subscription_data[metadata][user_id]"] == user_id
    assert created[-1].form["line_items[0][price]"] == "price_1CoachYear"
    # A second checkout reuses the customer instead of creating another.
    await shop.checkout(auth, "pro", "month")
    assert len(shop.stripe.customers) == 1
    assert [r.path for r in shop.stripe.requests].count("/v1/customers") == 1


async def test_a_completed_checkout_upgrades_through_the_webhook(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    assert (await shop.subscription(auth))["plan"] == "free"
    session_id = await shop.checkout(auth)
    outcomes = await shop.deliver(shop.stripe.complete_checkout(session_id, now=shop.clock.now()))
    assert outcomes == ["recorded", "applied", "recorded"]
    body = await shop.subscription(auth)
    assert body["plan"] == "pro"
    assert body["status"] == "active"
    assert body["billing_period"] == "month"
    assert body["cancel_at_period_end"] is False
    # The fake Stripe's month is 30 days (2026-03-02 08:00 UTC + 30 d).
    assert body["current_period_end"] == "2026-04-01T08:00:00Z"
    usage = (await shop.client.get("/me/usage", headers=auth)).json()
    assert usage["plan"] == "pro"


async def test_every_event_type_is_handled(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    sub = await shop.subscribe(auth)  # checkout.session.completed, created, payment_succeeded
    price = price_object("price_1ProMonth", PRICES["price_1ProMonth"])
    failed = invoice_object(
        invoice_id="in_failed1",
        customer_id=sub["customer"],
        subscription_id=sub["id"],
        price=price,
        amount_cents=999,
        paid=False,
        created=int(shop.clock.now().timestamp()) + 60,
        period_start=sub["items"]["data"][0]["current_period_start"],
        period_end=sub["items"]["data"][0]["current_period_end"],
        billing_reason="subscription_cycle",
    )
    payment_failed = event_payload(
        event_type="invoice.payment_failed",
        obj=failed,
        created=int(shop.clock.now().timestamp()) + 60,
    )
    past_due = shop.sub_event("updated", sub, "past_due", after_s=61)
    assert await shop.deliver([payment_failed, past_due]) == ["recorded", "applied"]
    body = await shop.subscription(auth)
    assert (body["plan"], body["status"], body["reason"]) == ("pro", "past_due", "grace")
    deleted = shop.sub_event("deleted", sub, "canceled", after_s=120)
    assert await shop.deliver([deleted]) == ["applied"]
    body = await shop.subscription(auth)
    assert (body["plan"], body["status"]) == ("free", "canceled")


async def test_a_replayed_event_is_acknowledged_and_ignored(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    session_id = await shop.checkout(auth)
    events = shop.stripe.complete_checkout(session_id, now=shop.clock.now())
    await shop.deliver(events)
    assert await shop.deliver(events) == ["replay", "replay", "replay"]
    assert (await shop.subscription(auth))["plan"] == "pro"


async def test_out_of_order_delivery_never_revives_a_deleted_subscription(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    session_id = await shop.checkout(auth)
    completed, created, paid = shop.stripe.complete_checkout(session_id, now=shop.clock.now())
    sub = shop.stripe.subscriptions[json.loads(created)["data"]["object"]["id"]]
    deleted = shop.sub_event("deleted", sub, "canceled", after_s=3600)
    updated = shop.sub_event("updated", sub, "active", after_s=60)
    outcomes = await shop.deliver([deleted, updated, created, completed, paid])
    assert outcomes == ["applied", "stale", "stale", "recorded", "recorded"]
    body = await shop.subscription(auth)
    assert (body["plan"], body["status"]) == ("free", "canceled")


async def test_a_tampered_body_is_400_and_changes_nothing(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    session_id = await shop.checkout(auth)
    _, created, _ = shop.stripe.complete_checkout(session_id, now=shop.clock.now())
    headers = shop.signed(created)
    tampered = created.replace(b'"status": "active"', b'"status": "trialing"')
    assert tampered != created
    response = await shop.client.post("/webhooks/stripe", content=tampered, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert (await shop.subscription(auth))["status"] == "none"
    # The genuine body with the same header still goes through: nothing was recorded.
    assert await shop.deliver([created]) == ["applied"]


async def test_a_stale_or_missing_signature_is_400_and_changes_nothing(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    session_id = await shop.checkout(auth)
    _, created, _ = shop.stripe.complete_checkout(session_id, now=shop.clock.now())
    stale_at = int((shop.clock.now() - timedelta(seconds=301)).timestamp())
    stale = await shop.post_event(created, at_s=stale_at)
    assert stale.status_code == 400
    unsigned = await shop.client.post("/webhooks/stripe", content=created)
    assert unsigned.status_code == 400
    wrong_secret = sign_payload(
        created, secret="whsec_other", timestamp=int(shop.clock.now().timestamp())
    )
    forged = await shop.client.post(
        "/webhooks/stripe", content=created, headers={"Stripe-Signature": wrong_secret}
    )
    assert forged.status_code == 400
    assert (await shop.subscription(auth))["status"] == "none"


async def test_an_unknown_event_type_is_acknowledged_ignored_and_logged(shop: Shop) -> None:
    payload = event_payload(
        event_type="payment_method.attached",
        obj={"id": "pm_1", "object": "payment_method", "customer": "cus_x"},
        created=int(shop.clock.now().timestamp()),
    )
    with capture_logs() as logs:
        response = await shop.post_event(payload)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert any(
        e["event"] == "billing.webhook_ignored" and e["event_type"] == "payment_method.attached"
        for e in logs
    )


async def test_an_event_for_an_unknown_customer_is_acknowledged_and_logged(shop: Shop) -> None:
    created = int(shop.clock.now().timestamp())
    obj = subscription_object(
        subscription_id="sub_stranger",
        customer_id="cus_stranger",
        price=price_object("price_1ProMonth", PRICES["price_1ProMonth"]),
        status="active",
        created=created,
        current_period_start=created,
        current_period_end=created + 30 * 86_400,
    )
    payload = event_payload(event_type="customer.subscription.created", obj=obj, created=created)
    with capture_logs() as logs:
        response = await shop.post_event(payload)
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown_customer"
    warned = [e for e in logs if e["event"] == "billing.webhook_unknown_customer"]
    assert [e["customer_id"] for e in warned] == ["cus_stranger"]


async def test_the_portal_answers_stripes_url_for_the_users_customer(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    before = await shop.client.post("/billing/portal", headers=auth)
    assert before.status_code == 404
    await shop.checkout(auth)
    response = await shop.client.post("/billing/portal", headers=auth)
    assert response.status_code == 200, response.text
    (portal,) = shop.stripe.portal_sessions.values()
    assert response.json()["url"] == portal["url"]
    (customer_id,) = shop.stripe.customers
    assert portal["customer"] == customer_id
    assert portal["return_url"] == f"{BASE_URL}/billing/return?result=portal"


async def test_checkout_refuses_a_free_plan_and_a_bad_period(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    for body in ({"plan": "free", "period": "month"}, {"plan": "pro", "period": "week"}):
        response = await shop.client.post("/billing/checkout", json=body, headers=auth)
        assert response.status_code == 400, body
    assert shop.stripe.customers == {}


async def test_a_subscriber_checking_out_again_is_a_conflict(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    await shop.subscribe(auth)
    response = await shop.client.post(
        "/billing/checkout", json={"plan": "coach", "period": "month"}, headers=auth
    )
    assert response.status_code == 409
    assert response.json()["plan"] == "pro"


async def test_there_is_no_fake_checkout_page_with_real_stripe(shop: Shop) -> None:
    auth = await shop.user("rita@example.com")
    session_id = await shop.checkout(auth)
    assert (await shop.client.get(f"/billing/fake-checkout/{session_id}")).status_code == 404
    assert (await shop.client.post(f"/billing/fake-checkout/{session_id}")).status_code == 404
