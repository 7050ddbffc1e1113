"""Model prices by date, exact integer call costs, and per-user AI spend limits.

Published prices (OpenAI, https://openai.com/api/pricing, standard tier, per 1M tokens):
gpt-4o-mini $0.15 input / $0.075 cached input / $0.60 output; gpt-4.1-mini $0.40 / $0.10 /
$1.60; gpt-4o $2.50 / $1.25 / $10.00 from 2024-10-02 ($5.00 / $15.00 before).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.ai_costs import (
    DEFAULT_PRICES,
    ModelPrice,
    PriceTable,
    SpendAllowed,
    SpendDenied,
    SpendLimit,
    SpendLimits,
    SpendRemaining,
    SpendUsage,
    TokenUsage,
    call_cost_micro_usd,
    check_spend,
    cost_of_call,
    default_spend_limits,
    price_at,
)
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.tiers import Capped, Tier, Unlimited


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


NOW = utc(2026, 11, 25, 10)  # 11:00 CET in Berlin
BERLIN = "Europe/Berlin"
MINI = price_at(model="gpt-4o-mini", at=NOW)


# --- prices -------------------------------------------------------------------------------


def test_gpt_4o_mini_costs_what_openai_publishes() -> None:
    assert MINI.input_micro_usd_per_mtok == 150_000  # $0.15 / 1M
    assert MINI.cached_input_micro_usd_per_mtok == 75_000  # $0.075 / 1M
    assert MINI.output_micro_usd_per_mtok == 600_000  # $0.60 / 1M


def test_gpt_4_1_mini_costs_what_openai_publishes() -> None:
    price = price_at(model="gpt-4.1-mini", at=NOW)
    assert price.input_micro_usd_per_mtok == 400_000  # $0.40 / 1M
    assert price.cached_input_micro_usd_per_mtok == 100_000  # $0.10 / 1M
    assert price.output_micro_usd_per_mtok == 1_600_000  # $1.60 / 1M


def test_the_price_in_force_changes_at_its_effective_instant() -> None:
    # Prompt caching (half-price cached input) for gpt-4o-mini started on 2024-10-01.
    before = price_at(model="gpt-4o-mini", at=utc(2024, 9, 30, 23, 59, 59))
    at_change = price_at(model="gpt-4o-mini", at=utc(2024, 10, 1))
    assert before.cached_input_micro_usd_per_mtok == 150_000
    assert at_change.cached_input_micro_usd_per_mtok == 75_000
    # The gpt-4o alias moved to the cheaper 2024-08-06 snapshot on 2024-10-02.
    assert price_at(model="gpt-4o", at=utc(2024, 10, 1)).output_micro_usd_per_mtok == 15_000_000
    assert price_at(model="gpt-4o", at=utc(2024, 10, 2)).output_micro_usd_per_mtok == 10_000_000


def test_an_unknown_model_or_a_date_before_any_price_is_not_found() -> None:
    with pytest.raises(NotFound) as unknown:
        price_at(model="gpt-9-ultra", at=NOW)
    assert unknown.value.details["model"] == "gpt-9-ultra"
    with pytest.raises(NotFound, match="before 2024-07-18"):
        price_at(model="gpt-4o-mini", at=utc(2024, 7, 17, 23, 59, 59))


def test_a_deployment_overrides_prices_with_its_own_table_from_json() -> None:
    raw = (
        b'{"prices": [{"model": "gpt-4o-mini", "effective_from": "2026-01-01T00:00:00Z",'
        b' "input_micro_usd_per_mtok": 100000, "cached_input_micro_usd_per_mtok": 50000,'
        b' "output_micro_usd_per_mtok": 400000}]}'
    )
    table = msgspec.json.decode(raw, type=PriceTable)
    assert table.models() == ["gpt-4o-mini"]
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)
    # 1M x $0.10 + 1M x $0.40 = $0.50 = 500,000 micro-dollars.
    assert cost_of_call(model="gpt-4o-mini", at=NOW, usage=usage, table=table) == 500_000
    # The same call at the default (published) prices: $0.15 + $0.60 = $0.75.
    assert cost_of_call(model="gpt-4o-mini", at=NOW, usage=usage) == 750_000


def test_a_price_table_rejects_two_prices_from_the_same_instant() -> None:
    mini = DEFAULT_PRICES.price_at(model="gpt-4o-mini", at=NOW)
    with pytest.raises(InvalidInput) as caught:
        PriceTable(prices=(mini, mini))
    assert caught.value.argument == "prices"


def test_prices_decoded_from_json_are_validated() -> None:
    raw = (
        b'{"prices": [{"model": "m", "effective_from": "2026-01-01T00:00:00",'
        b' "input_micro_usd_per_mtok": 1, "cached_input_micro_usd_per_mtok": 1,'
        b' "output_micro_usd_per_mtok": 1}]}'
    )
    with pytest.raises(msgspec.ValidationError, match="effective_from"):
        msgspec.json.decode(raw, type=PriceTable)  # a naive timestamp is refused


# --- cost arithmetic ----------------------------------------------------------------------


def test_a_call_costs_an_exact_hand_computed_number_of_micro_dollars() -> None:
    # gpt-4o-mini, 12,345 prompt tokens of which 2,048 cached, 789 completion tokens:
    #   uncached 10,297 x 150,000 = 1,544,550,000
    #   cached    2,048 x  75,000 =   153,600,000
    #   output      789 x 600,000 =   473,400,000
    #   total                       2,171,550,000 / 1,000,000 = 2,171.55 -> 2,172 micro-dollars
    usage = TokenUsage(input_tokens=12_345, cached_input_tokens=2_048, output_tokens=789)
    assert call_cost_micro_usd(price=MINI, usage=usage) == 2_172


def test_a_million_in_and_a_million_out_on_gpt_4_1_mini_costs_two_dollars() -> None:
    # $0.40 + $1.60 = $2.00 (the worked example in tokenmath.io's OpenAI pricing guide).
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost_of_call(model="gpt-4.1-mini", at=NOW, usage=usage) == 2_000_000


def test_costs_round_half_up_at_the_half_micro_dollar() -> None:
    # 30 uncached tokens x 0.15 micro-dollars = 4.5 -> 5 (half even would give 4, floor 4).
    assert call_cost_micro_usd(price=MINI, usage=TokenUsage(input_tokens=30, output_tokens=0)) == 5
    # 10 tokens = 1.5 -> 2; 3 tokens = 0.45 -> 0 (ceil would give 1).
    assert call_cost_micro_usd(price=MINI, usage=TokenUsage(input_tokens=10, output_tokens=0)) == 2
    assert call_cost_micro_usd(price=MINI, usage=TokenUsage(input_tokens=3, output_tokens=0)) == 0


def test_costs_are_rounded_once_on_the_total_not_per_part() -> None:
    # 10 uncached x 0.15 = 1.5 and 20 cached x 0.075 = 1.5: the total 3.0 is 3 micro-dollars;
    # rounding each part half up first would have given 2 + 2 = 4.
    usage = TokenUsage(input_tokens=30, cached_input_tokens=20, output_tokens=0)
    assert call_cost_micro_usd(price=MINI, usage=usage) == 3


def test_a_call_with_no_tokens_costs_nothing() -> None:
    assert call_cost_micro_usd(price=MINI, usage=TokenUsage(input_tokens=0, output_tokens=0)) == 0


def test_total_tokens_count_cached_input_once() -> None:
    usage = TokenUsage(input_tokens=1_000, cached_input_tokens=600, output_tokens=200)
    assert usage.total_tokens == 1_200


TOKENS = st.integers(min_value=0, max_value=10_000_000)
PRICES = st.sampled_from(DEFAULT_PRICES.prices)


@given(price=PRICES, uncached=TOKENS, cached=TOKENS, output=TOKENS, extra=TOKENS)
def test_cost_never_falls_when_any_kind_of_token_is_added(
    price: ModelPrice, uncached: int, cached: int, output: int, extra: int
) -> None:
    def cost(u: int, c: int, o: int) -> int:
        usage = TokenUsage(input_tokens=u + c, cached_input_tokens=c, output_tokens=o)
        return call_cost_micro_usd(price=price, usage=usage)

    base = cost(uncached, cached, output)
    assert cost(uncached + extra, cached, output) >= base
    assert cost(uncached, cached + extra, output) >= base
    assert cost(uncached, cached, output + extra) >= base


@given(price=PRICES, uncached=TOKENS, cached=TOKENS, output=TOKENS)
def test_cost_is_the_exact_price_rounded_half_up(
    price: ModelPrice, uncached: int, cached: int, output: int
) -> None:
    usage = TokenUsage(
        input_tokens=uncached + cached, cached_input_tokens=cached, output_tokens=output
    )
    exact = Fraction(
        uncached * price.input_micro_usd_per_mtok
        + cached * price.cached_input_micro_usd_per_mtok
        + output * price.output_micro_usd_per_mtok,
        1_000_000,
    )
    cost = call_cost_micro_usd(price=price, usage=usage)
    assert exact - Fraction(1, 2) < cost <= exact + Fraction(1, 2)


# --- spend limits -------------------------------------------------------------------------

LIMITS = SpendLimits(
    requests_per_day=Capped(maximum=25),
    tokens_per_day=Capped(maximum=200_000),
    cost_per_day_micro_usd=Capped(maximum=100_000),
    cost_per_month_micro_usd=Capped(maximum=1_000_000),
)


def usage(
    requests: int = 0, tokens: int = 0, cost_today: int = 0, cost_month: int = 0
) -> SpendUsage:
    return SpendUsage(
        requests_today=requests,
        tokens_today=tokens,
        cost_today_micro_usd=cost_today,
        cost_this_month_micro_usd=cost_month,
    )


def test_a_call_within_every_limit_is_allowed_with_the_headroom_left() -> None:
    decision = check_spend(
        limits=LIMITS,
        usage=usage(requests=24, tokens=50_000, cost_today=40_000, cost_month=300_000),
        now=NOW,
        timezone=BERLIN,
    )
    assert decision == SpendAllowed(
        remaining=SpendRemaining(
            requests_per_day=1,
            tokens_per_day=150_000,
            cost_per_day_micro_usd=60_000,
            cost_per_month_micro_usd=700_000,
        )
    )


def test_the_request_over_the_daily_count_is_denied_until_local_midnight() -> None:
    decision = check_spend(limits=LIMITS, usage=usage(requests=25), now=NOW, timezone=BERLIN)
    assert decision == SpendDenied(
        limit_name=SpendLimit.REQUESTS_PER_DAY,
        limit=25,
        used=25,
        resets_at=utc(2026, 11, 25, 23),  # 26 November 00:00 CET
    )


def test_a_planned_cost_that_would_cross_the_daily_budget_is_denied() -> None:
    fits = check_spend(
        limits=LIMITS,
        usage=usage(cost_today=99_000),
        now=NOW,
        timezone=BERLIN,
        planned_cost_micro_usd=1_000,
    )
    assert isinstance(fits, SpendAllowed)
    over = check_spend(
        limits=LIMITS,
        usage=usage(cost_today=99_000),
        now=NOW,
        timezone=BERLIN,
        planned_cost_micro_usd=1_001,
    )
    assert over == SpendDenied(
        limit_name=SpendLimit.COST_PER_DAY,
        limit=100_000,
        used=99_000,
        resets_at=utc(2026, 11, 25, 23),
    )


def test_a_fully_spent_budget_refuses_a_call_of_unknown_cost() -> None:
    decision = check_spend(limits=LIMITS, usage=usage(tokens=200_000), now=NOW, timezone=BERLIN)
    assert isinstance(decision, SpendDenied)
    assert decision.limit_name is SpendLimit.TOKENS_PER_DAY


def test_when_day_and_month_are_both_spent_the_month_is_named() -> None:
    # Retrying after midnight would still hit the month, so the month's reset is the answer.
    decision = check_spend(
        limits=LIMITS,
        usage=usage(cost_today=100_000, cost_month=1_000_000),
        now=NOW,
        timezone=BERLIN,
    )
    assert decision == SpendDenied(
        limit_name=SpendLimit.COST_PER_MONTH,
        limit=1_000_000,
        used=1_000_000,
        resets_at=utc(2026, 11, 30, 23),  # 1 December 00:00 CET
    )


def test_unlimited_spend_caps_report_unlimited_headroom() -> None:
    everything = SpendLimits(
        requests_per_day=Unlimited(),
        tokens_per_day=Unlimited(),
        cost_per_day_micro_usd=Unlimited(),
        cost_per_month_micro_usd=Capped(maximum=10),
    )
    decision = check_spend(limits=everything, usage=usage(requests=10**9), now=NOW, timezone="UTC")
    assert decision == SpendAllowed(
        remaining=SpendRemaining(
            requests_per_day=Unlimited(),
            tokens_per_day=Unlimited(),
            cost_per_day_micro_usd=Unlimited(),
            cost_per_month_micro_usd=10,
        )
    )


def test_default_spend_limits_grow_with_the_tier() -> None:
    free, pro, coach = (default_spend_limits(t) for t in (Tier.FREE, Tier.PRO, Tier.COACH))
    assert free.cost_per_month_micro_usd == Capped(maximum=1_000_000)  # $1
    assert pro.cost_per_month_micro_usd == Capped(maximum=5_000_000)  # $5 of $9.99
    assert coach.cost_per_month_micro_usd == Capped(maximum=15_000_000)  # $15 of $29.99
    for field in ("requests_per_day", "tokens_per_day", "cost_per_day_micro_usd"):
        caps = [getattr(limits, field) for limits in (free, pro, coach)]
        assert all(isinstance(c, Capped) for c in caps)
        maxima = [c.maximum for c in caps]
        assert maxima == sorted(maxima), field


@given(
    requests=st.integers(min_value=0, max_value=30),
    tokens=st.integers(min_value=0, max_value=250_000),
    cost_today=st.integers(min_value=0, max_value=120_000),
    cost_month=st.integers(min_value=0, max_value=1_200_000),
)
def test_allowed_spend_leaves_limit_minus_used_on_every_limit(
    requests: int, tokens: int, cost_today: int, cost_month: int
) -> None:
    used = usage(requests, tokens, cost_today, cost_month)
    decision = check_spend(limits=LIMITS, usage=used, now=NOW, timezone=BERLIN)
    fits = requests < 25 and tokens < 200_000 and cost_today < 100_000 and cost_month < 1_000_000
    assert isinstance(decision, SpendAllowed) == fits
    if isinstance(decision, SpendAllowed):
        r = decision.remaining
        assert r.requests_per_day == 25 - requests
        assert r.tokens_per_day == 200_000 - tokens
        assert r.cost_per_day_micro_usd == 100_000 - cost_today
        assert r.cost_per_month_micro_usd == 1_000_000 - cost_month
    else:
        assert decision.used >= decision.limit
        assert decision.resets_at > NOW


# --- invalid input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: TokenUsage(input_tokens=-1, output_tokens=0), "input_tokens"),
        (lambda: TokenUsage(input_tokens=0, output_tokens=-5), "output_tokens"),
        (
            lambda: TokenUsage(input_tokens=10, cached_input_tokens=-1, output_tokens=0),
            "cached_input_tokens",
        ),
        (
            lambda: TokenUsage(input_tokens=10, cached_input_tokens=11, output_tokens=0),
            "cached_input_tokens",
        ),
        (lambda: TokenUsage(input_tokens=1.5, output_tokens=0), "input_tokens"),  # type: ignore[arg-type]
        (lambda: price_at(model="gpt-4o-mini", at=datetime(2025, 1, 1)), "at"),
        (
            lambda: ModelPrice(
                model="m",
                effective_from=NOW,
                input_micro_usd_per_mtok=-1,
                cached_input_micro_usd_per_mtok=0,
                output_micro_usd_per_mtok=0,
            ),
            "input_micro_usd_per_mtok",
        ),
        (
            lambda: ModelPrice(
                model="",
                effective_from=NOW,
                input_micro_usd_per_mtok=0,
                cached_input_micro_usd_per_mtok=0,
                output_micro_usd_per_mtok=0,
            ),
            "model",
        ),
        (lambda: usage(requests=-1), "requests_today"),
        (lambda: usage(cost_month=-1), "cost_this_month_micro_usd"),
        (
            lambda: check_spend(
                limits=LIMITS, usage=usage(), now=NOW, timezone="UTC", planned_tokens=-1
            ),
            "planned_tokens",
        ),
        (
            lambda: check_spend(
                limits=LIMITS, usage=usage(), now=datetime(2026, 1, 1), timezone="UTC"
            ),
            "now",
        ),
        (
            lambda: check_spend(limits=LIMITS, usage=usage(), now=NOW, timezone="Nowhere"),
            "timezone",
        ),
        (lambda: default_spend_limits("platinum"), "tier"),  # type: ignore[arg-type]
    ],
)
def test_impossible_arguments_raise_invalid_input_naming_them(
    call: Callable[[], object], argument: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.argument == argument


def test_prices_are_exact_integers() -> None:
    for price in DEFAULT_PRICES.prices:
        for value in (
            price.input_micro_usd_per_mtok,
            price.cached_input_micro_usd_per_mtok,
            price.output_micro_usd_per_mtok,
        ):
            assert type(value) is int
        assert price.effective_from.utcoffset() == timedelta(0)
