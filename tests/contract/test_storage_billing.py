"""Storage contract for billing (plans, customers, subscriptions, admin queries) over memory,
SQLite and PostgreSQL. Prices and limits are the tier table's (core/tiers.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from tests.contract.conftest import Backend
from tests.contract.storage_builders import activity, session, user
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.payments import FakePaymentGateway
from training_analyzer.core.billing import (
    BillingPeriod,
    CatalogPrice,
    CheckoutRequest,
    PriceCatalog,
    SubscriptionChanged,
    SubscriptionEventKind,
    SubscriptionState,
    SubscriptionStatus,
    apply_subscription_event,
)
from training_analyzer.core.errors import Conflict, Forbidden, NotFound
from training_analyzer.core.quotas import Denied
from training_analyzer.core.tiers import Capped, Entitlement, Feature, Plan, Tier, plan_table
from training_analyzer.ids import new_id
from training_analyzer.ports.billing_storage import BillingSubscription
from training_analyzer.ports.storage import Storage
from training_analyzer.services.billing import BillingService, WebhookOutcome
from training_analyzer.services.gates import FeatureGate, GateDecision

NOW = datetime(2026, 3, 2, 7, 30, 0, 123456, tzinfo=UTC)


async def _add_user(storage: Storage) -> str:
    u = user()
    async with storage.unit_of_work(user_id=u.id) as uow:
        await uow.users.add(user_id=u.id, user=u)
    return u.id


def _state(
    *,
    subscription_id: str = "sub_1",
    customer_id: str = "cus_1",
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    kind: SubscriptionEventKind = SubscriptionEventKind.CREATED,
    at: datetime = NOW,
    previous: SubscriptionState | None = None,
) -> SubscriptionState:
    event = SubscriptionChanged(
        event_id=f"evt_{new_id()}",
        created=at,
        kind=kind,
        subscription_id=subscription_id,
        customer_id=customer_id,
        status=status,
        price_id="price_pro_month",
        current_period_end=at + timedelta(days=30),
        cancel_at_period_end=False,
        user_id=None,
    )
    return apply_subscription_event(state=previous, event=event)


def _sub(user_id: str, state: SubscriptionState) -> BillingSubscription:
    return BillingSubscription(
        user_id=user_id,
        state=state,
        tier=Tier.PRO,
        period=BillingPeriod.MONTH,
        updated_at=NOW,
    )


# ---- plans ----------------------------------------------------------------------------------


async def test_plans_are_empty_until_seeded_then_equal_the_tier_table(storage: Storage) -> None:
    async with storage.system(reason="test") as uow:
        assert await uow.plans.all() == []
        assert await uow.plans.seed(plans=plan_table(), at=NOW) == 3
    async with storage.system(reason="test") as uow:
        assert await uow.plans.all() == plan_table()


async def test_seeding_keeps_stored_plans_and_adds_only_missing_tiers(storage: Storage) -> None:
    free, pro, coach = plan_table()
    changed = _with_limit(free, Feature.AI_WORKOUT_ANALYSIS, Capped(maximum=7))
    async with storage.system(reason="test") as uow:
        assert await uow.plans.seed(plans=[changed], at=NOW) == 1
    async with storage.system(reason="test") as uow:
        assert await uow.plans.seed(plans=plan_table(), at=NOW) == 2
        assert await uow.plans.all() == [changed, pro, coach]


async def test_replacing_a_plan_changes_its_limits(storage: Storage) -> None:
    free = plan_table()[0]
    changed = _with_limit(free, Feature.AI_CHAT_MESSAGE, Capped(maximum=25))
    async with storage.system(reason="test") as uow:
        await uow.plans.seed(plans=plan_table(), at=NOW)
        await uow.plans.replace(plan=changed, at=NOW)
    user_id = await _add_user(storage)
    async with storage.unit_of_work(user_id=user_id) as uow:  # users read plans too
        plans = await uow.plans.all()
    assert plans[0].limit(Feature.AI_CHAT_MESSAGE) == Capped(maximum=25)


async def test_replacing_an_unseeded_plan_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        async with storage.system(reason="test") as uow:
            await uow.plans.replace(plan=plan_table()[1], at=NOW)


async def test_only_the_system_scope_writes_plans(storage: Storage) -> None:
    user_id = await _add_user(storage)
    async with storage.unit_of_work(user_id=user_id) as uow:
        with pytest.raises(Forbidden):
            await uow.plans.seed(plans=plan_table(), at=NOW)
        with pytest.raises(Forbidden):
            await uow.plans.replace(plan=plan_table()[0], at=NOW)


async def test_concurrent_seeds_store_each_tier_once(backend: Backend) -> None:
    others = [await backend.open_another() for _ in range(3)]

    async def seed(s: Storage) -> int:
        async with s.system(reason="test") as uow:
            return await uow.plans.seed(plans=plan_table(), at=NOW)

    inserted = await asyncio.gather(*(seed(s) for s in [backend.storage, *others]))
    assert sum(inserted) == 3
    async with backend.storage.system(reason="test") as uow:
        assert await uow.plans.all() == plan_table()


def _with_limit(plan: Plan, feature: Feature, limit: Capped) -> Plan:
    entitlements = tuple(
        Entitlement(feature=e.feature, measure=e.measure, limit=limit)
        if e.feature is feature
        else e
        for e in plan.entitlements
    )
    return msgspec.structs.replace(plan, entitlements=entitlements)


# ---- customers ------------------------------------------------------------------------------


async def test_a_customer_is_stored_once_and_the_first_wins(storage: Storage) -> None:
    user_id = await _add_user(storage)
    async with storage.unit_of_work(user_id=user_id) as uow:
        assert await uow.billing.customer_id(user_id=user_id) is None
        assert await uow.billing.add_customer(user_id=user_id, customer_id="cus_A", at=NOW) == (
            "cus_A"
        )
        assert await uow.billing.add_customer(user_id=user_id, customer_id="cus_B", at=NOW) == (
            "cus_A"
        )
    async with storage.system(reason="test") as uow:
        assert await uow.billing.find_customer(customer_id="cus_A") == user_id
        assert await uow.billing.find_customer(customer_id="cus_B") is None


async def test_a_customer_of_another_account_is_a_conflict(storage: Storage) -> None:
    first, second = await _add_user(storage), await _add_user(storage)
    async with storage.unit_of_work(user_id=first) as uow:
        await uow.billing.add_customer(user_id=first, customer_id="cus_shared", at=NOW)
    with pytest.raises(Conflict):
        async with storage.unit_of_work(user_id=second) as uow:
            await uow.billing.add_customer(user_id=second, customer_id="cus_shared", at=NOW)


async def test_a_customer_needs_an_existing_account(storage: Storage) -> None:
    ghost = new_id()
    with pytest.raises(NotFound):
        async with storage.unit_of_work(user_id=ghost) as uow:
            await uow.billing.add_customer(user_id=ghost, customer_id="cus_ghost", at=NOW)


async def test_finding_customers_needs_the_system_scope(storage: Storage) -> None:
    user_id = await _add_user(storage)
    async with storage.unit_of_work(user_id=user_id) as uow:
        with pytest.raises(Forbidden):
            await uow.billing.find_customer(customer_id="cus_1")
        with pytest.raises(Forbidden):
            await uow.billing.live_subscriptions()
        with pytest.raises(Forbidden):
            await uow.billing.count_ended(since=NOW, until=NOW)
        with pytest.raises(Forbidden):
            await uow.billing.count_active_users(since=NOW, until=NOW)


# ---- subscriptions --------------------------------------------------------------------------


async def test_a_subscription_round_trips_with_its_whole_state(storage: Storage) -> None:
    user_id = await _add_user(storage)
    past_due = _state(
        status=SubscriptionStatus.PAST_DUE,
        kind=SubscriptionEventKind.UPDATED,
        at=NOW + timedelta(days=31),
        previous=_state(),
    )
    async with storage.unit_of_work(user_id=user_id) as uow:
        assert await uow.billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, past_due), expected_version=0
        )
    async with storage.unit_of_work(user_id=user_id) as uow:
        stored = await uow.billing.get_subscription(user_id=user_id, subscription_id="sub_1")
    assert stored == msgspec.structs.replace(_sub(user_id, past_due), version=1)
    assert stored.state.past_due_since == NOW + timedelta(days=31)


async def test_a_subscription_id_of_another_account_is_a_conflict(storage: Storage) -> None:
    first, second = await _add_user(storage), await _add_user(storage)
    async with storage.unit_of_work(user_id=first) as uow:
        assert await uow.billing.save_subscription(
            user_id=first, subscription=_sub(first, _state()), expected_version=0
        )
    with pytest.raises(Conflict):
        async with storage.unit_of_work(user_id=second) as uow:
            await uow.billing.save_subscription(
                user_id=second, subscription=_sub(second, _state()), expected_version=0
            )


async def test_saving_is_compare_and_set_on_the_version(storage: Storage) -> None:
    user_id = await _add_user(storage)
    first = _state()
    second = _state(kind=SubscriptionEventKind.UPDATED, at=NOW + timedelta(1), previous=first)
    async with storage.unit_of_work(user_id=user_id) as uow:
        billing = uow.billing
        assert await billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, first), expected_version=0
        )
        # A second creation, and a write based on a version that is not stored, both lose.
        assert not await billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, second), expected_version=0
        )
        assert not await billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, second), expected_version=2
        )
        assert await billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, second), expected_version=1
        )
        stored = await billing.get_subscription(user_id=user_id, subscription_id="sub_1")
    assert stored is not None
    assert (stored.version, stored.state) == (2, second)


async def test_concurrent_compare_and_set_lets_exactly_one_writer_win(backend: Backend) -> None:
    user_id = await _add_user(backend.storage)
    base = _state()
    async with backend.storage.unit_of_work(user_id=user_id) as uow:
        await uow.billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, base), expected_version=0
        )
    others = [await backend.open_another() for _ in range(4)]

    async def write(s: Storage, n: int) -> bool:
        state = _state(kind=SubscriptionEventKind.UPDATED, at=NOW + timedelta(n), previous=base)
        async with s.unit_of_work(user_id=user_id) as uow:
            return await uow.billing.save_subscription(
                user_id=user_id, subscription=_sub(user_id, state), expected_version=1
            )

    wins = await asyncio.gather(*(write(s, n) for n, s in enumerate(others, 1)))
    assert sorted(wins) == [False, False, False, True]
    async with backend.storage.unit_of_work(user_id=user_id) as uow:
        stored = await uow.billing.get_subscription(user_id=user_id, subscription_id="sub_1")
    assert stored is not None
    assert stored.version == 2


async def test_subscriptions_list_newest_event_first_and_stay_with_their_user(
    storage: Storage,
) -> None:
    owner, other = await _add_user(storage), await _add_user(storage)
    old = _state(subscription_id="sub_old", at=NOW - timedelta(days=60))
    new = _state(subscription_id="sub_new", at=NOW)
    async with storage.unit_of_work(user_id=owner) as uow:
        for state in (old, new):
            await uow.billing.save_subscription(
                user_id=owner, subscription=_sub(owner, state), expected_version=0
            )
    async with storage.unit_of_work(user_id=owner) as uow:
        listed = [s.subscription_id for s in await uow.billing.subscriptions(user_id=owner)]
    async with storage.unit_of_work(user_id=other) as uow:
        assert await uow.billing.subscriptions(user_id=other) == []
        assert await uow.billing.get_subscription(user_id=other, subscription_id="sub_new") is None
        with pytest.raises(Forbidden):
            await uow.billing.subscriptions(user_id=owner)
    assert listed == ["sub_new", "sub_old"]


async def test_a_subscription_needs_an_existing_account(storage: Storage) -> None:
    ghost = new_id()
    with pytest.raises(NotFound):
        async with storage.unit_of_work(user_id=ghost) as uow:
            await uow.billing.save_subscription(
                user_id=ghost, subscription=_sub(ghost, _state()), expected_version=0
            )


# ---- admin queries --------------------------------------------------------------------------


async def test_live_and_ended_subscriptions_are_told_apart(storage: Storage) -> None:
    user_id = await _add_user(storage)
    live = _state(subscription_id="sub_live")
    ended = _state(
        subscription_id="sub_gone",
        kind=SubscriptionEventKind.DELETED,
        status=SubscriptionStatus.CANCELED,
        at=NOW - timedelta(days=1),
        previous=_state(subscription_id="sub_gone", at=NOW - timedelta(days=40)),
    )
    last_month = _state(
        subscription_id="sub_older",
        kind=SubscriptionEventKind.DELETED,
        status=SubscriptionStatus.CANCELED,
        at=datetime(2026, 2, 27, tzinfo=UTC),
    )
    async with storage.unit_of_work(user_id=user_id) as uow:
        for state in (live, ended, last_month):
            await uow.billing.save_subscription(
                user_id=user_id, subscription=_sub(user_id, state), expected_version=0
            )
    month_start = datetime(2026, 3, 1, tzinfo=UTC)
    async with storage.system(reason="test") as uow:
        assert [s.subscription_id for s in await uow.billing.live_subscriptions()] == ["sub_live"]
        assert await uow.billing.count_ended(since=month_start, until=NOW) == 1
        assert await uow.billing.count_ended(since=month_start - timedelta(30), until=NOW) == 2


async def test_active_users_are_those_with_a_new_session_or_activity(storage: Storage) -> None:
    signed_in, trained, both, idle = [await _add_user(storage) for _ in range(4)]
    recent, stale = NOW - timedelta(days=2), NOW - timedelta(days=8)
    for user_id, session_at, activity_at in (
        (signed_in, recent, None),
        (trained, stale, recent),
        (both, recent, recent),
        (idle, stale, stale),
    ):
        async with storage.unit_of_work(user_id=user_id) as uow:
            await uow.sessions.add(user_id=user_id, session=session(user_id, at=session_at))
            if activity_at is not None:
                a = msgspec.structs.replace(activity(user_id), created_at=activity_at)
                await uow.activities.add(user_id=user_id, activity=a)
    async with storage.system(reason="test") as uow:
        count = await uow.billing.count_active_users(since=NOW - timedelta(days=7), until=NOW)
    assert count == 3


async def test_deleting_an_account_deletes_its_customer_and_subscriptions(
    storage: Storage,
) -> None:
    user_id = await _add_user(storage)
    async with storage.unit_of_work(user_id=user_id) as uow:
        await uow.billing.add_customer(user_id=user_id, customer_id="cus_1", at=NOW)
        await uow.billing.save_subscription(
            user_id=user_id, subscription=_sub(user_id, _state()), expected_version=0
        )
    async with storage.unit_of_work(user_id=user_id) as uow:
        assert await uow.users.delete(user_id=user_id)
    async with storage.system(reason="test") as uow:
        assert await uow.billing.find_customer(customer_id="cus_1") is None
        assert await uow.billing.live_subscriptions() == []


async def test_a_rolled_back_unit_of_work_stores_no_billing_rows(storage: Storage) -> None:
    user_id = await _add_user(storage)

    async def write_then_fail() -> None:
        async with storage.unit_of_work(user_id=user_id) as uow:
            await uow.billing.add_customer(user_id=user_id, customer_id="cus_1", at=NOW)
            await uow.billing.save_subscription(
                user_id=user_id, subscription=_sub(user_id, _state()), expected_version=0
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with storage.unit_of_work(user_id=user_id) as uow:
        assert await uow.billing.customer_id(user_id=user_id) is None
        assert await uow.billing.subscriptions(user_id=user_id) == []


# ---- the feature gate on every backend ------------------------------------------------------


async def test_fifty_parallel_gate_uses_grant_exactly_the_free_quota(backend: Backend) -> None:
    """Free has 5 AI workout analyses a month (core/tiers.py): 50 parallel tries from five
    app instances (their own pools or connections) get exactly 5 grants and 45 denials."""
    user_id = await _add_user(backend.storage)
    clock = FakeClock(NOW)
    catalog = PriceCatalog(prices=())
    instances = [backend.storage, *[await backend.open_another() for _ in range(4)]]
    gates = [
        FeatureGate(storage=s, clock=clock, catalog=catalog, grace_period_s=0) for s in instances
    ]
    await gates[0].ensure_plans()

    async def analyse(n: int) -> GateDecision:
        return await gates[n % len(gates)].consume(
            user_id=user_id, feature=Feature.AI_WORKOUT_ANALYSIS
        )

    decisions = await asyncio.gather(*(analyse(n) for n in range(50)))
    allowed = [d for d in decisions if d.allowed]
    denied = [d.decision for d in decisions if isinstance(d.decision, Denied)]
    assert len(allowed) == 5
    assert len(denied) == 45
    assert {(d.used, d.upgrade_to) for d in denied} == {(5, Tier.PRO)}
    async with backend.storage.unit_of_work(user_id=user_id) as uow:
        used = await uow.usage.get(
            user_id=user_id, feature=Feature.AI_WORKOUT_ANALYSIS, window_key="2026-03"
        )
    assert used == 5


# ---- webhooks applied concurrently by several instances ------------------------------------


async def _billing_instances(
    backend: Backend, gateway: FakePaymentGateway, clock: FakeClock
) -> list[BillingService]:
    instances = [backend.storage, *[await backend.open_another() for _ in range(4)]]
    return [
        BillingService(
            storage=s,
            payments=gateway,
            clock=clock,
            catalog=_CATALOG,
            grace_period_s=0,
            public_base_url="http://127.0.0.1:8000",
        )
        for s in instances
    ]


_CATALOG = PriceCatalog(
    prices=(CatalogPrice(tier=Tier.PRO, period=BillingPeriod.MONTH, price_id="price_pro_m"),)
)


async def test_one_event_delivered_in_parallel_is_applied_once(backend: Backend) -> None:
    clock = FakeClock(NOW)
    gateway = FakePaymentGateway(catalog=_CATALOG, webhook_secret="whsec_contract")
    services = await _billing_instances(backend, gateway, clock)
    user_id = await _add_user(backend.storage)
    session = await services[0].start_checkout(
        user_id=user_id, request=CheckoutRequest(tier=Tier.PRO, period=BillingPeriod.MONTH)
    )
    _, created, _ = gateway.complete_checkout(session_id=session.id, now=NOW)

    async def deliver(n: int) -> WebhookOutcome:
        result = await services[n % len(services)].handle_webhook(
            payload=created.payload, signature_header=created.signature_header
        )
        return result.outcome

    outcomes = await asyncio.gather(*(deliver(n) for n in range(10)))
    assert sorted(outcomes) == sorted([WebhookOutcome.APPLIED] + [WebhookOutcome.REPLAY] * 9)
    assert (await services[0].access_of(user_id=user_id)).tier is Tier.PRO


async def test_events_of_one_subscription_applied_in_parallel_converge(backend: Backend) -> None:
    clock = FakeClock(NOW)
    gateway = FakePaymentGateway(catalog=_CATALOG, webhook_secret="whsec_contract")
    services = await _billing_instances(backend, gateway, clock)
    user_id = await _add_user(backend.storage)
    session = await services[0].start_checkout(
        user_id=user_id, request=CheckoutRequest(tier=Tier.PRO, period=BillingPeriod.MONTH)
    )
    completed, created, paid = gateway.complete_checkout(session_id=session.id, now=NOW)
    sub_id = json.loads(created.payload)["data"]["object"]["id"]
    failed, past_due = gateway.fail_renewal(subscription_id=sub_id, now=NOW + timedelta(seconds=1))
    (deleted,) = gateway.cancel_subscription(subscription_id=sub_id, now=NOW + timedelta(seconds=2))
    clock.set(NOW + timedelta(seconds=2))
    hooks = [completed, created, paid, failed, past_due, deleted]
    await asyncio.gather(
        *(
            services[n % len(services)].handle_webhook(
                payload=h.payload, signature_header=h.signature_header
            )
            for n, h in enumerate(hooks)
        )
    )
    view = await services[0].subscription_of(user_id=user_id)
    assert (view.plan, view.status) == (Tier.FREE, "canceled")
    async with backend.storage.unit_of_work(user_id=user_id) as uow:
        (stored,) = await uow.billing.subscriptions(user_id=user_id)
    assert stored.state.ended
    assert stored.ended_at == datetime(2026, 3, 2, 7, 30, 2, tzinfo=UTC)  # whole seconds
