"""The payments port: customers, checkout and portal sessions, subscriptions, webhooks.

The billing service stores the customer id per user (one customer, created once and reused),
passes price ids from the `PriceCatalog`, and feeds every webhook body through
`parse_webhook` before it trusts a byte of it. Every method's errors are core errors:

- InvalidInput for malformed arguments (naming the argument) and for a webhook that fails
  verification (`signature_header`: missing, malformed, wrong or stale signature) or parsing
  (`payload`); a webhook endpoint answers those with 400 and changes nothing.
- NotFound when the provider does not know the customer, price or subscription.
- Conflict when an idempotency key is reused with different parameters.
- ExternalServiceError when the provider fails, refuses our credentials or cannot be reached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from training_analyzer.core.billing import (
    CheckoutSession,
    PaymentEvent,
    PortalSession,
    Subscription,
)


class PaymentGateway(Protocol):
    """A payment provider selling subscriptions through hosted checkout and portal pages."""

    async def create_customer(
        self, *, user_id: str, email: str, idempotency_key: str | None = None
    ) -> str:
        """Create the provider's customer for a user and return its id.

        `user_id` is stored in the customer's metadata. With an `idempotency_key`, a retry
        after a lost answer returns the same customer instead of creating a second one.
        Raises InvalidInput, Conflict, ExternalServiceError.
        """
        ...

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
        """Start a checkout in subscription mode for one unit of `price_id`.

        The user id is written to the session's `client_reference_id` and metadata and to the
        subscription's metadata, so every later event names the user. The same
        `idempotency_key` returns the same session. Raises InvalidInput, NotFound (customer
        or price), Conflict, ExternalServiceError.
        """
        ...

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> PortalSession:
        """Open a billing-portal session where the customer manages the subscription.

        Raises InvalidInput, NotFound (customer), ExternalServiceError.
        """
        ...

    async def retrieve_subscription(self, *, subscription_id: str) -> Subscription:
        """Return the provider's current view of a subscription.

        For when events leave doubt (say, a checkout completed but its subscription event has
        not arrived). Raises InvalidInput, NotFound, ExternalServiceError.
        """
        ...

    async def parse_webhook(
        self, *, payload: bytes, signature_header: str | None, now: datetime
    ) -> PaymentEvent:
        """Verify a webhook body's signature at `now` and return the normalised event.

        `payload` must be the raw request body, byte for byte. Event types we do not act on
        come back as UnknownEvent, not as an error. Raises InvalidInput('signature_header')
        for a missing, malformed, wrong or stale (more than 300 s old) signature and
        InvalidInput('payload') for a body that is not a well-formed event.
        """
        ...
