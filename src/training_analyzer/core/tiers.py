"""Subscription tiers as data: prices in integer cents and one explicit limit per feature.

The table below is the product plan. Prices are US dollars in integer cents (never floats);
a yearly subscription costs ten monthly payments (two months free). Limits:

| Feature                      | Measure          | Free     | Pro       | Coach     |
|------------------------------|------------------|----------|-----------|-----------|
| AI workout analyses          | per month        | 5        | 100       | unlimited |
| AI chat messages             | per day          | 10       | 200       | unlimited |
| AI workout generations       | per month        | 3        | 50        | unlimited |
| Active AI plans              | at once          | 1        | 3         | unlimited |
| History visible              | days             | 180      | unlimited | unlimited |
| Data export                  | access           | no       | yes       | yes       |
| Priority sync                | access           | no       | yes       | yes       |
| Race strategy                | access           | no       | no        | yes       |
| Nutrition plans              | access           | no       | no        | yes       |

"Unlimited" tiers are still bounded in money by the per-user AI spend limits in
`training_analyzer.core.ai_costs`, which is what protects the margin on Coach.

A limit is one of four explicit variants, never a magic number: `Capped(maximum=n)` (n >= 1),
`Unlimited()`, `Included()` (an on/off feature that is on) and `NotIncluded()` (the feature is
not part of the tier, for counted and on/off features alike).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from training_analyzer.core.errors import InvalidInput


class Tier(StrEnum):
    """A subscription tier; the value is the stable identifier stored in the database."""

    FREE = "free"
    PRO = "pro"
    COACH = "coach"


class Feature(StrEnum):
    """Something a tier gates; the value is the stable identifier stored in the database."""

    AI_WORKOUT_ANALYSIS = "ai_workout_analysis"
    AI_CHAT_MESSAGE = "ai_chat_message"
    AI_WORKOUT_GENERATION = "ai_workout_generation"
    ACTIVE_AI_PLANS = "active_ai_plans"
    HISTORY_DAYS = "history_days"
    DATA_EXPORT = "data_export"
    PRIORITY_SYNC = "priority_sync"
    RACE_STRATEGY = "race_strategy"
    NUTRITION_PLAN = "nutrition_plan"


class Measure(StrEnum):
    """How a feature's limit is counted."""

    PER_DAY = "per_day"  # uses per calendar day in the user's timezone
    PER_MONTH = "per_month"  # uses per calendar month in the user's timezone
    CONCURRENT = "concurrent"  # how many may exist at the same time; not windowed
    DAYS_OF_HISTORY = "days_of_history"  # a span of calendar days, not a usage count
    ACCESS = "access"  # on or off


_MEASURES: dict[Feature, Measure] = {
    Feature.AI_WORKOUT_ANALYSIS: Measure.PER_MONTH,
    Feature.AI_CHAT_MESSAGE: Measure.PER_DAY,
    Feature.AI_WORKOUT_GENERATION: Measure.PER_MONTH,
    Feature.ACTIVE_AI_PLANS: Measure.CONCURRENT,
    Feature.HISTORY_DAYS: Measure.DAYS_OF_HISTORY,
    Feature.DATA_EXPORT: Measure.ACCESS,
    Feature.PRIORITY_SYNC: Measure.ACCESS,
    Feature.RACE_STRATEGY: Measure.ACCESS,
    Feature.NUTRITION_PLAN: Measure.ACCESS,
}


def measure_of(feature: Feature) -> Measure:
    """Return how `feature` is counted (per day, per month, at once, days of history, access)."""
    return _MEASURES[_feature("feature", feature)]


class Capped(msgspec.Struct, frozen=True, kw_only=True, tag="capped"):
    """At most `maximum` (>= 1) uses per window, items at once, or days of history."""

    maximum: int

    def __post_init__(self) -> None:
        if isinstance(self.maximum, bool) or not isinstance(self.maximum, int):
            raise InvalidInput("maximum", f"expected an integer, got {self.maximum!r}")
        # A cap of zero would be "not included" under another name; that has its own variant.
        if self.maximum < 1:
            raise InvalidInput("maximum", f"must be >= 1 (use NotIncluded), got {self.maximum}")


class Unlimited(msgspec.Struct, frozen=True, kw_only=True, tag="unlimited"):
    """No cap at all."""


class Included(msgspec.Struct, frozen=True, kw_only=True, tag="included"):
    """An on/off feature that the tier grants."""


class NotIncluded(msgspec.Struct, frozen=True, kw_only=True, tag="not_included"):
    """The tier does not grant the feature."""


type Limit = Capped | Unlimited | Included | NotIncluded


class Entitlement(msgspec.Struct, frozen=True, kw_only=True):
    """One row of a plan: the feature, how it is counted and the tier's limit on it."""

    feature: Feature
    measure: Measure
    limit: Limit


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A tier with its name, prices (integer cents), rank (0 = cheapest) and every limit."""

    tier: Tier
    name: str
    rank: int
    currency: str
    monthly_price_cents: int
    yearly_price_cents: int
    entitlements: tuple[Entitlement, ...]

    def __post_init__(self) -> None:
        for argument, cents in (
            ("monthly_price_cents", self.monthly_price_cents),
            ("yearly_price_cents", self.yearly_price_cents),
        ):
            if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
                raise InvalidInput(argument, f"must be a non-negative integer, got {cents!r}")
        features = [e.feature for e in self.entitlements]
        if sorted(features) != sorted(Feature):
            raise InvalidInput("entitlements", "must name every feature exactly once")
        for e in self.entitlements:
            if e.measure is not _MEASURES[e.feature]:
                raise InvalidInput("entitlements", f"{e.feature} is counted {_MEASURES[e.feature]}")
            if not _limit_fits(e.measure, e.limit):
                raise InvalidInput("entitlements", f"{e.feature} cannot have limit {e.limit!r}")

    def limit(self, feature: Feature) -> Limit:
        """Return this plan's limit on `feature`."""
        for e in self.entitlements:
            if e.feature is feature:
                return e.limit
        raise InvalidInput("feature", f"unknown feature {feature!r}")


def _limit_fits(measure: Measure, limit: Limit) -> bool:
    """Whether `limit` makes sense for a feature counted by `measure`."""
    if measure is Measure.ACCESS:
        return isinstance(limit, Included | NotIncluded)
    if measure is Measure.DAYS_OF_HISTORY:
        # Every tier shows some history; "none at all" is not a product we sell.
        return isinstance(limit, Capped | Unlimited)
    return isinstance(limit, Capped | Unlimited | NotIncluded)


def _plan(
    tier: Tier, name: str, rank: int, monthly: int, yearly: int, limits: dict[Feature, Limit]
) -> Plan:
    return Plan(
        tier=tier,
        name=name,
        rank=rank,
        currency="usd",
        monthly_price_cents=monthly,
        yearly_price_cents=yearly,
        entitlements=tuple(
            Entitlement(feature=f, measure=_MEASURES[f], limit=limits[f]) for f in Feature
        ),
    )


_YES = Included()
_NO = NotIncluded()
_ALL = Unlimited()

_PLANS: tuple[Plan, ...] = (
    _plan(
        Tier.FREE,
        "Free",
        0,
        0,
        0,
        {
            Feature.AI_WORKOUT_ANALYSIS: Capped(maximum=5),
            Feature.AI_CHAT_MESSAGE: Capped(maximum=10),
            Feature.AI_WORKOUT_GENERATION: Capped(maximum=3),
            Feature.ACTIVE_AI_PLANS: Capped(maximum=1),
            Feature.HISTORY_DAYS: Capped(maximum=180),
            Feature.DATA_EXPORT: _NO,
            Feature.PRIORITY_SYNC: _NO,
            Feature.RACE_STRATEGY: _NO,
            Feature.NUTRITION_PLAN: _NO,
        },
    ),
    _plan(
        Tier.PRO,
        "Pro",
        1,
        999,
        9_990,
        {
            Feature.AI_WORKOUT_ANALYSIS: Capped(maximum=100),
            Feature.AI_CHAT_MESSAGE: Capped(maximum=200),
            Feature.AI_WORKOUT_GENERATION: Capped(maximum=50),
            Feature.ACTIVE_AI_PLANS: Capped(maximum=3),
            Feature.HISTORY_DAYS: _ALL,
            Feature.DATA_EXPORT: _YES,
            Feature.PRIORITY_SYNC: _YES,
            Feature.RACE_STRATEGY: _NO,
            Feature.NUTRITION_PLAN: _NO,
        },
    ),
    _plan(
        Tier.COACH,
        "Coach",
        2,
        2_999,
        29_990,
        {
            Feature.AI_WORKOUT_ANALYSIS: _ALL,
            Feature.AI_CHAT_MESSAGE: _ALL,
            Feature.AI_WORKOUT_GENERATION: _ALL,
            Feature.ACTIVE_AI_PLANS: _ALL,
            Feature.HISTORY_DAYS: _ALL,
            Feature.DATA_EXPORT: _YES,
            Feature.PRIORITY_SYNC: _YES,
            Feature.RACE_STRATEGY: _YES,
            Feature.NUTRITION_PLAN: _YES,
        },
    ),
)

_BY_TIER: dict[Tier, Plan] = {p.tier: p for p in _PLANS}


def _feature(argument: str, value: str) -> Feature:
    """Return `value` as a Feature, or raise InvalidInput naming `argument`."""
    try:
        return Feature(value)
    except ValueError:
        raise InvalidInput(argument, f"unknown feature {value!r}") from None


def _tier(argument: str, value: str) -> Tier:
    """Return `value` as a Tier, or raise InvalidInput naming `argument`."""
    try:
        return Tier(value)
    except ValueError:
        raise InvalidInput(argument, f"unknown tier {value!r}") from None


def plan_table() -> list[Plan]:
    """Return every plan, cheapest first: the rows to seed a `plans` table or a pricing page."""
    return list(_PLANS)


def plan_for(tier: Tier) -> Plan:
    """Return the plan of `tier`."""
    return _BY_TIER[_tier("tier", tier)]


def limit_for(tier: Tier, feature: Feature) -> Limit:
    """Return the limit that `tier` puts on `feature`."""
    return plan_for(tier).limit(_feature("feature", feature))


def allows(tier: Tier, feature: Feature) -> bool:
    """Whether `tier` grants `feature` at all (any cap, unlimited, or included)."""
    return not isinstance(limit_for(tier, feature), NotIncluded)


def admits(limit: Limit, *, at_least: int = 1) -> bool:
    """Whether `limit` permits `at_least` uses (items, days); on/off limits take only 1."""
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        raise InvalidInput("at_least", f"must be an integer >= 1, got {at_least!r}")
    match limit:
        case Unlimited():
            return True
        case Capped(maximum=maximum):
            return maximum >= at_least
        case Included():
            if at_least != 1:
                raise InvalidInput("at_least", "an on/off feature cannot be asked for a count")
            return True
        case NotIncluded():
            return False


def cheapest_tier_allowing(feature: Feature, *, at_least: int = 1) -> Tier | None:
    """Return the cheapest tier whose limit on `feature` admits `at_least`, or None if none does.

    This is what an "upgrade to" suggestion names; `at_least` is the count the user needs
    (e.g. used + 1 after hitting a cap). For an on/off feature `at_least` must be 1.
    """
    feature = _feature("feature", feature)
    if _MEASURES[feature] is Measure.ACCESS and at_least != 1:
        raise InvalidInput("at_least", "an on/off feature cannot be asked for a count")
    for plan in _PLANS:
        if admits(plan.limit(feature), at_least=at_least):
            return plan.tier
    return None
