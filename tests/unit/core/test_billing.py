"""Billing rules: checkout prices, the price catalog, Stripe event parsing, signature headers,
the access rule per subscription status (with the grace period) and the out-of-order rule.

Sources for published values:
- Prices: core/tiers.py's plan table (Pro $9.99 a month or $99.90 a year, Coach $29.99 or
  $299.90), in integer cents.
- Subscription statuses and what they mean: docs.stripe.com/api/subscriptions/object#status
  (`incomplete_expired` is terminal; `past_due` while retries run; `canceled` or `unpaid` once
  they are exhausted).
- Webhook signatures: docs.stripe.com/webhooks#verify-manually, and stripe-python's
  `WebhookSignature.verify_header` (stale when `t < now - tolerance`, default tolerance 300 s).
- Delivery order is not guaranteed: docs.stripe.com/webhooks#event-ordering.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training_analyzer.core.billing import (
    SIGNATURE_TOLERANCE_S,
    Access,
    AccessReason,
    BillingPeriod,
    CatalogPrice,
    CheckoutCompleted,
    CheckoutRequest,
    EventDecision,
    InvoicePaid,
    PriceCatalog,
    SignatureHeader,
    SubscriptionChanged,
    SubscriptionEventKind,
    SubscriptionState,
    SubscriptionStatus,
    UnknownEvent,
    access_for,
    apply_subscription_event,
    check_signature_age,
    decide_subscription_event,
    fold_subscription_events,
    ordering_key,
    parse_signature_header,
    parse_stripe_event,
    parse_stripe_subscription,
)
from training_analyzer.core.errors import ConfigurationError, InvalidInput
from training_analyzer.core.tiers import Tier

T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
T0_S = 1_772_436_600  # 2026-03-02T07:30:00Z
GRACE_S = 3 * 86_400  # a three-day grace period, as a deployment might configure
PRO_MONTH = "price_ProMonthly"
COACH_MONTH = "price_CoachMonthly"
CATALOG = PriceCatalog(
    prices=(
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id=PRO_MONTH),
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.YEAR, price_id="price_ProYearly"),
        CatalogPrice(tier=Tier.COACH, period=BillingPeriod.MONTH, price_id=COACH_MONTH),
        CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id="price_ProMonthly2024"),
    )
)


def s(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def sub_event(
    event_id: str,
    at: datetime,
    status: SubscriptionStatus,
    *,
    kind: SubscriptionEventKind = SubscriptionEventKind.UPDATED,
    price_id: str | None = PRO_MONTH,
    subscription_id: str = "sub_1",
    cancel_at_period_end: bool = False,
) -> SubscriptionChanged:
    """A normalised subscription event."""
    return SubscriptionChanged(
        event_id=event_id,
        created=at,
        kind=kind,
        subscription_id=subscription_id,
        customer_id="cus_1",
        status=status,
        price_id=price_id,
        current_period_end=T0 + timedelta(days=31),
        cancel_at_period_end=cancel_at_period_end,
        user_id="user-1",
    )


A = SubscriptionStatus.ACTIVE
PD = SubscriptionStatus.PAST_DUE
CREATED = SubscriptionEventKind.CREATED
DELETED = SubscriptionEventKind.DELETED


# ---------------------------------------------------------------------------------------------
# Checkout requests and the price catalog
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "period", "cents"),
    [
        (Tier.PRO, BillingPeriod.MONTH, 999),
        (Tier.PRO, BillingPeriod.YEAR, 9_990),
        (Tier.COACH, BillingPeriod.MONTH, 2_999),
        (Tier.COACH, BillingPeriod.YEAR, 29_990),
    ],
)
def test_a_checkout_costs_the_tier_tables_price_in_cents(
    tier: Tier, period: BillingPeriod, cents: int
) -> None:
    amount = CheckoutRequest(tier=tier, period=period).amount_cents()

    assert amount == cents
    assert isinstance(amount, int)


def test_a_checkout_request_decodes_from_the_api_body_with_plan_and_period() -> None:
    request = msgspec.json.decode(b'{"plan": "coach", "period": "year"}', type=CheckoutRequest)

    assert request == CheckoutRequest(tier=Tier.COACH, period=BillingPeriod.YEAR)


def test_the_free_plan_cannot_be_bought() -> None:
    with pytest.raises(InvalidInput) as caught:
        CheckoutRequest(tier=Tier.FREE, period=BillingPeriod.MONTH)
    assert caught.value.argument == "plan"


def test_a_checkout_request_with_an_unknown_period_does_not_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"plan": "pro", "period": "week"}', type=CheckoutRequest)


def test_the_catalog_gives_the_first_price_to_new_checkouts_and_knows_legacy_ones() -> None:
    assert CATALOG.price_id_for(tier=Tier.PRO, period=BillingPeriod.MONTH) == PRO_MONTH
    legacy = CATALOG.lookup("price_ProMonthly2024")
    assert legacy is not None
    assert (legacy.tier, legacy.period) == (Tier.PRO, BillingPeriod.MONTH)
    assert CATALOG.lookup("price_Unknown") is None
    assert CATALOG.lookup(None) is None


def test_a_missing_catalog_price_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        CATALOG.price_id_for(tier=Tier.COACH, period=BillingPeriod.YEAR)


def test_a_catalog_refuses_duplicate_price_ids_and_free_prices() -> None:
    price = CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id="price_X")
    with pytest.raises(InvalidInput) as caught:
        PriceCatalog(prices=(price, price))
    assert caught.value.argument == "prices"
    with pytest.raises(InvalidInput) as caught:
        CatalogPrice(tier=Tier.FREE, period=BillingPeriod.MONTH, price_id="price_Free")
    assert caught.value.argument == "tier"


# ---------------------------------------------------------------------------------------------
# Parsing Stripe's shapes (the contract tests cover each event type through both gateways)
# ---------------------------------------------------------------------------------------------


def _event(event_type: str, obj: dict[str, Any], created: int = T0_S) -> bytes:
    envelope = {
        "id": "evt_1",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(envelope).encode()


def test_expanded_objects_are_read_by_their_id() -> None:
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "customer": {"id": "cus_1", "object": "customer", "email": "a@example.com"},
        "subscription": {"id": "sub_1", "object": "subscription"},
        "client_reference_id": "user-1",
        "metadata": {},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
    }

    event = parse_stripe_event(_event("checkout.session.completed", session))

    assert event == CheckoutCompleted(
        event_id="evt_1",
        created=T0,
        session_id="cs_test_1",
        customer_id="cus_1",
        subscription_id="sub_1",
        user_id="user-1",  # from client_reference_id, as metadata is empty
        payment_status="paid",
    )


def test_metadata_user_id_wins_over_client_reference_id() -> None:
    session = {
        "id": "cs_test_1",
        "customer": "cus_1",
        "client_reference_id": "from-reference",
        "metadata": {"user_id": "from-metadata"},
        "payment_status": "paid",
    }

    event = parse_stripe_event(_event("checkout.session.completed", session))

    assert isinstance(event, CheckoutCompleted)
    assert event.user_id == "from-metadata"


def test_a_subscription_without_items_has_no_price_and_no_period_end() -> None:
    subscription = parse_stripe_subscription(
        json.dumps(
            {
                "id": "sub_1",
                "object": "subscription",
                "customer": "cus_1",
                "status": "incomplete",
                "cancel_at_period_end": False,
                "items": {"object": "list", "data": []},
                "metadata": {},
            }
        ).encode()
    )

    assert (subscription.price_id, subscription.current_period_end, subscription.user_id) == (
        None,
        None,
        None,
    )


def test_an_invoice_without_a_subscription_has_none() -> None:
    invoice = {
        "id": "in_1",
        "customer": "cus_1",
        "currency": "eur",
        "amount_due": 1_500,
        "amount_paid": 1_500,
        "parent": None,
    }

    event = parse_stripe_event(_event("invoice.payment_succeeded", invoice))

    assert event == InvoicePaid(
        event_id="evt_1",
        created=T0,
        invoice_id="in_1",
        customer_id="cus_1",
        subscription_id=None,
        amount_cents=1_500,
        currency="eur",
    )


@pytest.mark.parametrize(
    ("event_type", "obj", "created"),
    [
        (
            "invoice.payment_failed",
            {"id": "in_1", "currency": "usd", "amount_due": -1, "amount_paid": 0},
            T0_S,
        ),
        ("customer.created", {"id": "cus_1"}, -1),
        ("customer.created", {"id": "cus_1"}, 10**12),
        (
            "customer.subscription.updated",
            {"id": "sub 1", "customer": "cus_1", "status": "active"},
            T0_S,
        ),
    ],
    ids=["negative-amount", "negative-created", "far-future-created", "id-with-space"],
)
def test_impossible_values_in_a_payload_are_invalid_input(
    event_type: str, obj: dict[str, Any], created: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_stripe_event(_event(event_type, obj, created))
    assert caught.value.argument == "payload"


def test_an_event_we_do_not_act_on_is_unknown_whatever_its_object() -> None:
    event = parse_stripe_event(_event("invoice.paid", {"anything": ["goes", 1.5]}))

    assert event == UnknownEvent(event_id="evt_1", created=T0, type="invoice.paid")


# ---------------------------------------------------------------------------------------------
# Signature header and age
# ---------------------------------------------------------------------------------------------


def test_a_signature_header_yields_its_time_and_every_v1_signature() -> None:
    header = parse_signature_header(f"t={T0_S},v1=aa11,v0=ignored,v1=bb22")

    assert header == SignatureHeader(timestamp_s=T0_S, signatures=("aa11", "bb22"))


@pytest.mark.parametrize(
    "header", [None, "", "t=,v1=aa", "t=-5,v1=aa", "t=1e9,v1=aa", "t=1,v0=aa", "v1=aa", "t=1;v1=a"]
)
def test_a_malformed_signature_header_is_invalid_input(header: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_signature_header(header)
    assert caught.value.argument == "signature_header"


@pytest.mark.parametrize(
    ("age_s", "fresh"),
    [(0, True), (SIGNATURE_TOLERANCE_S, True), (SIGNATURE_TOLERANCE_S + 1, False), (-600, True)],
    ids=["now", "exactly-300-s", "301-s", "future"],
)
def test_a_signature_is_stale_only_when_older_than_300_seconds(age_s: int, fresh: bool) -> None:
    # stripe-python: `if tolerance and timestamp < time.time() - tolerance: raise`.
    if fresh:
        check_signature_age(timestamp_s=T0_S - age_s, now=T0)
    else:
        with pytest.raises(InvalidInput):
            check_signature_age(timestamp_s=T0_S - age_s, now=T0)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_signature_age(timestamp_s=T0_S, now=datetime(2026, 3, 2, 7, 30))
    assert caught.value.argument == "now"


# ---------------------------------------------------------------------------------------------
# Access per status, and the grace period
# ---------------------------------------------------------------------------------------------


def state_of(*events: SubscriptionChanged) -> SubscriptionState:
    """The state after applying `events` in order."""
    state = fold_subscription_events(events)
    assert state is not None
    return state


def access(state: SubscriptionState | None, now: datetime) -> Access:
    """Access under the test catalog and a three-day grace period."""
    return access_for(state=state, catalog=CATALOG, now=now, grace_period_s=GRACE_S)


def test_no_subscription_is_free() -> None:
    assert access(None, T0) == Access(
        tier=Tier.FREE, reason=AccessReason.NO_SUBSCRIPTION, until=None
    )


@pytest.mark.parametrize(
    ("status", "tier", "reason"),
    [
        (SubscriptionStatus.ACTIVE, Tier.PRO, AccessReason.ACTIVE),
        (SubscriptionStatus.TRIALING, Tier.PRO, AccessReason.TRIALING),
        (SubscriptionStatus.CANCELED, Tier.FREE, AccessReason.INACTIVE),
        (SubscriptionStatus.UNPAID, Tier.FREE, AccessReason.INACTIVE),
        (SubscriptionStatus.INCOMPLETE, Tier.FREE, AccessReason.INACTIVE),
        (SubscriptionStatus.INCOMPLETE_EXPIRED, Tier.FREE, AccessReason.INACTIVE),
        (SubscriptionStatus.PAUSED, Tier.FREE, AccessReason.INACTIVE),
    ],
)
def test_each_status_grants_its_access(
    status: SubscriptionStatus, tier: Tier, reason: AccessReason
) -> None:
    state = state_of(sub_event("evt_1", T0, status, kind=CREATED))

    assert access(state, s(60)) == Access(tier=tier, reason=reason, until=None)


def test_a_coach_price_grants_coach_and_a_legacy_price_still_grants_its_tier() -> None:
    coach = state_of(sub_event("evt_1", T0, A, price_id=COACH_MONTH))
    legacy = state_of(sub_event("evt_1", T0, A, price_id="price_ProMonthly2024"))

    assert access(coach, T0).tier is Tier.COACH
    assert access(legacy, T0).tier is Tier.PRO


def test_a_paid_status_on_an_unknown_price_is_free() -> None:
    state = state_of(sub_event("evt_1", T0, A, price_id="price_NotOurs"))

    assert access(state, T0) == Access(
        tier=Tier.FREE, reason=AccessReason.UNKNOWN_PRICE, until=None
    )


def test_a_subscription_set_to_cancel_says_until_when() -> None:
    state = state_of(sub_event("evt_1", T0, A, cancel_at_period_end=True))

    assert access(state, T0) == Access(
        tier=Tier.PRO, reason=AccessReason.ACTIVE, until=T0 + timedelta(days=31)
    )


def test_past_due_keeps_the_tier_until_the_grace_period_ends_then_is_free() -> None:
    state = state_of(
        sub_event("evt_1", T0, A, kind=CREATED),
        sub_event("evt_2", s(100), PD),
    )
    grace_end = s(100 + GRACE_S)

    assert state.past_due_since == s(100)
    assert access(state, s(100)) == Access(
        tier=Tier.PRO, reason=AccessReason.GRACE, until=grace_end
    )
    assert access(state, grace_end - timedelta(microseconds=1)).tier is Tier.PRO
    assert access(state, grace_end) == Access(
        tier=Tier.FREE, reason=AccessReason.GRACE_EXPIRED, until=None
    )


def test_grace_is_measured_from_when_it_became_past_due_not_from_later_updates() -> None:
    state = state_of(
        sub_event("evt_1", T0, A, kind=CREATED),
        sub_event("evt_2", s(100), PD),
        sub_event("evt_3", s(86_400), PD),  # a second failed retry a day later
    )

    assert state.past_due_since == s(100)
    assert access(state, s(100 + GRACE_S)).tier is Tier.FREE


def test_a_new_past_due_spell_restarts_the_grace_period() -> None:
    state = state_of(
        sub_event("evt_1", T0, PD),
        sub_event("evt_2", s(1_000), A),  # paid
        sub_event("evt_3", s(40 * 86_400), PD),  # next renewal fails
    )

    assert state.past_due_since == s(40 * 86_400)
    assert access(state, s(40 * 86_400 + GRACE_S - 1)).reason is AccessReason.GRACE


def test_recovering_from_past_due_clears_it() -> None:
    state = state_of(sub_event("evt_1", T0, PD), sub_event("evt_2", s(10), A))

    assert state.past_due_since is None
    assert access(state, s(10 * GRACE_S)).reason is AccessReason.ACTIVE


def test_a_zero_grace_period_means_past_due_is_free_at_once() -> None:
    state = state_of(sub_event("evt_1", T0, PD))

    assert access_for(state=state, catalog=CATALOG, now=T0, grace_period_s=0).tier is Tier.FREE


@pytest.mark.parametrize("grace", [-1, 1.5, True])
def test_an_impossible_grace_period_is_invalid_input(grace: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        access_for(state=None, catalog=CATALOG, now=T0, grace_period_s=grace)
    assert caught.value.argument == "grace_period_s"


# ---------------------------------------------------------------------------------------------
# Out-of-order delivery
# ---------------------------------------------------------------------------------------------


def test_a_late_created_after_deleted_is_ignored() -> None:
    created = sub_event("evt_created", T0, A, kind=CREATED)
    deleted = sub_event("evt_deleted", s(3_600), SubscriptionStatus.CANCELED, kind=DELETED)
    state = state_of(deleted)

    assert decide_subscription_event(state=state, event=created) is EventDecision.AFTER_END
    after = apply_subscription_event(state=state, event=created)
    assert after.subscription.status is SubscriptionStatus.CANCELED
    assert access(after, s(3_600)).tier is Tier.FREE


def test_deleted_wins_even_over_an_update_stamped_later() -> None:
    # Clocks are not trusted to order an end: once ended, nothing revives the subscription.
    update = sub_event("evt_update", s(10), A)
    deleted = sub_event("evt_deleted", s(5), SubscriptionStatus.CANCELED, kind=DELETED)

    assert state_of(update, deleted) == state_of(deleted, update)
    assert state_of(update, deleted).subscription.status is SubscriptionStatus.CANCELED


def test_an_older_update_after_a_newer_one_is_ignored() -> None:
    newer = sub_event("evt_newer", s(20), PD)
    older = sub_event("evt_older", s(10), A)
    state = state_of(newer)

    assert decide_subscription_event(state=state, event=older) is EventDecision.STALE
    assert apply_subscription_event(state=state, event=older).subscription.status is PD


def test_a_replay_is_a_duplicate_and_changes_nothing() -> None:
    event = sub_event("evt_1", T0, PD)
    state = state_of(event)

    assert decide_subscription_event(state=state, event=event) is EventDecision.DUPLICATE
    assert apply_subscription_event(state=state, event=event) == state


def test_in_the_same_second_updated_follows_created() -> None:
    created = sub_event("evt_b", T0, SubscriptionStatus.INCOMPLETE, kind=CREATED)
    updated = sub_event("evt_a", T0, A)

    assert ordering_key(created) < ordering_key(updated)
    assert state_of(updated, created).subscription.status is A


def test_incomplete_expired_is_an_end_too() -> None:
    expired = sub_event("evt_1", s(23 * 3_600), SubscriptionStatus.INCOMPLETE_EXPIRED)
    late_active = sub_event("evt_2", s(24 * 3_600), A)

    state = state_of(expired, late_active)

    assert state.ended
    assert state.subscription.status is SubscriptionStatus.INCOMPLETE_EXPIRED


def test_an_event_of_another_subscription_is_refused() -> None:
    state = state_of(sub_event("evt_1", T0, A))

    with pytest.raises(InvalidInput) as caught:
        apply_subscription_event(
            state=state, event=sub_event("evt_2", s(1), A, subscription_id="sub_2")
        )
    assert caught.value.argument == "event"


# ---- properties over random lifecycles ------------------------------------------------------

_LIVE = [
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
]


@st.composite
def lifecycles(draw: st.DrawFn, *, strictly_increasing: bool = True) -> list[SubscriptionChanged]:
    """One subscription's events in their true order: created, updates, maybe an end."""
    first = draw(
        st.sampled_from(
            [SubscriptionStatus.INCOMPLETE, SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING]
        )
    )
    statuses = draw(st.lists(st.sampled_from(_LIVE), max_size=8))
    ending = draw(
        st.sampled_from([None, SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED])
    )
    gaps = draw(
        st.lists(
            st.integers(min_value=1 if strictly_increasing else 0, max_value=5 * 86_400),
            min_size=len(statuses) + 1,
            max_size=len(statuses) + 1,
        )
    )
    prices = draw(
        st.lists(
            st.sampled_from([PRO_MONTH, COACH_MONTH]),
            min_size=len(statuses) + 2,
            max_size=len(statuses) + 2,
        )
    )
    events = [sub_event("evt_0", T0, first, kind=CREATED, price_id=prices[0])]
    at = T0
    for i, status in enumerate(statuses, start=1):
        at += timedelta(seconds=gaps[i - 1])
        events.append(sub_event(f"evt_{i}", at, status, price_id=prices[i]))
    if ending is not None:
        at += timedelta(seconds=gaps[-1])
        kind = DELETED if ending is SubscriptionStatus.CANCELED else SubscriptionEventKind.UPDATED
        events.append(sub_event(f"evt_{len(events)}", at, ending, kind=kind, price_id=prices[-1]))
    return events


def _reference_past_due_since(events: list[SubscriptionChanged]) -> datetime | None:
    """Oracle: walk the true order; a past-due spell starts at its first past-due event."""
    since: datetime | None = None
    for event in events:
        # Any other status ends the spell; the next past-due event starts a new one.
        since = (since or event.created) if event.status is PD else None
    return since


@settings(max_examples=300)
@given(events=lifecycles(), seed=st.randoms(use_true_random=False))
def test_any_arrival_order_ends_in_the_true_order_state(
    events: list[SubscriptionChanged], seed: random.Random
) -> None:
    shuffled = list(events)
    seed.shuffle(shuffled)

    expected = fold_subscription_events(events)
    actual = fold_subscription_events(shuffled)

    assert actual == expected
    assert actual is not None
    assert actual.subscription == events[-1].subscription
    assert actual.past_due_since == _reference_past_due_since(events)


@settings(max_examples=200)
@given(events=lifecycles(), seed=st.randoms(use_true_random=False), data=st.data())
def test_replays_in_any_order_change_nothing(
    events: list[SubscriptionChanged], seed: random.Random, data: st.DataObject
) -> None:
    replays = data.draw(st.lists(st.sampled_from(events), max_size=10), label="replays")
    delivered = events + replays
    seed.shuffle(delivered)

    assert fold_subscription_events(delivered) == fold_subscription_events(events)


@settings(max_examples=200)
@given(
    events=lifecycles(strictly_increasing=False),
    first=st.randoms(use_true_random=False),
    second=st.randoms(use_true_random=False),
)
def test_with_same_second_events_every_order_still_converges(
    events: list[SubscriptionChanged], first: random.Random, second: random.Random
) -> None:
    # Stripe's `created` has one-second resolution, so ties happen; the tie-break (kind rank,
    # then event id) is arbitrary but the same for every arrival order and every instance.
    one, two = list(events), list(events)
    first.shuffle(one)
    second.shuffle(two)

    assert fold_subscription_events(one) == fold_subscription_events(two)


@settings(max_examples=200)
@given(events=lifecycles(), seed=st.randoms(use_true_random=False), offset_s=st.integers(0, 10**7))
def test_access_does_not_depend_on_arrival_order(
    events: list[SubscriptionChanged], seed: random.Random, offset_s: int
) -> None:
    shuffled = list(events)
    seed.shuffle(shuffled)
    now = s(offset_s)

    assert access(fold_subscription_events(shuffled), now) == access(
        fold_subscription_events(events), now
    )
