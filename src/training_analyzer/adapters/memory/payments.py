"""A fake payment provider for `make run` and tests that need no server.

It keeps the real contract: the same argument checks, customers and prices must exist
(NotFound otherwise), idempotency keys replay their first result and refuse other parameters
(Conflict), and `parse_webhook` verifies `Stripe-Signature` exactly as Stripe specifies
(HMAC-SHA256 over `f"{t}.{body}"`, 300 s tolerance against the injected `now`) before handing
the body to the same `core.billing.parse_stripe_event` as the Stripe adapter.

Its checkout URL points at a page of the app itself, `{app_base_url}/billing/fake-checkout/
{session_id}`. That page calls `complete_checkout`, which returns the webhooks Stripe would send
(`checkout.session.completed`, `customer.subscription.created`, `invoice.payment_succeeded`),
in Stripe's event shape and signed with the fake's secret, for the page to post through the
same webhook handler. `fail_renewal` and `cancel_subscription` produce the events of a failed
renewal (past due) and of a cancellation, to demo and test the grace period. The portal has
no fake page: its URL is the `return_url` itself.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

import msgspec

from training_analyzer.core.billing import (
    BillingPeriod,
    CheckoutRequest,
    CheckoutSession,
    PaymentEvent,
    PortalSession,
    PriceCatalog,
    Subscription,
    SubscriptionStatus,
    check_aware,
    check_email,
    check_idempotency_key,
    check_identifier,
    check_signature_age,
    check_url,
    parse_signature_header,
    parse_stripe_event,
)
from training_analyzer.core.errors import (
    ConfigurationError,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
)

_API_VERSION = "2026-10-28.endive"  # the version stripe-python 16 pins


class SignedWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook as Stripe would deliver it: the raw body and its `Stripe-Signature` header."""

    payload: bytes
    signature_header: str


class FakeCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """A customer the fake created."""

    customer_id: str
    user_id: str
    email: str


class FakeCheckout(msgspec.Struct, frozen=True, kw_only=True):
    """A checkout session the fake created; `completed` once `complete_checkout` ran."""

    session_id: str
    customer_id: str
    price_id: str
    user_id: str
    success_url: str
    cancel_url: str
    mode: str
    completed: bool = False


class FakePortal(msgspec.Struct, frozen=True, kw_only=True):
    """A portal session the fake opened."""

    customer_id: str
    return_url: str


class _Stored(msgspec.Struct, frozen=True, kw_only=True):
    subscription: Subscription
    created: int
    period_start: int


def _token(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _add_months(instant: datetime, months: int) -> datetime:
    """Same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month0 = instant.month - 1 + months
    year, month = instant.year + month0 // 12, month0 % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def sign_webhook(payload: bytes, *, secret: str, timestamp_s: int) -> str:
    """Return the `Stripe-Signature` header Stripe would send for `payload` at `timestamp_s`."""
    return f"t={timestamp_s},v1={_hmac(payload, secret=secret, timestamp_s=timestamp_s)}"


def _hmac(payload: bytes, *, secret: str, timestamp_s: int) -> str:
    # docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 keyed by the endpoint's signing
    # secret over "<timestamp>.<raw body>", hex encoded.
    signed = f"{timestamp_s}.".encode("ascii") + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


class FakePaymentGateway:
    """Records customers, checkouts and portal sessions; produces signed Stripe webhooks."""

    def __init__(
        self,
        *,
        catalog: PriceCatalog,
        webhook_secret: str,
        app_base_url: str = "http://127.0.0.1:8000",
    ) -> None:
        if not isinstance(webhook_secret, str) or not webhook_secret.strip():
            raise ConfigurationError("the fake webhook signing secret is missing")
        try:
            check_url("app_base_url", app_base_url)
        except InvalidInput as e:
            raise ConfigurationError(f"the app base URL is malformed: {e}") from None
        self._catalog = catalog
        self._secret = webhook_secret
        self._base = app_base_url.rstrip("/")
        self.customers: dict[str, FakeCustomer] = {}
        self.checkouts: dict[str, FakeCheckout] = {}
        self.portals: list[FakePortal] = []
        self._subscriptions: dict[str, _Stored] = {}
        self._idempotent: dict[str, tuple[tuple[object, ...], object]] = {}
        # Set to make the next API call fail like a provider outage would.
        self.fail_next: DomainError | None = None

    # ---- the port ------------------------------------------------------------------------

    async def create_customer(
        self, *, user_id: str, email: str, idempotency_key: str | None = None
    ) -> str:
        """Create and record a customer; return its id."""
        check_identifier("user_id", user_id)
        check_email(email)
        key = None if idempotency_key is None else check_idempotency_key(idempotency_key)
        self._maybe_fail()
        params = ("customer", user_id, email)
        if key is not None and (replay := self._replay(key, params)) is not None:
            assert isinstance(replay, str)
            return replay
        customer = FakeCustomer(customer_id=_token("cus_"), user_id=user_id, email=email)
        self.customers[customer.customer_id] = customer
        if key is not None:
            self._idempotent[key] = (params, customer.customer_id)
        return customer.customer_id

    async def create_checkout_session(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """Record a subscription-mode checkout; its URL is the app's fake checkout page."""
        check_identifier("customer_id", customer_id)
        check_identifier("price_id", price_id)
        check_identifier("user_id", user_id)
        check_url("success_url", success_url)
        check_url("cancel_url", cancel_url)
        key = check_idempotency_key(idempotency_key)
        self._maybe_fail()
        params = ("checkout", customer_id, price_id, user_id, success_url, cancel_url)
        if (replay := self._replay(key, params)) is not None:
            assert isinstance(replay, CheckoutSession)
            return replay
        if customer_id not in self.customers:
            raise NotFound(f"No such customer: '{customer_id}'", param="customer")
        if self._catalog.lookup(price_id) is None:
            raise NotFound(f"No such price: '{price_id}'", param="line_items[0][price]")
        checkout = FakeCheckout(
            session_id=_token("cs_test_"),
            customer_id=customer_id,
            price_id=price_id,
            user_id=user_id,
            success_url=success_url,
            cancel_url=cancel_url,
            mode="subscription",
        )
        self.checkouts[checkout.session_id] = checkout
        session = CheckoutSession(
            id=checkout.session_id, url=self.checkout_url(checkout.session_id)
        )
        self._idempotent[key] = (params, session)
        return session

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> PortalSession:
        """Record a portal session; with no fake portal page, its URL is `return_url`."""
        check_identifier("customer_id", customer_id)
        check_url("return_url", return_url)
        self._maybe_fail()
        if customer_id not in self.customers:
            raise NotFound(f"No such customer: '{customer_id}'", param="customer")
        self.portals.append(FakePortal(customer_id=customer_id, return_url=return_url))
        return PortalSession(url=return_url)

    async def retrieve_subscription(self, *, subscription_id: str) -> Subscription:
        """Return a subscription this fake created (through `complete_checkout`)."""
        check_identifier("subscription_id", subscription_id)
        self._maybe_fail()
        stored = self._subscriptions.get(subscription_id)
        if stored is None:
            raise NotFound(f"No such subscription: '{subscription_id}'", param="id")
        return stored.subscription

    async def parse_webhook(
        self, *, payload: bytes, signature_header: str | None, now: datetime
    ) -> PaymentEvent:
        """Verify the signature like Stripe's libraries do (at `now`), then normalise."""
        if not isinstance(payload, bytes):
            raise InvalidInput("payload", "must be the raw request body as bytes")
        header = parse_signature_header(signature_header)
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("payload", "is not UTF-8") from None
        expected = _hmac(payload, secret=self._secret, timestamp_s=header.timestamp_s)
        if not any(hmac.compare_digest(expected, s) for s in header.signatures):
            raise InvalidInput(
                "signature_header", "no signature matches the payload and signing secret"
            )
        check_signature_age(timestamp_s=header.timestamp_s, now=now)
        return parse_stripe_event(payload)

    # ---- what the fake checkout page (and tests) drive -----------------------------------

    def checkout_url(self, session_id: str) -> str:
        """The app page that plays Stripe Checkout for `session_id`."""
        return f"{self._base}/billing/fake-checkout/{session_id}"

    def complete_checkout(self, *, session_id: str, now: datetime) -> tuple[SignedWebhook, ...]:
        """Pay for a checkout: return its three webhooks, signed at `now`, in Stripe's order.

        Raises NotFound for an unknown session and Conflict for one already completed.
        """
        check_aware("now", now)
        checkout = self.checkouts.get(session_id)
        if checkout is None:
            raise NotFound(f"No such checkout session: '{session_id}'")
        if checkout.completed:
            raise Conflict("this checkout session is already complete")
        entry = self._catalog.lookup(checkout.price_id)
        assert entry is not None  # checked when the session was created
        amount = CheckoutRequest(tier=entry.tier, period=entry.period).amount_cents()
        months = 1 if entry.period is BillingPeriod.MONTH else 12
        start = int(now.timestamp())
        period_end = int(_add_months(now, months).timestamp())
        subscription = Subscription(
            subscription_id=_token("sub_"),
            customer_id=checkout.customer_id,
            status=SubscriptionStatus.ACTIVE,
            price_id=checkout.price_id,
            current_period_end=datetime.fromtimestamp(period_end, now.tzinfo),
            cancel_at_period_end=False,
            user_id=checkout.user_id,
        )
        stored = _Stored(subscription=subscription, created=start, period_start=start)
        self._subscriptions[subscription.subscription_id] = stored
        self.checkouts[session_id] = msgspec.structs.replace(checkout, completed=True)
        session = self._session_object(checkout, subscription, amount, start)
        invoice = self._invoice_object(
            stored, amount, start, paid=True, reason="subscription_create"
        )
        return (
            self._signed("checkout.session.completed", session, now),
            self._signed("customer.subscription.created", self._subscription_object(stored), now),
            self._signed("invoice.payment_succeeded", invoice, now),
        )

    def fail_renewal(self, *, subscription_id: str, now: datetime) -> tuple[SignedWebhook, ...]:
        """A renewal charge fails: `invoice.payment_failed`, then the subscription is past due."""
        return self._change_status(
            subscription_id, now, SubscriptionStatus.PAST_DUE, invoice_paid=False
        )

    def cancel_subscription(
        self, *, subscription_id: str, now: datetime
    ) -> tuple[SignedWebhook, ...]:
        """The subscription ends now: `customer.subscription.deleted` with status canceled."""
        return self._change_status(subscription_id, now, SubscriptionStatus.CANCELED)

    # ---- internals -----------------------------------------------------------------------

    def _maybe_fail(self) -> None:
        error, self.fail_next = self.fail_next, None
        if error is not None:
            raise error

    def _replay(self, key: str, params: tuple[object, ...]) -> object | None:
        saved = self._idempotent.get(key)
        if saved is None:
            return None
        if saved[0] != params:
            raise Conflict("the idempotency key was used with other parameters")
        return saved[1]

    def _change_status(
        self,
        subscription_id: str,
        now: datetime,
        status: SubscriptionStatus,
        *,
        invoice_paid: bool | None = None,
    ) -> tuple[SignedWebhook, ...]:
        check_aware("now", now)
        stored = self._subscriptions.get(subscription_id)
        if stored is None:
            raise NotFound(f"No such subscription: '{subscription_id}'")
        previous = stored.subscription.status
        if previous is SubscriptionStatus.CANCELED:
            raise Conflict("this subscription has already ended")
        updated = msgspec.structs.replace(
            stored, subscription=msgspec.structs.replace(stored.subscription, status=status)
        )
        self._subscriptions[subscription_id] = updated
        webhooks: list[SignedWebhook] = []
        if invoice_paid is not None:
            entry = self._catalog.lookup(stored.subscription.price_id)
            assert entry is not None
            amount = CheckoutRequest(tier=entry.tier, period=entry.period).amount_cents()
            invoice = self._invoice_object(
                updated,
                amount,
                int(now.timestamp()),
                paid=invoice_paid,
                reason="subscription_cycle",
            )
            kind = "invoice.payment_succeeded" if invoice_paid else "invoice.payment_failed"
            webhooks.append(self._signed(kind, invoice, now))
        obj = self._subscription_object(
            updated, ended_at=now if status is SubscriptionStatus.CANCELED else None
        )
        if status is SubscriptionStatus.CANCELED:
            webhooks.append(self._signed("customer.subscription.deleted", obj, now))
        else:
            webhooks.append(
                self._signed(
                    "customer.subscription.updated",
                    obj,
                    now,
                    previous_attributes={"status": previous.value},
                )
            )
        return tuple(webhooks)

    def _signed(
        self,
        event_type: str,
        obj: dict[str, Any],
        now: datetime,
        *,
        previous_attributes: dict[str, Any] | None = None,
    ) -> SignedWebhook:
        created = int(now.timestamp())
        data: dict[str, Any] = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": _token("evt_"),
            "object": "event",
            "api_version": _API_VERSION,
            "created": created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        payload = msgspec.json.encode(event)
        header = sign_webhook(payload, secret=self._secret, timestamp_s=created)
        return SignedWebhook(payload=payload, signature_header=header)

    def _price_object(self, price_id: str) -> dict[str, Any]:
        entry = self._catalog.lookup(price_id)
        assert entry is not None
        amount = CheckoutRequest(tier=entry.tier, period=entry.period).amount_cents()
        return {
            "id": price_id,
            "object": "price",
            "active": True,
            "currency": "usd",
            "livemode": False,
            "metadata": {"tier": entry.tier.value},
            "product": f"prod_{entry.tier.value}",
            "recurring": {"interval": entry.period.value, "interval_count": 1},
            "type": "recurring",
            "unit_amount": amount,
        }

    def _subscription_object(
        self, stored: _Stored, *, ended_at: datetime | None = None
    ) -> dict[str, Any]:
        sub = stored.subscription
        assert sub.price_id is not None
        assert sub.current_period_end is not None
        ended = None if ended_at is None else int(ended_at.timestamp())
        return {
            "id": sub.subscription_id,
            "object": "subscription",
            "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": ended,
            "collection_method": "charge_automatically",
            "created": stored.created,
            "currency": "usd",
            "customer": sub.customer_id,
            "ended_at": ended,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_" + sub.subscription_id.removeprefix("sub_"),
                        "object": "subscription_item",
                        "current_period_start": stored.period_start,
                        "current_period_end": int(sub.current_period_end.timestamp()),
                        "price": self._price_object(sub.price_id),
                        "quantity": 1,
                        "subscription": sub.subscription_id,
                    }
                ],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub.subscription_id}",
            },
            "livemode": False,
            "metadata": {} if sub.user_id is None else {"user_id": sub.user_id},
            "start_date": stored.created,
            "status": sub.status.value,
        }

    def _session_object(
        self, checkout: FakeCheckout, subscription: Subscription, amount: int, created: int
    ) -> dict[str, Any]:
        return {
            "id": checkout.session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": checkout.cancel_url,
            "client_reference_id": checkout.user_id,
            "created": created,
            "currency": "usd",
            "customer": checkout.customer_id,
            "livemode": False,
            "metadata": {"user_id": checkout.user_id},
            "mode": checkout.mode,
            "payment_status": "paid",
            "status": "complete",
            "subscription": subscription.subscription_id,
            "success_url": checkout.success_url,
            "url": None,
        }

    def _invoice_object(
        self, stored: _Stored, amount: int, created: int, *, paid: bool, reason: str
    ) -> dict[str, Any]:
        sub = stored.subscription
        invoice_id = _token("in_")
        period_end = int(sub.current_period_end.timestamp()) if sub.current_period_end else created
        return {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": reason,
            "created": created,
            "currency": "usd",
            "customer": sub.customer_id,
            "livemode": False,
            # Stripe retries a failed renewal; the fake says when, as Smart Retries would.
            "next_payment_attempt": None if paid else created + 3 * 86_400,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": {} if sub.user_id is None else {"user_id": sub.user_id},
                    "subscription": sub.subscription_id,
                },
            },
            "period_end": period_end,
            "period_start": stored.period_start,
            "status": "paid" if paid else "open",
            "subtotal": amount,
            "total": amount,
        }
