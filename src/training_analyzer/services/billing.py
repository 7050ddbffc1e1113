"""Billing: checkout and portal sessions, the Stripe webhook, and what a user's plan is now.

The rules come from the pure core (`core.billing`, decision 0020); this service stores and
applies them:

- **Checkout** creates the user's payment customer once (an idempotency key per user makes a
  retried creation return the same customer) and stores it before any session exists, so every
  later event's customer is known. The price id comes from the catalog in settings; the user id
  goes into the session's and the subscription's metadata (the gateway does that).
- **Webhooks** are verified by the gateway before anything is read. In one transaction the
  event id is recorded (a replay finds it and is acknowledged without effect), the customer
  is looked up (an unknown one is acknowledged and logged, nothing else changes), and a
  subscription event is folded into the stored `SubscriptionState` with
  `apply_subscription_event`, so arrival order does not matter. The state is written
  compare-and-set; losing a race rolls the whole transaction back (event id included) and
  retries it. Unknown event types are recorded, logged and acknowledged.
- **Access** is derived at request time with `access_for`, so a past-due subscription loses
  its tier exactly when the grace period from settings ends, without a job. A user with
  several subscriptions gets the best tier any of them grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

import msgspec
import structlog

from training_analyzer.core.accounts import AuditEvent
from training_analyzer.core.accounts import PaymentEvent as PaymentRecord
from training_analyzer.core.accounts import Subscription as SummaryRow
from training_analyzer.core.accounts import SubscriptionStatus as SummaryStatus
from training_analyzer.core.billing import (
    Access,
    AccessReason,
    BillingPeriod,
    CheckoutCompleted,
    CheckoutRequest,
    CheckoutSession,
    EventDecision,
    InvoiceFailed,
    InvoicePaid,
    PaymentEvent,
    PortalSession,
    PriceCatalog,
    SubscriptionChanged,
    UnknownEvent,
    access_for,
    apply_subscription_event,
    decide_subscription_event,
)
from training_analyzer.core.errors import Conflict, InvalidInput, NotFound
from training_analyzer.core.tiers import Tier, plan_for
from training_analyzer.ids import new_id
from training_analyzer.ports.billing_storage import BillingSubscription
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.payments import PaymentGateway
from training_analyzer.ports.storage import Storage, SystemUnitOfWork

log = structlog.get_logger(__name__)

# A compare-and-set loses only to a concurrent write of the same subscription; a handful of
# retries is plenty (each retry re-reads the state the winner wrote).
_WEBHOOK_ATTEMPTS = 5
RETURN_PATH = "/billing/return"


class WebhookOutcome(StrEnum):
    """What handling one webhook did (every outcome is acknowledged with 200)."""

    APPLIED = "applied"  # a subscription event changed the stored subscription
    STALE = "stale"  # older than the stored state (or after its end): nothing changed
    REPLAY = "replay"  # this event id was handled before
    RECORDED = "recorded"  # checkout or invoice event: recorded and audited
    IGNORED = "ignored"  # an event type we do not act on
    UNKNOWN_CUSTOMER = "unknown_customer"  # no user has this customer: recorded only


class WebhookResult(msgspec.Struct, frozen=True, kw_only=True):
    """The acknowledged event and what was done with it."""

    event_id: str
    event_type: str
    outcome: WebhookOutcome


class SubscriptionView(msgspec.Struct, frozen=True, kw_only=True):
    """The user's plan now and the subscription behind it (`GET /me/subscription`).

    `status` is the provider's status, or "none" without a subscription. `access_until` is
    when the tier ends on its own: the end of a past-due grace period, or the period end of a
    subscription set to cancel; None while it renews.
    """

    plan: Tier
    reason: AccessReason
    status: str
    subscription_id: str | None
    billing_period: BillingPeriod | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    access_until: datetime | None


def stripe_event_type(event: PaymentEvent) -> str:
    """The provider's event type string of a normalised event."""
    match event:
        case CheckoutCompleted():
            return "checkout.session.completed"
        case SubscriptionChanged(kind=kind):
            return f"customer.subscription.{kind.value}"
        case InvoicePaid():
            return "invoice.payment_succeeded"
        case InvoiceFailed():
            return "invoice.payment_failed"
        case UnknownEvent(type=event_type):
            return event_type


def effective_access(
    subscriptions: Sequence[BillingSubscription],
    *,
    catalog: PriceCatalog,
    now: datetime,
    grace_period_s: int,
) -> tuple[Access, BillingSubscription | None]:
    """The best tier any of the user's subscriptions grants at `now`, and that subscription.

    Ties go to the subscription whose access lasts longer (None, renewing, is longest). With no
    paid access, the newest subscription explains why (canceled, grace expired, ...).
    """
    best: tuple[Access, BillingSubscription] | None = None
    for sub in subscriptions:
        access = access_for(
            state=sub.state, catalog=catalog, now=now, grace_period_s=grace_period_s
        )
        if access.tier is Tier.FREE:
            continue
        if best is None or _better(access, best[0]):
            best = (access, sub)
    if best is not None:
        return best
    if not subscriptions:
        return Access(tier=Tier.FREE, reason=AccessReason.NO_SUBSCRIPTION, until=None), None
    newest = max(subscriptions, key=lambda s: s.state.last_event_created)
    access = access_for(state=newest.state, catalog=catalog, now=now, grace_period_s=grace_period_s)
    return access, newest


def _better(a: Access, b: Access) -> bool:
    rank_a, rank_b = plan_for(a.tier).rank, plan_for(b.tier).rank
    if rank_a != rank_b:
        return rank_a > rank_b
    if a.until is None or b.until is None:
        return a.until is None and b.until is not None
    return a.until > b.until


class _LostRaceError(Exception):
    """Another instance saved the same subscription first; the transaction must be redone."""


class BillingService:
    """Checkout, portal, webhooks and the user's current plan."""

    def __init__(
        self,
        *,
        storage: Storage,
        payments: PaymentGateway,
        clock: Clock,
        catalog: PriceCatalog,
        grace_period_s: int,
        public_base_url: str,
    ) -> None:
        if isinstance(grace_period_s, bool) or grace_period_s < 0:
            raise InvalidInput("grace_period_s", f"must be >= 0, got {grace_period_s!r}")
        self._storage = storage
        self._payments = payments
        self._clock = clock
        self._catalog = catalog
        self._grace_s = grace_period_s
        self._base = public_base_url.rstrip("/")

    @property
    def catalog(self) -> PriceCatalog:
        """The prices sold (from settings)."""
        return self._catalog

    @property
    def grace_period_s(self) -> int:
        """How long a past-due subscription keeps its tier."""
        return self._grace_s

    # ---- checkout and portal -------------------------------------------------------------

    async def start_checkout(self, *, user_id: str, request: CheckoutRequest) -> CheckoutSession:
        """Create a subscription-mode checkout for `request` and return its session (URL).

        Raises NotFound (no such user), Conflict (already on a paid plan: change it in the
        billing portal), ConfigurationError (no price configured), ExternalServiceError.
        """
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            customer_id = await uow.billing.customer_id(user_id=user_id)
            subscriptions = await uow.billing.subscriptions(user_id=user_id)
        access, current = effective_access(
            subscriptions, catalog=self._catalog, now=now, grace_period_s=self._grace_s
        )
        if access.tier is not Tier.FREE:
            raise Conflict(
                f"already subscribed to {access.tier}; change plans in the billing portal",
                plan=str(access.tier),
                subscription_id=None if current is None else current.subscription_id,
            )
        price_id = self._catalog.price_id_for(tier=request.tier, period=request.period)
        if customer_id is None:
            customer_id = await self._create_customer(user_id=user_id, email=user.email, now=now)
        session = await self._payments.create_checkout_session(
            customer_id=customer_id,
            price_id=price_id,
            user_id=user_id,
            success_url=f"{self._base}{RETURN_PATH}?result=success",
            cancel_url=f"{self._base}{RETURN_PATH}?result=cancel",
            idempotency_key=f"checkout-{new_id()}",
        )
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await uow.audit.append(
                user_id=user_id,
                event=AuditEvent(
                    id=new_id(),
                    action="billing.checkout_started",
                    at=now,
                    user_id=user_id,
                    details={"plan": str(request.tier), "period": str(request.period)},
                ),
            )
        log.info(
            "billing.checkout_started",
            user_id=user_id,
            plan=str(request.tier),
            period=str(request.period),
        )
        return session

    async def _create_customer(self, *, user_id: str, email: str, now: datetime) -> str:
        # The key makes a retry after a lost answer (or a concurrent checkout) return the
        # customer already created instead of a second one; add_customer keeps the first.
        created = await self._payments.create_customer(
            user_id=user_id, email=email, idempotency_key=f"customer-{user_id}"
        )
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            stored = await uow.billing.add_customer(user_id=user_id, customer_id=created, at=now)
        if stored == created:
            log.info("billing.customer_created", user_id=user_id)
        return stored

    async def open_portal(self, *, user_id: str) -> PortalSession:
        """Return a billing-portal session for the user's customer.

        Raises NotFound if the user never started a checkout (there is no customer yet).
        """
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            customer_id = await uow.billing.customer_id(user_id=user_id)
        if customer_id is None:
            raise NotFound("no billing account yet: start a checkout first", user_id=user_id)
        return await self._payments.create_portal_session(
            customer_id=customer_id, return_url=f"{self._base}{RETURN_PATH}?result=portal"
        )

    # ---- the user's plan ------------------------------------------------------------------

    async def access_of(self, *, user_id: str) -> Access:
        """The tier the user has now, why, and until when."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            subscriptions = await uow.billing.subscriptions(user_id=user_id)
        access, _ = effective_access(
            subscriptions,
            catalog=self._catalog,
            now=self._clock.now(),
            grace_period_s=self._grace_s,
        )
        return access

    async def subscription_of(self, *, user_id: str) -> SubscriptionView:
        """The user's plan, status, period end and cancel-at-period-end."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            if await uow.users.get(user_id=user_id) is None:
                raise NotFound("no such account", user_id=user_id)
            subscriptions = await uow.billing.subscriptions(user_id=user_id)
        access, sub = effective_access(
            subscriptions,
            catalog=self._catalog,
            now=self._clock.now(),
            grace_period_s=self._grace_s,
        )
        if sub is None:
            return SubscriptionView(
                plan=access.tier,
                reason=access.reason,
                status="none",
                subscription_id=None,
                billing_period=None,
                current_period_end=None,
                cancel_at_period_end=False,
                access_until=None,
            )
        s = sub.state.subscription
        return SubscriptionView(
            plan=access.tier,
            reason=access.reason,
            status=s.status.value,
            subscription_id=s.subscription_id,
            billing_period=sub.period,
            current_period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            access_until=access.until,
        )

    # ---- webhooks -------------------------------------------------------------------------

    async def handle_webhook(
        self, *, payload: bytes, signature_header: str | None
    ) -> WebhookResult:
        """Verify and apply one webhook delivery; every verified event is acknowledged.

        Raises InvalidInput('signature_header' or 'payload') for a bad, stale or malformed
        delivery (answer 400: nothing was changed).
        """
        now = self._clock.now()
        event = await self._payments.parse_webhook(
            payload=payload, signature_header=signature_header, now=now
        )
        event_type = stripe_event_type(event)
        for attempt in range(1, _WEBHOOK_ATTEMPTS + 1):
            try:
                async with self._storage.system(reason="apply a payment webhook") as uow:
                    outcome = await self._apply(uow, event, event_type, now)
            except _LostRaceError:
                log.info("billing.webhook_retry", event_id=event.event_id, attempt=attempt)
                continue
            log.info(
                "billing.webhook_handled",
                event_id=event.event_id,
                event_type=event_type,
                outcome=outcome.value,
            )
            return WebhookResult(event_id=event.event_id, event_type=event_type, outcome=outcome)
        raise Conflict("the subscription kept changing under this webhook; retry later")

    async def _apply(
        self, uow: SystemUnitOfWork, event: PaymentEvent, event_type: str, now: datetime
    ) -> WebhookOutcome:
        customer_id = _customer_of(event)
        user_id = None
        if customer_id is not None:
            user_id = await uow.billing.find_customer(customer_id=customer_id)
        amount, currency = _money_of(event)
        fresh = await uow.payment_events.record(
            event=PaymentRecord(
                id=event.event_id,
                type=event_type,
                received_at=now,
                user_id=user_id,
                amount_cents=amount,
                currency=currency,
            )
        )
        if not fresh:
            return WebhookOutcome.REPLAY
        outcome = await self._act(uow, event, event_type, user_id, now)
        await uow.payment_events.mark_processed(event_id=event.event_id, at=now)
        return outcome

    async def _act(
        self,
        uow: SystemUnitOfWork,
        event: PaymentEvent,
        event_type: str,
        user_id: str | None,
        now: datetime,
    ) -> WebhookOutcome:
        if isinstance(event, UnknownEvent):
            log.info("billing.webhook_ignored", event_id=event.event_id, event_type=event_type)
            return WebhookOutcome.IGNORED
        if user_id is None:
            log.warning(
                "billing.webhook_unknown_customer",
                event_id=event.event_id,
                event_type=event_type,
                customer_id=_customer_of(event),
            )
            return WebhookOutcome.UNKNOWN_CUSTOMER
        named = _user_named_by(event)
        if named is not None and named != user_id:
            # The customer mapping is ours and authoritative; metadata is only a hint.
            log.warning(
                "billing.webhook_user_mismatch", event_id=event.event_id, customer_user=user_id
            )
        details: dict[str, str] = {"event_id": event.event_id, "type": event_type}
        outcome = WebhookOutcome.RECORDED
        match event:
            case SubscriptionChanged():
                outcome = await self._apply_subscription(uow, event, user_id, now)
                details |= {"status": event.status.value, "outcome": outcome.value}
            case InvoicePaid() | InvoiceFailed():
                details |= {"amount_cents": str(event.amount_cents), "currency": event.currency}
                if isinstance(event, InvoiceFailed):
                    details["attempt_count"] = str(event.attempt_count)
            case CheckoutCompleted():
                details["payment_status"] = event.payment_status
        await uow.audit.append(
            user_id=user_id,
            event=AuditEvent(
                id=new_id(),
                action=f"billing.{event_type}",
                at=now,
                user_id=user_id,
                details=details,
            ),
        )
        return outcome

    async def _apply_subscription(
        self, uow: SystemUnitOfWork, event: SubscriptionChanged, user_id: str, now: datetime
    ) -> WebhookOutcome:
        stored = await uow.billing.get_subscription(
            user_id=user_id, subscription_id=event.subscription_id
        )
        state = None if stored is None else stored.state
        decision = decide_subscription_event(state=state, event=event)
        new_state = apply_subscription_event(state=state, event=event)
        if stored is not None and new_state == stored.state:
            return WebhookOutcome.STALE  # nothing to write (a replayed state, say)
        price = self._catalog.lookup(new_state.subscription.price_id)
        if price is None and new_state.subscription.price_id is not None:
            log.warning(
                "billing.unknown_price",
                subscription_id=event.subscription_id,
                price_id=new_state.subscription.price_id,
            )
        saved = await uow.billing.save_subscription(
            user_id=user_id,
            subscription=BillingSubscription(
                user_id=user_id,
                state=new_state,
                tier=None if price is None else price.tier,
                period=None if price is None else price.period,
                updated_at=now,
            ),
            expected_version=0 if stored is None else stored.version,
        )
        if not saved:
            raise _LostRaceError
        await self._project(uow, user_id, now)
        if decision is EventDecision.APPLY:
            return WebhookOutcome.APPLIED
        # Stale or after the end: the subscription stays; only the past-due bookkeeping moved.
        return WebhookOutcome.STALE

    async def _project(self, uow: SystemUnitOfWork, user_id: str, now: datetime) -> None:
        """Keep the one-row `subscriptions` summary (what `GET /me` shows) in step.

        It holds the subscription `effective_access` picks; its `event_at` is the newest event
        applied to any of the user's subscriptions, so the row's own guard never refuses it.
        """
        subscriptions = await uow.billing.subscriptions(user_id=user_id)
        _, chosen = effective_access(
            subscriptions, catalog=self._catalog, now=now, grace_period_s=self._grace_s
        )
        if chosen is None:
            return
        s = chosen.state.subscription
        await uow.subscriptions.save(
            user_id=user_id,
            subscription=SummaryRow(
                user_id=user_id,
                tier=chosen.tier or Tier.FREE,
                status=_SUMMARY_STATUS.get(s.status.value, SummaryStatus.CANCELED),
                event_at=max(x.state.last_event_created for x in subscriptions),
                updated_at=now,
                provider_customer_id=s.customer_id,
                provider_subscription_id=s.subscription_id,
                current_period_end=s.current_period_end,
                cancel_at_period_end=s.cancel_at_period_end,
            ),
        )


# The summary row speaks the accounts' six statuses: an expired incomplete subscription is
# over (canceled) and a paused one grants nothing, like unpaid.
_SUMMARY_STATUS: dict[str, SummaryStatus] = {m.value: m for m in SummaryStatus} | {
    "incomplete_expired": SummaryStatus.CANCELED,
    "paused": SummaryStatus.UNPAID,
}


def _customer_of(event: PaymentEvent) -> str | None:
    match event:
        case CheckoutCompleted() | InvoicePaid() | InvoiceFailed():
            return event.customer_id
        case SubscriptionChanged():
            return event.customer_id
        case UnknownEvent():
            return None


def _user_named_by(event: PaymentEvent) -> str | None:
    match event:
        case CheckoutCompleted() | SubscriptionChanged():
            return event.user_id
        case _:
            return None


def _money_of(event: PaymentEvent) -> tuple[int | None, str | None]:
    if isinstance(event, InvoicePaid | InvoiceFailed):
        return event.amount_cents, event.currency
    return None, None
