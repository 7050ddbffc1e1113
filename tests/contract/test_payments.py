"""PaymentGateway contract ([fake], [stripe]) and Stripe webhook verification and parsing.

The [stripe] id runs the real StripePaymentGateway (stripe-python's async StripeClient over
real HTTP) against the loopback fake Stripe API in tests/fakeservers/stripe.py; the [fake] id
runs the in-memory FakePaymentGateway. Both must behave alike, so a fake that drifts from the
real adapter fails exactly one id.

Webhook bodies are hand-written in Stripe's event shape (docs.stripe.com/api/events/object) by
the builders in tests/fakeservers/stripe.py and signed as Stripe signs them
(docs.stripe.com/webhooks#verify-manually: `t=<unix>,v1=<hex HMAC-SHA256(secret,
f"{t}.{body}")>`). Prices are the tier table's (core/tiers.py: Pro $9.99 a month or $99.90 a
year, Coach $29.99 or $299.90), in integer cents.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeservers.stripe import (
    FakePrice,
    FakeStripeServer,
    checkout_session_object,
    event_payload,
    invoice_object,
    price_object,
    running_stripe_server,
    sign_payload,
    subscription_object,
)
from training_analyzer.adapters.memory.payments import FakePaymentGateway
from training_analyzer.adapters.stripe_payments import StripePaymentGateway
from training_analyzer.core.billing import (
    BillingPeriod,
    CatalogPrice,
    CheckoutCompleted,
    InvoiceFailed,
    InvoicePaid,
    PriceCatalog,
    SubscriptionChanged,
    SubscriptionEventKind,
    SubscriptionStatus,
    UnknownEvent,
)
from training_analyzer.core.errors import (
    ConfigurationError,
    Conflict,
    ExternalServiceError,
    InvalidInput,
    NotFound,
)
from training_analyzer.core.tiers import Tier
from training_analyzer.ports.payments import PaymentGateway

NOW = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
NOW_S = 1_772_436_600  # 2026-03-02T07:30:00Z
API_KEY = "sk_test_51TrainingAnalyzerContract"
WEBHOOK_SECRET = "whsec_contract_test_secret"
USER_ID = "01JNX3Q8Z4M5K6R7T8V9W0XYZA"
EMAIL = "rita.runner@example.com"
SUCCESS_URL = "http://127.0.0.1:8000/billing/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://127.0.0.1:8000/billing/cancel"
RETURN_URL = "http://127.0.0.1:8000/settings/billing"

PRO_MONTH = "price_1QProMonthly999"
PRO_YEAR = "price_1QProYearly9990"
COACH_MONTH = "price_1QCoachMonthly2999"
COACH_YEAR = "price_1QCoachYearly29990"
CATALOG = PriceCatalog(
    prices=(
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id=PRO_MONTH),
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.YEAR, price_id=PRO_YEAR),
        CatalogPrice(tier=Tier.COACH, period=BillingPeriod.MONTH, price_id=COACH_MONTH),
        CatalogPrice(tier=Tier.COACH, period=BillingPeriod.YEAR, price_id=COACH_YEAR),
    )
)
SERVER_PRICES = {
    PRO_MONTH: FakePrice(amount_cents=999, interval="month"),
    PRO_YEAR: FakePrice(amount_cents=9_990, interval="year"),
    COACH_MONTH: FakePrice(amount_cents=2_999, interval="month"),
    COACH_YEAR: FakePrice(amount_cents=29_990, interval="year"),
}


def at(unix_s: int) -> datetime:
    """A UTC instant from Unix seconds."""
    return datetime.fromtimestamp(unix_s, UTC)


# ---------------------------------------------------------------------------------------------
# Fixtures: one gateway per id, plus the levers on its far side
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripeServer]:
    """One loopback fake Stripe API for the module; each test resets it."""
    with running_stripe_server(api_key=API_KEY, prices=SERVER_PRICES) as server:
        yield server


@dataclass(frozen=True, kw_only=True)
class RecordedCheckout:
    """A checkout as the far side recorded it."""

    mode: str
    customer_id: str | None
    price_id: str
    user_id: str | None
    metadata_user_id: str | None
    success_url: str
    cancel_url: str


@dataclass
class PaymentsWorld:
    """A gateway under test plus what its far side recorded and the levers to break it."""

    gateway: PaymentGateway
    server: FakeStripeServer | None = None
    fake: FakePaymentGateway | None = None

    def customer(self, customer_id: str) -> tuple[str, str]:
        """The (user id from metadata, email) the far side holds for a customer."""
        if self.server is not None:
            c = self.server.customers[customer_id]
            return c["metadata"]["user_id"], c["email"]
        assert self.fake is not None
        fc = self.fake.customers[customer_id]
        return fc.user_id, fc.email

    def customer_count(self) -> int:
        """How many customers exist on the far side."""
        if self.server is not None:
            return len(self.server.customers)
        assert self.fake is not None
        return len(self.fake.customers)

    def checkout(self, session_id: str) -> RecordedCheckout:
        """The checkout session the far side holds."""
        if self.server is not None:
            s = self.server.checkout_sessions[session_id]
            return RecordedCheckout(
                mode=s["mode"],
                customer_id=s["customer"],
                price_id=s["_price"],
                user_id=s["client_reference_id"],
                metadata_user_id=s["metadata"].get("user_id"),
                success_url=s["success_url"],
                cancel_url=s["cancel_url"],
            )
        assert self.fake is not None
        f = self.fake.checkouts[session_id]
        return RecordedCheckout(
            mode=f.mode,
            customer_id=f.customer_id,
            price_id=f.price_id,
            user_id=f.user_id,
            metadata_user_id=f.user_id,
            success_url=f.success_url,
            cancel_url=f.cancel_url,
        )

    def checkout_count(self) -> int:
        """How many checkout sessions exist on the far side."""
        if self.server is not None:
            return len(self.server.checkout_sessions)
        assert self.fake is not None
        return len(self.fake.checkouts)

    def portals(self) -> list[tuple[str, str]]:
        """(customer id, return URL) of every portal session opened."""
        if self.server is not None:
            return [(p["customer"], p["return_url"]) for p in self.server.portal_sessions.values()]
        assert self.fake is not None
        return [(p.customer_id, p.return_url) for p in self.fake.portals]

    def break_provider(self) -> None:
        """Make the next call fail as a provider outage (Stripe answers 500 api_error)."""
        if self.server is not None:
            self.server.fail_status = 500
        else:
            assert self.fake is not None
            self.fake.fail_next = ExternalServiceError("the fake provider is down")

    def complete_checkout(self, session_id: str, now: datetime) -> list[tuple[bytes, str]]:
        """Pay for a checkout; return the signed webhooks (body, header) Stripe would send."""
        if self.server is not None:
            payloads = self.server.complete_checkout(session_id, now=now)
            stamp = int(now.timestamp())
            return [(p, sign_payload(p, secret=WEBHOOK_SECRET, timestamp=stamp)) for p in payloads]
        assert self.fake is not None
        return [
            (w.payload, w.signature_header)
            for w in self.fake.complete_checkout(session_id=session_id, now=now)
        ]


@pytest.fixture(params=["fake", "stripe"])
async def world(
    request: pytest.FixtureRequest, stripe_server: FakeStripeServer
) -> AsyncIterator[PaymentsWorld]:
    """The gateway under test: the in-memory fake, or the Stripe adapter on the fake server."""
    if request.param == "fake":
        fake = FakePaymentGateway(
            catalog=CATALOG, webhook_secret=WEBHOOK_SECRET, app_base_url="http://127.0.0.1:8000"
        )
        yield PaymentsWorld(gateway=fake, fake=fake)
        return
    stripe_server.reset()
    gateway = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=stripe_server.base_url,
        max_network_retries=0,
    )
    try:
        yield PaymentsWorld(gateway=gateway, server=stripe_server)
    finally:
        await gateway.aclose()


async def _customer(world: PaymentsWorld) -> str:
    return await world.gateway.create_customer(user_id=USER_ID, email=EMAIL)


async def _checkout(world: PaymentsWorld, customer_id: str, *, key: str = "checkout-1") -> str:
    session = await world.gateway.create_checkout_session(
        customer_id=customer_id,
        price_id=PRO_MONTH,
        user_id=USER_ID,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        idempotency_key=key,
    )
    return session.id


# ---------------------------------------------------------------------------------------------
# Customers, checkout, portal
# ---------------------------------------------------------------------------------------------


async def test_creates_a_customer_carrying_the_user_id_and_email(world: PaymentsWorld) -> None:
    customer_id = await _customer(world)

    assert customer_id.startswith("cus_")
    assert world.customer(customer_id) == (USER_ID, EMAIL)


async def test_customer_idempotency_key_returns_the_same_customer(world: PaymentsWorld) -> None:
    first = await world.gateway.create_customer(
        user_id=USER_ID, email=EMAIL, idempotency_key="customer-" + USER_ID
    )
    again = await world.gateway.create_customer(
        user_id=USER_ID, email=EMAIL, idempotency_key="customer-" + USER_ID
    )

    assert again == first
    assert world.customer_count() == 1


async def test_checkout_is_a_subscription_for_one_price_naming_the_user(
    world: PaymentsWorld,
) -> None:
    customer_id = await _customer(world)

    session = await world.gateway.create_checkout_session(
        customer_id=customer_id,
        price_id=PRO_YEAR,
        user_id=USER_ID,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        idempotency_key="checkout-pro-year",
    )

    assert session.id.startswith("cs_test_")
    assert session.url.startswith("http://127.0.0.1:")
    assert session.id in session.url
    assert world.checkout(session.id) == RecordedCheckout(
        mode="subscription",
        customer_id=customer_id,
        price_id=PRO_YEAR,
        user_id=USER_ID,
        metadata_user_id=USER_ID,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
    )


async def test_the_same_idempotency_key_returns_the_same_checkout(world: PaymentsWorld) -> None:
    customer_id = await _customer(world)
    first = await _checkout(world, customer_id, key="checkout-retry")

    again = await _checkout(world, customer_id, key="checkout-retry")

    assert again == first
    assert world.checkout_count() == 1


async def test_an_idempotency_key_reused_with_other_parameters_is_a_conflict(
    world: PaymentsWorld,
) -> None:
    customer_id = await _customer(world)
    await _checkout(world, customer_id, key="checkout-once")

    with pytest.raises(Conflict):
        await world.gateway.create_checkout_session(
            customer_id=customer_id,
            price_id=COACH_MONTH,
            user_id=USER_ID,
            success_url=SUCCESS_URL,
            cancel_url=CANCEL_URL,
            idempotency_key="checkout-once",
        )
    assert world.checkout_count() == 1


async def test_checkout_for_an_unknown_customer_is_not_found(world: PaymentsWorld) -> None:
    with pytest.raises(NotFound) as caught:
        await _checkout(world, "cus_DoesNotExist")
    assert "cus_DoesNotExist" in caught.value.message
    assert world.checkout_count() == 0


async def test_checkout_for_an_unknown_price_is_not_found(world: PaymentsWorld) -> None:
    customer_id = await _customer(world)

    with pytest.raises(NotFound):
        await world.gateway.create_checkout_session(
            customer_id=customer_id,
            price_id="price_Unknown",
            user_id=USER_ID,
            success_url=SUCCESS_URL,
            cancel_url=CANCEL_URL,
            idempotency_key="checkout-unknown-price",
        )


async def test_portal_session_returns_a_url_for_the_customer(world: PaymentsWorld) -> None:
    customer_id = await _customer(world)

    portal = await world.gateway.create_portal_session(
        customer_id=customer_id, return_url=RETURN_URL
    )

    assert portal.url.startswith("http://127.0.0.1:")
    assert world.portals() == [(customer_id, RETURN_URL)]


async def test_portal_for_an_unknown_customer_is_not_found(world: PaymentsWorld) -> None:
    with pytest.raises(NotFound):
        await world.gateway.create_portal_session(
            customer_id="cus_DoesNotExist", return_url=RETURN_URL
        )


@pytest.mark.parametrize("call", ["customer", "checkout", "portal", "subscription"])
async def test_a_provider_failure_is_an_external_service_error(
    world: PaymentsWorld, call: str
) -> None:
    customer_id = await _customer(world)
    world.break_provider()

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "customer": lambda: _customer(world),
        "checkout": lambda: _checkout(world, customer_id),
        "portal": lambda: world.gateway.create_portal_session(
            customer_id=customer_id, return_url=RETURN_URL
        ),
        "subscription": lambda: world.gateway.retrieve_subscription(subscription_id="sub_Any"),
    }

    with pytest.raises(ExternalServiceError):
        await calls[call]()


_VALID_CHECKOUT: dict[str, str] = {
    "customer_id": "cus_Valid",
    "price_id": PRO_MONTH,
    "user_id": USER_ID,
    "success_url": SUCCESS_URL,
    "cancel_url": CANCEL_URL,
    "idempotency_key": "k",
}


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("customer_id", ""),
        ("price_id", "price with spaces"),
        ("user_id", "x" * 256),
        ("success_url", "/relative/path"),
        ("cancel_url", "ftp://example.com/cancel"),
        ("idempotency_key", ""),
        ("idempotency_key", "k" * 256),  # Stripe: keys are up to 255 characters
    ],
)
async def test_malformed_checkout_arguments_raise_invalid_input_naming_them(
    world: PaymentsWorld, argument: str, value: str
) -> None:
    arguments = {**_VALID_CHECKOUT, argument: value}

    with pytest.raises(InvalidInput) as caught:
        await world.gateway.create_checkout_session(**arguments)
    assert caught.value.argument == argument
    assert world.checkout_count() == 0


@pytest.mark.parametrize(
    ("argument", "value"), [("user_id", ""), ("email", "not-an-email"), ("email", "a b@c.d")]
)
async def test_malformed_customer_arguments_raise_invalid_input(
    world: PaymentsWorld, argument: str, value: str
) -> None:
    arguments = {"user_id": USER_ID, "email": EMAIL, argument: value}

    with pytest.raises(InvalidInput) as caught:
        await world.gateway.create_customer(**arguments)
    assert caught.value.argument == argument
    assert world.customer_count() == 0


# ---------------------------------------------------------------------------------------------
# A whole purchase: checkout completed -> webhooks -> subscription
# ---------------------------------------------------------------------------------------------


async def test_a_completed_checkout_sends_checkout_subscription_and_invoice_events(
    world: PaymentsWorld,
) -> None:
    customer_id = await _customer(world)
    session_id = await _checkout(world, customer_id)

    webhooks = world.complete_checkout(session_id, NOW)
    events = [
        await world.gateway.parse_webhook(payload=body, signature_header=header, now=NOW)
        for body, header in webhooks
    ]

    assert [type(e) for e in events] == [CheckoutCompleted, SubscriptionChanged, InvoicePaid]
    completed, created, paid = events
    assert isinstance(completed, CheckoutCompleted)
    assert isinstance(created, SubscriptionChanged)
    assert isinstance(paid, InvoicePaid)
    subscription_id = completed.subscription_id
    assert subscription_id is not None
    assert (completed.session_id, completed.customer_id, completed.user_id) == (
        session_id,
        customer_id,
        USER_ID,
    )
    assert completed.payment_status == "paid"
    assert (created.kind, created.status, created.price_id) == (
        SubscriptionEventKind.CREATED,
        SubscriptionStatus.ACTIVE,
        PRO_MONTH,
    )
    assert (created.subscription_id, created.customer_id, created.user_id) == (
        subscription_id,
        customer_id,
        USER_ID,
    )
    assert created.current_period_end is not None
    # A monthly period: the fake provider uses 30 days, the fake gateway the calendar month
    # (2 March -> 2 April = 31 days); both are "about a month" after the purchase.
    assert timedelta(days=28) <= created.current_period_end - NOW <= timedelta(days=31)
    assert (paid.subscription_id, paid.customer_id) == (subscription_id, customer_id)
    assert (paid.amount_cents, paid.currency) == (999, "usd")  # Pro monthly: $9.99

    subscription = await world.gateway.retrieve_subscription(subscription_id=subscription_id)
    assert subscription == created.subscription


async def test_retrieving_an_unknown_subscription_is_not_found(world: PaymentsWorld) -> None:
    with pytest.raises(NotFound):
        await world.gateway.retrieve_subscription(subscription_id="sub_DoesNotExist")


# ---------------------------------------------------------------------------------------------
# Webhooks: hand-written Stripe events, each type, and every way verification must fail
# ---------------------------------------------------------------------------------------------

CUSTOMER = "cus_RitaRunner01"
SUBSCRIPTION = "sub_1RitaPro"
PERIOD_END_S = 1_775_115_000  # 2026-04-02T07:30:00Z, one calendar month after NOW


def _price() -> dict[str, Any]:
    return price_object(PRO_MONTH, SERVER_PRICES[PRO_MONTH])


def _subscription(status: str, **extra: Any) -> dict[str, Any]:
    return subscription_object(
        subscription_id=SUBSCRIPTION,
        customer_id=CUSTOMER,
        price=_price(),
        status=status,
        created=NOW_S,
        current_period_start=NOW_S,
        current_period_end=PERIOD_END_S,
        user_id=USER_ID,
        **extra,
    )


def _signed(payload: bytes, *, timestamp: int = NOW_S, secret: str = WEBHOOK_SECRET) -> str:
    return sign_payload(payload, secret=secret, timestamp=timestamp)


async def _parse(world: PaymentsWorld, payload: bytes, header: str | None = None) -> Any:
    signature = _signed(payload) if header is None else header
    return await world.gateway.parse_webhook(payload=payload, signature_header=signature, now=NOW)


async def test_checkout_session_completed_names_customer_subscription_and_user(
    world: PaymentsWorld,
) -> None:
    session = checkout_session_object(
        session_id="cs_test_a1Completed",
        customer_id=CUSTOMER,
        user_id=USER_ID,
        price_id=PRO_MONTH,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        created=NOW_S - 60,
        url=None,
        status="complete",
        payment_status="paid",
        subscription_id=SUBSCRIPTION,
        amount_total=999,
    )
    payload = event_payload(
        event_type="checkout.session.completed", obj=session, created=NOW_S, event_id="evt_1A"
    )

    event = await _parse(world, payload)

    assert event == CheckoutCompleted(
        event_id="evt_1A",
        created=NOW,
        session_id="cs_test_a1Completed",
        customer_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        user_id=USER_ID,
        payment_status="paid",
    )


@pytest.mark.parametrize(
    ("event_type", "status", "kind"),
    [
        ("customer.subscription.created", "incomplete", SubscriptionEventKind.CREATED),
        ("customer.subscription.updated", "past_due", SubscriptionEventKind.UPDATED),
        ("customer.subscription.deleted", "canceled", SubscriptionEventKind.DELETED),
    ],
)
async def test_subscription_events_carry_status_price_and_period_end(
    world: PaymentsWorld, event_type: str, status: str, kind: SubscriptionEventKind
) -> None:
    payload = event_payload(
        event_type=event_type,
        obj=_subscription(status, cancel_at_period_end=True),
        created=NOW_S + 5,
        event_id="evt_Sub1",
        previous_attributes={"status": "active"} if kind is SubscriptionEventKind.UPDATED else None,
    )

    event = await _parse(world, payload)

    assert event == SubscriptionChanged(
        event_id="evt_Sub1",
        created=at(1_772_436_605),
        kind=kind,
        subscription_id=SUBSCRIPTION,
        customer_id=CUSTOMER,
        status=SubscriptionStatus(status),
        price_id=PRO_MONTH,
        current_period_end=at(PERIOD_END_S),
        cancel_at_period_end=True,
        user_id=USER_ID,
    )


async def test_a_subscription_in_the_pre_2025_shape_has_its_period_read_at_the_top(
    world: PaymentsWorld,
) -> None:
    # API versions before 2025-03-31 ("basil") kept current_period_end on the subscription.
    payload = event_payload(
        event_type="customer.subscription.updated",
        obj=_subscription("active", legacy_shape=True),
        created=NOW_S,
    )

    event = await _parse(world, payload)

    assert isinstance(event, SubscriptionChanged)
    assert event.current_period_end == at(PERIOD_END_S)


def _invoice(*, paid: bool, legacy_shape: bool = False, **extra: Any) -> dict[str, Any]:
    return invoice_object(
        invoice_id="in_1RitaInvoice",
        customer_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        price=_price(),
        amount_cents=999,
        paid=paid,
        created=NOW_S,
        period_start=NOW_S,
        period_end=PERIOD_END_S,
        user_id=USER_ID,
        legacy_shape=legacy_shape,
        **extra,
    )


@pytest.mark.parametrize("legacy_shape", [False, True], ids=["current", "pre-2025"])
async def test_invoice_payment_succeeded_is_the_amount_paid_in_cents(
    world: PaymentsWorld, legacy_shape: bool
) -> None:
    payload = event_payload(
        event_type="invoice.payment_succeeded",
        obj=_invoice(paid=True, legacy_shape=legacy_shape),
        created=NOW_S,
        event_id="evt_Paid",
    )

    event = await _parse(world, payload)

    assert event == InvoicePaid(
        event_id="evt_Paid",
        created=NOW,
        invoice_id="in_1RitaInvoice",
        customer_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        amount_cents=999,
        currency="usd",
    )


async def test_invoice_payment_failed_is_the_amount_due_and_the_next_attempt(
    world: PaymentsWorld,
) -> None:
    next_attempt = 1_772_695_800  # 2026-03-05T07:30:00Z, three days later
    payload = event_payload(
        event_type="invoice.payment_failed",
        obj=_invoice(
            paid=False,
            attempt_count=2,
            next_payment_attempt=next_attempt,
            billing_reason="subscription_cycle",
        ),
        created=NOW_S,
        event_id="evt_Failed",
    )

    event = await _parse(world, payload)

    assert event == InvoiceFailed(
        event_id="evt_Failed",
        created=NOW,
        invoice_id="in_1RitaInvoice",
        customer_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        amount_cents=999,
        currency="usd",
        attempt_count=2,
        next_payment_attempt=at(next_attempt),
    )


async def test_an_unknown_event_type_is_acknowledged_not_refused(world: PaymentsWorld) -> None:
    customer = {"id": CUSTOMER, "object": "customer", "email": EMAIL, "metadata": {}}
    payload = event_payload(
        event_type="customer.created", obj=customer, created=NOW_S, event_id="evt_Other"
    )

    event = await _parse(world, payload)

    assert event == UnknownEvent(event_id="evt_Other", created=NOW, type="customer.created")


def _subscription_payload() -> bytes:
    return event_payload(
        event_type="customer.subscription.updated", obj=_subscription("active"), created=NOW_S
    )


async def test_a_tampered_body_is_refused(world: PaymentsWorld) -> None:
    payload = _subscription_payload()
    header = _signed(payload)
    tampered = payload.replace(b'"status": "active"', b'"status": "trialing"')
    assert tampered != payload

    with pytest.raises(InvalidInput) as caught:
        await _parse(world, tampered, header)
    assert caught.value.argument == "signature_header"


async def test_a_signature_made_with_another_secret_is_refused(world: PaymentsWorld) -> None:
    payload = _subscription_payload()

    with pytest.raises(InvalidInput) as caught:
        await _parse(world, payload, _signed(payload, secret="whsec_someone_else"))
    assert caught.value.argument == "signature_header"


async def test_a_signature_older_than_300_seconds_is_refused(world: PaymentsWorld) -> None:
    payload = _subscription_payload()
    # stripe-python: stale when t < now - tolerance, tolerance 300 s. Signed 301 s before NOW.
    header = _signed(payload, timestamp=NOW_S - 301)

    with pytest.raises(InvalidInput) as caught:
        await _parse(world, payload, header)
    assert caught.value.argument == "signature_header"
    assert "300" in caught.value.message


async def test_a_signature_exactly_300_seconds_old_is_accepted(world: PaymentsWorld) -> None:
    payload = _subscription_payload()

    event = await _parse(world, payload, _signed(payload, timestamp=NOW_S - 300))

    assert isinstance(event, SubscriptionChanged)


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "v1=abc", "t=1772436600", "t=soon,v1=abc", "garbage", "t=1,t=2,v1=ab"],
    ids=["none", "empty", "blank", "no-t", "no-v1", "bad-t", "garbage", "two-t"],
)
async def test_a_missing_or_malformed_signature_header_is_refused(
    world: PaymentsWorld, header: str | None
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await world.gateway.parse_webhook(
            payload=_subscription_payload(), signature_header=header, now=NOW
        )
    assert caught.value.argument == "signature_header"


async def test_any_matching_signature_of_several_is_accepted(world: PaymentsWorld) -> None:
    # While a signing secret is rolled, Stripe sends one v1 per active secret.
    payload = _subscription_payload()
    old = _signed(payload, secret="whsec_previous_secret").split(",")[1]
    current = _signed(payload).split(",")[1]

    event = await _parse(world, payload, f"t={NOW_S},{old},{current}")

    assert isinstance(event, SubscriptionChanged)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"id": "cus_1", "object": "customer", "type": "x", "created": 1, "data": {"object": {}}}',
        b'{"id": "evt_1", "object": "event", "type": "customer.subscription.updated",'
        b' "created": 1772436600, "data": {"object": {"id": "sub_1"}}}',
        b'{"id": "evt_1", "object": "event", "type": "invoice.payment_succeeded",'
        b' "created": 1772436600, "data": {"object": {"id": "in_1", "currency": "usd",'
        b' "amount_due": 999.0, "amount_paid": 999.0}}}',
        b'{"id": "evt_1", "object": "event", "type": "customer.subscription.updated",'
        b' "created": 1772436600, "data": {"object": {"id": "sub_1", "customer": "cus_1",'
        b' "status": "frozen"}}}',
        b"\xff\xfe not utf-8",
    ],
    ids=["not-json", "not-an-event", "missing-fields", "float-amount", "odd-status", "not-utf8"],
)
async def test_a_correctly_signed_but_malformed_payload_is_refused(
    world: PaymentsWorld, payload: bytes
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await _parse(world, payload)
    assert caught.value.argument == "payload"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changing_any_byte_of_a_signed_body_is_refused_by_both_gateways(
    data: st.DataObject,
) -> None:
    payload = _subscription_payload()
    header = _signed(payload)
    index = data.draw(st.integers(min_value=0, max_value=len(payload) - 1), label="index")
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != payload[index]),
        label="byte",
    )
    tampered = payload[:index] + bytes([replacement]) + payload[index + 1 :]

    async def check() -> list[str]:
        fake = FakePaymentGateway(catalog=CATALOG, webhook_secret=WEBHOOK_SECRET)
        real = StripePaymentGateway(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
        arguments: list[str] = []
        try:
            for gateway in (fake, real):
                with pytest.raises(InvalidInput) as caught:
                    await gateway.parse_webhook(payload=tampered, signature_header=header, now=NOW)
                arguments.append(caught.value.argument)
        finally:
            await real.aclose()
        return arguments

    arguments = asyncio.run(check())
    # Invalid UTF-8 is refused before the HMAC, as stripe-python decodes the body first.
    expected = "payload" if _not_utf8(tampered) else "signature_header"
    assert arguments == [expected, expected]


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# ---------------------------------------------------------------------------------------------
# The fake's webhooks are Stripe's: each gateway reads the other side's events alike
# ---------------------------------------------------------------------------------------------


async def test_webhooks_from_the_fake_gateway_read_the_same_through_the_stripe_adapter() -> None:
    fake = FakePaymentGateway(catalog=CATALOG, webhook_secret=WEBHOOK_SECRET)
    real = StripePaymentGateway(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    try:
        customer_id = await fake.create_customer(user_id=USER_ID, email=EMAIL)
        session = await fake.create_checkout_session(
            customer_id=customer_id,
            price_id=COACH_YEAR,
            user_id=USER_ID,
            success_url=SUCCESS_URL,
            cancel_url=CANCEL_URL,
            idempotency_key="cross-1",
        )
        bought = [(w, NOW) for w in fake.complete_checkout(session_id=session.id, now=NOW)]
        completed = await fake.parse_webhook(
            payload=bought[0][0].payload, signature_header=bought[0][0].signature_header, now=NOW
        )
        assert isinstance(completed, CheckoutCompleted)
        assert completed.subscription_id is not None
        later = NOW + timedelta(days=365)
        renewal = fake.fail_renewal(subscription_id=completed.subscription_id, now=later)
        ended = fake.cancel_subscription(subscription_id=completed.subscription_id, now=later)
        webhooks = bought + [(w, later) for w in (*renewal, *ended)]

        read_by_fake, read_by_stripe = [], []
        for webhook, now in webhooks:
            read_by_fake.append(
                await fake.parse_webhook(
                    payload=webhook.payload, signature_header=webhook.signature_header, now=now
                )
            )
            read_by_stripe.append(
                await real.parse_webhook(
                    payload=webhook.payload, signature_header=webhook.signature_header, now=now
                )
            )
        assert read_by_fake == read_by_stripe
        assert [type(e) for e in read_by_stripe] == [
            CheckoutCompleted,
            SubscriptionChanged,
            InvoicePaid,
            InvoiceFailed,
            SubscriptionChanged,
            SubscriptionChanged,
        ]
    finally:
        await real.aclose()


async def test_webhooks_from_the_fake_server_read_the_same_through_the_fake_gateway(
    stripe_server: FakeStripeServer,
) -> None:
    stripe_server.reset()
    real = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=stripe_server.base_url,
        max_network_retries=0,
    )
    fake = FakePaymentGateway(catalog=CATALOG, webhook_secret=WEBHOOK_SECRET)
    try:
        customer_id = await real.create_customer(user_id=USER_ID, email=EMAIL)
        session = await real.create_checkout_session(
            customer_id=customer_id,
            price_id=PRO_MONTH,
            user_id=USER_ID,
            success_url=SUCCESS_URL,
            cancel_url=CANCEL_URL,
            idempotency_key="cross-2",
        )
        for payload in stripe_server.complete_checkout(session.id, now=NOW):
            header = _signed(payload)
            assert await fake.parse_webhook(
                payload=payload, signature_header=header, now=NOW
            ) == await real.parse_webhook(payload=payload, signature_header=header, now=NOW)
    finally:
        await real.aclose()


# ---------------------------------------------------------------------------------------------
# The fake gateway's demo events, and the Stripe adapter's wire format and failures
# ---------------------------------------------------------------------------------------------


async def test_fake_checkout_url_is_the_apps_page_and_completes_once() -> None:
    fake = FakePaymentGateway(
        catalog=CATALOG, webhook_secret=WEBHOOK_SECRET, app_base_url="http://localhost:8000/"
    )
    customer_id = await fake.create_customer(user_id=USER_ID, email=EMAIL)
    session = await fake.create_checkout_session(
        customer_id=customer_id,
        price_id=PRO_MONTH,
        user_id=USER_ID,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        idempotency_key="fake-page",
    )

    assert session.url == f"http://localhost:8000/billing/fake-checkout/{session.id}"
    fake.complete_checkout(session_id=session.id, now=NOW)
    assert fake.checkouts[session.id].completed
    with pytest.raises(Conflict):
        fake.complete_checkout(session_id=session.id, now=NOW)


async def test_fake_renewal_failure_and_cancellation_produce_stripes_events() -> None:
    fake = FakePaymentGateway(catalog=CATALOG, webhook_secret=WEBHOOK_SECRET)
    customer_id = await fake.create_customer(user_id=USER_ID, email=EMAIL)
    session = await fake.create_checkout_session(
        customer_id=customer_id,
        price_id=COACH_MONTH,
        user_id=USER_ID,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        idempotency_key="fake-renewal",
    )
    created = await fake.parse_webhook(
        payload=(w := fake.complete_checkout(session_id=session.id, now=NOW)[1]).payload,
        signature_header=w.signature_header,
        now=NOW,
    )
    assert isinstance(created, SubscriptionChanged)
    # 2 March + 1 calendar month = 2 April, same time of day.
    assert created.current_period_end == at(PERIOD_END_S)
    renewal = at(PERIOD_END_S)

    failed, past_due = [
        await fake.parse_webhook(
            payload=w.payload, signature_header=w.signature_header, now=renewal
        )
        for w in fake.fail_renewal(subscription_id=created.subscription_id, now=renewal)
    ]
    (deleted,) = [
        await fake.parse_webhook(
            payload=w.payload, signature_header=w.signature_header, now=renewal
        )
        for w in fake.cancel_subscription(subscription_id=created.subscription_id, now=renewal)
    ]

    assert isinstance(failed, InvoiceFailed)
    assert (failed.amount_cents, failed.subscription_id) == (2_999, created.subscription_id)
    assert isinstance(past_due, SubscriptionChanged)
    assert (past_due.kind, past_due.status) == (
        SubscriptionEventKind.UPDATED,
        SubscriptionStatus.PAST_DUE,
    )
    assert isinstance(deleted, SubscriptionChanged)
    assert (deleted.kind, deleted.status) == (
        SubscriptionEventKind.DELETED,
        SubscriptionStatus.CANCELED,
    )
    assert await fake.retrieve_subscription(
        subscription_id=created.subscription_id
    ) == msgspec.structs.replace(created.subscription, status=SubscriptionStatus.CANCELED)
    with pytest.raises(Conflict):
        fake.cancel_subscription(subscription_id=created.subscription_id, now=renewal)


async def test_stripe_adapter_sends_form_encoded_bracketed_keys_with_bearer_and_key(
    stripe_server: FakeStripeServer,
) -> None:
    stripe_server.reset()
    gateway = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=stripe_server.base_url,
        max_network_retries=0,
    )
    try:
        customer_id = await gateway.create_customer(user_id=USER_ID, email=EMAIL)
        await _checkout(PaymentsWorld(gateway=gateway, server=stripe_server), customer_id)
    finally:
        await gateway.aclose()

    customer_request, checkout_request = stripe_server.requests
    assert (customer_request.method, customer_request.path) == ("POST", "/v1/customers")
    assert customer_request.form == {"email": EMAIL, "metadata[user_id]": USER_ID}
    assert (checkout_request.method, checkout_request.path) == ("POST", "/v1/checkout/sessions")
    assert checkout_request.form == {
        "mode": "subscription",
        "customer": customer_id,
        "line_items[0][price]": PRO_MONTH,
        "line_items[0][quantity]": "1",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "client_reference_id": USER_ID,
        "metadata[user_id]": USER_ID,
        "subscription_data[metadata][user_id]": USER_ID,
    }
    headers = checkout_request.headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["idempotency-key"] == "checkout-1"
    assert headers["stripe-version"] == "2026-10-28.endive"  # stripe-python 16.1's pinned version


async def test_stripe_adapter_with_a_wrong_api_key_is_an_external_service_error(
    stripe_server: FakeStripeServer,
) -> None:
    stripe_server.reset()
    gateway = StripePaymentGateway(
        api_key="sk_test_wrong_key_000000",
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=stripe_server.base_url,
        max_network_retries=0,
    )
    try:
        with pytest.raises(ExternalServiceError) as caught:
            await gateway.create_customer(user_id=USER_ID, email=EMAIL)
    finally:
        await gateway.aclose()
    assert caught.value.details["reason"] == "authentication"
    assert caught.value.details["http_status"] == 401
    assert "sk_test_wrong_key_000000" not in str(caught.value)


async def test_stripe_adapter_that_cannot_connect_is_an_external_service_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gateway = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=f"http://127.0.0.1:{closed_port}",
        max_network_retries=0,
    )
    try:
        with pytest.raises(ExternalServiceError) as caught:
            await gateway.create_customer(user_id=USER_ID, email=EMAIL)
    finally:
        await gateway.aclose()
    assert caught.value.details["reason"] == "connection"


async def test_stripe_adapter_reads_a_stripe_error_body_into_not_found_details(
    stripe_server: FakeStripeServer,
) -> None:
    stripe_server.reset()
    gateway = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base_url=stripe_server.base_url,
        max_network_retries=0,
    )
    try:
        with pytest.raises(NotFound) as caught:
            await gateway.retrieve_subscription(subscription_id="sub_Missing")
    finally:
        await gateway.aclose()
    assert caught.value.message == "No such subscription: 'sub_Missing'"
    assert caught.value.details["http_status"] == 404
    assert caught.value.details["stripe_code"] == "resource_missing"
    assert str(caught.value.details["request_id"]).startswith("req_")


@pytest.mark.parametrize(
    "arguments",
    [
        {"api_key": "", "webhook_secret": WEBHOOK_SECRET},
        {"api_key": API_KEY, "webhook_secret": "  "},
        {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "api_base_url": "not a url"},
        {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "max_network_retries": -1},
    ],
    ids=["no-key", "no-secret", "bad-url", "negative-retries"],
)
def test_stripe_adapter_refuses_a_broken_configuration(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        StripePaymentGateway(**arguments)


def test_the_hand_written_payloads_are_what_the_fake_server_speaks() -> None:
    # Guard against the builders drifting from Stripe's event envelope.
    event = json.loads(_subscription_payload())
    assert set(event) == {
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "pending_webhooks",
        "request",
        "type",
    }
    item = event["data"]["object"]["items"]["data"][0]
    assert (item["current_period_end"], item["price"]["id"]) == (PERIOD_END_S, PRO_MONTH)
