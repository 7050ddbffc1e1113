"""Usage windows in the user's timezone and the allow/deny decision for tier limits.

A windowed limit counts uses per calendar day or per calendar month *in the user's IANA
timezone*. A window starts at the first instant whose local wall clock reads the first day's
00:00 or later, and resets at the start of the next window; both are returned as aware UTC
datetimes. Days are therefore 23 or 25 hours long on DST changes (23.5 or 24.5 on
Australia/Lord_Howe), and a local midnight that does not exist (America/Santiago springs
forward at 24:00) starts the day at the transition instant. Consecutive windows partition the
time line: every instant belongs to exactly one window, and `start <= now < resets_at`.

The core never reads the clock: every function takes `now` as an aware datetime.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from training_analyzer.core.errors import InvalidInput, QuotaExceeded
from training_analyzer.core.tiers import (
    Capped,
    Feature,
    Included,
    Limit,
    Measure,
    NotIncluded,
    Tier,
    Unlimited,
    cheapest_tier_allowing,
    limit_for,
    measure_of,
    plan_for,
)

# Leave a year of headroom at each end of `date`'s range so a window's neighbours exist.
_FIRST_YEAR = date.min.year + 1
_LAST_YEAR = date.max.year - 1
# "localtime" is the host's own zone, not a place: the same input would mean different
# windows on different machines.
_HOST_DEPENDENT_ZONES = frozenset({"localtime"})


class Period(StrEnum):
    """The calendar unit a usage window spans."""

    DAY = "day"
    MONTH = "month"


class UsageWindow(msgspec.Struct, frozen=True, kw_only=True):
    """One calendar day or month in a timezone: its key and its [start, resets_at) in UTC."""

    period: Period
    timezone: str
    key: str  # "2026-11-25" for a day, "2026-11" for a month
    start: datetime
    resets_at: datetime


class Allowed(msgspec.Struct, frozen=True, kw_only=True, tag="allowed"):
    """The use may go ahead.

    `remaining` counts the uses left in the window *including* this one (limit - used), so
    used = limit - 1 gives remaining 1; it is `Unlimited()` for uncapped and on/off features.
    `resets_at` is None when the limit is not windowed (concurrent counts, access).
    """

    feature: Feature
    remaining: int | Unlimited
    resets_at: datetime | None


class Denied(msgspec.Struct, frozen=True, kw_only=True, tag="denied"):
    """The use is refused: the limit, what was used, when the window resets, what to buy.

    `resets_at` is None when waiting does not help (concurrent counts free up when an item
    ends; a feature the tier lacks never resets). `upgrade_to` is the cheapest higher tier
    that would allow the use, or None if no tier does.
    """

    feature: Feature
    limit: Limit
    used: int
    resets_at: datetime | None
    upgrade_to: Tier | None


type Decision = Allowed | Denied


def zone(timezone: str) -> ZoneInfo:
    """Return the IANA zone named `timezone`, or raise InvalidInput naming "timezone"."""
    if not isinstance(timezone, str):
        raise InvalidInput("timezone", f"expected an IANA zone name, got {timezone!r}")
    if timezone in _HOST_DEPENDENT_ZONES:
        raise InvalidInput("timezone", f"{timezone!r} depends on the host; name a zone")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a normalized relative key; OSError: a directory such as "America".
        raise InvalidInput("timezone", f"unknown IANA timezone {timezone!r}") from None


def utc_instant(argument: str, value: datetime) -> datetime:
    """Return the aware datetime `value` in UTC, or raise InvalidInput naming `argument`."""
    if not isinstance(value, datetime):
        raise InvalidInput(argument, f"expected a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise InvalidInput(argument, "must be timezone-aware")
    instant = value.astimezone(UTC)
    if not _FIRST_YEAR <= instant.year <= _LAST_YEAR:
        raise InvalidInput(argument, f"year must be {_FIRST_YEAR}..{_LAST_YEAR}")
    return instant


def non_negative_count(argument: str, value: int) -> int:
    """Return `value` if it is an integer >= 0 (not a bool), else raise InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(argument, f"expected an integer, got {value!r}")
    if value < 0:
        raise InvalidInput(argument, f"must be >= 0, got {value}")
    return value


def _local_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first UTC instant whose wall clock in `tz` reads `day` 00:00 or later."""
    midnight = datetime(day.year, day.month, day.day)
    # fold=0 and fold=1 differ only around a transition; the answer lies between them.
    a = midnight.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = midnight.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(a, b), max(a, b)
    if _local_wall(lo, tz) >= midnight:
        return lo  # midnight exists (once, or twice and we want the first)
    # Midnight falls in a gap: find the transition, the first instant past it, to the second.
    # Transitions in tzdata fall on whole seconds and there is one transition in [lo, hi].
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid_s = (lo_s + hi_s) // 2
        if _local_wall(datetime.fromtimestamp(mid_s, UTC), tz) >= midnight:
            hi_s = mid_s
        else:
            lo_s = mid_s
    return datetime.fromtimestamp(hi_s, UTC)


def day_start(*, day: date, timezone: str) -> datetime:
    """Return the instant (aware UTC) at which local calendar day `day` starts in `timezone`."""
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InvalidInput("day", f"expected a date, got {type(day).__name__}")
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise InvalidInput("day", f"year must be {_FIRST_YEAR}..{_LAST_YEAR}")
    return _day_start(day, zone(timezone))


def _first_day(period: Period, day: date) -> date:
    return day if period is Period.DAY else day.replace(day=1)


def _next_first_day(period: Period, first: date) -> date:
    if period is Period.DAY:
        return first + timedelta(days=1)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _key(period: Period, first: date) -> str:
    return first.isoformat() if period is Period.DAY else f"{first.year:04d}-{first.month:02d}"


def usage_window(*, period: Period, now: datetime, timezone: str) -> UsageWindow:
    """Return the day or month window in `timezone` that contains the instant `now`."""
    try:
        period = Period(period)
    except ValueError:
        raise InvalidInput("period", f"unknown period {period!r}") from None
    return _window(period, utc_instant("now", now), zone(timezone), timezone)


def _window(period: Period, instant: datetime, tz: ZoneInfo, timezone: str) -> UsageWindow:
    """The `period` window of `tz` containing the aware UTC `instant`."""
    first = _first_day(period, _local_wall(instant, tz).date())
    following = _next_first_day(period, first)
    start, resets_at = _day_start(first, tz), _day_start(following, tz)
    if instant >= resets_at:
        # A clock set back across midnight shows yesterday's date again after today began;
        # the instant belongs to the window that has already started.
        first, start = following, resets_at
        resets_at = _day_start(_next_first_day(period, first), tz)
    return UsageWindow(
        period=period,
        timezone=timezone,
        key=_key(period, first),
        start=start,
        resets_at=resets_at,
    )


def period_of(feature: Feature) -> Period | None:
    """Return the window period of `feature`, or None if its limit is not windowed."""
    match measure_of(feature):
        case Measure.PER_DAY:
            return Period.DAY
        case Measure.PER_MONTH:
            return Period.MONTH
        case _:
            return None


def feature_window(*, feature: Feature, now: datetime, timezone: str) -> UsageWindow | None:
    """Return the window in which a use of `feature` at `now` counts, or None if not windowed.

    The window key is what a usage counter is stored under (user, feature, key).
    """
    period = period_of(feature)
    if period is None:
        # Still validate, so a bad argument never passes silently on an unwindowed feature.
        utc_instant("now", now)
        zone(timezone)
        return None
    return usage_window(period=period, now=now, timezone=timezone)


def decide(*, tier: Tier, feature: Feature, used: int, now: datetime, timezone: str) -> Decision:
    """Decide whether one more use of `feature` is allowed for `tier` after `used` uses.

    `used` is the count in the current window (per day / per month features) or the number
    of items that exist now (concurrent features); it is ignored, but still checked, for on/off
    features. A use is allowed while used < limit. Days of history are a span, not a count:
    use `history_start` for them.
    """
    used = non_negative_count("used", used)
    if measure_of(feature) is Measure.DAYS_OF_HISTORY:
        raise InvalidInput("feature", "history is a span of days; use history_start")
    window = feature_window(feature=feature, now=now, timezone=timezone)
    resets_at = window.resets_at if window is not None else None
    limit = limit_for(tier, feature)
    match limit:
        case Unlimited() | Included():
            return Allowed(feature=feature, remaining=Unlimited(), resets_at=resets_at)
        case Capped(maximum=maximum) if used < maximum:
            return Allowed(feature=feature, remaining=maximum - used, resets_at=resets_at)
        case Capped():
            needed = used + 1
        case NotIncluded():
            needed = 1
            resets_at = None  # waiting never grants a feature the tier lacks
    return Denied(
        feature=feature,
        limit=limit,
        used=used,
        resets_at=resets_at,
        upgrade_to=_upgrade(tier, feature, needed),
    )


def _upgrade(tier: Tier, feature: Feature, needed: int) -> Tier | None:
    """The cheapest tier ranked above `tier` that admits `needed` uses of `feature`."""
    best = cheapest_tier_allowing(feature, at_least=needed)
    if best is None or plan_for(best).rank <= plan_for(tier).rank:
        return None
    return best


def history_start(*, tier: Tier, now: datetime, timezone: str) -> datetime | None:
    """Return the earliest instant whose activities `tier` shows, or None if all are shown.

    A cap of N days shows the last N local calendar days, today included: from the start of
    the local day N - 1 days before today.
    """
    window = usage_window(period=Period.DAY, now=now, timezone=timezone)
    match limit_for(tier, Feature.HISTORY_DAYS):
        case Capped(maximum=days):
            today = date.fromisoformat(window.key)
            first = today - timedelta(days=days - 1)
            if first.year < _FIRST_YEAR:
                return None  # the cap reaches before any date we can represent
            return _day_start(first, zone(timezone))
        case _:
            return None


def quota_error(denied: Denied) -> QuotaExceeded:
    """Return the QuotaExceeded error describing `denied`, for a service to raise."""
    limit: int | None = denied.limit.maximum if isinstance(denied.limit, Capped) else None
    return QuotaExceeded(
        f"{denied.feature} limit reached",
        feature=str(denied.feature),
        limit=limit,
        used=denied.used,
        resets_at=denied.resets_at.isoformat() if denied.resets_at is not None else None,
        upgrade_to=str(denied.upgrade_to) if denied.upgrade_to is not None else None,
    )
