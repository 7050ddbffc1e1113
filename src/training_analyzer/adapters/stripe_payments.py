"""Stripe payments through stripe-python's async `StripeClient` (docs.stripe.com/api).

Calls, all form-encoded by the library with bracketed keys:

- `POST /v1/customers` {email, metadata[user_id]}.
- `POST /v1/checkout/sessions` {mode=subscription, customer, line_items[0][price|quantity],
  success_url, cancel_url, client_reference_id, metadata[user_id],
  subscription_data[metadata][user_id]} with an `Idempotency-Key`.
- `POST /v1/billing_portal/sessions` {customer, return_url}.
- `GET /v1/subscriptions/{id}`.

Webhooks: the HMAC is checked by the library's `WebhookSignature.verify_header`, with its own
clock check switched off (it reads `time.time()`); staleness is then judged against the
injected `now` by `core.billing.check_signature_age` with the same 300 s rule. That is how
the staleness tests work: they pass a `now` 301 s after the signing time, no sleeping and no
patching. The verified raw body is normalised by `core.billing.parse_stripe_event`, the same
function the fake gateway uses.

Errors: `resource_missing` -> NotFound; `idempotency_error` -> Conflict; every other
`stripe.StripeError` (authentication, permission, rate limit, card, API, connection) ->
ExternalServiceError with the HTTP status, Stripe's error code and request id as details.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import NoReturn

import stripe

from training_analyzer.core.billing import (
    CheckoutSession,
    PaymentEvent,
    PortalSession,
    Subscription,
    check_email,
    check_idempotency_key,
    check_identifier,
    check_signature_age,
    check_url,
    parse_signature_header,
    parse_stripe_event,
    parse_stripe_subscription,
)
from training_analyzer.core.errors import (
    ConfigurationError,
    Conflict,
    ExternalServiceError,
    InvalidInput,
    NotFound,
)

_PROVIDER = "stripe"


class _HttpxClient(stripe.HTTPXClient):
    """stripe-python's HTTPXClient, sending the encoded form as `content=`.

    stripe 16.1 passes the form-encoded body to httpx as `data=<str>`, which httpx 0.28
    deprecates ("Use 'content=<...>' to upload raw bytes/text content"; to be removed in 1.0),
    so every POST warned. The contract tests run with warnings as errors and catch a relapse.
    """

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]  # untyped in stripe 16
        self, method: str, url: str, headers: Mapping[str, str], post_data
    ):
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, str | bytes) and data:
            kwargs["content"] = data
        elif data:
            kwargs["data"] = data
        return [args, kwargs]


class StripePaymentGateway:
    """PaymentGateway on Stripe; call `aclose()` when done to release the HTTP connections."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_base_url: str | None = None,
        max_network_retries: int = 2,
        timeout_s: float = 30.0,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError("the Stripe API key is missing")
        if not isinstance(webhook_secret, str) or not webhook_secret.strip():
            raise ConfigurationError("the Stripe webhook signing secret is missing")
        if api_base_url is not None:
            try:
                check_url("api_base_url", api_base_url)
            except InvalidInput as e:
                raise ConfigurationError(f"the Stripe API base URL is malformed: {e}") from None
        if isinstance(max_network_retries, bool) or not isinstance(max_network_retries, int):
            raise ConfigurationError("max_network_retries must be an integer")
        if max_network_retries < 0:
            raise ConfigurationError("max_network_retries must be >= 0")
        if not timeout_s > 0:
            raise ConfigurationError("timeout_s must be > 0")
        self._webhook_secret = webhook_secret
        # Stripe retries with exponential backoff and honours Stripe-Should-Retry; each POST
        # carries an idempotency key (ours, or one the library generates), so retries are safe.
        self._http = _HttpxClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={} if api_base_url is None else {"api": api_base_url.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe 16

    async def create_customer(
        self, *, user_id: str, email: str, idempotency_key: str | None = None
    ) -> str:
        """Create a Stripe customer carrying the user id in its metadata; return its id."""
        check_identifier("user_id", user_id)
        check_email(email)
        options: stripe.RequestOptions = {}
        if idempotency_key is not None:
            options["idempotency_key"] = check_idempotency_key(idempotency_key)
        customer = await self._call(
            self._client.v1.customers.create_async(
                params={"email": email, "metadata": {"user_id": user_id}}, options=options
            )
        )
        return self._id_of(customer.id, "customer")

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
        """Create a subscription-mode Checkout Session for one unit of `price_id`."""
        check_identifier("customer_id", customer_id)
        check_identifier("price_id", price_id)
        check_identifier("user_id", user_id)
        check_url("success_url", success_url)
        check_url("cancel_url", cancel_url)
        key = check_idempotency_key(idempotency_key)
        session = await self._call(
            self._client.v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "customer": customer_id,
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "client_reference_id": user_id,
                    "metadata": {"user_id": user_id},
                    "subscription_data": {"metadata": {"user_id": user_id}},
                },
                options={"idempotency_key": key},
            )
        )
        if not session.url:
            raise ExternalServiceError(
                "Stripe created a checkout session without a URL", provider=_PROVIDER
            )
        return CheckoutSession(id=self._id_of(session.id, "checkout session"), url=session.url)

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> PortalSession:
        """Create a billing-portal session for the customer."""
        check_identifier("customer_id", customer_id)
        check_url("return_url", return_url)
        portal = await self._call(
            self._client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url}
            )
        )
        if not portal.url:
            raise ExternalServiceError(
                "Stripe created a portal session without a URL", provider=_PROVIDER
            )
        return PortalSession(url=portal.url)

    async def retrieve_subscription(self, *, subscription_id: str) -> Subscription:
        """Fetch a subscription and normalise it exactly as a webhook's would be."""
        check_identifier("subscription_id", subscription_id)
        subscription = await self._call(
            self._client.v1.subscriptions.retrieve_async(subscription_id)
        )
        response = subscription.last_response
        if response is None:
            raise ExternalServiceError("Stripe sent no subscription body", provider=_PROVIDER)
        try:
            return parse_stripe_subscription(response.body.encode("utf-8"))
        except InvalidInput as e:
            raise ExternalServiceError(
                f"Stripe sent a malformed subscription: {e.message}", provider=_PROVIDER
            ) from None

    async def parse_webhook(
        self, *, payload: bytes, signature_header: str | None, now: datetime
    ) -> PaymentEvent:
        """Verify the signature with stripe-python, its age against `now`, then normalise."""
        if not isinstance(payload, bytes):
            raise InvalidInput("payload", "must be the raw request body as bytes")
        header = parse_signature_header(signature_header)
        try:
            body = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("payload", "is not UTF-8") from None
        try:
            # tolerance=None: the library would compare with the real clock; we use `now`.
            stripe.WebhookSignature.verify_header(
                body, signature_header, self._webhook_secret, tolerance=None
            )
        except stripe.SignatureVerificationError:
            raise InvalidInput(
                "signature_header", "no signature matches the payload and signing secret"
            ) from None
        check_signature_age(timestamp_s=header.timestamp_s, now=now)
        return parse_stripe_event(payload)

    @staticmethod
    def _id_of(value: object, what: str) -> str:
        if not isinstance(value, str) or not value:
            raise ExternalServiceError(f"Stripe sent a {what} without an id", provider=_PROVIDER)
        return value

    @staticmethod
    async def _call[T](request: Awaitable[T]) -> T:
        try:
            return await request
        except stripe.StripeError as e:
            _translate(e)


def _translate(error: stripe.StripeError) -> NoReturn:
    """Raise the core error for a Stripe error; never echo keys or request bodies."""
    details = {
        "provider": _PROVIDER,
        "http_status": error.http_status,
        "stripe_code": error.code,
        "request_id": error.request_id,
    }
    message = error.user_message or type(error).__name__
    if isinstance(error, stripe.InvalidRequestError) and error.code == "resource_missing":
        raise NotFound(message, param=error.param, **details) from None
    if isinstance(error, stripe.IdempotencyError):
        raise Conflict("the idempotency key was used with other parameters", **details) from None
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        raise ExternalServiceError(
            "Stripe refused our credentials", reason="authentication", **details
        ) from None
    if isinstance(error, stripe.APIConnectionError):
        raise ExternalServiceError(
            "Stripe could not be reached", reason="connection", **details
        ) from None
    if isinstance(error, stripe.RateLimitError):
        raise ExternalServiceError(
            "Stripe is rate limiting us", reason="rate_limited", **details
        ) from None
    raise ExternalServiceError(f"Stripe failed: {message}", reason="api_error", **details) from None
