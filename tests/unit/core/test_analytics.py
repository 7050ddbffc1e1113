"""Analytics: local-day and ISO-week bucketing across DST, volumes, sport mix, calendar, zones,
the section 7a load selector, records and race predictions.

DST rules used for hand-computed instants (IANA tz database):
- Europe/Berlin: CEST (UTC+2) until 01:00 UTC on the last Sunday of October (27 Oct 2024),
  then CET (UTC+1); CET -> CEST at 01:00 UTC on the last Sunday of March (31 Mar 2024).
- America/New_York: EDT (UTC-4) until 02:00 local on the first Sunday of November
  (3 Nov 2024), then EST (UTC-5); EST -> EDT at 02:00 local on 10 Mar 2024.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    LoadMethod,
    Source,
    Sport,
    Summary,
)
from training_analyzer.core.analytics import (
    ActivityBests,
    DayLoad,
    LoadBasis,
    PowerBest,
    SportGrouping,
    activity_bests,
    activity_day_loads,
    activity_metrics,
    activity_time_s,
    calendar_year,
    daily_load_series,
    days_window,
    fitness_timeline,
    largest_remainder_percentages,
    local_day,
    personal_records,
    race_predictions,
    select_load,
    sport_distribution,
    week_start,
    weekly_volume,
    weeks_window,
    zone_summary,
)
from training_analyzer.core.athletes import Sex, Thresholds
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.pace import BestEffort
from training_analyzer.core.metrics.streams import Streams

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_activity(
    *,
    start: datetime,
    ident: str = "a1",
    sport: Sport = Sport.RUN,
    duration_s: float = 3600.0,
    moving_time_s: float | None = None,
    distance_m: float | None = None,
    load: float | None = None,
    estimated: bool = False,
    hr_zone_s: tuple[float, ...] = (),
    power_zone_s: tuple[float, ...] = (),
) -> Activity:
    metrics = None
    if load is not None:
        metrics = ActivityMetrics(
            load=load,
            load_method=LoadMethod.RPE_ESTIMATE if estimated else LoadMethod.HR_TSS,
            estimated=estimated,
            hr_zone_s=hr_zone_s,
            power_zone_s=power_zone_s,
        )
    return Activity(
        id=ident,
        user_id="u1",
        sport=sport,
        name="workout",
        start_time=start,
        summary=Summary(duration_s=duration_s, moving_time_s=moving_time_s, distance_m=distance_m),
        source=Source.FILE,
        metrics=metrics,
        created_at=start,
        updated_at=start,
    )


THRESHOLDS = Thresholds(
    effective_from=date(2024, 1, 1),
    ftp_w=250.0,
    lthr_bpm=170.0,
    max_hr_bpm=190.0,
    rest_hr_bpm=50.0,
    threshold_pace_s_per_km=240.0,
    sex=Sex.MALE,
)


def steady(seconds: int, **channels: float) -> Streams:
    """A 1 Hz recording holding each channel at one value."""
    return Streams(
        time_s=[float(t) for t in range(seconds)],
        **{name: [value] * seconds for name, value in channels.items()},  # type: ignore[arg-type]
    )


# Local days ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "timezone", "expected"),
    [
        # 23:30 CET on 27 Oct 2024, the night the clocks went back (UTC+1 since 01:00 UTC).
        (utc(2024, 10, 27, 22, 30), BERLIN, date(2024, 10, 27)),
        # 23:30 CEST on Saturday 26 Oct, hours before the change (UTC+2).
        (utc(2024, 10, 26, 21, 30), BERLIN, date(2024, 10, 26)),
        # 23:30 CEST on 31 Mar 2024, the night the clocks went forward (UTC+2).
        (utc(2024, 3, 31, 21, 30), BERLIN, date(2024, 3, 31)),
        # 23:30 EST on 3 Nov 2024 (UTC-5 since that morning) is 04:30 UTC on 4 Nov.
        (utc(2024, 11, 4, 4, 30), NEW_YORK, date(2024, 11, 3)),
        # 23:30 EDT on 10 Mar 2024 (UTC-4 since that morning) is 03:30 UTC on 11 Mar.
        (utc(2024, 3, 11, 3, 30), NEW_YORK, date(2024, 3, 10)),
    ],
)
def test_an_activity_late_on_a_dst_night_lands_on_its_local_day(
    instant: datetime, timezone: str, expected: date
) -> None:
    assert local_day(instant=instant, timezone=timezone) == expected


def test_local_day_needs_an_aware_instant_and_a_real_zone() -> None:
    with pytest.raises(InvalidInput) as naive:
        local_day(instant=datetime(2024, 1, 1, 12), timezone=BERLIN)
    assert naive.value.argument == "instant"
    with pytest.raises(InvalidInput) as unknown:
        local_day(instant=utc(2024, 1, 1), timezone="Mars/Olympus_Mons")
    assert unknown.value.argument == "timezone"


def test_iso_weeks_start_on_monday() -> None:
    # 1 Jan 2025 was a Wednesday; its ISO week began Monday 30 Dec 2024.
    assert week_start(day=date(2025, 1, 1)) == date(2024, 12, 30)
    assert week_start(day=date(2024, 12, 30)) == date(2024, 12, 30)
    assert week_start(day=date(2025, 1, 5)) == date(2024, 12, 30)
    assert weeks_window(today=date(2025, 1, 1), weeks=3) == (date(2024, 12, 16), date(2025, 1, 5))
    assert days_window(today=date(2024, 3, 1), days=2) == (date(2024, 2, 29), date(2024, 3, 1))


@pytest.mark.parametrize("bad", [0, -1, 10**6, True, 2.5])
def test_window_sizes_must_be_sensible_whole_numbers(bad: object) -> None:
    with pytest.raises(InvalidInput) as error:
        weeks_window(today=date(2024, 1, 1), weeks=bad)  # type: ignore[arg-type]
    assert error.value.argument == "weeks"


def test_weeks_across_a_dst_change_have_seven_days_and_sunday_night_stays_in_its_week() -> None:
    activities = [
        # Sunday 27 Oct 2024, 23:30 CET (22:30 UTC): the last day of the week of 21 Oct.
        make_activity(ident="sun", start=utc(2024, 10, 27, 22, 30), load=40.0),
        # Monday 28 Oct, 00:30 CET, still 27 Oct in UTC: the first day of the next week.
        make_activity(ident="mon", start=utc(2024, 10, 27, 23, 30), load=60.0),
    ]
    weeks = weekly_volume(activities=activities, timezone=BERLIN, today=date(2024, 10, 30), weeks=2)
    assert [(w.week_start, w.week_end) for w in weeks] == [
        (date(2024, 10, 21), date(2024, 10, 27)),
        (date(2024, 10, 28), date(2024, 11, 3)),
    ]
    assert all(w.week_end - w.week_start == timedelta(days=6) for w in weeks)
    assert [w.total.load for w in weeks] == [40.0, 60.0]
    assert [(w.iso_year, w.iso_week) for w in weeks] == [(2024, 43), (2024, 44)]


# Daily loads and the fitness timeline ---------------------------------------------------------


def test_daily_load_series_sums_each_day_and_fills_gaps_with_zero() -> None:
    d0 = date(2024, 2, 27)
    series = daily_load_series(
        loads=[
            (d0 + timedelta(days=1), 10.0),
            (d0 + timedelta(days=1), 5.0),
            (d0 + timedelta(days=3), 7.0),
            (d0 - timedelta(days=1), 99.0),  # before the window: left out
        ],
        start=d0,
        end=d0 + timedelta(days=4),
    )
    assert series == [
        DayLoad(day=date(2024, 2, 27), load=0.0),
        DayLoad(day=date(2024, 2, 28), load=15.0),
        DayLoad(day=date(2024, 2, 29), load=0.0),
        DayLoad(day=date(2024, 3, 1), load=7.0),
        DayLoad(day=date(2024, 3, 2), load=0.0),
    ]


def test_daily_load_series_rejects_a_reversed_window_and_negative_loads() -> None:
    with pytest.raises(InvalidInput) as reversed_window:
        daily_load_series(loads=[], start=date(2024, 1, 2), end=date(2024, 1, 1))
    assert reversed_window.value.argument == "end"
    with pytest.raises(InvalidInput) as negative:
        daily_load_series(
            loads=[(date(2024, 1, 1), -1.0)], start=date(2024, 1, 1), end=date(2024, 1, 1)
        )
    assert negative.value.argument == "loads[0]"


def test_activity_day_loads_skip_unscored_activities_and_use_local_days() -> None:
    pairs = activity_day_loads(
        activities=[
            make_activity(ident="a", start=utc(2024, 11, 4, 4, 30), load=80.0),
            make_activity(ident="b", start=utc(2024, 11, 4, 12, 0)),
        ],
        timezone=NEW_YORK,
    )
    assert pairs == [(date(2024, 11, 3), 80.0)]


def test_fitness_timeline_matches_the_pmc_by_hand() -> None:
    # One load of 100: CTL = 100 (1 - e^(-1/42)) = 2.35283, ATL = 100 (1 - e^(-1/7)) = 13.3122;
    # the next day's TSB (previous-day convention) is 2.35283 - 13.3122 = -10.9594.
    timeline = fitness_timeline(
        daily=[
            DayLoad(day=date(2024, 5, 1), load=100.0),
            DayLoad(day=date(2024, 5, 2), load=0.0),
        ]
    )
    assert timeline[0].day == date(2024, 5, 1)
    assert timeline[0].ctl == pytest.approx(2.35283, abs=1e-5)
    assert timeline[0].atl == pytest.approx(13.3122, abs=1e-4)
    assert timeline[0].tsb == 0.0
    assert timeline[1].tsb == pytest.approx(-10.9594, abs=1e-4)


def test_fitness_timeline_needs_consecutive_days() -> None:
    with pytest.raises(InvalidInput) as error:
        fitness_timeline(
            daily=[
                DayLoad(day=date(2024, 5, 1), load=1.0),
                DayLoad(day=date(2024, 5, 3), load=1.0),
            ]
        )
    assert error.value.argument == "daily"


@given(
    loads=st.lists(st.floats(min_value=0, max_value=400), min_size=2, max_size=80),
    data=st.data(),
)
def test_recomputing_from_a_changed_day_with_the_stored_seed_equals_a_full_recompute(
    loads: list[float], data: st.DataObject
) -> None:
    start = date(2024, 1, 1)
    daily = [DayLoad(day=start + timedelta(days=i), load=v) for i, v in enumerate(loads)]
    full = fitness_timeline(daily=daily)
    k = data.draw(st.integers(min_value=1, max_value=len(daily) - 1))
    tail = fitness_timeline(
        daily=daily[k:], initial_ctl=full[k - 1].ctl, initial_atl=full[k - 1].atl
    )
    assert tail == full[k:]


# Weekly volume and sport mix -----------------------------------------------------------------


def test_weekly_volume_totals_per_family_and_per_sport() -> None:
    activities = [
        make_activity(
            ident="r1",
            sport=Sport.RUN,
            start=utc(2024, 6, 3, 6),
            duration_s=3700,
            moving_time_s=3600,
            distance_m=12000,
            load=70.0,
        ),
        make_activity(
            ident="r2",
            sport=Sport.TRAIL_RUN,
            start=utc(2024, 6, 5, 6),
            duration_s=1800,
            distance_m=5000,
            load=30.0,
            estimated=True,
        ),
        make_activity(
            ident="b1",
            sport=Sport.RIDE,
            start=utc(2024, 6, 8, 6),
            duration_s=7200,
            distance_m=60000,
        ),
    ]
    [week] = weekly_volume(activities=activities, timezone=BERLIN, today=date(2024, 6, 9), weeks=1)
    run, ride = week.sports
    assert (run.sport, run.activity_count, run.time_s, run.distance_m, run.load) == (
        "run",
        2,
        5400.0,  # moving time 3600 of the first run, elapsed 1800 of the second
        17000.0,
        100.0,
    )
    assert run.estimated is True
    assert (ride.sport, ride.load, ride.unscored_count) == ("ride", 0.0, 1)
    assert week.total.activity_count == 3
    assert week.total.time_s == 12600.0
    assert week.total.distance_m == 77000.0
    assert week.total.unscored_count == 1
    [by_sport] = weekly_volume(
        activities=activities,
        timezone=BERLIN,
        today=date(2024, 6, 9),
        weeks=1,
        grouping=SportGrouping.SPORT,
    )
    assert [s.sport for s in by_sport.sports] == ["run", "trail_run", "ride"]


def test_weekly_volume_lists_empty_weeks_oldest_first() -> None:
    weeks = weekly_volume(activities=[], timezone=BERLIN, today=date(2024, 6, 9), weeks=3)
    assert [w.week_start for w in weeks] == [date(2024, 5, 20), date(2024, 5, 27), date(2024, 6, 3)]
    assert all(w.sports == () and w.total.activity_count == 0 for w in weeks)


def test_activity_time_prefers_moving_time_when_recorded() -> None:
    assert activity_time_s(summary=Summary(duration_s=4000, moving_time_s=3600)) == 3600
    assert activity_time_s(summary=Summary(duration_s=4000)) == 4000
    assert activity_time_s(summary=Summary(duration_s=4000, moving_time_s=0)) == 4000


def test_sport_distribution_in_whole_seconds_and_exact_percentages() -> None:
    activities = [
        make_activity(ident="r", sport=Sport.RUN, start=utc(2024, 6, 3, 6), duration_s=3600),
        make_activity(ident="b", sport=Sport.RIDE, start=utc(2024, 6, 4, 6), duration_s=1800.4),
        make_activity(ident="s", sport=Sport.SWIM, start=utc(2024, 6, 5, 6), duration_s=599.6),
    ]
    mix = sport_distribution(
        activities=activities, timezone=BERLIN, today=date(2024, 6, 9), weeks=1
    )
    # 3600 + 1800 + 600 = 6000 s: exactly 60, 30 and 10 %.
    assert [(s.sport, s.time_s, s.percent) for s in mix.shares] == [
        ("run", 3600, 60),
        ("ride", 1800, 30),
        ("swim", 600, 10),
    ]
    assert mix.total_time_s == 6000
    assert (mix.start, mix.end) == (date(2024, 6, 3), date(2024, 6, 9))


def test_three_equal_sports_split_34_33_33_by_largest_remainder() -> None:
    activities = [
        make_activity(ident=s.value, sport=s, start=utc(2024, 6, 4, 6), duration_s=1000)
        for s in (Sport.SWIM, Sport.RUN, Sport.RIDE)
    ]
    mix = sport_distribution(
        activities=activities, timezone=BERLIN, today=date(2024, 6, 9), weeks=1
    )
    # Equal remainders and equal times: the extra point goes to the first share in name order.
    assert [(s.sport, s.percent) for s in mix.shares] == [("ride", 34), ("run", 33), ("swim", 33)]


def test_largest_remainder_gives_the_missing_points_to_the_largest_remainders() -> None:
    # 1/7 = 14.29 %, 2/7 = 28.57 %, 4/7 = 57.14 %: floors 14 + 28 + 57 = 99; the largest
    # remainder (0.57 of 2/7) gets the missing point.
    assert largest_remainder_percentages(values=[1, 2, 4]) == [14, 29, 57]
    assert largest_remainder_percentages(values=[0, 0]) == [0, 0]
    assert largest_remainder_percentages(values=[]) == []
    assert largest_remainder_percentages(values=[0, 5]) == [0, 100]


def test_largest_remainder_rejects_negative_or_fractional_values() -> None:
    with pytest.raises(InvalidInput) as error:
        largest_remainder_percentages(values=[3, -1])
    assert error.value.argument == "values[1]"
    with pytest.raises(InvalidInput):
        largest_remainder_percentages(values=[1.5])  # type: ignore[list-item]


@given(st.lists(st.integers(min_value=0, max_value=10**7), max_size=12))
def test_percentages_sum_to_100_and_stay_within_one_point_of_the_exact_share(
    values: list[int],
) -> None:
    percents = largest_remainder_percentages(values=values)
    total = sum(values)
    if total == 0:
        assert percents == [0] * len(values)
        return
    assert sum(percents) == 100
    for v, p in zip(values, percents, strict=True):
        assert v * 100 // total <= p <= -(-v * 100 // total)


# Calendar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "days"),
    [(2024, 366), (2023, 365), (2000, 366), (2100, 365)],  # Gregorian: 2100 is not a leap year
)
def test_the_calendar_has_every_day_of_the_year(year: int, days: int) -> None:
    cal = calendar_year(loads=[], year=year)
    assert len(cal.days) == days
    assert cal.days[0].day == date(year, 1, 1)
    assert cal.days[-1].day == date(year, 12, 31)
    assert all(b.day - a.day == timedelta(days=1) for a, b in itertools.pairwise(cal.days))
    assert cal.quartiles is None
    assert {d.level for d in cal.days} == {0}


def test_calendar_levels_follow_the_quartiles_of_training_days() -> None:
    # Type-7 quartiles of 10, 20, 30, 40: 17.5, 25, 32.5 -> levels 1, 2, 3, 4.
    cal = calendar_year(
        loads=[
            (date(2024, 2, 28), 10.0),
            (date(2024, 2, 29), 20.0),
            (date(2024, 3, 1), 30.0),
            (date(2024, 3, 2), 40.0),
            (date(2023, 12, 31), 500.0),  # another year: left out
        ],
        year=2024,
    )
    assert cal.quartiles == (17.5, 25.0, 32.5)
    by_day = {d.day: d for d in cal.days}
    assert [by_day[date(2024, 2, 28) + timedelta(days=i)].level for i in range(4)] == [1, 2, 3, 4]
    assert by_day[date(2024, 1, 1)].level == 0
    assert by_day[date(2024, 2, 29)].load == 20.0


def test_a_load_exactly_on_a_quartile_goes_to_the_upper_level() -> None:
    # 10, 20, 30: quartiles 15, 20, 25; 20 sits on q2, so it is level 3, not 2.
    cal = calendar_year(
        loads=[(date(2023, 1, 2), 10.0), (date(2023, 1, 3), 20.0), (date(2023, 1, 4), 30.0)],
        year=2023,
    )
    assert cal.quartiles == (15.0, 20.0, 25.0)
    assert [cal.days[i].level for i in (1, 2, 3)] == [1, 3, 4]


def test_a_year_outside_the_calendar_is_invalid() -> None:
    with pytest.raises(InvalidInput) as error:
        calendar_year(loads=[], year=0)
    assert error.value.argument == "year"


# Zones ---------------------------------------------------------------------------------------


def test_zone_summary_sums_matching_layouts_and_skips_a_different_zone_system() -> None:
    activities = [
        make_activity(
            ident="old",
            start=utc(2024, 6, 3, 6),
            load=1.0,
            hr_zone_s=(100.0, 100.0, 100.0, 100.0, 100.0),
        ),
        make_activity(
            ident="a",
            start=utc(2024, 6, 4, 6),
            load=1.0,
            hr_zone_s=(600.0, 1200.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            power_zone_s=(300.0, 300.0, 300.0, 0.0, 0.0, 0.0, 0.0),
        ),
        make_activity(
            ident="b",
            start=utc(2024, 6, 5, 6),
            load=1.0,
            hr_zone_s=(0.0, 600.0, 600.0, 0.0, 0.0, 0.0, 0.0),
        ),
        make_activity(ident="outside", start=utc(2024, 5, 1, 6), load=1.0, hr_zone_s=(9e9,) * 7),
    ]
    summary = zone_summary(activities=activities, timezone=BERLIN, today=date(2024, 6, 9), weeks=1)
    assert summary.hr is not None
    assert summary.hr.zone_s == (600.0, 1800.0, 600.0, 0.0, 0.0, 0.0, 0.0)
    assert summary.hr.percent == (20, 60, 20, 0, 0, 0, 0)
    assert (summary.hr.activity_count, summary.hr.skipped_count) == (2, 1)
    assert summary.power is not None
    assert summary.power.percent == (34, 33, 33, 0, 0, 0, 0)
    assert summary.power.activity_count == 1


def test_zone_summary_without_zone_data_has_none() -> None:
    summary = zone_summary(
        activities=[make_activity(start=utc(2024, 6, 4, 6), load=5.0)],
        timezone=BERLIN,
        today=date(2024, 6, 9),
        weeks=1,
    )
    assert summary.hr is None
    assert summary.power is None


# Load selection (ARCHITECTURE.md section 7a) --------------------------------------------------


def test_a_ride_with_power_and_ftp_gets_power_tss() -> None:
    # Coggan: one hour at exactly FTP scores 100 TSS.
    chosen = select_load(
        sport=Sport.RIDE,
        summary=Summary(duration_s=3600),
        streams=steady(3600, power_w=250.0, hr_bpm=150.0),
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert chosen.method is LoadMethod.POWER_TSS
    assert chosen.basis is LoadBasis.STREAM
    assert chosen.estimated is False
    assert chosen.load == pytest.approx(100.0, rel=1e-12)


def test_a_ride_without_ftp_falls_back_to_hrtss() -> None:
    # HRSS is normalised so that one hour at LTHR scores exactly 100 (metrics reference 1.5).
    no_ftp = Thresholds(
        effective_from=date(2024, 1, 1), lthr_bpm=170.0, max_hr_bpm=190.0, rest_hr_bpm=50.0
    )
    chosen = select_load(
        sport=Sport.RIDE,
        summary=Summary(duration_s=3600),
        streams=steady(3600, power_w=250.0, hr_bpm=170.0),
        thresholds=no_ftp,
    )
    assert chosen is not None
    assert chosen.method is LoadMethod.HR_TSS
    assert chosen.load == pytest.approx(100.0, rel=1e-12)


def test_a_dead_power_meter_falls_back_to_hrtss_not_zero() -> None:
    # All-zero power is a missing meter, not a free hour; at LTHR for an hour HRSS is 100.
    chosen = select_load(
        sport=Sport.RIDE,
        summary=Summary(duration_s=3600),
        streams=steady(3600, power_w=0.0, hr_bpm=170.0),
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert chosen.method is LoadMethod.HR_TSS
    assert chosen.load == pytest.approx(100.0, rel=1e-9)


@pytest.mark.parametrize("distance_m", [None, 0.0])
def test_a_treadmill_run_without_speed_falls_back_to_hrtss(distance_m: float | None) -> None:
    chosen = select_load(
        sport=Sport.TREADMILL_RUN,
        summary=Summary(duration_s=3600, distance_m=distance_m),
        streams=steady(3600, speed_m_s=0.0, hr_bpm=170.0),
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert chosen.method is LoadMethod.HR_TSS
    assert chosen.load == pytest.approx(100.0, rel=1e-9)


def test_a_run_at_threshold_pace_for_an_hour_scores_100_rtss() -> None:
    # rTSS = hours x (threshold pace / NGP pace)^2 x 100; 240 s/km is 1000/240 m/s.
    chosen = select_load(
        sport=Sport.RUN,
        summary=Summary(duration_s=3600),
        streams=steady(3600, speed_m_s=1000 / 240, hr_bpm=150.0),
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert (chosen.method, chosen.basis) == (LoadMethod.RUN_TSS, LoadBasis.STREAM)
    assert chosen.load == pytest.approx(100.0, rel=1e-9)


def test_a_run_without_streams_uses_its_average_speed() -> None:
    # 15 km in one hour is exactly the 4:00/km threshold pace: 100. At 12 km/h
    # (5:00/km) IF = 240/300 = 0.8 and rTSS = 64.
    chosen = select_load(
        sport=Sport.RUN,
        summary=Summary(duration_s=3700, moving_time_s=3600, distance_m=15000),
        streams=None,
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert (chosen.method, chosen.basis) == (LoadMethod.RUN_TSS, LoadBasis.SUMMARY)
    assert chosen.load == pytest.approx(100.0, rel=1e-12)
    slower = select_load(
        sport=Sport.RUN,
        summary=Summary(duration_s=3600, distance_m=12000),
        streams=None,
        thresholds=THRESHOLDS,
    )
    assert slower is not None
    assert slower.load == pytest.approx(64.0, rel=1e-12)


def test_hrtss_from_the_average_heart_rate_when_there_is_no_stream() -> None:
    chosen = select_load(
        sport=Sport.SWIM,
        summary=Summary(duration_s=3600, avg_hr_bpm=170.0),
        streams=None,
        thresholds=THRESHOLDS,
    )
    assert chosen is not None
    assert (chosen.method, chosen.basis) == (LoadMethod.HR_TSS, LoadBasis.SUMMARY)
    assert chosen.load == pytest.approx(100.0, rel=1e-12)


def test_running_power_is_not_scored_against_the_cycling_ftp() -> None:
    chosen = select_load(
        sport=Sport.RUN,
        summary=Summary(duration_s=7200),
        streams=steady(7200, power_w=300.0),
        thresholds=Thresholds(effective_from=date(2024, 1, 1), ftp_w=250.0),
        rpe=5,
    )
    assert chosen is not None
    # TrainingPeaks: "a level 5 for two hours ... 50 TSS/hour or 100 total points".
    assert (chosen.method, chosen.basis, chosen.estimated) == (
        LoadMethod.RPE_ESTIMATE,
        LoadBasis.RPE,
        True,
    )
    assert chosen.load == pytest.approx(100.0, rel=1e-12)


def test_the_rpe_estimate_uses_moving_time() -> None:
    chosen = select_load(
        sport=Sport.STRENGTH,
        summary=Summary(duration_s=4000, moving_time_s=1800),
        streams=None,
        thresholds=None,
        rpe=8,
    )
    assert chosen is not None
    assert chosen.load == pytest.approx(40.0, rel=1e-12)  # 0.5 h x 8 x 10


def test_too_few_power_samples_fall_through_to_the_next_model() -> None:
    # NP needs 30 samples (ARCHITECTURE.md 7a): 29 give no TSS, and nothing else applies.
    assert (
        select_load(
            sport=Sport.RIDE,
            summary=Summary(duration_s=29),
            streams=steady(29, power_w=250.0),
            thresholds=THRESHOLDS,
        )
        is None
    )


def test_without_any_model_the_load_is_missing_not_zero() -> None:
    assert (
        select_load(
            sport=Sport.RUN, summary=Summary(duration_s=3600), streams=None, thresholds=None
        )
        is None
    )


def test_an_impossible_rpe_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as error:
        select_load(
            sport=Sport.RUN, summary=Summary(duration_s=60), streams=None, thresholds=None, rpe=11
        )
    assert error.value.argument == "rpe"


def test_activity_metrics_of_an_hour_at_ftp_and_lthr() -> None:
    metrics = activity_metrics(
        sport=Sport.RIDE,
        summary=Summary(duration_s=3600),
        streams=steady(3600, power_w=250.0, hr_bpm=170.0),
        thresholds=THRESHOLDS,
    )
    assert metrics is not None
    assert metrics.load_method is LoadMethod.POWER_TSS
    assert metrics.load == pytest.approx(100.0)
    assert metrics.normalized_power_w == pytest.approx(250.0)
    assert metrics.intensity_factor == pytest.approx(1.0)
    # Coggan: 100 % of FTP is level 4 (91-105 %); Friel bike: 100 % of LTHR is Z5a.
    assert metrics.power_zone_s == (0.0, 0.0, 0.0, 3600.0, 0.0, 0.0, 0.0)
    assert metrics.hr_zone_s == (0.0, 0.0, 0.0, 0.0, 3600.0, 0.0, 0.0)
    # Banister TRIMP, male: 60 min x x e^(1.92 x) x 0.64 with x = 120/140.
    x = 120 / 140
    assert metrics.trimp == pytest.approx(60 * x * 0.64 * math.exp(1.92 * x), rel=1e-12)


def test_zero_bpm_readings_are_not_counted_in_hr_zones() -> None:
    hr: list[float | None] = [*([170.0] * 1800), *([0.0] * 1800)]
    streams = Streams(time_s=[float(t) for t in range(3600)], hr_bpm=hr)
    metrics = activity_metrics(
        sport=Sport.RUN, summary=Summary(duration_s=3600), streams=streams, thresholds=THRESHOLDS
    )
    assert metrics is not None
    assert sum(metrics.hr_zone_s) == 1800.0


def test_activity_metrics_are_missing_when_no_load_model_applies() -> None:
    assert (
        activity_metrics(
            sport=Sport.YOGA, summary=Summary(duration_s=600), streams=None, thresholds=None
        )
        is None
    )


# Records -------------------------------------------------------------------------------------


def run_streams(segments: list[tuple[float, float, float]]) -> Streams:
    """1 Hz samples at constant speed per (start_s, end_s, speed) segment; gaps are pauses."""
    time_s: list[float] = []
    distance: list[float | None] = []
    covered = 0.0
    for start, end, speed in segments:
        for t in range(int(start), int(end) + 1):
            if time_s and t > time_s[-1] + 1:
                pass  # a pause: no samples, distance unchanged
            elif time_s:
                covered += speed
            time_s.append(float(t))
            distance.append(covered)
    return Streams(time_s=time_s, distance_m=distance)


def test_best_efforts_of_an_even_run() -> None:
    # 4 m/s for 1500 s: 400 m in 100 s, 1 km in 250 s, a mile (1609.344 m) in 402.336 s,
    # 5 km in 1250 s.
    bests = activity_bests(
        activity_id="r1",
        sport=Sport.RUN,
        day=date(2024, 6, 1),
        streams=run_streams([(0, 1500, 4.0)]),
    )
    times = {e.name: e.duration_s for e in bests.efforts}
    assert times["400 m"] == pytest.approx(100.0)
    assert times["1 km"] == pytest.approx(250.0)
    assert times["1 mile"] == pytest.approx(402.336)
    assert times["5 km"] == pytest.approx(1250.0)
    assert "10 km" not in times
    assert bests.power == ()


def test_a_pause_counts_in_the_time_of_an_effort_across_it() -> None:
    # 1000 m, a 100 s stop, 1000 m more, all at 4 m/s: a mile must span the stop, so its
    # time is 1609.344 / 4 + 100 = 502.336 s; a kilometre fits on either side: 250 s.
    bests = activity_bests(
        activity_id="r1",
        sport=Sport.RUN,
        day=date(2024, 6, 1),
        streams=run_streams([(0, 250, 4.0), (350, 600, 4.0)]),
    )
    times = {e.name: e.duration_s for e in bests.efforts}
    assert times["1 km"] == pytest.approx(250.0)
    assert times["1 mile"] == pytest.approx(502.336)


def test_power_bests_count_a_pause_as_zero_watts() -> None:
    # 30 s at 400 W, a 31 s stop (a pause: longer than 25 s), 30 s at 400 W. The best minute
    # is 30 s at 400 W and 30 s of stop: 200 W, not 400 W.
    time_s = [float(t) for t in range(30)] + [float(t) for t in range(60, 90)]
    streams = Streams(time_s=time_s, power_w=[400.0] * 60)
    bests = activity_bests(
        activity_id="b1", sport=Sport.RIDE, day=date(2024, 6, 1), streams=streams
    )
    curve = {p.duration_s: p.power_w for p in bests.power}
    assert curve[5] == pytest.approx(400.0)
    assert curve[30] == pytest.approx(400.0)
    assert curve[60] == pytest.approx(200.0)
    assert 120 not in curve
    assert bests.efforts == ()


def test_activity_bests_without_streams_are_empty() -> None:
    bests = activity_bests(activity_id="x", sport=Sport.RUN, day=date(2024, 6, 1), streams=None)
    assert (bests.power, bests.efforts) == ((), ())


def effort(name: str, distance_m: float, duration_s: float) -> BestEffort:
    return BestEffort(name=name, distance_m=distance_m, duration_s=duration_s, start_s=0.0)


def test_records_keep_the_best_value_and_the_first_to_set_it() -> None:
    bests = [
        ActivityBests(
            activity_id="ride-1",
            day=date(2024, 5, 1),
            sport=Sport.RIDE,
            power=(PowerBest(duration_s=5, power_w=900.0), PowerBest(duration_s=60, power_w=450.0)),
        ),
        ActivityBests(
            activity_id="ride-2",
            day=date(2024, 4, 1),
            sport=Sport.VIRTUAL_RIDE,
            power=(PowerBest(duration_s=5, power_w=900.0), PowerBest(duration_s=60, power_w=400.0)),
        ),
        ActivityBests(
            activity_id="run-1",
            day=date(2024, 5, 2),
            sport=Sport.RUN,
            power=(PowerBest(duration_s=5, power_w=2000.0),),  # running power: not a record
            efforts=(effort("5 km", 5000.0, 1250.0), effort("1 km", 1000.0, 230.0)),
        ),
        ActivityBests(
            activity_id="run-2",
            day=date(2024, 5, 9),
            sport=Sport.TRACK_RUN,
            efforts=(effort("1 km", 1000.0, 225.0),),
        ),
    ]
    records = personal_records(bests=bests)
    assert [(p.duration_s, p.power_w, p.activity_id) for p in records.power] == [
        (5, 900.0, "ride-2"),  # a tie: the earlier day keeps the record
        (60, 450.0, "ride-1"),
    ]
    assert [(e.name, e.duration_s, e.activity_id, e.day) for e in records.efforts] == [
        ("1 km", 225.0, "run-2", date(2024, 5, 9)),
        ("5 km", 1250.0, "run-1", date(2024, 5, 2)),
    ]
    assert records.efforts[0].pace_s_per_km == pytest.approx(225.0)


# Race predictions ----------------------------------------------------------------------------


def run_bests(ident: str, day: date, *efforts: BestEffort) -> ActivityBests:
    return ActivityBests(activity_id=ident, day=day, sport=Sport.RUN, efforts=efforts)


def test_predictions_from_a_20_minute_5k() -> None:
    today = date(2024, 6, 30)
    result = race_predictions(
        bests=[run_bests("r1", date(2024, 6, 1), effort("5 km", 5000.0, 1200.0))], today=today
    )
    assert result is not None
    # Daniels-Gilbert: 5 km in 20:00 is VDOT 49.81 (Daniels' table: about 49.8).
    assert result.vdot == pytest.approx(49.81, abs=0.01)
    assert (result.source.activity_id, result.source.name) == ("r1", "5 km")
    by_name = {p.name: p for p in result.predictions}
    assert list(by_name) == ["5 km", "10 km", "half marathon", "marathon"]
    # Riegel (1981), exponent 1.06: 5 km in 20:00 -> 10 km in 41:42 (metrics reference 5.2).
    assert by_name["10 km"].riegel_duration_s == pytest.approx(1200 * 2**1.06)
    assert round(by_name["10 km"].riegel_duration_s) == 41 * 60 + 42
    # VDOT equivalence returns the source race itself for its own distance.
    five = by_name["5 km"].vdot_duration_s
    assert five is not None
    assert five == pytest.approx(1200.0, abs=0.01)


def test_the_effort_with_the_highest_vdot_is_the_source() -> None:
    # 10 km in 40:00 is VDOT 51.94, better than 49.81 for 5 km in 20:00; Riegel from it
    # predicts a 3:04:00 marathon (11040 s, metrics reference 5.2).
    result = race_predictions(
        bests=[
            run_bests("fast-5k", date(2024, 6, 1), effort("5 km", 5000.0, 1200.0)),
            run_bests("fast-10k", date(2024, 6, 10), effort("10 km", 10000.0, 2400.0)),
        ],
        today=date(2024, 6, 30),
    )
    assert result is not None
    assert result.source.activity_id == "fast-10k"
    assert result.vdot == pytest.approx(51.94, abs=0.01)
    marathon = next(p for p in result.predictions if p.name == "marathon")
    assert marathon.riegel_duration_s == pytest.approx(11040.0, abs=1.0)


def test_efforts_shorter_than_1500_m_do_not_predict_races() -> None:
    short = run_bests(
        "track",
        date(2024, 6, 1),
        effort("400 m", 400.0, 60.0),
        effort("800 m", 800.0, 130.0),
        effort("1 km", 1000.0, 170.0),
    )
    assert race_predictions(bests=[short], today=date(2024, 6, 30)) is None
    with_mile = run_bests("mile", date(2024, 6, 2), effort("1 mile", 1609.344, 330.0))
    result = race_predictions(bests=[short, with_mile], today=date(2024, 6, 30))
    assert result is not None
    assert result.source.activity_id == "mile"


def test_only_recent_past_run_efforts_count() -> None:
    today = date(2024, 6, 30)
    old = run_bests("old", today - timedelta(days=90), effort("5 km", 5000.0, 1000.0))
    edge = run_bests("edge", today - timedelta(days=89), effort("5 km", 5000.0, 1300.0))
    future = run_bests("future", today + timedelta(days=1), effort("5 km", 5000.0, 900.0))
    ride = ActivityBests(
        activity_id="ride",
        day=today,
        sport=Sport.RIDE,
        efforts=(effort("5 km", 5000.0, 400.0),),
    )
    result = race_predictions(bests=[old, edge, future, ride], today=today)
    assert result is not None
    assert result.source.activity_id == "edge"
    assert race_predictions(bests=[old, future, ride], today=today) is None


# Properties ----------------------------------------------------------------------------------

_ZONES = st.sampled_from([BERLIN, NEW_YORK, "UTC", "Australia/Lord_Howe", "Asia/Kolkata"])
_TODAY = date(2024, 10, 30)


@st.composite
def activities(draw: st.DrawFn) -> list[Activity]:
    n = draw(st.integers(min_value=0, max_value=25))
    out = []
    for i in range(n):
        start = draw(
            st.datetimes(
                min_value=datetime(2024, 8, 1),
                max_value=datetime(2024, 12, 31),
                timezones=st.just(UTC),
            )
        )
        out.append(
            make_activity(
                ident=f"a{i}",
                sport=draw(st.sampled_from(list(Sport))),
                start=start,
                duration_s=draw(st.integers(min_value=0, max_value=20_000)),
                distance_m=draw(st.none() | st.integers(min_value=0, max_value=200_000)),
                load=draw(st.none() | st.integers(min_value=0, max_value=400)),
            )
        )
    return out


@settings(max_examples=60)
@given(acts=activities(), timezone=_ZONES, weeks=st.integers(min_value=1, max_value=10))
def test_weekly_totals_equal_the_sum_of_the_activities_in_range(
    acts: list[Activity], timezone: str, weeks: int
) -> None:
    result = weekly_volume(activities=acts, timezone=timezone, today=_TODAY, weeks=weeks)
    first, last = weeks_window(today=_TODAY, weeks=weeks)
    inside = [
        a for a in acts if first <= local_day(instant=a.start_time, timezone=timezone) <= last
    ]
    assert len(result) == weeks
    assert sum(w.total.activity_count for w in result) == len(inside)
    # Whole-number inputs keep the float sums exact.
    assert sum(w.total.time_s for w in result) == sum(a.summary.duration_s for a in inside)
    assert sum(w.total.distance_m for w in result) == sum(a.summary.distance_m or 0 for a in inside)
    assert sum(w.total.load for w in result) == sum(
        a.metrics.load for a in inside if a.metrics is not None
    )
    for w in result:
        assert w.week_end - w.week_start == timedelta(days=6)
        assert w.week_start.weekday() == 0
        assert sum(s.activity_count for s in w.sports) == w.total.activity_count


@settings(max_examples=60)
@given(acts=activities(), timezone=_ZONES)
def test_bucketing_never_loses_an_activity(acts: list[Activity], timezone: str) -> None:
    pairs = activity_day_loads(activities=acts, timezone=timezone)
    scored = [a for a in acts if a.metrics is not None]
    assert len(pairs) == len(scored)
    if pairs:
        days = [d for d, _ in pairs]
        series = daily_load_series(loads=pairs, start=min(days), end=max(days))
        assert sum(d.load for d in series) == sum(a.metrics.load for a in scored if a.metrics)
    # A window covering every activity counts each exactly once.
    weeks = weekly_volume(activities=acts, timezone=timezone, today=date(2025, 1, 5), weeks=30)
    assert sum(w.total.activity_count for w in weeks) == len(acts)
    mix = sport_distribution(activities=acts, timezone=timezone, today=date(2025, 1, 5), weeks=30)
    assert sum(s.activity_count for s in mix.shares) == len(acts)
    assert sum(s.percent for s in mix.shares) == (100 if mix.total_time_s > 0 else 0)
