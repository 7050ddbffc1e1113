"""The tier table is the product plan: prices in cents and one explicit limit per feature."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.tiers import (
    Capped,
    Entitlement,
    Feature,
    Included,
    Limit,
    Measure,
    NotIncluded,
    Plan,
    Tier,
    Unlimited,
    admits,
    allows,
    cheapest_tier_allowing,
    limit_for,
    measure_of,
    plan_for,
    plan_table,
)

# The product plan (the brief for this module): Free gets 5 AI analyses a month, 10 chat
# messages a day, 3 workout generations a month, 1 active AI plan, 180 days of history and no
# export; Pro is $9.99 a month, Coach $29.99 a month; race strategy and nutrition are Coach-only.


def test_free_tier_limits_match_the_product_plan() -> None:
    free = plan_for(Tier.FREE)
    assert free.limit(Feature.AI_WORKOUT_ANALYSIS) == Capped(maximum=5)
    assert free.limit(Feature.AI_CHAT_MESSAGE) == Capped(maximum=10)
    assert free.limit(Feature.AI_WORKOUT_GENERATION) == Capped(maximum=3)
    assert free.limit(Feature.ACTIVE_AI_PLANS) == Capped(maximum=1)
    assert free.limit(Feature.HISTORY_DAYS) == Capped(maximum=180)
    assert free.limit(Feature.DATA_EXPORT) == NotIncluded()
    assert free.limit(Feature.PRIORITY_SYNC) == NotIncluded()
    assert free.limit(Feature.RACE_STRATEGY) == NotIncluded()
    assert free.limit(Feature.NUTRITION_PLAN) == NotIncluded()
    assert (free.monthly_price_cents, free.yearly_price_cents) == (0, 0)


def test_pro_costs_999_cents_a_month_and_ten_months_a_year() -> None:
    pro = plan_for(Tier.PRO)
    assert pro.monthly_price_cents == 999  # $9.99
    assert pro.yearly_price_cents == 9_990  # 10 x $9.99: two months free
    assert pro.currency == "usd"
    assert pro.limit(Feature.AI_WORKOUT_ANALYSIS) == Capped(maximum=100)
    assert pro.limit(Feature.AI_CHAT_MESSAGE) == Capped(maximum=200)
    assert pro.limit(Feature.AI_WORKOUT_GENERATION) == Capped(maximum=50)
    assert pro.limit(Feature.ACTIVE_AI_PLANS) == Capped(maximum=3)
    assert pro.limit(Feature.HISTORY_DAYS) == Unlimited()
    assert pro.limit(Feature.DATA_EXPORT) == Included()
    assert pro.limit(Feature.PRIORITY_SYNC) == Included()
    assert pro.limit(Feature.RACE_STRATEGY) == NotIncluded()
    assert pro.limit(Feature.NUTRITION_PLAN) == NotIncluded()


def test_coach_costs_2999_cents_a_month_and_has_everything_unlimited() -> None:
    coach = plan_for(Tier.COACH)
    assert coach.monthly_price_cents == 2_999  # $29.99
    assert coach.yearly_price_cents == 29_990
    for feature in Feature:
        expected = Included() if measure_of(feature) is Measure.ACCESS else Unlimited()
        assert coach.limit(feature) == expected, feature


def test_prices_are_integers_never_floats() -> None:
    for plan in plan_table():
        assert type(plan.monthly_price_cents) is int
        assert type(plan.yearly_price_cents) is int


def test_plan_table_lists_every_tier_cheapest_first_with_every_feature() -> None:
    table = plan_table()
    assert [p.tier for p in table] == [Tier.FREE, Tier.PRO, Tier.COACH]
    assert [p.rank for p in table] == [0, 1, 2]
    for plan in table:
        assert [e.feature for e in plan.entitlements] == list(Feature)


def test_plan_table_round_trips_through_json_for_seeding() -> None:
    encoded = msgspec.json.encode(plan_table())
    assert msgspec.json.decode(encoded, type=list[Plan]) == plan_table()
    first_limit = msgspec.json.decode(encoded)[0]["entitlements"][0]
    assert first_limit == {
        "feature": "ai_workout_analysis",
        "measure": "per_month",
        "limit": {"type": "capped", "maximum": 5},
    }


def test_unlimited_and_on_off_limits_encode_as_explicit_variants() -> None:
    assert msgspec.json.encode(Unlimited()) == b'{"type":"unlimited"}'
    assert msgspec.json.encode(Included()) == b'{"type":"included"}'
    assert msgspec.json.encode(NotIncluded()) == b'{"type":"not_included"}'


def test_measures_say_how_each_feature_is_counted() -> None:
    assert measure_of(Feature.AI_WORKOUT_ANALYSIS) is Measure.PER_MONTH
    assert measure_of(Feature.AI_CHAT_MESSAGE) is Measure.PER_DAY
    assert measure_of(Feature.AI_WORKOUT_GENERATION) is Measure.PER_MONTH
    assert measure_of(Feature.ACTIVE_AI_PLANS) is Measure.CONCURRENT
    assert measure_of(Feature.HISTORY_DAYS) is Measure.DAYS_OF_HISTORY
    assert measure_of(Feature.DATA_EXPORT) is Measure.ACCESS


def test_allows_says_whether_a_tier_has_the_feature_at_all() -> None:
    assert allows(Tier.FREE, Feature.AI_WORKOUT_ANALYSIS)
    assert not allows(Tier.FREE, Feature.DATA_EXPORT)
    assert allows(Tier.PRO, Feature.DATA_EXPORT)
    assert allows(Tier.PRO, Feature.PRIORITY_SYNC)
    assert not allows(Tier.PRO, Feature.RACE_STRATEGY)
    assert allows(Tier.COACH, Feature.RACE_STRATEGY)
    assert allows(Tier.COACH, Feature.NUTRITION_PLAN)


def test_cheapest_tier_allowing_names_the_upgrade() -> None:
    assert cheapest_tier_allowing(Feature.AI_WORKOUT_ANALYSIS) is Tier.FREE
    assert cheapest_tier_allowing(Feature.AI_WORKOUT_ANALYSIS, at_least=5) is Tier.FREE
    assert cheapest_tier_allowing(Feature.AI_WORKOUT_ANALYSIS, at_least=6) is Tier.PRO
    assert cheapest_tier_allowing(Feature.AI_WORKOUT_ANALYSIS, at_least=100) is Tier.PRO
    assert cheapest_tier_allowing(Feature.AI_WORKOUT_ANALYSIS, at_least=101) is Tier.COACH
    assert cheapest_tier_allowing(Feature.DATA_EXPORT) is Tier.PRO
    assert cheapest_tier_allowing(Feature.RACE_STRATEGY) is Tier.COACH
    assert cheapest_tier_allowing(Feature.HISTORY_DAYS, at_least=181) is Tier.PRO


def test_accepts_feature_and_tier_given_as_their_stored_strings() -> None:
    assert limit_for(Tier("free"), Feature("ai_chat_message")) == Capped(maximum=10)
    assert plan_for("pro").tier is Tier.PRO  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: plan_for("platinum"), "tier"),  # type: ignore[arg-type]
        (lambda: limit_for(Tier.FREE, "teleport"), "feature"),  # type: ignore[arg-type]
        (lambda: cheapest_tier_allowing(Feature.AI_CHAT_MESSAGE, at_least=0), "at_least"),
        (lambda: cheapest_tier_allowing(Feature.DATA_EXPORT, at_least=2), "at_least"),
        (lambda: admits(Capped(maximum=3), at_least=True), "at_least"),
        (lambda: Capped(maximum=0), "maximum"),
        (lambda: Capped(maximum=-1), "maximum"),
        (lambda: Capped(maximum=2.5), "maximum"),  # type: ignore[arg-type]
    ],
)
def test_impossible_arguments_raise_invalid_input_naming_them(call: object, argument: str) -> None:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.argument == argument


def _free_with(feature: Feature, limit: Limit) -> Plan:
    free = plan_for(Tier.FREE)
    entitlements = tuple(
        Entitlement(feature=e.feature, measure=e.measure, limit=limit)
        if e.feature is feature
        else e
        for e in free.entitlements
    )
    return msgspec.structs.replace(free, entitlements=entitlements)


def test_a_plan_rejects_a_limit_that_does_not_fit_the_feature() -> None:
    with pytest.raises(InvalidInput, match="data_export"):
        _free_with(Feature.DATA_EXPORT, Capped(maximum=3))
    with pytest.raises(InvalidInput, match="ai_chat_message"):
        _free_with(Feature.AI_CHAT_MESSAGE, Included())
    with pytest.raises(InvalidInput, match="history_days"):
        _free_with(Feature.HISTORY_DAYS, NotIncluded())


def test_a_plan_must_name_every_feature_once() -> None:
    free = plan_for(Tier.FREE)
    with pytest.raises(InvalidInput) as caught:
        msgspec.structs.replace(free, entitlements=free.entitlements[1:])
    assert caught.value.argument == "entitlements"


def test_a_plan_rejects_negative_or_float_prices() -> None:
    free = plan_for(Tier.FREE)
    with pytest.raises(InvalidInput) as caught:
        msgspec.structs.replace(free, monthly_price_cents=-1)
    assert caught.value.argument == "monthly_price_cents"
    with pytest.raises(InvalidInput) as caught:
        msgspec.structs.replace(free, yearly_price_cents=99.9)
    assert caught.value.argument == "yearly_price_cents"


@given(feature=st.sampled_from(Feature), at_least=st.integers(min_value=1, max_value=10_000))
def test_a_dearer_tier_never_allows_less_than_a_cheaper_one(
    feature: Feature, at_least: int
) -> None:
    if measure_of(feature) is Measure.ACCESS:
        at_least = 1
    admitted = [admits(p.limit(feature), at_least=at_least) for p in plan_table()]
    # Once a tier admits the count, every dearer tier does too (the list is False..., True...).
    assert admitted == sorted(admitted)
    prices = [p.monthly_price_cents for p in plan_table()]
    assert prices == sorted(prices)


@given(feature=st.sampled_from(Feature), at_least=st.integers(min_value=1, max_value=10_000))
def test_the_cheapest_tier_allowing_does_admit_the_count(feature: Feature, at_least: int) -> None:
    if measure_of(feature) is Measure.ACCESS:
        at_least = 1
    best = cheapest_tier_allowing(feature, at_least=at_least)
    # Coach is unlimited / included everywhere, so some tier always admits.
    assert best is not None
    assert admits(limit_for(best, feature), at_least=at_least)
    cheaper = [p for p in plan_table() if p.rank < plan_for(best).rank]
    assert not any(admits(p.limit(feature), at_least=at_least) for p in cheaper)
