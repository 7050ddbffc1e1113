"""The eight `/analytics` routes over HTTP, on SQLite and on PostgreSQL.

One week of training with exact figures: a one-hour ride at FTP (100 TSS by definition, Allen &
Coggan 2010) on Monday 23 February 2026 and a 21-minute run at threshold pace (35 rTSS:
hours x IF^2 x 100 with IF = 1) on Wednesday 25 February. The test clock reads Monday 2 March
2026, 08:00 UTC. PMC values follow ARCHITECTURE.md section 7a: CTL_d = CTL_(d-1) + (L_d -
CTL_(d-1)) x (1 - e^(-1/42)), ATL the same with 7 days, TSB_d = CTL_(d-1) - ATL_(d-1).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.activity_helpers import Athlete, constant_ride, constant_run, new_athlete
from tests.http.conftest import BASE_URL, make_container, make_settings
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.entrypoints.http.app import create_app

RIDE_DAY = date(2026, 2, 23)
RUN_DAY = date(2026, 2, 25)
# 5 km in exactly 20:00: 1,260 samples at 5000/1200 m/s (threshold pace 240 s/km).
RUN_SPEED = 5000 / 1200
RUN_SECONDS = 1260
RIDE_TSS = 100.0
# FIT stores speed in mm/s (FIT profile: enhanced_speed, scale 1000), so the file says
# 4.167 m/s and IF = 4.167 / (1000 / 240).
FIT_RUN_SPEED = round(RUN_SPEED * 1000) / 1000
RUN_RTSS = RUN_SECONDS / 3600 * (FIT_RUN_SPEED / (1000 / 240)) ** 2 * 100
K_CTL = 1 - math.exp(-1 / 42)
K_ATL = 1 - math.exp(-1 / 7)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(
    request: pytest.FixtureRequest, db_path: Path, clock: FakeClock
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app on SQLite, and on PostgreSQL (a migrated schema of the test session)."""
    if request.param == "sqlite":
        url = f"sqlite:///{db_path}"
        await migrate(url)
    else:
        url = request.getfixturevalue("postgres_dsn")
    # The PostgreSQL schema lives for the whole session, and so do its rate-limit windows:
    # registration limits high enough for every test of the session.
    settings = make_settings(
        db_path,
        database_url=url,
        register_limit_per_ip=1_000_000,
        register_limit_per_account=1_000_000,
    )
    container = make_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
async def trained(api: AsyncTestClient[Litestar]) -> Athlete:
    """An athlete in Berlin with thresholds, the ride and the run of the module docstring."""
    athlete = await new_athlete(api)
    assert (await athlete.patch("/me", {"timezone": "Europe/Berlin"})).status_code == 200
    thresholds = {
        "effective_from": "2026-01-01",
        "ftp_w": 250,
        "lthr_bpm": 170,
        "max_hr_bpm": 190,
        "rest_hr_bpm": 50,
        "threshold_pace_s_per_km": 240,
    }
    assert (await athlete.put("/me/thresholds", thresholds)).status_code == 200
    ride = constant_ride(start=datetime(2026, 2, 23, 6, 0, tzinfo=UTC), hr_bpm=150)
    run = constant_run(
        start=datetime(2026, 2, 25, 17, 0, tzinfo=UTC),
        seconds=RUN_SECONDS,
        speed_m_s=RUN_SPEED,
        hr_bpm=160,
    )
    for name, data in (("ride.fit", ride), ("run.fit", run)):
        response = await athlete.upload(name, data)
        assert response.status_code == 201, response.text
    return athlete


async def _json(athlete: Athlete, path: str, **params: Any) -> Any:
    response = await athlete.get(path, **params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_fitness_timeline_follows_the_pmc(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/fitness-timeline", days=14)
    assert body["start"] == "2026-02-17"
    assert body["end"] == "2026-03-02"
    days = {d["day"]: d for d in body["days"]}
    assert len(days) == 14
    assert days["2026-02-22"]["ctl"] == 0
    ride = days["2026-02-23"]
    assert ride["load"] == pytest.approx(RIDE_TSS, rel=1e-4)
    assert ride["ctl"] == pytest.approx(RIDE_TSS * K_CTL, rel=1e-4)
    assert ride["atl"] == pytest.approx(RIDE_TSS * K_ATL, rel=1e-4)
    assert ride["tsb"] == 0
    after = days["2026-02-24"]
    assert after["tsb"] == pytest.approx(RIDE_TSS * (K_CTL - K_ATL), rel=1e-4)
    run = days["2026-02-25"]
    assert run["load"] == pytest.approx(RUN_RTSS, rel=1e-4)
    ctl = RIDE_TSS * K_CTL
    for _ in range(2):  # 24th (rest), 25th (the run)
        ctl = ctl * (1 - K_CTL)
    ctl += RUN_RTSS * K_CTL
    assert run["ctl"] == pytest.approx(ctl, rel=1e-4)
    assert days["2026-03-02"]["load"] == 0


async def test_a_long_timeline_reaches_back_ten_years(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/fitness-timeline", days=3650)
    assert len(body["days"]) == 3650
    assert body["start"] == (date(2026, 3, 2) - timedelta(days=3649)).isoformat()
    assert sum(d["load"] for d in body["days"]) == pytest.approx(RIDE_TSS + RUN_RTSS, rel=1e-4)


async def test_weekly_volume_per_sport_family(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/weekly-volume", weeks=2)
    assert body["grouping"] == "family"
    last_week, this_week = body["weeks"]
    assert (last_week["week_start"], last_week["week_end"]) == ("2026-02-23", "2026-03-01")
    assert this_week["week_start"] == "2026-03-02"
    assert this_week["sports"] == []
    sports = {s["sport"]: s for s in last_week["sports"]}
    assert sports["ride"]["time_s"] == 3600
    assert sports["ride"]["distance_m"] == pytest.approx(3599 * 9.0)
    assert sports["ride"]["load"] == pytest.approx(RIDE_TSS, rel=1e-4)
    assert sports["run"]["time_s"] == RUN_SECONDS
    assert sports["run"]["distance_m"] == pytest.approx((RUN_SECONDS - 1) * RUN_SPEED)
    assert last_week["total"]["activity_count"] == 2


async def test_sport_distribution_sums_to_one_hundred(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/sport-distribution", weeks=2)
    shares = {s["sport"]: s["percent"] for s in body["shares"]}
    # 3,600 s and 1,260 s of 4,860 s: 74.07 % and 25.93 %; the largest remainder gets the point.
    assert shares == {"ride": 74, "run": 26}
    assert body["total_time_s"] == 4860


async def test_zones_add_up_the_weeks_time(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/zones", weeks=2)
    # HR 150 on the ride: Friel bike zone 2 (137.7-153 bpm); HR 160 on the run: Friel run zone
    # 3 (153-161.5 bpm). Both tables have seven zones, so they add up.
    hr = body["hr"]
    assert hr["zone_s"][1] == 3600
    assert hr["zone_s"][2] == RUN_SECONDS
    assert sum(hr["percent"]) == 100
    assert hr["activity_count"] == 2
    # 250 W is 100 % of FTP: Coggan level 4.
    assert body["power"]["zone_s"][3] == 3600


async def test_calendar_levels_split_training_days_at_quartiles(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/calendar", year=2026)
    assert body["year"] == 2026
    assert len(body["days"]) == 365
    levels = {d["day"]: d["level"] for d in body["days"] if d["level"]}
    # Two training days: the type-7 quartiles of [35, 100] are 35 + 65 x (0.25, 0.5, 0.75).
    low, high = RUN_RTSS, RIDE_TSS
    expected = [low + (high - low) * q for q in (0.25, 0.5, 0.75)]
    assert body["quartiles"] == pytest.approx(expected, rel=1e-4)
    assert levels == {"2026-02-23": 4, "2026-02-25": 1}
    default = await _json(trained, "/analytics/calendar")
    assert default["year"] == 2026


async def test_training_load_reports_form_risk_and_rules(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/training-load")
    assert body["today"] == "2026-03-02"
    analysis = body["analysis"]
    timeline = await _json(trained, "/analytics/fitness-timeline", days=1)
    assert analysis["indicators"]["ctl"] == pytest.approx(timeline["days"][0]["ctl"])
    assert analysis["indicators"]["tsb"] == pytest.approx(timeline["days"][0]["tsb"])
    # A week of history is not established (under 42 days): no ramp risk yet, a note says why.
    assert analysis["indicators"]["established"] is False
    assert analysis["ramp_risk"] is None
    rules = {r["rule"] for r in analysis["recommendations"]}
    assert "short_history" in rules
    assert analysis["form"] in {"transition", "fresh", "neutral", "optimal", "overreaching"}
    assert {r["id"] for r in body["rules"]} >= rules


async def test_records_name_the_best_power_and_the_fastest_distances(trained: Athlete) -> None:
    body = await _json(trained, "/analytics/records")
    power = {r["duration_s"]: r["power_w"] for r in body["power"]}
    assert power[5] == 250
    assert power[3600] == 250
    assert {r["day"] for r in body["power"]} == {"2026-02-23"}
    efforts = {r["name"]: r for r in body["efforts"]}
    # Distance is stored in centimetres (FIT scale 100): the efforts are exact to 0.01 s.
    assert efforts["5 km"]["duration_s"] == pytest.approx(1200.0, abs=0.01)
    assert efforts["1 km"]["duration_s"] == pytest.approx(240.0, abs=0.01)
    assert efforts["5 km"]["day"] == "2026-02-25"


async def test_race_predictions_come_from_the_5_km(trained: Athlete) -> None:
    body = (await _json(trained, "/analytics/race-predictions"))["predictions"]
    assert body["source"]["name"] == "5 km"
    # Daniels' Running Formula: 5 km in 20:00 is VDOT 49.8 (Daniels-Gilbert equations).
    assert body["vdot"] == pytest.approx(49.8, abs=0.05)
    by_name = {p["name"]: p for p in body["predictions"]}
    # Riegel (1981): T2 = T1 x (D2/D1)^1.06; 10 km from 20:00 over 5 km.
    assert by_name["10 km"]["riegel_duration_s"] == pytest.approx(1200 * 2**1.06, rel=1e-5)


async def test_analytics_of_a_new_athlete_are_empty_not_errors(
    api: AsyncTestClient[Litestar],
) -> None:
    athlete = await new_athlete(api)
    timeline = await _json(athlete, "/analytics/fitness-timeline", days=7)
    assert [d["load"] for d in timeline["days"]] == [0] * 7
    assert (await _json(athlete, "/analytics/training-load"))["analysis"] is None
    assert await _json(athlete, "/analytics/records") == {"power": [], "efforts": []}
    assert (await _json(athlete, "/analytics/race-predictions"))["predictions"] is None
    zones = await _json(athlete, "/analytics/zones")
    assert (zones["hr"], zones["power"]) == (None, None)


async def test_days_are_bucketed_in_the_users_timezone(api: AsyncTestClient[Litestar]) -> None:
    athlete = await new_athlete(api)
    await athlete.patch("/me", {"timezone": "America/New_York"})
    await athlete.put("/me/thresholds", {"effective_from": "2026-01-01", "ftp_w": 250})
    # 03:00 UTC on 24 February is 22:00 on 23 February in New York (EST, UTC-5).
    ride = constant_ride(start=datetime(2026, 2, 24, 3, 0, tzinfo=UTC), seconds=1800)
    assert (await athlete.upload("late.fit", ride)).status_code == 201
    timeline = await _json(athlete, "/analytics/fitness-timeline", days=10)
    loaded = [d["day"] for d in timeline["days"] if d["load"] > 0]
    assert loaded == ["2026-02-23"]
    week = (await _json(athlete, "/analytics/weekly-volume", weeks=1))["weeks"][0]
    # Today in New York is Monday 2 March (03:00 EST), so the last week starts that day and
    # the ride of Monday 23 February belongs to the week before.
    assert week["week_start"] == "2026-03-02"
    assert week["total"]["activity_count"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/analytics/fitness-timeline", {"days": "0"}),
        ("/analytics/fitness-timeline", {"days": "36601"}),
        ("/analytics/fitness-timeline", {"days": "many"}),
        ("/analytics/weekly-volume", {"weeks": "0"}),
        ("/analytics/weekly-volume", {"group_by": "colour"}),
        ("/analytics/sport-distribution", {"weeks": "-1"}),
        ("/analytics/zones", {"weeks": "x"}),
        ("/analytics/calendar", {"year": "0"}),
        ("/analytics/calendar", {"year": "99999"}),
    ],
)
async def test_bad_parameters_are_400(
    api: AsyncTestClient[Litestar], path: str, params: dict[str, str]
) -> None:
    athlete = await new_athlete(api)
    response = await athlete.get(path, **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "path",
    [
        "/analytics/fitness-timeline",
        "/analytics/weekly-volume",
        "/analytics/sport-distribution",
        "/analytics/zones",
        "/analytics/calendar",
        "/analytics/training-load",
        "/analytics/records",
        "/analytics/race-predictions",
    ],
)
async def test_analytics_need_a_token(api: AsyncTestClient[Litestar], path: str) -> None:
    assert (await api.get(path)).status_code == 401


async def test_another_users_training_never_shows(
    api: AsyncTestClient[Litestar], trained: Athlete
) -> None:
    other = await new_athlete(api)
    timeline = await _json(other, "/analytics/fitness-timeline", days=30)
    assert all(d["load"] == 0 for d in timeline["days"])
    assert (await _json(other, "/analytics/records"))["power"] == []
