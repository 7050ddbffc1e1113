"""AI model prices with effective dates, exact integer cost arithmetic and per-user spend limits.

Money here is integer micro-dollars (1 USD = 1,000,000 micro-dollars); prices are integer
micro-dollars per million tokens, so $0.15 per 1M tokens is 150_000. No float is involved.

Rounding rule: the exact cost of a call is
    (uncached_input * input_price + cached_input * cached_price + output * output_price) / 10**6
micro-dollars; it is rounded **once, on the total, half up** to whole micro-dollars. Rounding
once keeps the error per call under half a micro-dollar (rounding each part could add three
halves); half up rather than half even so that the rule is the one people compute by hand and
a tie never rounds towards under-counting spend; not ceil, because ceil adds a systematic
+0.5 micro-dollar per call on average to what the provider actually bills for the same tokens.

Token counts follow the provider's usage report: `input_tokens` is every prompt token
*including* the cached ones, and `cached_input_tokens` is the part of them served from the
prompt cache (OpenAI's `prompt_tokens` and `prompt_tokens_details.cached_tokens`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import msgspec

from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.quotas import Period, non_negative_count, usage_window, utc_instant
from training_analyzer.core.tiers import Capped, Tier, Unlimited

MICRO_USD_PER_USD = 1_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are quoted per million tokens


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """A model's prices from `effective_from` (aware) on, in micro-dollars per 1M tokens."""

    model: str
    effective_from: datetime
    input_micro_usd_per_mtok: int
    cached_input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise InvalidInput("model", "must be a non-empty model name")
        utc_instant("effective_from", self.effective_from)
        for argument, price in (
            ("input_micro_usd_per_mtok", self.input_micro_usd_per_mtok),
            ("cached_input_micro_usd_per_mtok", self.cached_input_micro_usd_per_mtok),
            ("output_micro_usd_per_mtok", self.output_micro_usd_per_mtok),
        ):
            non_negative_count(argument, price)


class PriceTable(msgspec.Struct, frozen=True, kw_only=True):
    """Every price the deployment knows; for one model, each price holds until the next one."""

    prices: tuple[ModelPrice, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, datetime]] = set()
        for p in self.prices:
            key = (p.model, p.effective_from)
            if key in seen:
                raise InvalidInput("prices", f"two prices for {p.model} from {p.effective_from}")
            seen.add(key)

    def models(self) -> list[str]:
        """Return the model names that have a price, sorted."""
        return sorted({p.model for p in self.prices})

    def price_at(self, *, model: str, at: datetime) -> ModelPrice:
        """Return the price of `model` in force at the instant `at`.

        Raises NotFound if the model has no price at all, or none in force yet at `at`.
        """
        instant = utc_instant("at", at)
        history = [p for p in self.prices if p.model == model]
        if not history:
            raise NotFound(f"no price for model {model!r}", model=model)
        in_force = [p for p in history if p.effective_from <= instant]
        if not in_force:
            first = min(p.effective_from for p in history)
            raise NotFound(
                f"no price for model {model!r} before {first.isoformat()}",
                model=model,
                at=instant.isoformat(),
            )
        return max(in_force, key=lambda p: p.effective_from)


def _utc_day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


# The project's price configuration, recorded from OpenAI's published price list
# (https://openai.com/api/pricing, standard tier, per 1M tokens) as of 2026-06-01 and
# cross-checked against third-party price listings in June 2026. It is configuration, not a
# live feed: a deployment overrides it by passing its own PriceTable (it decodes from JSON).
# gpt-4o-mini launched on 2024-07-18 at $0.15 in / $0.60 out with no cache discount; prompt
# caching (cached input at half price) started 2024-10-01. The `gpt-4o` alias cost $5 / $15
# until it moved to the 2024-08-06 snapshot ($2.50 / $1.25 cached / $10) on 2024-10-02.
# The GPT-4.1 family launched on 2025-04-14.
DEFAULT_PRICES = PriceTable(
    prices=(
        ModelPrice(
            model="gpt-4o-mini",
            effective_from=_utc_day(2024, 7, 18),
            input_micro_usd_per_mtok=150_000,
            cached_input_micro_usd_per_mtok=150_000,
            output_micro_usd_per_mtok=600_000,
        ),
        ModelPrice(
            model="gpt-4o-mini",
            effective_from=_utc_day(2024, 10, 1),
            input_micro_usd_per_mtok=150_000,
            cached_input_micro_usd_per_mtok=75_000,
            output_micro_usd_per_mtok=600_000,
        ),
        ModelPrice(
            model="gpt-4o",
            effective_from=_utc_day(2024, 5, 13),
            input_micro_usd_per_mtok=5_000_000,
            cached_input_micro_usd_per_mtok=5_000_000,
            output_micro_usd_per_mtok=15_000_000,
        ),
        ModelPrice(
            model="gpt-4o",
            effective_from=_utc_day(2024, 10, 2),
            input_micro_usd_per_mtok=2_500_000,
            cached_input_micro_usd_per_mtok=1_250_000,
            output_micro_usd_per_mtok=10_000_000,
        ),
        ModelPrice(
            model="gpt-4.1",
            effective_from=_utc_day(2025, 4, 14),
            input_micro_usd_per_mtok=2_000_000,
            cached_input_micro_usd_per_mtok=500_000,
            output_micro_usd_per_mtok=8_000_000,
        ),
        ModelPrice(
            model="gpt-4.1-mini",
            effective_from=_utc_day(2025, 4, 14),
            input_micro_usd_per_mtok=400_000,
            cached_input_micro_usd_per_mtok=100_000,
            output_micro_usd_per_mtok=1_600_000,
        ),
        ModelPrice(
            model="gpt-4.1-nano",
            effective_from=_utc_day(2025, 4, 14),
            input_micro_usd_per_mtok=100_000,
            cached_input_micro_usd_per_mtok=25_000,
            output_micro_usd_per_mtok=400_000,
        ),
    )
)


def price_at(*, model: str, at: datetime, table: PriceTable = DEFAULT_PRICES) -> ModelPrice:
    """Return the price of `model` in force at `at` in `table` (NotFound if there is none)."""
    return table.price_at(model=model, at=at)


class TokenUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens of one call; `input_tokens` includes the `cached_input_tokens` among them."""

    input_tokens: int
    cached_input_tokens: int = 0
    output_tokens: int

    def __post_init__(self) -> None:
        non_negative_count("input_tokens", self.input_tokens)
        non_negative_count("cached_input_tokens", self.cached_input_tokens)
        non_negative_count("output_tokens", self.output_tokens)
        if self.cached_input_tokens > self.input_tokens:
            raise InvalidInput(
                "cached_input_tokens",
                f"{self.cached_input_tokens} exceeds input_tokens {self.input_tokens}",
            )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (cached ones counted once, as part of the input)."""
        return self.input_tokens + self.output_tokens


def call_cost_micro_usd(*, price: ModelPrice, usage: TokenUsage) -> int:
    """Return the cost of one call in integer micro-dollars, rounded once, half up."""
    uncached = usage.input_tokens - usage.cached_input_tokens
    # Exact numerator in micro-dollars x tokens / Mtok; one integer division rounds it.
    exact = (
        uncached * price.input_micro_usd_per_mtok
        + usage.cached_input_tokens * price.cached_input_micro_usd_per_mtok
        + usage.output_tokens * price.output_micro_usd_per_mtok
    )
    return (exact + TOKENS_PER_PRICE_UNIT // 2) // TOKENS_PER_PRICE_UNIT


def cost_of_call(
    *, model: str, at: datetime, usage: TokenUsage, table: PriceTable = DEFAULT_PRICES
) -> int:
    """Return the cost in micro-dollars of a call to `model` at instant `at` using `usage`."""
    return call_cost_micro_usd(price=table.price_at(model=model, at=at), usage=usage)


class SpendLimit(StrEnum):
    """Which per-user AI spend limit; the value is the stable identifier."""

    REQUESTS_PER_DAY = "requests_per_day"
    TOKENS_PER_DAY = "tokens_per_day"
    COST_PER_DAY = "cost_per_day"
    COST_PER_MONTH = "cost_per_month"


type SpendCap = Capped | Unlimited


class SpendLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A user's AI spend limits; day and month are calendar windows in the user's timezone."""

    requests_per_day: SpendCap
    tokens_per_day: SpendCap
    cost_per_day_micro_usd: SpendCap
    cost_per_month_micro_usd: SpendCap


class SpendUsage(msgspec.Struct, frozen=True, kw_only=True):
    """What the user has spent so far in the current day and month windows."""

    requests_today: int
    tokens_today: int
    cost_today_micro_usd: int
    cost_this_month_micro_usd: int

    def __post_init__(self) -> None:
        non_negative_count("requests_today", self.requests_today)
        non_negative_count("tokens_today", self.tokens_today)
        non_negative_count("cost_today_micro_usd", self.cost_today_micro_usd)
        non_negative_count("cost_this_month_micro_usd", self.cost_this_month_micro_usd)


class SpendRemaining(msgspec.Struct, frozen=True, kw_only=True):
    """Headroom left under each limit before this call (limit - used), or Unlimited()."""

    requests_per_day: int | Unlimited
    tokens_per_day: int | Unlimited
    cost_per_day_micro_usd: int | Unlimited
    cost_per_month_micro_usd: int | Unlimited


class SpendAllowed(msgspec.Struct, frozen=True, kw_only=True, tag="allowed"):
    """The call fits under every spend limit."""

    remaining: SpendRemaining


class SpendDenied(msgspec.Struct, frozen=True, kw_only=True, tag="denied"):
    """The call would break `limit_name`: its limit, what was used, and when it resets (UTC).

    When several limits are broken this names the one that resets last, so retrying at
    `resets_at` is not refused again by a limit that was hidden behind it.
    """

    limit_name: SpendLimit
    limit: int
    used: int
    resets_at: datetime


type SpendDecision = SpendAllowed | SpendDenied


# Defaults per tier, sized against the tier limits and the default model (gpt-4o-mini, where
# a chat turn of ~3,000 input and ~500 output tokens costs about 750 micro-dollars):
# Free allows its 10 chats a day with room to spare for ~$0.10 a day and $1 a month; Pro caps
# AI spend at $5 of its $9.99 a month; Coach at $15 of its $29.99, which is what bounds
# the "unlimited" AI features of that tier.
_DEFAULT_SPEND_LIMITS: dict[Tier, SpendLimits] = {
    Tier.FREE: SpendLimits(
        requests_per_day=Capped(maximum=25),
        tokens_per_day=Capped(maximum=200_000),
        cost_per_day_micro_usd=Capped(maximum=100_000),
        cost_per_month_micro_usd=Capped(maximum=1_000_000),
    ),
    Tier.PRO: SpendLimits(
        requests_per_day=Capped(maximum=400),
        tokens_per_day=Capped(maximum=2_000_000),
        cost_per_day_micro_usd=Capped(maximum=1_000_000),
        cost_per_month_micro_usd=Capped(maximum=5_000_000),
    ),
    Tier.COACH: SpendLimits(
        requests_per_day=Capped(maximum=1_000),
        tokens_per_day=Capped(maximum=5_000_000),
        cost_per_day_micro_usd=Capped(maximum=2_000_000),
        cost_per_month_micro_usd=Capped(maximum=15_000_000),
    ),
}


def default_spend_limits(tier: Tier) -> SpendLimits:
    """Return the default AI spend limits of `tier` (a user may have an override)."""
    try:
        return _DEFAULT_SPEND_LIMITS[Tier(tier)]
    except ValueError:
        raise InvalidInput("tier", f"unknown tier {tier!r}") from None


def check_spend(
    *,
    limits: SpendLimits,
    usage: SpendUsage,
    now: datetime,
    timezone: str,
    planned_tokens: int = 0,
    planned_cost_micro_usd: int = 0,
) -> SpendDecision:
    """Decide whether one more AI call fits under the user's spend limits.

    The call counts as one request, `planned_tokens` tokens and `planned_cost_micro_usd`
    (an estimate, e.g. from max_tokens; 0 when unknown). It is allowed when, for each limit,
    used + max(planned, 1) <= limit: a call always takes at least one unit, so a budget that
    is fully spent refuses even a call whose cost is not known in advance.
    """
    non_negative_count("planned_tokens", planned_tokens)
    non_negative_count("planned_cost_micro_usd", planned_cost_micro_usd)
    day = usage_window(period=Period.DAY, now=now, timezone=timezone)
    month = usage_window(period=Period.MONTH, now=now, timezone=timezone)
    checks = (
        (SpendLimit.REQUESTS_PER_DAY, limits.requests_per_day, usage.requests_today, 1, day),
        (SpendLimit.TOKENS_PER_DAY, limits.tokens_per_day, usage.tokens_today, planned_tokens, day),
        (
            SpendLimit.COST_PER_DAY,
            limits.cost_per_day_micro_usd,
            usage.cost_today_micro_usd,
            planned_cost_micro_usd,
            day,
        ),
        (
            SpendLimit.COST_PER_MONTH,
            limits.cost_per_month_micro_usd,
            usage.cost_this_month_micro_usd,
            planned_cost_micro_usd,
            month,
        ),
    )
    remaining: list[int | Unlimited] = []
    denied: list[SpendDenied] = []
    for name, cap, used, planned, window in checks:
        if isinstance(cap, Unlimited):
            remaining.append(Unlimited())
            continue
        remaining.append(cap.maximum - used)
        if used + max(planned, 1) > cap.maximum:
            denied.append(
                SpendDenied(
                    limit_name=name, limit=cap.maximum, used=used, resets_at=window.resets_at
                )
            )
    if denied:
        # Latest reset wins; on a tie the first in declaration order (max keeps the first).
        return max(denied, key=lambda d: d.resets_at)
    return SpendAllowed(
        remaining=SpendRemaining(
            requests_per_day=remaining[0],
            tokens_per_day=remaining[1],
            cost_per_day_micro_usd=remaining[2],
            cost_per_month_micro_usd=remaining[3],
        )
    )
