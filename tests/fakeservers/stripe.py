"""A fake Stripe API: a real HTTP server on 127.0.0.1 (Litestar + uvicorn), plus webhook builders.

It speaks the part of Stripe's wire format we call, as documented in the API reference
(docs.stripe.com/api) and the openapi fixtures (github.com/stripe/openapi, fixtures3.json):

- Requests are `application/x-www-form-urlencoded` with bracketed keys (`line_items[0][price]`,
  `metadata[user_id]`) and `Authorization: Bearer <secret key>`.
- `POST /v1/customers`, `POST /v1/checkout/sessions`, `POST /v1/billing_portal/sessions`,
  `GET /v1/subscriptions/{id}` answer objects in Stripe's current shape.
- Errors are `{"error": {"type", "message", "code"?, "param"?}}` with Stripe's statuses:
  400 `invalid_request_error` (`parameter_missing`, `resource_missing` "No such customer: 'x'"),
  401 for a bad key, 404 for a missing object, 400 `idempotency_error` when a key is reused
  with other parameters, 500 `api_error`.
- `Idempotency-Key` (docs.stripe.com/api/idempotent_requests): the first successful result is
  saved and replayed for the same key and parameters, with `Idempotent-Replayed: true`;
  failed validation saves nothing.

Webhook builders below write events in Stripe's event shape (docs.stripe.com/api/events/object)
around objects in the current API shape (a subscription's period on `items.data[]`, an
invoice's subscription under `parent.subscription_details`), and `sign_payload` signs them as
Stripe does (docs.stripe.com/webhooks#verify-manually):
`t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from litestar import Litestar, Request, get, post
from litestar.response import Response

API_VERSION = "2026-10-28.endive"  # what stripe-python 16 sends as Stripe-Version

_MONTH_S = 30 * 86_400  # the fake's periods: Stripe anchors real ones on calendar dates
_YEAR_S = 365 * 86_400


def _token(prefix: str, n: int = 14) -> str:
    return prefix + secrets.token_urlsafe(n).replace("-", "x").replace("_", "y")


# ---------------------------------------------------------------------------------------------
# Objects and events, hand-written from Stripe's documented shapes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FakePrice:
    """A recurring price the fake knows: integer cents per `interval`."""

    amount_cents: int
    interval: str  # "month" or "year"
    product: str = "prod_TrainingAnalyzer"
    currency: str = "usd"


def price_object(
    price_id: str, price: FakePrice, *, created: int = 1_700_000_000
) -> dict[str, Any]:
    """A `price` object (docs.stripe.com/api/prices/object)."""
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": price.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": price.product,
        "recurring": {
            "interval": price.interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": price.amount_cents,
        "unit_amount_decimal": str(price.amount_cents),
    }


def subscription_object(
    *,
    subscription_id: str,
    customer_id: str,
    price: Mapping[str, Any],
    status: str,
    created: int,
    current_period_start: int,
    current_period_end: int,
    user_id: str | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    latest_invoice: str | None = None,
    legacy_shape: bool = False,
) -> dict[str, Any]:
    """A `subscription` object (docs.stripe.com/api/subscriptions/object).

    The current shape keeps the period on `items.data[]`; `legacy_shape` puts it at the top
    level as API versions before 2025-03-31 did.
    """
    item: dict[str, Any] = {
        "id": "si_" + subscription_id.removeprefix("sub_"),
        "object": "subscription_item",
        "created": created,
        "discounts": [],
        "metadata": {},
        "price": dict(price),
        "quantity": 1,
        "subscription": subscription_id,
        "tax_rates": [],
    }
    sub: dict[str, Any] = {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": current_period_start,
        "cancel_at": current_period_end if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price.get("currency", "usd"),
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "ended_at": ended_at,
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": {} if user_id is None else {"user_id": user_id},
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "trial_end": None,
        "trial_start": None,
    }
    if legacy_shape:
        sub["current_period_start"] = current_period_start
        sub["current_period_end"] = current_period_end
    else:
        item["current_period_start"] = current_period_start
        item["current_period_end"] = current_period_end
    return sub


def checkout_session_object(
    *,
    session_id: str,
    customer_id: str | None,
    user_id: str | None,
    price_id: str,
    success_url: str,
    cancel_url: str,
    created: int,
    url: str | None,
    status: str = "open",
    payment_status: str = "unpaid",
    subscription_id: str | None = None,
    amount_total: int | None = None,
) -> dict[str, Any]:
    """A `checkout.session` object in subscription mode (docs.stripe.com/api/checkout/sessions)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": user_id,
        "created": created,
        "currency": "usd",
        "customer": customer_id,
        "customer_creation": None,
        "customer_details": None,
        "customer_email": None,
        "expires_at": created + 86_400,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": {} if user_id is None else {"user_id": user_id},
        "mode": "subscription",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "recovered_from": None,
        "setup_intent": None,
        "status": status,
        "submit_type": None,
        "subscription": subscription_id,
        "success_url": success_url,
        "total_details": None,
        "ui_mode": "hosted",
        "url": url,
        # Not part of Stripe's object: what the fake needs to complete the session.
        "_price": price_id,
    }


def invoice_object(
    *,
    invoice_id: str,
    customer_id: str,
    subscription_id: str | None,
    price: Mapping[str, Any],
    amount_cents: int,
    paid: bool,
    created: int,
    period_start: int,
    period_end: int,
    attempt_count: int = 1,
    next_payment_attempt: int | None = None,
    billing_reason: str = "subscription_create",
    user_id: str | None = None,
    legacy_shape: bool = False,
) -> dict[str, Any]:
    """An `invoice` object (docs.stripe.com/api/invoices/object).

    The current shape names the subscription under `parent.subscription_details`;
    `legacy_shape` puts it at the top level as API versions before 2025-03-31 did.
    """
    line = {
        "id": "il_" + invoice_id.removeprefix("in_"),
        "object": "line_item",
        "amount": amount_cents,
        "currency": price.get("currency", "usd"),
        "description": "1 × Training Analyzer",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "period": {"end": period_end, "start": period_start},
        "pricing": {
            "price_details": {"price": price["id"], "product": price.get("product")},
            "type": "price_details",
            "unit_amount_decimal": str(amount_cents),
        },
        "quantity": 1,
    }
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Training Analyzer",
        "amount_due": amount_cents,
        "amount_overpaid": 0,
        "amount_paid": amount_cents if paid else 0,
        "amount_remaining": 0 if paid else amount_cents,
        "amount_shipping": 0,
        "attempt_count": attempt_count,
        "attempted": True,
        "auto_advance": not paid,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price.get("currency", "usd"),
        "customer": customer_id,
        "customer_email": None,
        "description": None,
        "due_date": None,
        "hosted_invoice_url": None,
        "lines": {
            "object": "list",
            "data": [line],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": next_payment_attempt,
        "number": None,
        "period_end": period_end,
        "period_start": period_start,
        "status": "paid" if paid else "open",
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": created if paid else None,
            "voided_at": None,
        },
        "subtotal": amount_cents,
        "total": amount_cents,
    }
    if legacy_shape:
        invoice["subscription"] = subscription_id
    else:
        invoice["parent"] = (
            None
            if subscription_id is None
            else {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": {} if user_id is None else {"user_id": user_id},
                    "subscription": subscription_id,
                },
            }
        )
    return invoice


def event_payload(
    *,
    event_type: str,
    obj: Mapping[str, Any],
    created: int,
    event_id: str | None = None,
    previous_attributes: Mapping[str, Any] | None = None,
) -> bytes:
    """An event body as Stripe POSTs it (docs.stripe.com/api/events/object)."""
    data: dict[str, Any] = {"object": {k: v for k, v in obj.items() if not k.startswith("_")}}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    event = {
        "id": event_id or _token("evt_", 18),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2).encode("utf-8")


def sign_payload(payload: bytes, *, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header for `payload` signed at `timestamp` with `secret`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# ---------------------------------------------------------------------------------------------
# The API server
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request the fake received: form fields as sent (flat, bracketed keys)."""

    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


class StripeApiError(Exception):
    """Raised inside a handler to answer a Stripe-shaped error."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        body: dict[str, Any] = {"type": error_type, "message": message}
        if code is not None:
            body["code"] = code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param is not None:
            body["param"] = param
        self.body = {"error": body}


def _require(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise StripeApiError(
            400,
            "invalid_request_error",
            f"Missing required param: {name}.",
            code="parameter_missing",
            param=name,
        )
    return value


def _no_such(kind: str, ident: str, param: str, *, status: int = 400) -> StripeApiError:
    return StripeApiError(
        status,
        "invalid_request_error",
        f"No such {kind}: '{ident}'",
        code="resource_missing",
        param=param,
    )


@dataclass(frozen=True)
class _Saved:
    path: str
    form: dict[str, str]
    body: dict[str, Any]


class FakeStripeServer:
    """State and knobs of one fake Stripe; `running_stripe_server` serves it on loopback."""

    def __init__(self, *, api_key: str, prices: Mapping[str, FakePrice]) -> None:
        self.api_key = api_key
        self.prices = dict(prices)
        self.base_url = ""  # set once the server is listening
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every object and request and restore well-behaved defaults."""
        with self._lock:
            self.requests: list[RecordedRequest] = []
            self.customers: dict[str, dict[str, Any]] = {}
            self.checkout_sessions: dict[str, dict[str, Any]] = {}
            self.portal_sessions: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            self._idempotent: dict[str, _Saved] = {}
        self.fail_status: int | None = None  # answer every API call with this status

    # ---- what a test drives -------------------------------------------------------------

    def complete_checkout(self, session_id: str, *, now: datetime) -> tuple[bytes, ...]:
        """Play the customer paying: return the event bodies Stripe would send, in order.

        `checkout.session.completed`, `customer.subscription.created` (active) and
        `invoice.payment_succeeded`; the subscription becomes retrievable.
        """
        created = int(now.timestamp())
        with self._lock:
            session = self.checkout_sessions[session_id]
            assert session["status"] == "open", "a checkout session completes once"
            price_id = session["_price"]
            price = price_object(price_id, self.prices[price_id])
            period = _MONTH_S if self.prices[price_id].interval == "month" else _YEAR_S
            subscription_id = _token("sub_")
            invoice_id = _token("in_")
            user_id = session["metadata"].get("user_id")
            subscription = subscription_object(
                subscription_id=subscription_id,
                customer_id=session["customer"],
                price=price,
                status="active",
                created=created,
                current_period_start=created,
                current_period_end=created + period,
                user_id=user_id,
                latest_invoice=invoice_id,
            )
            self.subscriptions[subscription_id] = subscription
            session.update(
                status="complete",
                payment_status="paid",
                subscription=subscription_id,
                url=None,
                amount_total=price["unit_amount"],
            )
            completed = dict(session)
        invoice = invoice_object(
            invoice_id=invoice_id,
            customer_id=completed["customer"],
            subscription_id=subscription_id,
            price=price,
            amount_cents=price["unit_amount"],
            paid=True,
            created=created,
            period_start=created,
            period_end=created + period,
            user_id=user_id,
        )
        return (
            event_payload(event_type="checkout.session.completed", obj=completed, created=created),
            event_payload(
                event_type="customer.subscription.created", obj=subscription, created=created
            ),
            event_payload(event_type="invoice.payment_succeeded", obj=invoice, created=created),
        )

    # ---- the API's side -----------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key, self.api_key):
            shown = (key[:8] + "*" * 4 + key[-4:]) if len(key) > 12 else "****"
            raise StripeApiError(401, "invalid_request_error", f"Invalid API Key provided: {shown}")

    def _post(
        self, path: str, form: dict[str, str], key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Run a create; replay the saved result of an idempotency key used before."""
        with self._lock:
            saved = self._idempotent.get(key) if key else None
        if saved is not None:
            if saved.path != path or saved.form != form:
                raise StripeApiError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                )
            return saved.body, True
        body = self._create(path, form)
        if key:
            with self._lock:
                self._idempotent[key] = _Saved(path, form, body)
        return body, False

    def _create(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        now = int(time.time())
        with self._lock:
            if path == "/v1/customers":
                return self._create_customer(form, now)
            if path == "/v1/checkout/sessions":
                return self._create_checkout_session(form, now)
            return self._create_portal_session(form, now)

    def _create_customer(self, form: dict[str, str], now: int) -> dict[str, Any]:
        customer_id = _token("cus_")
        customer = {
            "id": customer_id,
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": now,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": form.get("description"),
            "discount": None,
            "email": form.get("email"),
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": _nested(form).get("metadata", {}),
            "name": form.get("name"),
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.customers[customer_id] = customer
        return customer

    def _create_checkout_session(self, form: dict[str, str], now: int) -> dict[str, Any]:
        mode = _require(form, "mode")
        if mode not in {"payment", "setup", "subscription"}:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Invalid mode: must be one of payment, setup, or subscription ({mode!r}).",
                code="parameter_invalid_string",
                param="mode",
            )
        customer_id = form.get("customer")
        if customer_id is not None and customer_id not in self.customers:
            raise _no_such("customer", customer_id, "customer")
        price_id = _require(form, "line_items[0][price]")
        if price_id not in self.prices:
            raise _no_such("price", price_id, "line_items[0][price]")
        success_url = _require(form, "success_url")
        session_id = _token("cs_test_a1", 40)
        nested = _nested(form)
        session = checkout_session_object(
            session_id=session_id,
            customer_id=customer_id,
            user_id=form.get("client_reference_id"),
            price_id=price_id,
            success_url=success_url,
            cancel_url=form.get("cancel_url", ""),
            created=now,
            url=f"{self.base_url}/c/pay/{session_id}",
        )
        session["metadata"] = nested.get("metadata", {})
        self.checkout_sessions[session_id] = session
        return session

    def _create_portal_session(self, form: dict[str, str], now: int) -> dict[str, Any]:
        customer_id = _require(form, "customer")
        if customer_id not in self.customers:
            raise _no_such("customer", customer_id, "customer")
        session_id = _token("bps_")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": "bpc_TrainingAnalyzerDefault",
            "created": now,
            "customer": customer_id,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": form.get("return_url"),
            "url": f"{self.base_url}/p/session/{_token('test_', 24)}",
        }
        self.portal_sessions[session_id] = session
        return session

    def _retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        with self._lock:
            subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise _no_such("subscription", subscription_id, "id", status=404)
        return subscription

    async def _handle(self, request: Request[Any, Any, Any]) -> Response[Any]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        method = request.method.upper()
        path = request.url.path
        form: dict[str, str] = {}
        if method == "POST":
            body = (await request.body()).decode("utf-8")
            form = dict(parse_qsl(body, keep_blank_values=True))
        recorded = RecordedRequest(method=method, path=path, form=form, headers=headers)
        with self._lock:
            self.requests.append(recorded)
        request_id = _token("req_")
        answer_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        try:
            if self.fail_status is not None:
                raise StripeApiError(self.fail_status, "api_error", "An unknown error occurred")
            self._authenticate(headers)
            if method == "POST":
                if headers.get("content-type", "").split(";")[0] != (
                    "application/x-www-form-urlencoded"
                ):
                    raise StripeApiError(400, "invalid_request_error", "Invalid request body.")
                key = headers.get("idempotency-key")
                body_json, replayed = self._post(path, form, key)
                if key:
                    answer_headers["Idempotency-Key"] = key
                if replayed:
                    answer_headers["Idempotent-Replayed"] = "true"
            else:
                body_json = self._retrieve_subscription(path.rsplit("/", 1)[-1])
        except StripeApiError as e:
            return Response(e.body, status_code=e.status, headers=answer_headers)
        public = {k: v for k, v in body_json.items() if not k.startswith("_")}
        return Response(public, status_code=200, headers=answer_headers)

    def app(self) -> Litestar:
        """The ASGI app serving this fake API."""

        @post(["/v1/customers", "/v1/checkout/sessions", "/v1/billing_portal/sessions"])
        async def create(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self._handle(request)

        @get("/v1/subscriptions/{subscription_id:str}")
        async def retrieve(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self._handle(request)

        return Litestar(
            route_handlers=[create, retrieve],
            openapi_config=None,
            logging_config=None,  # leave the test process's logging alone
        )


def _nested(form: Mapping[str, str]) -> dict[str, Any]:
    """Turn bracketed keys (`a[b][0][c]=v`) into nested dicts, as Stripe reads them."""
    root: dict[str, Any] = {}
    for key, value in form.items():
        head, _, rest = key.partition("[")
        parts = [head, *(p.rstrip("]") for p in rest.split("["))] if rest else [head]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


@contextmanager
def running_stripe_server(
    *, api_key: str = "sk_test_fake", prices: Mapping[str, FakePrice]
) -> Iterator[FakeStripeServer]:
    """Serve a FakeStripeServer on 127.0.0.1 (ephemeral port) in a thread; stop it on exit."""
    fake = FakeStripeServer(api_key=api_key, prices=prices)
    app = fake.app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Stripe server did not start")
            time.sleep(0.005)
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
