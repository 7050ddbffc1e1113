"""Billing: the types the payments port speaks in, and the pure rules behind subscriptions.

Rules decided here (adapters and services apply them, they never re-decide them):

- **Money** is integer cents. Checkout prices come from `core.tiers`; invoice amounts come
  from Stripe's integer `amount_paid` / `amount_due` and a float there is a malformed payload.
- **Events** are normalised from Stripe's event shape (`{"id", "object": "event", "type",
  "created", "data": {"object": ...}}`, docs.stripe.com/api/events/object) by
  `parse_stripe_event` into the `PaymentEvent` union. Types we do not act on become
  `UnknownEvent` (acknowledged, not an error). Both invoice shapes are read: the current one
  (API 2025-03-31 and later) names the subscription under `parent.subscription_details`, older
  ones at the top level; a subscription's period end is read from `items.data[0]` (current
  shape) or the top level (older shape).
- **Webhook signatures** (docs.stripe.com/webhooks#verify-manually): the `Stripe-Signature`
  header is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>[,v1=...]`. A
  signature is stale when `t < now - 300 s` (stripe-python's `DEFAULT_TOLERANCE` and rule);
  a timestamp in the future is not refused, as in the official libraries. Adapters check the
  HMAC; `parse_signature_header` and `check_signature_age` are the shared, clock-free part.
- **Ordering** (`decide_subscription_event`): Stripe does not guarantee delivery order
  (docs.stripe.com/webhooks#event-ordering). Each subscription event has the key
  `(ends, created, kind rank, event id)`; the stored state keeps the key of the event it came
  from, and an incoming event is applied only if its key is greater. `ends` comes first, so an
  event that ends the subscription (`deleted`, or status `canceled`/`incomplete_expired`) beats
  every event that does not: a late `created` or `updated` can never revive a deleted
  subscription (a resubscription is a new subscription id). Within the same second the kind
  rank orders `created < updated < deleted`; two `updated` in one second are ordered by event
  id: arbitrary but identical on every instance, so all orders converge. Because the applied
  state is that of the greatest key seen, the final state does not depend on arrival order,
  and a replay changes nothing.
- **Grace** (`access_for`): `active` and `trialing` grant the plan's tier; `past_due` grants it
  until `past_due_since + grace period` (half-open: at that instant the user is Free);
  `canceled`, `unpaid`, `incomplete`, `incomplete_expired` and `paused` give Free, as does a
  price that is not in the catalog. `past_due_since` is the `created` time of the first
  past-due event after the last event that was not past due, computed from every event seen
  (stale ones included), so it too is independent of arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import msgspec

from training_analyzer.core.errors import ConfigurationError, InvalidInput
from training_analyzer.core.tiers import Tier, plan_for

SIGNATURE_TOLERANCE_S = 300  # stripe-python Webhook.DEFAULT_TOLERANCE
SIGNATURE_SCHEME = "v1"  # the only scheme Stripe signs live events with

# Stripe documents no maximum for ids; 255 is far above what it issues (e.g. 66-character
# checkout session ids) and keeps junk out of logs and storage.
_ID_MAX = 255
# "Idempotency keys can be up to 255 characters long" (docs.stripe.com/api/idempotent_requests).
_IDEMPOTENCY_KEY_MAX = 255
_URL_MAX = 2048
_EMAIL_MAX = 512  # Stripe's limit on a customer's email
_HEADER_MAX = 8192
# 2100-01-01T00:00:00Z: no genuine Stripe timestamp is later; larger values are malformed.
_MAX_UNIX_S = 4_102_444_800


class BillingPeriod(StrEnum):
    """How often a subscription renews; the value is what the API and settings use."""

    MONTH = "month"
    YEAR = "year"


class SubscriptionStatus(StrEnum):
    """A Stripe subscription status (docs.stripe.com/api/subscriptions/object#status)."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# Stripe calls incomplete_expired terminal; canceled cannot be undone either.
_ENDED_STATUSES = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})
_PAID_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


class SubscriptionEventKind(StrEnum):
    """Which `customer.subscription.*` event carried a subscription."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


_KIND_RANK = {
    SubscriptionEventKind.CREATED: 0,
    SubscriptionEventKind.UPDATED: 1,
    SubscriptionEventKind.DELETED: 2,
}


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the adapters, so both raise the same InvalidInput
# ---------------------------------------------------------------------------------------------


def check_identifier(argument: str, value: str, *, maximum: int = _ID_MAX) -> str:
    """Return `value` if it is a non-empty printable token without spaces, else InvalidInput."""
    if not isinstance(value, str) or not 1 <= len(value) <= maximum:
        raise InvalidInput(argument, f"must be a string of 1 to {maximum} characters")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidInput(argument, "must not contain spaces or control characters")
    return value


def check_idempotency_key(value: str) -> str:
    """Return `value` if it is a valid Stripe idempotency key (1 to 255 printable characters)."""
    return check_identifier("idempotency_key", value, maximum=_IDEMPOTENCY_KEY_MAX)


def check_email(value: str) -> str:
    """Return `value` if it looks like an email address (the accounts service normalised it)."""
    check_identifier("email", value, maximum=_EMAIL_MAX)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise InvalidInput("email", "must be an email address")
    return value


def check_url(argument: str, value: str) -> str:
    """Return `value` if it is an absolute http(s) URL without spaces, else InvalidInput."""
    check_identifier(argument, value, maximum=_URL_MAX)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in {"http", "https"} or not rest or rest.startswith("/"):
        raise InvalidInput(argument, "must be an absolute http(s) URL")
    return value


def check_aware(argument: str, instant: datetime) -> datetime:
    """Return `instant` if it is a timezone-aware datetime, else raise InvalidInput."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise InvalidInput(argument, "must be a timezone-aware datetime")
    return instant


def _check_count(argument: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(argument, f"must be a non-negative integer, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Checkout, portal and prices
# ---------------------------------------------------------------------------------------------


class CheckoutRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a user asks to buy: a paid tier (`plan` on the wire) and a billing period."""

    tier: Tier = msgspec.field(name="plan")
    period: BillingPeriod

    def __post_init__(self) -> None:
        if not isinstance(self.tier, Tier) or self.tier is Tier.FREE:
            raise InvalidInput("plan", f"must be a paid plan, got {self.tier!r}")
        if not isinstance(self.period, BillingPeriod):
            raise InvalidInput("period", f"must be 'month' or 'year', got {self.period!r}")

    def amount_cents(self) -> int:
        """Return the price of one period in integer cents, from the tier table."""
        plan = plan_for(self.tier)
        if self.period is BillingPeriod.MONTH:
            return plan.monthly_price_cents
        return plan.yearly_price_cents


class CheckoutSession(msgspec.Struct, frozen=True, kw_only=True):
    """A created checkout session: send the browser to `url`."""

    id: str
    url: str


class PortalSession(msgspec.Struct, frozen=True, kw_only=True):
    """A billing-portal session: send the browser to `url`."""

    url: str


class CatalogPrice(msgspec.Struct, frozen=True, kw_only=True):
    """One provider price id and the paid tier and period it sells."""

    tier: Tier
    period: BillingPeriod
    price_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.tier, Tier) or self.tier is Tier.FREE:
            raise InvalidInput("tier", f"a price must sell a paid tier, got {self.tier!r}")
        if not isinstance(self.period, BillingPeriod):
            raise InvalidInput("period", f"must be 'month' or 'year', got {self.period!r}")
        check_identifier("price_id", self.price_id)


class PriceCatalog(msgspec.Struct, frozen=True, kw_only=True):
    """The provider prices we sell, from settings.

    The first price for a (tier, period) is the one new checkouts use; later ones are legacy
    prices that existing subscriptions may still carry, so they keep mapping to their tier.
    """

    prices: tuple[CatalogPrice, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for price in self.prices:
            if price.price_id in seen:
                raise InvalidInput("prices", f"price id {price.price_id!r} is listed twice")
            seen.add(price.price_id)

    def price_id_for(self, *, tier: Tier, period: BillingPeriod) -> str:
        """Return the price id new checkouts for (tier, period) use.

        Raises ConfigurationError when no price is configured for it.
        """
        for price in self.prices:
            if price.tier is tier and price.period is period:
                return price.price_id
        raise ConfigurationError(f"no price is configured for {tier} per {period}")

    def lookup(self, price_id: str | None) -> CatalogPrice | None:
        """Return the catalog entry of `price_id`, or None for an unknown (or no) price."""
        for price in self.prices:
            if price.price_id == price_id:
                return price
        return None


# ---------------------------------------------------------------------------------------------
# Normalised payment events
# ---------------------------------------------------------------------------------------------


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """A provider subscription as we need it: who, which price, which status, until when."""

    subscription_id: str
    customer_id: str
    status: SubscriptionStatus
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    user_id: str | None  # from the subscription's metadata, set at checkout


class CheckoutCompleted(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="checkout_completed"
):
    """`checkout.session.completed`: a customer finished a checkout page."""

    event_id: str
    created: datetime
    session_id: str
    customer_id: str | None
    subscription_id: str | None
    user_id: str | None  # metadata.user_id, else client_reference_id
    payment_status: str  # "paid", "unpaid" or "no_payment_required"


class SubscriptionChanged(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="subscription_changed"
):
    """`customer.subscription.created|updated|deleted` with the subscription it carried."""

    event_id: str
    created: datetime
    kind: SubscriptionEventKind
    subscription_id: str
    customer_id: str
    status: SubscriptionStatus
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    user_id: str | None

    @property
    def ends_subscription(self) -> bool:
        """Whether this event ends the subscription for good (deleted, canceled, expired)."""
        return self.kind is SubscriptionEventKind.DELETED or self.status in _ENDED_STATUSES

    @property
    def subscription(self) -> Subscription:
        """The subscription this event carried."""
        return Subscription(
            subscription_id=self.subscription_id,
            customer_id=self.customer_id,
            status=self.status,
            price_id=self.price_id,
            current_period_end=self.current_period_end,
            cancel_at_period_end=self.cancel_at_period_end,
            user_id=self.user_id,
        )


class InvoicePaid(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="invoice_paid"):
    """`invoice.payment_succeeded`: `amount_cents` (integer cents) was collected."""

    event_id: str
    created: datetime
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    amount_cents: int
    currency: str


class InvoiceFailed(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="invoice_failed"
):
    """`invoice.payment_failed`: collecting `amount_cents` failed; Stripe may retry."""

    event_id: str
    created: datetime
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    amount_cents: int
    currency: str
    attempt_count: int
    next_payment_attempt: datetime | None


class UnknownEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="unknown"):
    """Any other event type: acknowledged (so Stripe stops retrying) and otherwise ignored."""

    event_id: str
    created: datetime
    type: str


type PaymentEvent = (
    CheckoutCompleted | SubscriptionChanged | InvoicePaid | InvoiceFailed | UnknownEvent
)


# ---- Stripe's wire shapes (only the fields we read; unknown fields are ignored) --------------


class _Ref(msgspec.Struct, frozen=True):
    """An expanded object where an id would do; only its id matters."""

    id: str


type _Expandable = str | _Ref


class _Price(msgspec.Struct, frozen=True):
    id: str


class _Item(msgspec.Struct, frozen=True):
    price: _Price | None = None
    current_period_end: int | None = None


class _ItemList(msgspec.Struct, frozen=True):
    data: list[_Item] = msgspec.field(default_factory=list)


class _WireSubscription(msgspec.Struct, frozen=True):
    id: str
    customer: _Expandable
    status: SubscriptionStatus
    cancel_at_period_end: bool = False
    items: _ItemList = msgspec.field(default_factory=_ItemList)
    metadata: dict[str, str] | None = None
    current_period_end: int | None = None  # API versions before 2025-03-31 only


class _WireCheckoutSession(msgspec.Struct, frozen=True):
    id: str
    payment_status: str
    customer: _Expandable | None = None
    subscription: _Expandable | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] | None = None


class _SubscriptionDetails(msgspec.Struct, frozen=True):
    subscription: _Expandable | None = None


class _InvoiceParent(msgspec.Struct, frozen=True):
    subscription_details: _SubscriptionDetails | None = None


class _WireInvoice(msgspec.Struct, frozen=True):
    id: str
    currency: str
    amount_due: int
    amount_paid: int
    customer: _Expandable | None = None
    attempt_count: int = 0
    next_payment_attempt: int | None = None
    parent: _InvoiceParent | None = None
    subscription: _Expandable | None = None  # API versions before 2025-03-31 only


class _EventData(msgspec.Struct, frozen=True):
    object: msgspec.Raw


class _Envelope(msgspec.Struct, frozen=True):
    id: str
    object: str
    type: str
    created: int
    data: _EventData


_SUBSCRIPTION_KINDS = {
    "customer.subscription.created": SubscriptionEventKind.CREATED,
    "customer.subscription.updated": SubscriptionEventKind.UPDATED,
    "customer.subscription.deleted": SubscriptionEventKind.DELETED,
}


def _ref_id(ref: _Expandable | None) -> str | None:
    if ref is None:
        return None
    value = ref if isinstance(ref, str) else ref.id
    return check_identifier("payload", value)


def _instant(value: int) -> datetime:
    if not 0 <= value <= _MAX_UNIX_S:
        raise InvalidInput("payload", f"timestamp {value} is out of range")
    return datetime.fromtimestamp(value, UTC)


def _optional_instant(value: int | None) -> datetime | None:
    return None if value is None else _instant(value)


def _cents(value: int) -> int:
    if value < 0:
        raise InvalidInput("payload", f"an amount cannot be negative, got {value}")
    return value


def _decode[T](raw: bytes | msgspec.Raw, kind: type[T], what: str) -> T:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as e:
        raise InvalidInput("payload", f"not a Stripe {what}: {e}") from None
    except msgspec.DecodeError:
        raise InvalidInput("payload", "is not valid JSON") from None


def _subscription(wire: _WireSubscription) -> Subscription:
    subscription_id = check_identifier("payload", wire.id)
    customer_id = _ref_id(wire.customer)
    assert customer_id is not None  # the wire type does not admit None
    first = wire.items.data[0] if wire.items.data else None
    period_end = first.current_period_end if first is not None else None
    if period_end is None:
        period_end = wire.current_period_end
    price = first.price if first is not None else None
    metadata = wire.metadata or {}
    return Subscription(
        subscription_id=subscription_id,
        customer_id=customer_id,
        status=wire.status,
        price_id=None if price is None else check_identifier("payload", price.id),
        current_period_end=_optional_instant(period_end),
        cancel_at_period_end=wire.cancel_at_period_end,
        user_id=metadata.get("user_id") or None,
    )


def parse_stripe_subscription(payload: bytes) -> Subscription:
    """Normalise a Stripe subscription object (the JSON of GET /v1/subscriptions/{id}).

    Raises InvalidInput('payload') when it is not JSON or not shaped like a subscription.
    """
    return _subscription(_decode(payload, _WireSubscription, "subscription"))


def parse_stripe_event(payload: bytes) -> PaymentEvent:
    """Normalise a verified Stripe webhook body into a PaymentEvent.

    Event types we do not act on become UnknownEvent. Raises InvalidInput('payload') when the
    body is not JSON, not an event, or an event we act on lacks a field or has a wrong type
    (a float amount, an unknown subscription status, ...).
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise InvalidInput("payload", f"expected bytes, got {type(payload).__name__}")
    envelope = _decode(bytes(payload), _Envelope, "event")
    if envelope.object != "event":
        raise InvalidInput("payload", f"expected an event object, got {envelope.object!r}")
    event_id = check_identifier("payload", envelope.id)
    created = _instant(envelope.created)
    kind = _SUBSCRIPTION_KINDS.get(envelope.type)
    if kind is not None:
        s = _subscription(_decode(envelope.data.object, _WireSubscription, "subscription"))
        return SubscriptionChanged(
            event_id=event_id,
            created=created,
            kind=kind,
            subscription_id=s.subscription_id,
            customer_id=s.customer_id,
            status=s.status,
            price_id=s.price_id,
            current_period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            user_id=s.user_id,
        )
    if envelope.type == "checkout.session.completed":
        session = _decode(envelope.data.object, _WireCheckoutSession, "checkout session")
        metadata = session.metadata or {}
        return CheckoutCompleted(
            event_id=event_id,
            created=created,
            session_id=check_identifier("payload", session.id),
            customer_id=_ref_id(session.customer),
            subscription_id=_ref_id(session.subscription),
            user_id=metadata.get("user_id") or session.client_reference_id or None,
            payment_status=session.payment_status,
        )
    if envelope.type in {"invoice.payment_succeeded", "invoice.payment_failed"}:
        invoice = _decode(envelope.data.object, _WireInvoice, "invoice")
        details = invoice.parent.subscription_details if invoice.parent is not None else None
        subscription = details.subscription if details is not None else None
        invoice_id = check_identifier("payload", invoice.id)
        customer_id = _ref_id(invoice.customer)
        subscription_id = _ref_id(subscription or invoice.subscription)
        if envelope.type == "invoice.payment_succeeded":
            return InvoicePaid(
                event_id=event_id,
                created=created,
                invoice_id=invoice_id,
                customer_id=customer_id,
                subscription_id=subscription_id,
                amount_cents=_cents(invoice.amount_paid),
                currency=invoice.currency,
            )
        return InvoiceFailed(
            event_id=event_id,
            created=created,
            invoice_id=invoice_id,
            customer_id=customer_id,
            subscription_id=subscription_id,
            amount_cents=_cents(invoice.amount_due),
            currency=invoice.currency,
            attempt_count=_check_count("payload", invoice.attempt_count),
            next_payment_attempt=_optional_instant(invoice.next_payment_attempt),
        )
    return UnknownEvent(event_id=event_id, created=created, type=envelope.type)


# ---------------------------------------------------------------------------------------------
# Webhook signature header (the clock-free part of verification)
# ---------------------------------------------------------------------------------------------


class SignatureHeader(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed `Stripe-Signature` header: signing time and the v1 signatures it lists."""

    timestamp_s: int
    signatures: tuple[str, ...]


def parse_signature_header(header: str | None) -> SignatureHeader:
    """Parse `t=<unix>,v1=<hex>[,v1=<hex>...]`; other schemes (v0) are ignored.

    Raises InvalidInput('signature_header') when the header is missing, malformed, or carries
    no v1 signature.
    """
    if header is None or (isinstance(header, str) and not header.strip()):
        raise InvalidInput("signature_header", "the Stripe-Signature header is missing")
    if not isinstance(header, str) or len(header) > _HEADER_MAX:
        raise InvalidInput("signature_header", "is not a Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidInput("signature_header", "is not a list of key=value pairs")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise InvalidInput("signature_header", "has a missing or malformed timestamp")
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME and value:
            signatures.append(value)
    if timestamp is None:
        raise InvalidInput("signature_header", "has a missing or malformed timestamp")
    if not signatures:
        raise InvalidInput("signature_header", f"has no {SIGNATURE_SCHEME} signature")
    return SignatureHeader(timestamp_s=timestamp, signatures=tuple(signatures))


def check_signature_age(
    *, timestamp_s: int, now: datetime, tolerance_s: int = SIGNATURE_TOLERANCE_S
) -> None:
    """Raise InvalidInput('signature_header') if the signature is older than the tolerance.

    Stale means `timestamp_s < now - tolerance_s`, the rule of stripe-python's
    `WebhookSignature.verify_header`; exactly `tolerance_s` old is still accepted.
    """
    check_aware("now", now)
    _check_count("tolerance_s", tolerance_s)
    if timestamp_s < now.timestamp() - tolerance_s:
        raise InvalidInput(
            "signature_header",
            f"the signature timestamp is older than the {tolerance_s} s tolerance",
        )


# ---------------------------------------------------------------------------------------------
# Stored subscription state, event ordering and access
# ---------------------------------------------------------------------------------------------


class EventDecision(StrEnum):
    """What to do with a subscription event given the stored state."""

    APPLY = "apply"  # newer than anything applied: take its subscription
    DUPLICATE = "duplicate"  # the very event the state came from (a replay)
    STALE = "stale"  # older than the event the state came from
    AFTER_END = "after_end"  # the subscription has ended; this event cannot revive it


class SubscriptionState(msgspec.Struct, frozen=True, kw_only=True):
    """What we store per subscription: the latest subscription and where it came from.

    `last_event_*` and `ended` form the ordering key of the event the subscription fields came
    from. `settled_at` and `past_due_marks` record, from every event seen, the latest time the
    subscription was not past due and the past-due times since, for `past_due_since`.
    """

    subscription: Subscription
    last_event_id: str
    last_event_created: datetime
    last_event_kind: SubscriptionEventKind
    ended: bool
    settled_at: datetime | None
    past_due_marks: tuple[datetime, ...]

    @property
    def past_due_since(self) -> datetime | None:
        """When the current past-due spell began, or None if the subscription is not past due."""
        if self.subscription.status is not SubscriptionStatus.PAST_DUE:
            return None
        # Never empty when the status is past due (the latest event is itself a mark); the
        # fallback only guards a state built by hand.
        return self.past_due_marks[0] if self.past_due_marks else self.last_event_created


def ordering_key(event: SubscriptionChanged) -> tuple[bool, datetime, int, str]:
    """Return the total order of subscription events: (ends, created, kind rank, event id)."""
    return (event.ends_subscription, event.created, _KIND_RANK[event.kind], event.event_id)


def _state_key(state: SubscriptionState) -> tuple[bool, datetime, int, str]:
    return (
        state.ended,
        state.last_event_created,
        _KIND_RANK[state.last_event_kind],
        state.last_event_id,
    )


def decide_subscription_event(
    *, state: SubscriptionState | None, event: SubscriptionChanged
) -> EventDecision:
    """Say whether `event` should replace the stored subscription (see the module rules).

    Raises InvalidInput('event') if the event is about another subscription than the state.
    """
    if state is None:
        return EventDecision.APPLY
    if event.subscription_id != state.subscription.subscription_id:
        raise InvalidInput("event", "is about another subscription than the stored state")
    if event.event_id == state.last_event_id:
        return EventDecision.DUPLICATE
    if state.ended and not event.ends_subscription:
        return EventDecision.AFTER_END
    if ordering_key(event) < _state_key(state):
        return EventDecision.STALE
    return EventDecision.APPLY


def _fold_past_due(
    settled_at: datetime | None, marks: tuple[datetime, ...], event: SubscriptionChanged
) -> tuple[datetime | None, tuple[datetime, ...]]:
    """Record one observation; the result is a function of the set of observations."""
    t = event.created
    if event.status is SubscriptionStatus.PAST_DUE:
        if settled_at is None or t >= settled_at:
            marks = tuple(sorted({*marks, t}))
        return settled_at, marks
    if settled_at is None or t > settled_at:
        settled_at = t
        marks = tuple(m for m in marks if m >= t)
    return settled_at, marks


def apply_subscription_event(
    *, state: SubscriptionState | None, event: SubscriptionChanged
) -> SubscriptionState:
    """Return the state after seeing `event`: replaced if it is newer, else only annotated.

    Applying events in any order, any number of times, gives the state of applying them once
    in their true order. Raises InvalidInput('event') for another subscription's event.
    """
    decision = decide_subscription_event(state=state, event=event)
    settled_at, marks = (None, ()) if state is None else (state.settled_at, state.past_due_marks)
    settled_at, marks = _fold_past_due(settled_at, marks, event)
    if decision is EventDecision.APPLY or state is None:
        return SubscriptionState(
            subscription=event.subscription,
            last_event_id=event.event_id,
            last_event_created=event.created,
            last_event_kind=event.kind,
            ended=event.ends_subscription,
            settled_at=settled_at,
            past_due_marks=marks,
        )
    return msgspec.structs.replace(state, settled_at=settled_at, past_due_marks=marks)


def fold_subscription_events(
    events: Iterable[SubscriptionChanged], *, state: SubscriptionState | None = None
) -> SubscriptionState | None:
    """Apply `events` in the given order (arrival order) starting from `state`."""
    for event in events:
        state = apply_subscription_event(state=state, event=event)
    return state


class AccessReason(StrEnum):
    """Why a user has the tier `access_for` returned."""

    NO_SUBSCRIPTION = "no_subscription"
    ACTIVE = "active"
    TRIALING = "trialing"
    GRACE = "grace"  # past due, inside the grace period
    GRACE_EXPIRED = "grace_expired"  # past due for longer than the grace period
    INACTIVE = "inactive"  # canceled, unpaid, incomplete, incomplete_expired or paused
    UNKNOWN_PRICE = "unknown_price"  # a paid status on a price missing from the catalog


class Access(msgspec.Struct, frozen=True, kw_only=True):
    """The tier a subscription grants now, why, and until when if that is known."""

    tier: Tier
    reason: AccessReason
    until: datetime | None  # grace end; or period end of a subscription set to cancel


def access_for(
    *,
    state: SubscriptionState | None,
    catalog: PriceCatalog,
    now: datetime,
    grace_period_s: int,
) -> Access:
    """Return the tier the stored subscription grants at `now` (see the module rules).

    Raises InvalidInput for a naive `now` or a negative or non-integer `grace_period_s`.
    """
    check_aware("now", now)
    _check_count("grace_period_s", grace_period_s)
    if state is None:
        return Access(tier=Tier.FREE, reason=AccessReason.NO_SUBSCRIPTION, until=None)
    sub = state.subscription
    paid = catalog.lookup(sub.price_id)
    grants_access = sub.status in _PAID_STATUSES or sub.status is SubscriptionStatus.PAST_DUE
    if not grants_access:
        return Access(tier=Tier.FREE, reason=AccessReason.INACTIVE, until=None)
    if paid is None:
        return Access(tier=Tier.FREE, reason=AccessReason.UNKNOWN_PRICE, until=None)
    if sub.status is SubscriptionStatus.PAST_DUE:
        since = state.past_due_since
        assert since is not None  # the status is past due
        grace_end = since + timedelta(seconds=grace_period_s)
        if now < grace_end:
            return Access(tier=paid.tier, reason=AccessReason.GRACE, until=grace_end)
        return Access(tier=Tier.FREE, reason=AccessReason.GRACE_EXPIRED, until=None)
    reason = (
        AccessReason.ACTIVE if sub.status is SubscriptionStatus.ACTIVE else AccessReason.TRIALING
    )
    until = sub.current_period_end if sub.cancel_at_period_end else None
    return Access(tier=paid.tier, reason=reason, until=until)
