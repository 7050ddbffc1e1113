"""FeatureGate on fakes: tiers, limits from the plans table, atomic uses, local windows, history.

Limits are the tier table's (core/tiers.py): Free has 5 AI workout analyses a month, 10 AI
chat messages a day, 1 active AI plan, 180 days of history and no data export; Pro has 100 and
200, exports and unlimited history; Coach is unlimited. Timezone facts are tzdata's: New York
is on EDT (UTC-4) from 8 March 2026; Berlin springs forward on 29 March 2026 (02:00 CET ->
03:00 CEST, a 23-hour day) and falls back on 25 October 2026 (a 25-hour day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.services.test_billing import CATALOG, GRACE_S, World
from training_analyzer.core.billing import BillingPeriod, CheckoutRequest
from training_analyzer.core.errors import InvalidInput, NotFound, QuotaExceeded
from training_analyzer.core.quotas import Allowed, Denied, day_start
from training_analyzer.core.tiers import Capped, Feature, NotIncluded, Tier, Unlimited
from training_analyzer.ids import new_id
from training_analyzer.services.billing_admin import BillingAdminService
from training_analyzer.services.gates import FeatureGate, history_start_for

ANALYSIS = Feature.AI_WORKOUT_ANALYSIS
CHAT = Feature.AI_CHAT_MESSAGE
EXPORT = Feature.DATA_EXPORT


class Gated(World):
    """The billing world plus the gate over the same storage and clock."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = FeatureGate(
            storage=self.storage, clock=self.clock, catalog=CATALOG, grace_period_s=GRACE_S
        )

    async def add_user_in(self, timezone: str) -> str:
        user_id = await self.add_user()
        async with self.storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            assert user is not None
            await uow.users.update(
                user_id=user_id, user=msgspec.structs.replace(user, timezone=timezone)
            )
        return user_id

    async def used(self, user_id: str, feature: Feature, window: str) -> int:
        async with self.storage.unit_of_work(user_id=user_id) as uow:
            return await uow.usage.get(user_id=user_id, feature=feature, window_key=window)


@pytest.fixture
def world() -> Gated:
    return Gated()


async def test_a_free_user_gets_five_analyses_a_month_then_a_denial(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    allowed = [await world.gate.consume(user_id=user_id, feature=ANALYSIS) for _ in range(5)]
    # Core's `remaining` counts the use being made: 5, 4, 3, 2, 1.
    assert [a.decision.remaining for a in allowed] == [5, 4, 3, 2, 1]  # type: ignore[union-attr]
    denied = await world.gate.consume(user_id=user_id, feature=ANALYSIS)
    assert denied.decision == Denied(
        feature=ANALYSIS,
        limit=Capped(maximum=5),
        used=5,
        resets_at=datetime(2026, 4, 1, tzinfo=UTC),
        upgrade_to=Tier.PRO,
    )
    assert await world.used(user_id, ANALYSIS, "2026-03") == 5


async def test_require_raises_the_402_error_with_the_problem_fields(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    for _ in range(10):
        await world.gate.require(user_id=user_id, feature=CHAT)
    with pytest.raises(QuotaExceeded) as refused:
        await world.gate.require(user_id=user_id, feature=CHAT)
    assert refused.value.details == {
        "feature": "ai_chat_message",
        "limit": 10,
        "used": 10,
        "resets_at": "2026-03-03T00:00:00+00:00",
        "upgrade_to": "pro",
    }


async def test_a_monthly_quota_resets_at_the_local_month_start(world: Gated) -> None:
    user_id = await world.add_user_in("America/New_York")
    # 31 March, 23:30 in New York (EDT, UTC-4) is already 1 April in UTC.
    world.clock.set(datetime(2026, 4, 1, 3, 30, tzinfo=UTC))
    for _ in range(5):
        assert (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).allowed
    denied = (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).decision
    local_april = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert isinstance(denied, Denied)
    assert denied.resets_at == local_april
    world.clock.set(local_april - timedelta(microseconds=1))
    assert not (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).allowed
    world.clock.set(local_april)
    grant = await world.gate.consume(user_id=user_id, feature=ANALYSIS)
    assert (grant.allowed, grant.window_key) == (True, "2026-04")
    assert await world.used(user_id, ANALYSIS, "2026-03") == 5


@pytest.mark.parametrize(
    ("day", "midnight_utc", "next_midnight_utc"),
    [
        # Spring forward: 29 March is 23 hours long in Berlin.
        (
            date(2026, 3, 29),
            datetime(2026, 3, 28, 23, tzinfo=UTC),
            datetime(2026, 3, 29, 22, tzinfo=UTC),
        ),
        # Fall back: 25 October is 25 hours long.
        (
            date(2026, 10, 25),
            datetime(2026, 10, 24, 22, tzinfo=UTC),
            datetime(2026, 10, 25, 23, tzinfo=UTC),
        ),
    ],
)
async def test_a_daily_quota_resets_at_local_midnight_across_a_dst_change(
    world: Gated, day: date, midnight_utc: datetime, next_midnight_utc: datetime
) -> None:
    user_id = await world.add_user_in("Europe/Berlin")
    world.clock.set(midnight_utc)
    for _ in range(10):
        assert (await world.gate.consume(user_id=user_id, feature=CHAT)).allowed
    # Late in the (short or long) local day the quota is still spent ...
    world.clock.set(next_midnight_utc - timedelta(seconds=1))
    denied = (await world.gate.consume(user_id=user_id, feature=CHAT)).decision
    assert isinstance(denied, Denied)
    assert denied.resets_at == next_midnight_utc
    # ... and at the next local midnight it is whole again.
    world.clock.set(next_midnight_utc)
    grant = await world.gate.consume(user_id=user_id, feature=CHAT)
    assert grant.allowed
    assert grant.window_key == (day + timedelta(days=1)).isoformat()
    assert await world.used(user_id, CHAT, day.isoformat()) == 10


async def test_a_coach_has_unlimited_analyses_and_they_are_still_counted(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    await world.subscribe(user_id, CheckoutRequest(tier=Tier.COACH, period=BillingPeriod.MONTH))
    for _ in range(120):
        grant = await world.gate.consume(user_id=user_id, feature=ANALYSIS)
        assert grant.decision == Allowed(
            feature=ANALYSIS, remaining=Unlimited(), resets_at=datetime(2026, 4, 1, tzinfo=UTC)
        )
    assert await world.used(user_id, ANALYSIS, "2026-03") == 120


async def test_export_is_denied_to_free_and_allowed_to_pro(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    denied = await world.gate.consume(user_id=user_id, feature=EXPORT)
    assert denied.decision == Denied(
        feature=EXPORT, limit=NotIncluded(), used=0, resets_at=None, upgrade_to=Tier.PRO
    )
    await world.subscribe(user_id)
    grant = await world.gate.consume(user_id=user_id, feature=EXPORT)
    assert grant.decision == Allowed(feature=EXPORT, remaining=Unlimited(), resets_at=None)
    assert await world.used(user_id, EXPORT, "2026-03-02") == 1  # counted per local day


async def test_a_failed_block_gives_its_use_back(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")

    async def analyse_then_fail() -> None:
        async with world.gate.use(user_id=user_id, feature=ANALYSIS):
            assert await world.used(user_id, ANALYSIS, "2026-03") == 1
            raise RuntimeError("the language model failed")

    with pytest.raises(RuntimeError):
        await analyse_then_fail()
    assert await world.used(user_id, ANALYSIS, "2026-03") == 0
    async with world.gate.use(user_id=user_id, feature=ANALYSIS) as grant:
        assert grant.counted
    assert await world.used(user_id, ANALYSIS, "2026-03") == 1


async def test_a_concurrent_limit_is_decided_on_the_items_in_use(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    plans = Feature.ACTIVE_AI_PLANS
    assert (await world.gate.consume(user_id=user_id, feature=plans, in_use=0)).allowed
    denied = (await world.gate.consume(user_id=user_id, feature=plans, in_use=1)).decision
    assert denied == Denied(
        feature=plans, limit=Capped(maximum=1), used=1, resets_at=None, upgrade_to=Tier.PRO
    )
    with pytest.raises(InvalidInput):
        await world.gate.consume(user_id=user_id, feature=plans)
    with pytest.raises(InvalidInput):
        await world.gate.consume(user_id=user_id, feature=ANALYSIS, in_use=0)
    with pytest.raises(InvalidInput):
        await world.gate.consume(user_id=user_id, feature=Feature.HISTORY_DAYS)


async def test_limits_changed_by_an_admin_apply_on_the_next_use(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    admin = BillingAdminService(
        storage=world.storage,
        clock=world.clock,
        catalog=CATALOG,
        grace_period_s=GRACE_S,
        gate=world.gate,
    )
    for _ in range(5):
        await world.gate.consume(user_id=user_id, feature=ANALYSIS)
    assert not (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).allowed
    await admin.update_plan_limits(
        admin_id=user_id, plan_id="free", limits={ANALYSIS: Capped(maximum=7)}
    )
    assert (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).allowed
    assert (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).allowed
    denied = (await world.gate.consume(user_id=user_id, feature=ANALYSIS)).decision
    assert isinstance(denied, Denied)
    assert (denied.limit, denied.used) == (Capped(maximum=7), 7)
    with pytest.raises(InvalidInput):  # an on/off feature cannot be capped
        await admin.update_plan_limits(
            admin_id=user_id, plan_id="free", limits={EXPORT: Capped(maximum=3)}
        )


async def test_free_history_is_hidden_and_comes_back_on_upgrade(world: Gated) -> None:
    user_id = await world.add_user_in("Europe/Berlin")
    # Free shows the last 180 local days, today included: from 00:00 on 4 Sept 2025 in Berlin
    # (CEST, UTC+2) when today is 2 March 2026.
    expected = datetime(2025, 9, 3, 22, 0, tzinfo=UTC)
    assert await world.gate.history_start(user_id=user_id) == expected
    sub_id = await world.subscribe(user_id)
    assert await world.gate.history_start(user_id=user_id) is None
    world.clock.advance(days=1)
    await world.deliver(
        world.gateway.cancel_subscription(subscription_id=sub_id, now=world.clock.now())
    )
    assert await world.gate.history_start(user_id=user_id) == expected + timedelta(days=1)


async def test_usage_lists_every_limit_with_its_use_and_reset(world: Gated) -> None:
    user_id = await world.add_user_in("UTC")
    await world.gate.consume(user_id=user_id, feature=ANALYSIS)
    report = await world.gate.usage(user_id=user_id)
    lines = {line.feature: line for line in report.features}
    assert report.plan is Tier.FREE
    assert len(lines) == len(Feature)
    assert (lines[ANALYSIS].used, lines[ANALYSIS].window) == (1, "2026-03")
    assert lines[ANALYSIS].resets_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert (lines[CHAT].used, lines[CHAT].resets_at) == (0, datetime(2026, 3, 3, tzinfo=UTC))
    assert lines[Feature.ACTIVE_AI_PLANS].used is None
    assert lines[Feature.HISTORY_DAYS].visible_from == datetime(2025, 9, 4, tzinfo=UTC)
    assert lines[EXPORT].limit == NotIncluded()


async def test_the_plans_are_seeded_from_the_tier_table(world: Gated) -> None:
    plans = await world.gate.plans()
    assert [p.tier for p in plans] == [Tier.FREE, Tier.PRO, Tier.COACH]
    assert [p.monthly_price_cents for p in plans] == [0, 999, 2_999]


async def test_an_unknown_user_is_not_found(world: Gated) -> None:
    with pytest.raises(NotFound):
        await world.gate.consume(user_id=new_id(), feature=ANALYSIS)


@settings(max_examples=60, deadline=None)
@given(
    days=st.integers(min_value=1, max_value=4000),
    instant=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_history_shows_exactly_the_last_n_local_days(
    days: int, instant: datetime, timezone: str
) -> None:
    start = history_start_for(limit=Capped(maximum=days), now=instant, timezone=timezone)
    assert start is not None
    assert start <= instant
    local_first = start.astimezone(ZoneInfo(timezone)).date()
    today = instant.astimezone(ZoneInfo(timezone)).date()
    assert (today - local_first).days == days - 1
    assert start == day_start(day=local_first, timezone=timezone)
