"""`/me/thresholds` over HTTP on SQLite: values with effective dates, derived zones, the
rescoring a change triggers, and every kind of bad input (400, nothing changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.activity_helpers import Athlete, constant_ride, new_athlete


@pytest.fixture
async def athlete(client: AsyncTestClient[Litestar]) -> Athlete:
    """A fresh registered user."""
    return await new_athlete(client)


def _lowers(zone_set: dict[str, Any]) -> list[float]:
    return [z["lower"] for z in zone_set["zones"]]


async def test_a_new_athlete_has_no_thresholds_and_no_zones(athlete: Athlete) -> None:
    response = await athlete.get("/me/thresholds")
    assert response.status_code == 200
    assert response.json() == {
        "current": None,
        "history": [],
        "zones": {"hr_run": None, "hr_bike": None, "power": None, "pace": None},
    }


async def test_thresholds_give_published_zones(athlete: Athlete) -> None:
    body = {
        "effective_from": "2026-01-01",
        "ftp_w": 250,
        "lthr_bpm": 170,
        "max_hr_bpm": 190,
        "rest_hr_bpm": 50,
        "threshold_pace_s_per_km": 240,
        "sex": "female",
        "weight_kg": 60,
    }
    response = await athlete.put("/me/thresholds", body)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["rescored_activities"] == 0
    assert saved["recomputed_from"] is None
    current = (await athlete.get("/me/thresholds")).json()
    assert current["current"]["ftp_w"] == 250
    assert current["current"]["sex"] == "female"
    assert [h["effective_from"] for h in current["history"]] == ["2026-01-01"]
    zones = current["zones"]
    # Friel, "A Quick Guide to Setting Zones" (2009): run zones from 85/90/95/100/103/106 % of
    # LTHR, bike zones from 81/90/94/100/103/106 %.
    assert _lowers(zones["hr_run"]) == pytest.approx([0, 144.5, 153, 161.5, 170, 175.1, 180.2])
    assert _lowers(zones["hr_bike"]) == pytest.approx([0, 137.7, 153, 159.8, 170, 175.1, 180.2])
    # Allen & Coggan (2010): levels from 55/75/90/105/120/150 % of FTP.
    assert _lowers(zones["power"]) == pytest.approx([0, 137.5, 187.5, 225, 262.5, 300, 375])
    # Friel pace zones: 129 % of threshold pace (240 s/km -> 309.6 s/km) bounds Z2 from below.
    assert zones["pace"]["zones"][1]["lower"] == pytest.approx(1000 / 309.6)


async def test_without_lthr_heart_rate_zones_are_karvonen(athlete: Athlete) -> None:
    body = {"effective_from": "2026-01-01", "max_hr_bpm": 190, "rest_hr_bpm": 50}
    zones = (await athlete.put("/me/thresholds", body)).json()["zones"]
    # Karvonen (1957): rest + percent x reserve; reserve 140 bpm at 60/70/80/90 %.
    assert _lowers(zones["hr_run"]) == pytest.approx([0, 134, 148, 162, 176])
    assert zones["hr_run"] == zones["hr_bike"]
    assert zones["power"] is None


async def test_a_later_partial_record_keeps_earlier_values(athlete: Athlete) -> None:
    await athlete.put(
        "/me/thresholds", {"effective_from": "2025-01-01", "ftp_w": 240, "lthr_bpm": 165}
    )
    await athlete.put("/me/thresholds", {"effective_from": "2026-02-01", "ftp_w": 260})
    body = (await athlete.get("/me/thresholds")).json()
    assert body["current"]["ftp_w"] == 260
    assert body["current"]["lthr_bpm"] == 165
    assert body["current"]["effective_from"] == "2026-02-01"
    assert [h["effective_from"] for h in body["history"]] == ["2025-01-01", "2026-02-01"]


async def test_the_effective_date_defaults_to_today_in_my_timezone(athlete: Athlete) -> None:
    # The test clock reads 2026-03-02 08:00 UTC: still 1 March in Honolulu (UTC-10).
    assert (await athlete.patch("/me", {"timezone": "Pacific/Honolulu"})).status_code == 200
    body = (await athlete.put("/me/thresholds", {"ftp_w": 250})).json()
    assert [h["effective_from"] for h in body["history"]] == ["2026-03-01"]


async def test_a_new_ftp_rescores_the_rides_it_applies_to(athlete: Athlete) -> None:
    await athlete.put("/me/thresholds", {"effective_from": "2026-01-01", "ftp_w": 250})
    early = constant_ride(start=datetime(2026, 1, 10, 7, 0, tzinfo=UTC), power_w=250)
    late = constant_ride(start=datetime(2026, 2, 10, 7, 0, tzinfo=UTC), power_w=250)
    early_id = (await athlete.upload("a.fit", early)).json()["activities"][0]["activity"]["id"]
    late_id = (await athlete.upload("b.fit", late)).json()["activities"][0]["activity"]["id"]
    response = await athlete.put("/me/thresholds", {"effective_from": "2026-02-01", "ftp_w": 200})
    body = response.json()
    assert body["rescored_activities"] == 1
    assert body["recomputed_from"] == "2026-02-10"
    early_load = (await athlete.get(f"/activities/{early_id}")).json()["metrics"]["load"]
    late_load = (await athlete.get(f"/activities/{late_id}")).json()["metrics"]["load"]
    # TSS = hours x IF^2 x 100 (Coggan): 250 W at FTP 250 is 100; at FTP 200, IF 1.25 -> 156.25.
    assert early_load == pytest.approx(100.0, rel=1e-3)
    assert late_load == pytest.approx(156.25, rel=1e-3)
    timeline = (await athlete.get("/analytics/fitness-timeline", days=60)).json()["days"]
    by_day = {d["day"]: d["load"] for d in timeline}
    assert by_day["2026-02-10"] == pytest.approx(156.25, rel=1e-3)


async def test_first_thresholds_score_rides_that_had_no_load(athlete: Athlete) -> None:
    ride = constant_ride(start=datetime(2026, 2, 10, 7, 0, tzinfo=UTC))
    item = (await athlete.upload("ride.fit", ride)).json()["activities"][0]["activity"]
    assert item["load"] is None
    body = (
        await athlete.put("/me/thresholds", {"effective_from": "2026-01-01", "ftp_w": 250})
    ).json()
    assert body["rescored_activities"] == 1
    detail = (await athlete.get(f"/activities/{item['id']}")).json()
    assert detail["activity"]["load_method"] == "power_tss"


@pytest.mark.parametrize(
    ("body", "argument"),
    [
        ({"effective_from": "2026-01-01", "max_hr_bpm": 150, "rest_hr_bpm": 160}, "max_hr_bpm"),
        ({"effective_from": "2026-01-01", "ftp_w": 5000}, "ftp_w"),
        ({"effective_from": "2026-01-01", "lthr_bpm": 400}, "lthr_bpm"),
        ({"effective_from": "2026-01-01"}, "thresholds"),
        ({}, "thresholds"),
    ],
)
async def test_impossible_values_are_400_naming_the_field(
    athlete: Athlete, body: dict[str, Any], argument: str
) -> None:
    response = await athlete.put("/me/thresholds", body)
    assert response.status_code == 400, response.text
    assert response.json()["argument"] == argument
    assert (await athlete.get("/me/thresholds")).json()["history"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"ftp_w": 0},
        {"ftp_w": -10},
        {"ftp_w": "strong"},
        {"ftp_w": 250, "vo2max": 60},
        {"sex": "robot"},
        {"effective_from": "yesterday", "ftp_w": 250},
        [1, 2, 3],
    ],
)
async def test_malformed_bodies_are_400_and_change_nothing(athlete: Athlete, body: Any) -> None:
    response = await athlete.put("/me/thresholds", body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await athlete.get("/me/thresholds")).json()["history"] == []


async def test_invalid_json_is_400(athlete: Athlete) -> None:
    response = await athlete.client.put(
        "/me/thresholds",
        content=b"{not json",
        headers={**athlete.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_a_record_contradicting_a_later_one_is_refused(athlete: Athlete) -> None:
    await athlete.put("/me/thresholds", {"effective_from": "2026-02-01", "rest_hr_bpm": 60})
    # A max HR of 55 from January would sit below the rest HR of 60 from February on.
    response = await athlete.put(
        "/me/thresholds", {"effective_from": "2026-01-01", "max_hr_bpm": 55}
    )
    assert response.status_code == 400
    assert response.json()["argument"] == "max_hr_bpm"
    history = (await athlete.get("/me/thresholds")).json()["history"]
    assert [h["effective_from"] for h in history] == ["2026-02-01"]


async def test_thresholds_need_a_token(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/me/thresholds")).status_code == 401
    assert (await client.put("/me/thresholds", json={"ftp_w": 250})).status_code == 401
