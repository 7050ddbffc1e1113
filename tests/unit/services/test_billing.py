"""BillingService on fakes: in-memory storage, the fake payment gateway, a fake clock.

Webhooks come from `FakePaymentGateway`, which writes them in Stripe's event shape and signs
them as Stripe does (docs.stripe.com/webhooks#verify-manually); prices are the tier table's
(Pro $9.99 a month, core/tiers.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from tests.fakeservers.stripe import event_payload, sign_payload
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.payments import FakePaymentGateway, SignedWebhook
from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.core.accounts import User
from training_analyzer.core.billing import (
    AccessReason,
    BillingPeriod,
    CatalogPrice,
    CheckoutRequest,
    PriceCatalog,
)
from training_analyzer.core.errors import Conflict, InvalidInput, NotFound
from training_analyzer.core.tiers import Tier
from training_analyzer.ids import new_id
from training_analyzer.services.billing import BillingService, WebhookOutcome

NOW = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
SECRET = "whsec_unit_test_secret"
GRACE_S = 3 * 86_400
BASE = "http://127.0.0.1:8000"
CATALOG = PriceCatalog(
    prices=(
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id="price_pro_m"),
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.YEAR, price_id="price_pro_y"),
        CatalogPrice(tier=Tier.COACH, period=BillingPeriod.MONTH, price_id="price_coach_m"),
        CatalogPrice(tier=Tier.COACH, period=BillingPeriod.YEAR, price_id="price_coach_y"),
    )
)
PRO_MONTH = CheckoutRequest(tier=Tier.PRO, period=BillingPeriod.MONTH)


class World:
    """The service and the fakes behind it."""

    def __init__(self) -> None:
        self.storage = InMemoryStorage()
        self.clock = FakeClock(NOW)
        self.gateway = FakePaymentGateway(catalog=CATALOG, webhook_secret=SECRET, app_base_url=BASE)
        self.billing = BillingService(
            storage=self.storage,
            payments=self.gateway,
            clock=self.clock,
            catalog=CATALOG,
            grace_period_s=GRACE_S,
            public_base_url=BASE,
        )

    async def add_user(self) -> str:
        user_id = new_id()
        user = User(
            id=user_id,
            email=f"{user_id}@example.org",
            display_name="Rita Runner",
            created_at=NOW,
            updated_at=NOW,
        )
        async with self.storage.unit_of_work(user_id=user_id) as uow:
            await uow.users.add(user_id=user_id, user=user)
        return user_id

    async def deliver(self, webhooks: tuple[SignedWebhook, ...]) -> list[WebhookOutcome]:
        outcomes = []
        for hook in webhooks:
            result = await self.billing.handle_webhook(
                payload=hook.payload, signature_header=hook.signature_header
            )
            outcomes.append(result.outcome)
        return outcomes

    async def subscribe(self, user_id: str, request: CheckoutRequest = PRO_MONTH) -> str:
        session = await self.billing.start_checkout(user_id=user_id, request=request)
        hooks = self.gateway.complete_checkout(session_id=session.id, now=self.clock.now())
        await self.deliver(hooks)
        async with self.storage.unit_of_work(user_id=user_id) as uow:
            (sub,) = await uow.billing.subscriptions(user_id=user_id)
        return sub.subscription_id

    async def recorded_events(self) -> int:
        async with self.storage.system(reason="test") as uow:
            page = await uow.directory.audit_page(limit=200)
        return len(page.items)


@pytest.fixture
def world() -> World:
    return World()


async def test_checkout_creates_the_customer_once_and_reuses_it(world: World) -> None:
    user_id = await world.add_user()
    first = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    second = await world.billing.start_checkout(
        user_id=user_id, request=CheckoutRequest(tier=Tier.COACH, period=BillingPeriod.YEAR)
    )
    assert len(world.gateway.customers) == 1
    (customer,) = world.gateway.customers.values()
    assert customer.user_id == user_id
    a, b = world.gateway.checkouts[first.id], world.gateway.checkouts[second.id]
    assert (a.customer_id, b.customer_id) == (customer.customer_id, customer.customer_id)
    # Price ids come from the catalog (settings); the user id travels with the session.
    assert (a.price_id, b.price_id) == ("price_pro_m", "price_coach_y")
    assert a.user_id == user_id
    assert a.mode == "subscription"
    assert first.url == f"{BASE}/billing/fake-checkout/{first.id}"
    assert a.success_url == f"{BASE}/billing/return?result=success"


async def test_checkout_for_an_unknown_user_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.billing.start_checkout(user_id=new_id(), request=PRO_MONTH)
    assert world.gateway.customers == {}


async def test_a_paid_checkout_makes_the_user_pro(world: World) -> None:
    user_id = await world.add_user()
    session = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    outcomes = await world.deliver(world.gateway.complete_checkout(session_id=session.id, now=NOW))
    assert outcomes == [WebhookOutcome.RECORDED, WebhookOutcome.APPLIED, WebhookOutcome.RECORDED]
    view = await world.billing.subscription_of(user_id=user_id)
    assert (view.plan, view.reason, view.status) == (Tier.PRO, AccessReason.ACTIVE, "active")
    assert view.billing_period is BillingPeriod.MONTH
    # The fake renews one calendar month later: 2 March -> 2 April.
    assert view.current_period_end == datetime(2026, 4, 2, 7, 30, tzinfo=UTC)
    assert view.cancel_at_period_end is False
    assert view.access_until is None


async def test_a_subscriber_cannot_check_out_again(world: World) -> None:
    user_id = await world.add_user()
    await world.subscribe(user_id)
    with pytest.raises(Conflict):
        await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)


async def test_a_replayed_event_is_acknowledged_and_changes_nothing(world: World) -> None:
    user_id = await world.add_user()
    session = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    hooks = world.gateway.complete_checkout(session_id=session.id, now=NOW)
    await world.deliver(hooks)
    before = await world.recorded_events()
    assert await world.deliver(hooks) == [WebhookOutcome.REPLAY] * 3
    assert await world.recorded_events() == before


async def test_a_late_created_event_does_not_undo_a_deletion(world: World) -> None:
    user_id = await world.add_user()
    session = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    completed, created, paid = world.gateway.complete_checkout(session_id=session.id, now=NOW)
    sub_id = json.loads(created.payload)["data"]["object"]["id"]
    # Seconds later (within the signatures' 300 s tolerance) the subscription is canceled.
    (deleted,) = world.gateway.cancel_subscription(
        subscription_id=sub_id, now=NOW + timedelta(seconds=5)
    )
    world.clock.set(NOW + timedelta(seconds=5))
    # Stripe does not promise order: the deletion overtakes everything else.
    outcomes = await world.deliver((deleted, paid, created, completed))
    assert outcomes == [
        WebhookOutcome.APPLIED,
        WebhookOutcome.RECORDED,
        WebhookOutcome.STALE,
        WebhookOutcome.RECORDED,
    ]
    view = await world.billing.subscription_of(user_id=user_id)
    assert (view.plan, view.status) == (Tier.FREE, "canceled")


async def test_past_due_keeps_the_tier_for_the_grace_period_then_falls_to_free(
    world: World,
) -> None:
    user_id = await world.add_user()
    sub_id = await world.subscribe(user_id)
    failed_at = NOW + timedelta(days=31)
    outcomes = await world.deliver(
        world.gateway.fail_renewal(subscription_id=sub_id, now=failed_at)
    )
    assert WebhookOutcome.APPLIED in outcomes
    world.clock.set(failed_at + timedelta(seconds=GRACE_S - 1))
    view = await world.billing.subscription_of(user_id=user_id)
    assert (view.plan, view.reason, view.status) == (Tier.PRO, AccessReason.GRACE, "past_due")
    assert view.access_until == failed_at + timedelta(seconds=GRACE_S)
    # The grace period is half-open: at its end the user is Free.
    world.clock.set(failed_at + timedelta(seconds=GRACE_S))
    access = await world.billing.access_of(user_id=user_id)
    assert (access.tier, access.reason) == (Tier.FREE, AccessReason.GRACE_EXPIRED)


async def test_a_tampered_body_is_refused_and_nothing_is_recorded(world: World) -> None:
    user_id = await world.add_user()
    session = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    _, created, _ = world.gateway.complete_checkout(session_id=session.id, now=NOW)
    tampered = created.payload.replace(b'"active"', b'"trialing"')
    assert tampered != created.payload
    with pytest.raises(InvalidInput) as refused:
        await world.billing.handle_webhook(
            payload=tampered, signature_header=created.signature_header
        )
    assert refused.value.argument == "signature_header"
    async with world.storage.system(reason="test") as uow:
        event_id = json.loads(created.payload)["id"]
        assert await uow.payment_events.get(event_id=event_id) is None
    assert (await world.billing.access_of(user_id=user_id)).tier is Tier.FREE


async def test_a_stale_signature_is_refused(world: World) -> None:
    user_id = await world.add_user()
    session = await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    hooks = world.gateway.complete_checkout(session_id=session.id, now=NOW)
    # Stripe's tolerance is 300 s (stripe-python Webhook.DEFAULT_TOLERANCE).
    world.clock.set(NOW + timedelta(seconds=301))
    with pytest.raises(InvalidInput) as refused:
        await world.deliver(hooks[1:2])
    assert refused.value.argument == "signature_header"
    world.clock.set(NOW + timedelta(seconds=300))
    assert await world.deliver(hooks[1:2]) == [WebhookOutcome.APPLIED]


async def test_an_unknown_event_type_is_acknowledged_logged_and_recorded_once(
    world: World,
) -> None:
    payload = event_payload(
        event_type="customer.tax_id.created",
        obj={"id": "txi_1", "object": "tax_id", "customer": "cus_1"},
        created=int(NOW.timestamp()),
    )
    header = sign_payload(payload, secret=SECRET, timestamp=int(NOW.timestamp()))
    with capture_logs() as logs:
        first = await world.billing.handle_webhook(payload=payload, signature_header=header)
        again = await world.billing.handle_webhook(payload=payload, signature_header=header)
    assert (first.outcome, again.outcome) == (WebhookOutcome.IGNORED, WebhookOutcome.REPLAY)
    assert first.event_type == "customer.tax_id.created"
    ignored = [e for e in logs if e["event"] == "billing.webhook_ignored"]
    assert [e["event_type"] for e in ignored] == ["customer.tax_id.created"]
    async with world.storage.system(reason="test") as uow:
        stored = await uow.payment_events.get(event_id=first.event_id)
    assert stored is not None
    assert stored.processed_at == NOW


async def test_an_event_for_an_unknown_customer_is_acknowledged_and_logged(world: World) -> None:
    stranger = FakePaymentGateway(catalog=CATALOG, webhook_secret=SECRET, app_base_url=BASE)
    customer = await stranger.create_customer(user_id=new_id(), email="x@example.org")
    session = await stranger.create_checkout_session(
        customer_id=customer,
        price_id="price_pro_m",
        user_id=new_id(),
        success_url=f"{BASE}/ok",
        cancel_url=f"{BASE}/no",
        idempotency_key="k1",
    )
    with capture_logs() as logs:
        outcomes = await world.deliver(stranger.complete_checkout(session_id=session.id, now=NOW))
    assert outcomes == [WebhookOutcome.UNKNOWN_CUSTOMER] * 3
    unknown = [e for e in logs if e["event"] == "billing.webhook_unknown_customer"]
    assert {e["customer_id"] for e in unknown} == {customer}
    async with world.storage.system(reason="test") as uow:
        assert await uow.billing.live_subscriptions() == []


async def test_the_portal_needs_a_customer_and_returns_to_the_app(world: World) -> None:
    user_id = await world.add_user()
    with pytest.raises(NotFound):
        await world.billing.open_portal(user_id=user_id)
    await world.billing.start_checkout(user_id=user_id, request=PRO_MONTH)
    portal = await world.billing.open_portal(user_id=user_id)
    assert portal.url == f"{BASE}/billing/return?result=portal"
    assert [p.customer_id for p in world.gateway.portals] == list(world.gateway.customers)


async def test_the_best_of_several_subscriptions_wins(world: World) -> None:
    user_id = await world.add_user()
    pro = await world.subscribe(user_id)
    # A Coach subscription made elsewhere (say, in the portal) for the same customer.
    async with world.storage.unit_of_work(user_id=user_id) as uow:
        customer_id = await uow.billing.customer_id(user_id=user_id)
    assert customer_id is not None
    session = await world.gateway.create_checkout_session(
        customer_id=customer_id,
        price_id="price_coach_y",
        user_id=user_id,
        success_url=f"{BASE}/ok",
        cancel_url=f"{BASE}/no",
        idempotency_key="coach",
    )
    world.clock.advance(days=1)
    await world.deliver(
        world.gateway.complete_checkout(session_id=session.id, now=world.clock.now())
    )
    view = await world.billing.subscription_of(user_id=user_id)
    assert (view.plan, view.billing_period) == (Tier.COACH, BillingPeriod.YEAR)
    assert view.subscription_id != pro
