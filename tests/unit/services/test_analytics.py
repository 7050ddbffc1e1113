"""The analytics service on fakes: stored loads to the chart, canonical activities only, the
user's timezone, and empty answers (not errors) before any training."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.unit.services.activity_world import NOW, UID, World, ride, tss
from training_analyzer.core.activities import DailyLoad, Sport
from training_analyzer.core.analytics import SportGrouping
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.services.analytics import AnalyticsService

K_CTL = 1 - math.exp(-1 / 42)
K_ATL = 1 - math.exp(-1 / 7)


async def _world(timezone: str = "UTC") -> tuple[World, AnalyticsService]:
    w = await World(timezone=timezone).setup()
    return w, AnalyticsService(storage=w.storage, clock=w.clock)


async def test_the_timeline_decays_past_the_last_stored_day() -> None:
    w, analytics = await _world()
    await w.upload("a.fit", ride(datetime(2026, 2, 20, 7, tzinfo=UTC)))
    # Ten days later nothing was imported: no rows were written for those days.
    w.clock.set(NOW + timedelta(days=10))
    timeline = await analytics.fitness_timeline(user_id=UID, days=30)
    assert timeline.end == date(2026, 3, 12)
    by_day = {d.day: d for d in timeline.days}
    load = tss(3600, 250)
    days_after = (date(2026, 3, 12) - date(2026, 2, 20)).days
    assert by_day[date(2026, 3, 12)].ctl == pytest.approx(load * K_CTL * (1 - K_CTL) ** days_after)
    assert by_day[date(2026, 3, 12)].atl == pytest.approx(load * K_ATL * (1 - K_ATL) ** days_after)


async def test_a_window_after_the_history_starts_from_the_stored_state() -> None:
    w, analytics = await _world()
    await w.upload("a.fit", ride(datetime(2026, 1, 5, 7, tzinfo=UTC)))
    full = await analytics.fitness_timeline(user_id=UID, days=60)
    short = await analytics.fitness_timeline(user_id=UID, days=7)
    tail = {d.day: d for d in full.days[-7:]}
    for day in short.days:
        assert day.ctl == pytest.approx(tail[day.day].ctl)
        assert day.tsb == pytest.approx(tail[day.day].tsb)


async def test_estimated_days_are_flagged_in_the_timeline() -> None:
    w, analytics = await _world()
    async with w.storage.unit_of_work(user_id=UID) as uow:
        await uow.daily_loads.upsert(
            user_id=UID,
            loads=[
                DailyLoad(
                    user_id=UID, day=date(2026, 3, 1), load=40.0, ctl=1.0, atl=5.0, estimated=True
                )
            ],
        )
    days = (await analytics.fitness_timeline(user_id=UID, days=2)).days
    assert [(d.day, d.load, d.estimated) for d in days] == [
        (date(2026, 3, 1), 40.0, True),
        (date(2026, 3, 2), 0.0, False),
    ]


async def test_duplicates_add_no_volume_and_no_records() -> None:
    w, analytics = await _world()
    start = datetime(2026, 2, 24, 7, tzinfo=UTC)
    await w.upload("garmin.fit", ride(start, power_w=250))
    await w.upload("strava.fit", ride(start + timedelta(seconds=20), power_w=400))
    weeks = await analytics.weekly_volume(user_id=UID, weeks=2)
    assert weeks[0].total.activity_count == 1
    assert weeks[0].total.load == pytest.approx(tss(3600, 250))
    records = await analytics.records(user_id=UID)
    assert {r.power_w for r in records.power} == {250.0}
    share = await analytics.sport_distribution(user_id=UID, weeks=2)
    assert [(s.sport, s.time_s, s.percent) for s in share.shares] == [("ride", 3599, 100)]


async def test_weeks_are_iso_weeks_of_the_users_local_days() -> None:
    # Monday 2 March 2026 08:00 UTC is Sunday 1 March 22:00 in Honolulu (UTC-10): the current
    # ISO week there is 23 February to 1 March.
    w, analytics = await _world("Pacific/Honolulu")
    await w.upload("a.fit", ride(datetime(2026, 2, 23, 18, tzinfo=UTC), sport=Sport.TRAIL_RUN))
    (week,) = await analytics.weekly_volume(user_id=UID, weeks=1, grouping=SportGrouping.SPORT)
    assert (week.week_start, week.week_end) == (date(2026, 2, 23), date(2026, 3, 1))
    assert [s.sport for s in week.sports] == ["trail_run"]


async def test_the_calendar_reads_the_stored_days_of_one_year() -> None:
    w, analytics = await _world()
    await w.upload("a.fit", ride(datetime(2025, 12, 31, 7, tzinfo=UTC)))
    await w.upload("b.fit", ride(datetime(2026, 1, 1, 7, tzinfo=UTC), power_w=200))
    year = await analytics.calendar(user_id=UID)
    assert year.year == 2026
    assert [(d.day, d.level) for d in year.days if d.level] == [(date(2026, 1, 1), 4)]
    last_year = await analytics.calendar(user_id=UID, year=2025)
    assert [d.day for d in last_year.days if d.load] == [date(2025, 12, 31)]
    with pytest.raises(InvalidInput):
        await analytics.calendar(user_id=UID, year=0)


async def test_a_new_athlete_gets_empty_answers() -> None:
    _, analytics = await _world()
    assert (await analytics.training_load(user_id=UID)).analysis is None
    assert await analytics.race_predictions(user_id=UID) is None
    records = await analytics.records(user_id=UID)
    assert (records.power, records.efforts) == ((), ())
    zones = await analytics.zones(user_id=UID)
    assert (zones.hr, zones.power) == (None, None)


async def test_training_load_reads_the_seeded_series() -> None:
    w, analytics = await _world()
    for k in range(60):
        start = datetime(2026, 1, 1, 7, tzinfo=UTC) + timedelta(days=k)
        await w.upload(f"{k}.fit", ride(start, seconds=1800))
    result = await analytics.training_load(user_id=UID)
    assert result.today == date(2026, 3, 2)
    assert result.analysis is not None
    timeline = await analytics.fitness_timeline(user_id=UID, days=1)
    assert result.analysis.indicators.ctl == pytest.approx(timeline.days[0].ctl)
    assert result.analysis.indicators.established is True


async def test_race_predictions_use_only_recent_runs() -> None:
    w, analytics = await _world()
    # 8 m/s for 1,000 s: 8 km, so 5 km in 625 s (a world-class pace; the maths does not mind).
    old = ride(datetime(2025, 10, 1, 7, tzinfo=UTC), seconds=1001, sport=Sport.RUN)
    await w.upload("old.fit", old)
    assert await analytics.race_predictions(user_id=UID) is None  # more than 90 days ago
    await w.upload(
        "new.fit", ride(datetime(2026, 2, 1, 7, tzinfo=UTC), seconds=1001, sport=Sport.RUN)
    )
    predictions = await analytics.race_predictions(user_id=UID)
    assert predictions is not None
    assert predictions.source.day == date(2026, 2, 1)
    assert predictions.source.duration_s == pytest.approx(625.0)


async def test_an_unknown_user_is_not_found() -> None:
    _, analytics = await _world()
    with pytest.raises(NotFound):
        await analytics.fitness_timeline(user_id="nobody")
