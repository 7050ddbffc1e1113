"""Billing routes: the user's subscription, checkout, portal, Stripe's webhook, the fake checkout.

- `GET /me/subscription`, `POST /billing/checkout` {plan, period}, `POST /billing/portal` act
  for the token's user.
- `POST /webhooks/stripe` is public: Stripe authenticates it with the `Stripe-Signature`
  header over the raw body, which is read byte for byte and never re-serialised. A bad or
  stale signature or a malformed event answers 400 and changes nothing; every verified event
  answers 200 (a replay, an unknown type and an unknown customer included), so Stripe stops
  retrying.
- `/billing/fake-checkout/{session_id}` exists only while the fake payment provider stands in
  for Stripe (no TA_STRIPE_SECRET_KEY, never in production): a page with a confirm button whose
  POST makes the fake produce Stripe's webhooks for the purchase and feeds them, signed,
  through the same handler as Stripe's, then returns the browser to the app. It is public like
  Stripe's own checkout page: the session id in the URL is the credential.
- `GET /billing/return` is where checkout and portal send the browser back.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect

from training_analyzer.adapters.memory.payments import FakePaymentGateway
from training_analyzer.container import AppContainer
from training_analyzer.core.billing import AccessReason, BillingPeriod, CheckoutRequest
from training_analyzer.core.errors import NotFound
from training_analyzer.core.identity import AccessClaims
from training_analyzer.core.tiers import Tier
from training_analyzer.services.billing import SubscriptionView, WebhookOutcome

CHECKOUT_BODY_MAX_BYTES: Final = 4096
# Stripe's event payloads are small; 512 KiB leaves room for large invoices' line items.
WEBHOOK_BODY_MAX_BYTES: Final = 524_288
_SESSION_ID = PathParameter(max_length=255)


class CheckoutBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to buy: a paid plan and how often to pay."""

    plan: Tier
    period: BillingPeriod


class RedirectUrl(msgspec.Struct, frozen=True, kw_only=True):
    """Where to send the browser (Stripe Checkout, the billing portal, or the fake page)."""

    url: str
    session_id: str | None = None


class WebhookAck(msgspec.Struct, frozen=True, kw_only=True):
    """The acknowledgement Stripe gets, with what was done (for logs and tests)."""

    received: bool
    event_id: str
    event_type: str
    outcome: WebhookOutcome


class SubscriptionBody(msgspec.Struct, frozen=True, kw_only=True):
    """The plan in force, why, and the subscription behind it."""

    plan: Tier
    reason: AccessReason
    status: str
    subscription_id: str | None
    billing_period: BillingPeriod | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    access_until: datetime | None


def _subscription_body(view: SubscriptionView) -> SubscriptionBody:
    return SubscriptionBody(**msgspec.structs.asdict(view))


@get(
    "/me/subscription",
    tags=["billing"],
    summary="The plan in force and its subscription",
    description=(
        "`plan` is what the gate applies now (a past-due subscription keeps its plan until "
        "`access_until`, the end of the grace period); `status` is Stripe's, or `none`."
    ),
)
async def my_subscription(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> SubscriptionBody:
    """Answer the token user's plan and subscription."""
    billing = await container.billing()
    return _subscription_body(await billing.subscription_of(user_id=claims.user_id))


@post(
    "/billing/checkout",
    tags=["billing"],
    summary="Start a checkout for a paid plan (answers the checkout page's URL)",
    description=(
        "Creates a Stripe Checkout session in subscription mode for `plan` (pro or coach) "
        "billed per `period` (month or year). 409 when already on a paid plan: change plans "
        "in the billing portal."
    ),
    request_max_body_size=CHECKOUT_BODY_MAX_BYTES,
    status_code=201,
)
async def start_checkout(
    data: JSONBody[CheckoutBody],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> RedirectUrl:
    """Create the checkout session and answer its URL."""
    billing = await container.billing()
    request = CheckoutRequest(tier=data.plan, period=data.period)
    session = await billing.start_checkout(user_id=claims.user_id, request=request)
    return RedirectUrl(url=session.url, session_id=session.id)


@post(
    "/billing/portal",
    tags=["billing"],
    summary="Open the billing portal (answers its URL)",
    description="404 before the first checkout: there is no billing account to manage yet.",
    status_code=200,
)
async def open_portal(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> RedirectUrl:
    """Create a portal session and answer its URL."""
    billing = await container.billing()
    return RedirectUrl(url=(await billing.open_portal(user_id=claims.user_id)).url)


@post(
    "/webhooks/stripe",
    tags=["billing"],
    summary="Stripe's webhook (public; authenticated by its signature)",
    description=(
        "Needs the raw body and its `Stripe-Signature` header. Bad or stale (> 300 s) "
        "signatures and malformed events: 400, nothing changes. Every verified event: 200, "
        "applied once; replays, unknown event types and unknown customers are acknowledged."
    ),
    exclude_from_auth=True,
    security=[{}],
    request_max_body_size=WEBHOOK_BODY_MAX_BYTES,
    status_code=200,
)
async def stripe_webhook(
    request: Request[Any, Any, Any], container: NamedDependency[AppContainer]
) -> WebhookAck:
    """Verify, record and apply one Stripe event."""
    billing = await container.billing()
    result = await billing.handle_webhook(
        payload=await request.body(),
        signature_header=request.headers.get("stripe-signature"),
    )
    return WebhookAck(
        received=True,
        event_id=result.event_id,
        event_type=result.event_type,
        outcome=result.outcome,
    )


def _fake_gateway(container: AppContainer) -> FakePaymentGateway:
    gateway = container.payments()
    if not isinstance(gateway, FakePaymentGateway):
        # With real Stripe, checkout happens on Stripe's pages; this one does not exist.
        raise NotFound("there is no fake checkout: payments go through Stripe")
    return gateway


_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Fake checkout</h1>
<p>No payment provider is configured, so this page stands in for Stripe Checkout.
Confirming sends the same signed webhook events Stripe would to this app.</p>
<p><strong>{plan}</strong>, billed per {period}: <strong>{amount}</strong></p>
<form method="post"><button type="submit">Confirm and pay (nothing is charged)</button></form>
<p><a href="{cancel}">Cancel</a></p>
</body></html>
"""


@get(
    "/billing/fake-checkout/{session_id:str}",
    tags=["billing"],
    summary="The fake checkout page (only without Stripe)",
    exclude_from_auth=True,
    security=[{}],
    media_type="text/html",
)
async def fake_checkout_page(
    session_id: Annotated[str, _SESSION_ID], container: NamedDependency[AppContainer]
) -> Response[str]:
    """Show the purchase and a confirm button."""
    gateway = _fake_gateway(container)
    checkout = gateway.checkouts.get(session_id)
    if checkout is None:
        raise NotFound("no such checkout session")
    entry = (await container.billing()).catalog.lookup(checkout.price_id)
    if entry is None:
        raise NotFound("no such checkout session")
    cents = CheckoutRequest(tier=entry.tier, period=entry.period).amount_cents()
    page = _PAGE.format(
        plan=html.escape(entry.tier.value.title()),
        period=html.escape(entry.period.value),
        amount=f"${cents // 100}.{cents % 100:02d}",
        cancel=html.escape(checkout.cancel_url, quote=True),
    )
    return Response(page, media_type="text/html")


@post(
    "/billing/fake-checkout/{session_id:str}",
    tags=["billing"],
    summary="Complete the fake checkout (only without Stripe)",
    exclude_from_auth=True,
    security=[{}],
    status_code=303,
)
async def fake_checkout_complete(
    session_id: Annotated[str, _SESSION_ID], container: NamedDependency[AppContainer]
) -> Redirect:
    """Pay: send the fake's signed webhooks through the webhook handler, then go back."""
    gateway = _fake_gateway(container)
    billing = await container.billing()
    checkout = gateway.checkouts.get(session_id)
    if checkout is None:
        raise NotFound("no such checkout session")
    for hook in gateway.complete_checkout(session_id=session_id, now=container.clock().now()):
        await billing.handle_webhook(payload=hook.payload, signature_header=hook.signature_header)
    return Redirect(path=checkout.success_url, status_code=303)


_RETURN_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billing</title></head>
<body>
<h1>{title}</h1><p>{text}</p></body></html>
"""
_RETURN_TEXT: Final = {
    "success": ("Thank you", "Your plan changes as soon as the payment is confirmed."),
    "cancel": ("Checkout cancelled", "Nothing was charged."),
    "portal": ("Billing", "Changes made in the billing portal apply in a moment."),
}


@get(
    "/billing/return",
    tags=["billing"],
    summary="Where checkout and the portal send the browser back",
    exclude_from_auth=True,
    security=[{}],
    media_type="text/html",
)
async def billing_return(
    result: Annotated[str, QueryParameter(max_length=16)] = "success",
) -> Response[str]:
    """A short page saying what happens next."""
    title, text = _RETURN_TEXT.get(result, _RETURN_TEXT["success"])
    return Response(_RETURN_PAGE.format(title=title, text=text), media_type="text/html")


ROUTES: Final = [
    my_subscription,
    start_checkout,
    open_portal,
    stripe_webhook,
    fake_checkout_page,
    fake_checkout_complete,
    billing_return,
]
