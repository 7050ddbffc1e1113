"""Usage windows in the user's timezone, across DST, and the allow/deny decision.

DST rules used for the hand-computed instants below (IANA tz database, tzdata 2024+):
- Europe/Berlin (EU Directive 2000/84/EC): summer time from 01:00 UTC on the last Sunday of
  March to 01:00 UTC on the last Sunday of October; CET = UTC+1, CEST = UTC+2.
- America/New_York (US Energy Policy Act of 2005): 02:00 local on the second Sunday of March
  to 02:00 local on the first Sunday of November; EST = UTC-5, EDT = UTC-4.
- Australia/Lord_Howe: a 30-minute DST: UTC+10:30, +11:00 from 02:00 on the first Sunday of
  October to 02:00 on the first Sunday of April.
- Pacific/Auckland: NZST = UTC+12, NZDT = UTC+13 from 02:00 on the last Sunday of September
  to 03:00 on the first Sunday of April.
- America/Santiago: UTC-4 / UTC-3; DST starts at 24:00 on the Saturday before the first
  Sunday of September (so that Sunday has no local midnight) and ends at 24:00 on the
  Saturday before the first Sunday of April (clocks go back to 23:00).
- Pacific/Apia skipped 30 December 2011, moving from UTC-10 to UTC+14 at 10:00 UTC.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core import quotas
from training_analyzer.core.errors import InvalidInput, QuotaExceeded
from training_analyzer.core.quotas import (
    Allowed,
    Denied,
    Period,
    UsageWindow,
    day_start,
    decide,
    feature_window,
    history_start,
    period_of,
    quota_error,
    usage_window,
)
from training_analyzer.core.tiers import (
    Capped,
    Feature,
    Included,
    Measure,
    NotIncluded,
    Tier,
    Unlimited,
    limit_for,
    measure_of,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def day(now: datetime, tz: str) -> UsageWindow:
    return usage_window(period=Period.DAY, now=now, timezone=tz)


def month(now: datetime, tz: str) -> UsageWindow:
    return usage_window(period=Period.MONTH, now=now, timezone=tz)


# --- day windows across DST -------------------------------------------------------------


def test_berlin_spring_forward_day_has_23_hours() -> None:
    w = day(utc(2026, 3, 29, 12), "Europe/Berlin")
    assert w.key == "2026-03-29"
    assert w.start == utc(2026, 3, 28, 23)  # 00:00 CET (UTC+1)
    assert w.resets_at == utc(2026, 3, 29, 22)  # 00:00 CEST (UTC+2) on the 30th
    assert w.resets_at - w.start == timedelta(hours=23)


def test_berlin_fall_back_day_has_25_hours() -> None:
    w = day(utc(2026, 10, 25, 12), "Europe/Berlin")
    assert w.key == "2026-10-25"
    assert w.start == utc(2026, 10, 24, 22)  # 00:00 CEST
    assert w.resets_at == utc(2026, 10, 25, 23)  # 00:00 CET on the 26th
    assert w.resets_at - w.start == timedelta(hours=25)


def test_new_york_spring_forward_day_has_23_hours() -> None:
    w = day(utc(2026, 3, 8, 15), "America/New_York")
    assert w.key == "2026-03-08"
    assert w.start == utc(2026, 3, 8, 5)  # 00:00 EST (UTC-5)
    assert w.resets_at == utc(2026, 3, 9, 4)  # 00:00 EDT (UTC-4)
    assert w.resets_at - w.start == timedelta(hours=23)


def test_new_york_fall_back_day_has_25_hours() -> None:
    w = day(utc(2026, 11, 1, 15), "America/New_York")
    assert w.key == "2026-11-01"
    assert w.start == utc(2026, 11, 1, 4)  # 00:00 EDT
    assert w.resets_at == utc(2026, 11, 2, 5)  # 00:00 EST
    assert w.resets_at - w.start == timedelta(hours=25)


def test_both_occurrences_of_the_repeated_hour_fall_in_the_same_day() -> None:
    # 01:30 EDT is 05:30 UTC; 01:30 EST, an hour later, is 06:30 UTC.
    first = day(utc(2026, 11, 1, 5, 30), "America/New_York")
    second = day(utc(2026, 11, 1, 6, 30), "America/New_York")
    assert first == second
    assert first.key == "2026-11-01"


def test_lord_howe_half_hour_dst_gives_days_of_23_5_and_24_5_hours() -> None:
    spring = day(utc(2026, 10, 4, 0), "Australia/Lord_Howe")
    assert spring.key == "2026-10-04"
    assert spring.start == utc(2026, 10, 3, 13, 30)  # 00:00 at UTC+10:30
    assert spring.resets_at == utc(2026, 10, 4, 13)  # 00:00 at UTC+11
    assert spring.resets_at - spring.start == timedelta(hours=23, minutes=30)
    autumn = day(utc(2026, 4, 5, 0), "Australia/Lord_Howe")
    assert autumn.key == "2026-04-05"
    assert autumn.start == utc(2026, 4, 4, 13)  # 00:00 at UTC+11
    assert autumn.resets_at == utc(2026, 4, 5, 13, 30)  # 00:00 at UTC+10:30
    assert autumn.resets_at - autumn.start == timedelta(hours=24, minutes=30)


def test_auckland_spring_forward_day_has_23_hours() -> None:
    w = day(utc(2026, 9, 27, 0), "Pacific/Auckland")
    assert w.key == "2026-09-27"
    assert w.start == utc(2026, 9, 26, 12)  # 00:00 NZST (UTC+12)
    assert w.resets_at == utc(2026, 9, 27, 11)  # 00:00 NZDT (UTC+13)


def test_a_day_without_a_local_midnight_starts_at_the_transition() -> None:
    # Santiago, 2024-09-08: 24:00 on the 7th (UTC-4, 04:00 UTC) became 01:00 on the 8th.
    before = day(utc(2024, 9, 8, 3, 59, 59), "America/Santiago")
    assert before.key == "2024-09-07"
    assert before.start == utc(2024, 9, 7, 4)
    assert before.resets_at == utc(2024, 9, 8, 4)
    after = day(utc(2024, 9, 8, 4), "America/Santiago")
    assert after.key == "2024-09-08"
    assert after.start == utc(2024, 9, 8, 4)
    assert after.resets_at == utc(2024, 9, 9, 3)  # 00:00 at UTC-3
    assert day_start(day=date(2024, 9, 8), timezone="America/Santiago") == utc(2024, 9, 8, 4)


def test_santiago_fall_back_at_midnight_gives_saturday_25_hours() -> None:
    # 2025-04-06 00:00 (UTC-3, 03:00 UTC) became 23:00 on the 5th (UTC-4).
    w = day(utc(2025, 4, 5, 12), "America/Santiago")
    assert w.start == utc(2025, 4, 5, 3)
    assert w.resets_at == utc(2025, 4, 6, 4)


def test_a_gap_straddling_midnight_starts_the_day_at_the_transition_not_at_either_offset() -> None:
    # tzdata `Rule Toronto 1919 only - Mar 30 23:30 1:00 D`: at 23:30 EST (04:30 UTC) on
    # 1919-03-30 clocks jumped to 00:30 EDT on the 31st. Midnight of the 31st read with
    # EST would be 05:00 UTC, with EDT 04:00 UTC; the day really began at 04:30 UTC.
    w = day(utc(1919, 3, 31, 12), "America/Toronto")
    assert w.key == "1919-03-31"
    assert w.start == utc(1919, 3, 31, 4, 30)
    before = day(utc(1919, 3, 31, 4, 29, 59), "America/Toronto")
    assert before.key == "1919-03-30"
    assert before.resets_at - before.start == timedelta(hours=23, minutes=30)


def test_a_repeated_local_midnight_starts_the_day_at_its_first_occurrence() -> None:
    # Cuba ends DST at 01:00 CDT (UTC-4) on the first Sunday of November, back to 00:00 CST
    # (UTC-5): on 2025-11-02 local midnight happened at 04:00 and again at 05:00 UTC.
    w = day(utc(2025, 11, 2, 4, 30), "America/Havana")
    assert w.key == "2025-11-02"
    assert w.start == utc(2025, 11, 2, 4)
    assert w.resets_at == utc(2025, 11, 3, 5)  # 00:00 CST
    assert day(utc(2025, 11, 2, 3, 59, 59), "America/Havana").key == "2025-11-01"


def test_a_skipped_calendar_day_never_gets_a_window() -> None:
    # Apia went from 2011-12-29 23:59:59 (UTC-10) straight to 2011-12-31 00:00 (UTC+14).
    last_second = day(utc(2011, 12, 30, 9, 59, 59), "Pacific/Apia")
    assert last_second.key == "2011-12-29"
    assert last_second.resets_at == utc(2011, 12, 30, 10)
    next_window = day(utc(2011, 12, 30, 10), "Pacific/Apia")
    assert next_window.key == "2011-12-31"
    assert next_window.start == utc(2011, 12, 30, 10)


def _zone_setting_clocks_back_across_midnight(at: datetime) -> ZoneInfo:
    """A made-up zone (TZif v1) that goes from UTC+1 to UTC-1 at `at`.

    If `at` is 23:30 UTC, wall clocks read 00:30 of the next day and then 22:30 of the day
    before: no real zone does this since 1900, which is why it is synthetic.
    """
    abbreviations = b"PLS\0MNS\0"
    header = b"TZif" + b"\0" * 16 + struct.pack(">6l", 0, 0, 0, 2, 2, len(abbreviations))
    times = struct.pack(">2l", 0, int(at.timestamp())) + bytes([0, 1])
    types = struct.pack(">lBB", 3600, 0, 0) + struct.pack(">lBB", -3600, 0, 4)
    data = header + times + types + abbreviations
    return ZoneInfo.from_file(io.BytesIO(data), key="Test/Backwards")


def test_an_instant_whose_wall_date_went_back_belongs_to_the_window_already_started() -> None:
    tz = _zone_setting_clocks_back_across_midnight(utc(2029, 12, 31, 23, 30))
    now = utc(2029, 12, 31, 23, 45)
    assert now.astimezone(tz).date() == date(2029, 12, 31)  # the wall clock says Dec 31 again
    w = quotas._window(Period.DAY, now, tz, "Test/Backwards")
    # 2030-01-01 began at its first 00:00 (UTC+1) = 23:00 UTC on Dec 31, before `now`.
    assert w.key == "2030-01-01"
    assert w.start == utc(2029, 12, 31, 23)
    assert w.resets_at == utc(2030, 1, 2, 1)  # 00:00 at UTC-1
    m = quotas._window(Period.MONTH, now, tz, "Test/Backwards")
    assert m.key == "2030-01"
    assert m.start == utc(2029, 12, 31, 23)


# --- month windows ------------------------------------------------------------------------


def test_berlin_march_is_one_hour_short_and_april_starts_in_summer_time() -> None:
    march = month(utc(2026, 3, 15, 12), "Europe/Berlin")
    assert march.key == "2026-03"
    assert march.start == utc(2026, 2, 28, 23)  # 1 March 00:00 CET
    assert march.resets_at == utc(2026, 3, 31, 22)  # 1 April 00:00 CEST
    assert march.resets_at - march.start == timedelta(days=31, hours=-1)
    april = month(utc(2026, 3, 31, 22), "Europe/Berlin")
    assert april.key == "2026-04"
    assert april.start == utc(2026, 3, 31, 22)
    assert month(utc(2026, 3, 31, 21, 59, 59), "Europe/Berlin").key == "2026-03"


def test_new_york_november_starts_on_the_fall_back_day() -> None:
    w = month(utc(2026, 11, 15), "America/New_York")
    assert w.key == "2026-11"
    assert w.start == utc(2026, 11, 1, 4)  # midnight EDT, two hours before the change
    assert w.resets_at == utc(2026, 12, 1, 5)  # midnight EST


def test_the_month_is_the_users_local_month_not_utcs() -> None:
    # 2026-06-30 12:00 UTC is 2026-07-01 00:00 NZST (UTC+12) in Auckland.
    w = month(utc(2026, 6, 30, 12), "Pacific/Auckland")
    assert w.key == "2026-07"
    assert w.start == utc(2026, 6, 30, 12)
    assert w.resets_at == utc(2026, 7, 31, 12)
    assert month(utc(2026, 6, 30, 11, 59, 59), "Pacific/Auckland").key == "2026-06"
    assert month(utc(2026, 6, 30, 12), "UTC").key == "2026-06"


def test_december_rolls_over_into_january_of_the_next_year() -> None:
    w = month(utc(2026, 12, 31, 23, 30), "Europe/Berlin")  # 00:30 CET on 1 January
    assert w.key == "2027-01"
    assert w.start == utc(2026, 12, 31, 23)
    assert w.resets_at == utc(2027, 1, 31, 23)


def test_now_may_be_given_in_any_offset_and_windows_come_back_in_utc() -> None:
    plus_five = timezone(timedelta(hours=5))
    w = day(datetime(2026, 3, 29, 17, tzinfo=plus_five), "Europe/Berlin")
    assert w == day(utc(2026, 3, 29, 12), "Europe/Berlin")
    assert w.start.tzinfo is UTC
    assert w.resets_at.tzinfo is UTC


def test_feature_windows_follow_the_features_measure() -> None:
    now = utc(2026, 11, 25, 10)
    chat = feature_window(feature=Feature.AI_CHAT_MESSAGE, now=now, timezone="Europe/Berlin")
    assert chat is not None
    assert (chat.period, chat.key) == (Period.DAY, "2026-11-25")
    analysis = feature_window(
        feature=Feature.AI_WORKOUT_ANALYSIS, now=now, timezone="Europe/Berlin"
    )
    assert analysis is not None
    assert (analysis.period, analysis.key) == (Period.MONTH, "2026-11")
    assert feature_window(feature=Feature.ACTIVE_AI_PLANS, now=now, timezone="UTC") is None
    assert period_of(Feature.DATA_EXPORT) is None


# --- decisions ----------------------------------------------------------------------------

NOW = utc(2026, 11, 25, 10)  # 11:00 CET in Berlin
BERLIN = "Europe/Berlin"


def test_free_user_at_four_analyses_may_do_the_fifth() -> None:
    decision = decide(
        tier=Tier.FREE, feature=Feature.AI_WORKOUT_ANALYSIS, used=4, now=NOW, timezone=BERLIN
    )
    assert decision == Allowed(
        feature=Feature.AI_WORKOUT_ANALYSIS,
        remaining=1,
        resets_at=utc(2026, 11, 30, 23),  # 1 December 00:00 CET
    )


def test_free_user_at_five_analyses_is_denied_until_next_month_and_offered_pro() -> None:
    decision = decide(
        tier=Tier.FREE, feature=Feature.AI_WORKOUT_ANALYSIS, used=5, now=NOW, timezone=BERLIN
    )
    assert decision == Denied(
        feature=Feature.AI_WORKOUT_ANALYSIS,
        limit=Capped(maximum=5),
        used=5,
        resets_at=utc(2026, 11, 30, 23),
        upgrade_to=Tier.PRO,
    )


def test_free_chat_is_denied_at_ten_until_local_midnight() -> None:
    allowed = decide(
        tier=Tier.FREE, feature=Feature.AI_CHAT_MESSAGE, used=9, now=NOW, timezone=BERLIN
    )
    assert allowed == Allowed(
        feature=Feature.AI_CHAT_MESSAGE, remaining=1, resets_at=utc(2026, 11, 25, 23)
    )
    # In Auckland 10:00 UTC is 23:00 NZDT (UTC+13): the day resets an hour later.
    denied = decide(
        tier=Tier.FREE,
        feature=Feature.AI_CHAT_MESSAGE,
        used=10,
        now=NOW,
        timezone="Pacific/Auckland",
    )
    assert isinstance(denied, Denied)
    assert denied.resets_at == utc(2026, 11, 25, 11)
    assert denied.upgrade_to is Tier.PRO


def test_free_generations_are_denied_at_three() -> None:
    decision = decide(
        tier=Tier.FREE, feature=Feature.AI_WORKOUT_GENERATION, used=3, now=NOW, timezone=BERLIN
    )
    assert isinstance(decision, Denied)
    assert decision.limit == Capped(maximum=3)


def test_a_second_active_plan_on_free_is_denied_without_a_reset_time() -> None:
    first = decide(tier=Tier.FREE, feature=Feature.ACTIVE_AI_PLANS, used=0, now=NOW, timezone="UTC")
    assert first == Allowed(feature=Feature.ACTIVE_AI_PLANS, remaining=1, resets_at=None)
    second = decide(
        tier=Tier.FREE, feature=Feature.ACTIVE_AI_PLANS, used=1, now=NOW, timezone="UTC"
    )
    assert second == Denied(
        feature=Feature.ACTIVE_AI_PLANS,
        limit=Capped(maximum=1),
        used=1,
        resets_at=None,  # concurrent: it frees up when a plan ends, not at a time
        upgrade_to=Tier.PRO,
    )


def test_pro_at_its_cap_is_offered_coach() -> None:
    decision = decide(
        tier=Tier.PRO, feature=Feature.AI_WORKOUT_ANALYSIS, used=100, now=NOW, timezone=BERLIN
    )
    assert isinstance(decision, Denied)
    assert decision.upgrade_to is Tier.COACH
    assert decision.limit == Capped(maximum=100)


def test_a_downgraded_user_far_over_pro_cap_is_offered_coach_not_pro() -> None:
    decision = decide(
        tier=Tier.FREE, feature=Feature.AI_WORKOUT_ANALYSIS, used=150, now=NOW, timezone=BERLIN
    )
    assert isinstance(decision, Denied)
    assert decision.upgrade_to is Tier.COACH  # Pro's 100 would not let the 151st through


def test_coach_is_unlimited_with_an_explicit_unlimited_remaining() -> None:
    decision = decide(
        tier=Tier.COACH, feature=Feature.AI_CHAT_MESSAGE, used=10_000, now=NOW, timezone=BERLIN
    )
    assert decision == Allowed(
        feature=Feature.AI_CHAT_MESSAGE, remaining=Unlimited(), resets_at=utc(2026, 11, 25, 23)
    )
    assert msgspec.json.encode(decision) == (
        b'{"type":"allowed","feature":"ai_chat_message","remaining":{"type":"unlimited"},'
        b'"resets_at":"2026-11-25T23:00:00Z"}'
    )


def test_on_off_features_are_allowed_or_denied_with_the_tier_to_buy() -> None:
    assert decide(
        tier=Tier.PRO, feature=Feature.DATA_EXPORT, used=0, now=NOW, timezone=BERLIN
    ) == Allowed(feature=Feature.DATA_EXPORT, remaining=Unlimited(), resets_at=None)
    assert decide(
        tier=Tier.FREE, feature=Feature.DATA_EXPORT, used=0, now=NOW, timezone=BERLIN
    ) == Denied(
        feature=Feature.DATA_EXPORT,
        limit=NotIncluded(),
        used=0,
        resets_at=None,
        upgrade_to=Tier.PRO,
    )
    race = decide(tier=Tier.PRO, feature=Feature.RACE_STRATEGY, used=0, now=NOW, timezone=BERLIN)
    assert isinstance(race, Denied)
    assert race.upgrade_to is Tier.COACH
    assert isinstance(
        decide(tier=Tier.COACH, feature=Feature.NUTRITION_PLAN, used=0, now=NOW, timezone=BERLIN),
        Allowed,
    )


def test_quota_error_carries_what_the_client_needs() -> None:
    denied = decide(
        tier=Tier.FREE, feature=Feature.AI_WORKOUT_ANALYSIS, used=5, now=NOW, timezone=BERLIN
    )
    assert isinstance(denied, Denied)
    error = quota_error(denied)
    assert isinstance(error, QuotaExceeded)
    assert error.code == "quota_exceeded"
    assert error.details == {
        "feature": "ai_workout_analysis",
        "limit": 5,
        "used": 5,
        "resets_at": "2026-11-30T23:00:00+00:00",
        "upgrade_to": "pro",
    }


def test_free_history_shows_the_last_180_local_days_today_included() -> None:
    # 2026-11-25 minus 179 days is 2026-05-30 (1 + 30 + 31 + 31 + 30 + 31 + 25 = 179 days
    # from 30 May to 25 November); its local midnight in Berlin is 22:00 UTC on 29 May (CEST).
    start = history_start(tier=Tier.FREE, now=NOW, timezone=BERLIN)
    assert start == utc(2026, 5, 29, 22)
    assert history_start(tier=Tier.PRO, now=NOW, timezone=BERLIN) is None


# --- invalid input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (
            lambda: decide(
                tier=Tier.FREE, feature=Feature.AI_CHAT_MESSAGE, used=-1, now=NOW, timezone="UTC"
            ),
            "used",
        ),
        (
            lambda: decide(
                tier=Tier.FREE, feature=Feature.AI_CHAT_MESSAGE, used=True, now=NOW, timezone="UTC"
            ),
            "used",
        ),
        (
            lambda: decide(
                tier=Tier.FREE,
                feature=Feature.AI_CHAT_MESSAGE,
                used=0,
                now=datetime(2026, 11, 25, 10),
                timezone="UTC",
            ),
            "now",
        ),
        (
            lambda: decide(
                tier=Tier.FREE,
                feature=Feature.ACTIVE_AI_PLANS,
                used=0,
                now=datetime(2026, 11, 25, 10),
                timezone="UTC",
            ),
            "now",
        ),
        (
            lambda: decide(
                tier=Tier.FREE,
                feature=Feature.DATA_EXPORT,
                used=0,
                now=NOW,
                timezone="Mars/Olympus_Mons",
            ),
            "timezone",
        ),
        (
            lambda: decide(
                tier=Tier.FREE, feature=Feature.HISTORY_DAYS, used=0, now=NOW, timezone="UTC"
            ),
            "feature",
        ),
        (
            lambda: decide(
                tier="gold",  # type: ignore[arg-type]
                feature=Feature.AI_CHAT_MESSAGE,
                used=0,
                now=NOW,
                timezone="UTC",
            ),
            "tier",
        ),
        (lambda: day(date(2026, 11, 25), "UTC"), "now"),  # type: ignore[arg-type]
        (lambda: day(NOW, "Europe/Nowhere"), "timezone"),
        (lambda: day(NOW, "europe/berlin"), "timezone"),
        (lambda: day(NOW, "America"), "timezone"),
        (lambda: day(NOW, ""), "timezone"),
        (lambda: day(NOW, "../etc/passwd"), "timezone"),
        (lambda: day(NOW, "/etc/localtime"), "timezone"),
        (lambda: day(NOW, "localtime"), "timezone"),
        (lambda: day(NOW, None), "timezone"),  # type: ignore[arg-type]
        (lambda: usage_window(period="week", now=NOW, timezone="UTC"), "period"),  # type: ignore[arg-type]
        (lambda: day_start(day=NOW, timezone="UTC"), "day"),
        (lambda: day(datetime.max.replace(tzinfo=UTC), "UTC"), "now"),
    ],
)
def test_impossible_arguments_raise_invalid_input_naming_them(
    call: Callable[[], object], argument: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.argument == argument
    assert isinstance(caught.value, ValueError)


# --- properties ---------------------------------------------------------------------------

ZONES = st.timezone_keys(allow_prefix=False).filter(lambda key: key != "localtime")
INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)


@given(now=INSTANTS, tz=ZONES, period=st.sampled_from(Period))
def test_every_instant_lies_in_its_window(now: datetime, tz: str, period: Period) -> None:
    w = usage_window(period=period, now=now, timezone=tz)
    assert w.start <= now < w.resets_at
    local_start = w.start.astimezone(ZoneInfo(tz))
    expected_key = (
        local_start.date().isoformat() if period is Period.DAY else local_start.strftime("%Y-%m")
    )
    assert w.key == expected_key


@given(now=INSTANTS, tz=ZONES, period=st.sampled_from(Period))
def test_windows_tile_the_time_line(now: datetime, tz: str, period: Period) -> None:
    w = usage_window(period=period, now=now, timezone=tz)
    following = usage_window(period=period, now=w.resets_at, timezone=tz)
    assert following.start == w.resets_at
    assert following.key > w.key
    preceding = usage_window(period=period, now=w.start - timedelta(microseconds=1), timezone=tz)
    assert preceding.resets_at == w.start


COUNTED = [f for f in Feature if measure_of(f) in {Measure.PER_DAY, Measure.PER_MONTH}]


@given(
    tier=st.sampled_from(Tier),
    feature=st.sampled_from([f for f in Feature if f is not Feature.HISTORY_DAYS]),
    used=st.integers(min_value=0, max_value=1_000),
    now=INSTANTS,
    tz=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_allowed_leaves_limit_minus_used_and_denied_only_at_the_cap(
    tier: Tier, feature: Feature, used: int, now: datetime, tz: str
) -> None:
    decision = decide(tier=tier, feature=feature, used=used, now=now, timezone=tz)
    limit = limit_for(tier, feature)
    match limit:
        case Capped(maximum=maximum):
            assert isinstance(decision, Allowed) == (used < maximum)
            if isinstance(decision, Allowed):
                assert decision.remaining == maximum - used
                assert isinstance(decision.remaining, int)
                assert decision.remaining + used == maximum
            else:
                assert decision.upgrade_to is not None
                assert decision.limit == limit
        case Unlimited() | Included():
            assert isinstance(decision, Allowed)
            assert decision.remaining == Unlimited()
        case NotIncluded():
            assert isinstance(decision, Denied)
            assert decision.resets_at is None
    if feature in COUNTED:
        window = feature_window(feature=feature, now=now, timezone=tz)
        assert window is not None
        assert decision.resets_at == window.resets_at or isinstance(limit, NotIncluded)
