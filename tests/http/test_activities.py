"""`/activities` over HTTP on SQLite: uploads of real device files, dedup, every refusal
(with nothing stored), listing with filters and cursors, detail, streams, delete."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.activity_helpers import (
    Athlete,
    constant_ride,
    constant_run,
    fixture_bytes,
    new_athlete,
    zip_of,
)
from tests.http.conftest import BASE_URL, START, make_container, make_settings
from tests.unit.files import fitgen
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.entrypoints.http.app import create_app

ACTIVITY_FIXTURES = [
    "2015-10-13-08-43-15.fit",
    "Edge810-Vector-2013-08-16-15-35-10.fit",
    "garmin-edge-820-bike.fit",
    "garmin-fenix-5-bike.fit",
    "garmin-fenix-5-run.fit",
    "garmin-fenix-5-walk.fit",
    "sample-activity-indoor-trainer.fit",
]
# What the fixtures' README says about the three files an import must refuse.
REFUSED_FIXTURES = {
    "Settings.fit": "settings file",
    "activity-unexpected-eof.fit": "truncated",
    "activity-settings-corruptheader.fit": "corrupt header",
}
GPX = (
    b'<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
    b"<trk><name>Lunch run</name><type>running</type><trkseg>"
    b'<trkpt lat="52.5" lon="13.4"><time>2024-05-01T10:00:00Z</time></trkpt>'
    b'<trkpt lat="52.5002" lon="13.4"><time>2024-05-01T10:00:10Z</time></trkpt>'
    b'<trkpt lat="52.5004" lon="13.4"><time>2024-05-01T10:00:20Z</time></trkpt>'
    b"</trkseg></trk></gpx>"
)


@pytest.fixture
async def athlete(client: AsyncTestClient[Litestar]) -> Athlete:
    """A fresh registered user."""
    return await new_athlete(client)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- real device files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVITY_FIXTURES)
async def test_every_device_file_imports_as_one_activity(athlete: Athlete, name: str) -> None:
    response = await athlete.upload(name, fixture_bytes(name))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["imported"] == 1
    assert body["duplicates"] == 0
    (item,) = body["activities"]
    assert item["status"] == "imported"
    assert item["stored"] is True
    assert item["file"] == name
    summary = item["activity"]["summary"]
    assert summary["duration_s"] > 0
    assert await athlete.activity_count() == 1


async def test_edge810_power_ride_has_the_readme_figures(athlete: Athlete) -> None:
    name = "Edge810-Vector-2013-08-16-15-35-10.fit"
    response = await athlete.upload(name, fixture_bytes(name))
    activity = response.json()["activities"][0]["activity"]
    summary = activity["summary"]
    # ../shared/fixtures/fit/README.md: 4,700 s, 41,339 m, avg HR 154, avg power 276 W.
    assert round(summary["duration_s"]) == 4700
    assert round(summary["distance_m"]) == 41339
    assert summary["avg_hr_bpm"] == 154
    assert summary["avg_power_w"] == 276
    assert activity["sport"] == "ride"
    assert activity["family"] == "ride"


async def test_indoor_trainer_ride_has_the_readme_figures(athlete: Athlete) -> None:
    name = "sample-activity-indoor-trainer.fit"
    response = await athlete.upload(name, fixture_bytes(name))
    summary = response.json()["activities"][0]["activity"]["summary"]
    # README: 2,262 s, 0 m, avg HR 148, avg power 201 W.
    assert round(summary["duration_s"]) == 2262
    assert summary["distance_m"] == 0
    assert summary["avg_hr_bpm"] == 148
    assert summary["avg_power_w"] == 201


@pytest.mark.parametrize(("name", "why"), sorted(REFUSED_FIXTURES.items()))
async def test_refused_device_files_answer_400_and_store_nothing(
    athlete: Athlete, name: str, why: str
) -> None:
    body = _problem(await athlete.upload(name, fixture_bytes(name)), 400)
    assert body["code"] == "invalid_input"
    assert body["argument"] == "file"
    expected = {
        "settings file": "settings file",
        "truncated": "truncated",
        "corrupt header": "corrupt header",
    }[why]
    assert expected in body["detail"]
    assert await athlete.activity_count() == 0


async def test_the_same_ride_from_two_devices_is_linked_and_counted_once(
    athlete: Athlete,
) -> None:
    # The Edge 820 and the Fenix 5 recorded the same ride: starts 53 s apart (16:09:22 and
    # 16:10:15 UTC), durations 60.4 s and 64.5 s (6.4 % apart), both rides: the dedup rule of
    # ARCHITECTURE.md section 5 (within 2 min, same family, within 10 %) matches them.
    first = (await athlete.upload("edge.fit", fixture_bytes("garmin-edge-820-bike.fit"))).json()
    second_response = await athlete.upload("fenix.fit", fixture_bytes("garmin-fenix-5-bike.fit"))
    assert second_response.status_code == 201
    second = second_response.json()
    canonical_id = first["activities"][0]["activity"]["id"]
    (dup,) = second["activities"]
    assert dup["status"] == "duplicate"
    assert dup["match"] == "same_workout"
    assert dup["duplicate_of"] == canonical_id
    assert dup["stored"] is True
    assert second["imported"] == 0
    assert second["duplicates"] == 1
    assert await athlete.activity_count() == 2
    detail = (await athlete.get(f"/activities/{canonical_id}")).json()
    assert detail["duplicates"] == [dup["activity"]["id"]]
    listed = (await athlete.get("/activities")).json()["items"]
    assert {a["id"]: a["duplicate_of"] for a in listed} == {
        canonical_id: None,
        dup["activity"]["id"]: canonical_id,
    }


async def test_the_same_file_twice_is_matched_and_not_stored_again(athlete: Athlete) -> None:
    data = fixture_bytes("garmin-fenix-5-run.fit")
    first = (await athlete.upload("run.fit", data)).json()
    again = await athlete.upload("renamed-copy.fit", data)
    assert again.status_code == 200
    (item,) = again.json()["activities"]
    assert item["status"] == "duplicate"
    assert item["match"] == "same_file"
    assert item["stored"] is False
    assert item["activity"]["id"] == first["activities"][0]["activity"]["id"]
    assert await athlete.activity_count() == 1


async def test_a_zip_of_device_files_imports_each(athlete: Athlete) -> None:
    archive = zip_of(
        {
            "rides/edge810.fit": fixture_bytes("Edge810-Vector-2013-08-16-15-35-10.fit"),
            "runs/run.fit": fixture_bytes("garmin-fenix-5-run.fit"),
            "notes.txt": b"not an activity",
        }
    )
    response = await athlete.upload("export.zip", archive)
    assert response.status_code == 201, response.text
    body = response.json()
    assert sorted(i["file"] for i in body["activities"]) == ["rides/edge810.fit", "runs/run.fit"]
    assert body["imported"] == 2
    assert await athlete.activity_count() == 2


async def test_a_gpx_track_gets_speed_moving_time_and_a_name(athlete: Athlete) -> None:
    response = await athlete.upload("lunch.gpx", GPX)
    assert response.status_code == 201, response.text
    activity = response.json()["activities"][0]["activity"]
    assert activity["name"] == "Lunch run"
    assert activity["sport"] == "run"
    summary = activity["summary"]
    # Two steps of 0.0002 degree of latitude along a meridian, 10 s apart: haversine with the
    # IUGG mean radius 6,371,008.8 m gives R x 0.0002 x pi / 180 = 22.24 m per step.
    step_m = 6_371_008.8 * math.radians(0.0002)
    assert summary["distance_m"] == pytest.approx(2 * step_m, rel=1e-6)
    assert summary["moving_time_s"] == 20
    assert summary["avg_speed_m_s"] == pytest.approx(2 * step_m / 20, rel=1e-6)
    streams = (await athlete.get(f"/activities/{activity['id']}/streams")).json()
    assert streams["speed_m_s"] == pytest.approx([step_m / 10] * 3, rel=1e-6)


async def test_a_multisport_file_yields_linked_legs(athlete: Athlete) -> None:
    response = await athlete.upload("tri.fit", fitgen.triathlon())
    assert response.status_code == 201, response.text
    items = response.json()["activities"]
    assert [i["activity"]["sport"] for i in items] == [
        "open_water_swim",
        "other",
        "ride",
        "other",
        "run",
    ]
    groups = {i["activity"]["multisport_group"] for i in items}
    assert len(groups) == 1
    assert None not in groups
    assert [i["activity"]["multisport_index"] for i in items] == [0, 1, 2, 3, 4]
    ids = [i["activity"]["id"] for i in items]
    detail = (await athlete.get(f"/activities/{ids[2]}")).json()
    assert detail["multisport_legs"] == ids


def _tcx_ride(points: int) -> bytes:
    """A TCX ride (Garmin Training Center v2) with one lap of 1 s trackpoints at 8 m/s."""
    track = "".join(
        f"<Trackpoint><Time>2024-05-01T06:{k // 60:02d}:{k % 60:02d}Z</Time>"
        f"<DistanceMeters>{8.0 * k}</DistanceMeters>"
        f"<HeartRateBpm><Value>{130 + k % 10}</Value></HeartRateBpm></Trackpoint>"
        for k in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        '<Activities><Activity Sport="Biking"><Id>2024-05-01T06:00:00Z</Id>'
        f'<Lap StartTime="2024-05-01T06:00:00Z"><TotalTimeSeconds>{points - 1}</TotalTimeSeconds>'
        f"<DistanceMeters>{8.0 * (points - 1)}</DistanceMeters><Track>{track}</Track></Lap>"
        "</Activity></Activities></TrainingCenterDatabase>"
    ).encode()


async def test_a_tcx_ride_imports_with_its_lap_and_heart_rate(athlete: Athlete) -> None:
    response = await athlete.upload("ride.tcx", _tcx_ride(120))
    assert response.status_code == 201, response.text
    activity = response.json()["activities"][0]["activity"]
    assert activity["sport"] == "ride"
    assert activity["summary"]["duration_s"] == 119
    assert activity["summary"]["distance_m"] == pytest.approx(8.0 * 119)
    detail = (await athlete.get(f"/activities/{activity['id']}")).json()
    assert len(detail["laps"]) == 1
    streams = (await athlete.get(f"/activities/{activity['id']}/streams")).json()
    assert streams["hr_bpm"][:3] == [130, 131, 132]
    # TCX here has no speed: the import derives it from distance (8 m in each second).
    assert streams["speed_m_s"][1:4] == pytest.approx([8.0, 8.0, 8.0])


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.fit", b"", "empty"),
        ("ride.fit", GPX, "named .fit but is a GPX file"),
        ("ride.gpx", fixture_bytes("garmin-fenix-5-run.fit"), "named .gpx but is a FIT file"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("export.zip", zip_of({"readme.txt": b"hello"}), "holds no FIT, GPX or TCX file"),
        ("bomb.zip", zip_of({"bomb.fit": bytes(10_000_000)}), "zip bomb"),
        ("broken.zip", zip_of({"a.fit": fixture_bytes("garmin-fenix-5-run.fit")})[:200], "zip"),
    ],
)
async def test_bad_uploads_answer_400_and_store_nothing(
    athlete: Athlete, name: str, data: bytes, fragment: str
) -> None:
    body = _problem(await athlete.upload(name, data), 400)
    assert fragment in body["detail"]
    assert await athlete.activity_count() == 0


async def test_a_zip_with_one_bad_file_stores_none_of_it(athlete: Athlete) -> None:
    archive = zip_of(
        {
            "good.fit": fixture_bytes("garmin-fenix-5-run.fit"),
            "bad.fit": fixture_bytes("activity-unexpected-eof.fit"),
        }
    )
    body = _problem(await athlete.upload("mixed.zip", archive), 400)
    assert "bad.fit" in body["detail"]
    assert "truncated" in body["detail"]
    assert await athlete.activity_count() == 0


async def test_an_activity_dated_days_ahead_of_now_is_refused(athlete: Athlete) -> None:
    future = constant_ride(start=START + timedelta(days=3), seconds=60)
    body = _problem(await athlete.upload("future.fit", future), 400)
    assert "future" in body["detail"]
    assert await athlete.activity_count() == 0


async def test_a_form_without_the_file_part_is_refused(athlete: Athlete) -> None:
    response = await athlete.client.post(
        "/activities", files={"other": ("a.fit", b"x")}, headers=athlete.headers
    )
    _problem(response, 400)
    json_body = await athlete.client.post(
        "/activities", json={"file": "a.fit"}, headers=athlete.headers
    )
    assert 400 <= json_body.status_code < 500
    assert await athlete.activity_count() == 0


async def test_an_upload_needs_a_token(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/activities", files={"file": ("run.fit", fixture_bytes("garmin-fenix-5-run.fit"))}
    )
    assert _problem(response, 401)["code"] == "unauthorized"


@pytest.fixture
async def small_limit_client(
    tmp_path: Path, clock: FakeClock
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with TA_MAX_UPLOAD_BYTES = 4096."""
    db = tmp_path / "small.db"
    await migrate(f"sqlite:///{db}")
    container = make_container(make_settings(db, max_upload_bytes=4096), clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as test_client:
        yield test_client


async def test_uploads_over_the_size_limit_are_refused(
    small_limit_client: AsyncTestClient[Litestar],
) -> None:
    athlete = await new_athlete(small_limit_client)
    # 5,597 bytes: within the request limit (file limit + multipart envelope), over the file
    # limit: the decoder refuses it.
    body = _problem(await athlete.upload("run.fit", fixture_bytes("garmin-fenix-5-run.fit")), 400)
    assert "over the 4,096-byte limit" in body["detail"]
    # 148 kB: over the request limit; refused before the body is read whole.
    big = fixture_bytes("Edge810-Vector-2013-08-16-15-35-10.fit")
    too_large = _problem(await athlete.upload("ride.fit", big), 413)
    assert too_large["code"] == "payload_too_large"
    assert await athlete.activity_count() == 0


# --- listing, detail, streams, delete ------------------------------------------------------


async def _three_sports(athlete: Athlete) -> dict[str, str]:
    """A ride, a run and a walk on three days; their ids by sport."""
    ids: dict[str, str] = {}
    files = {
        "ride": constant_ride(start=datetime(2026, 2, 10, 7, 0, tzinfo=UTC), seconds=600),
        "run": constant_run(
            start=datetime(2026, 2, 11, 7, 0, tzinfo=UTC), seconds=600, speed_m_s=3.5
        ),
        "walk": fixture_bytes("garmin-fenix-5-walk.fit"),
    }
    for sport, data in files.items():
        response = await athlete.upload(f"{sport}.fit", data)
        assert response.status_code == 201, response.text
        ids[sport] = response.json()["activities"][0]["activity"]["id"]
    return ids


async def test_listing_is_newest_first_with_filters_and_cursors(athlete: Athlete) -> None:
    ids = await _three_sports(athlete)
    everything = (await athlete.get("/activities")).json()
    assert [a["id"] for a in everything["items"]] == [ids["run"], ids["ride"], ids["walk"]]
    assert everything["next_cursor"] is None
    rides = (await athlete.get("/activities", family="ride")).json()["items"]
    assert [a["id"] for a in rides] == [ids["ride"]]
    runs = (await athlete.get("/activities", sport="run")).json()["items"]
    assert [a["id"] for a in runs] == [ids["run"]]
    february = await athlete.get("/activities", **{"from": "2026-02-01", "to": "2026-02-10"})
    assert [a["id"] for a in february.json()["items"]] == [ids["ride"]]
    first = (await athlete.get("/activities", limit=2)).json()
    assert [a["id"] for a in first["items"]] == [ids["run"], ids["ride"]]
    rest = (await athlete.get("/activities", limit=2, cursor=first["next_cursor"])).json()
    assert [a["id"] for a in rest["items"]] == [ids["walk"]]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"sport": "quidditch"},
        {"family": "ballet"},
        {"limit": "0"},
        {"limit": "201"},
        {"from": "2026-13-01"},
        {"from": "2026-02-10", "to": "2026-02-01"},
    ],
)
async def test_bad_listing_parameters_are_400(athlete: Athlete, params: dict[str, str]) -> None:
    _problem(await athlete.get("/activities", **params), 400)


async def test_detail_has_laps_metrics_zones_and_bests(athlete: Athlete) -> None:
    thresholds = {
        "effective_from": "2020-01-01",
        "ftp_w": 250,
        "lthr_bpm": 170,
        "max_hr_bpm": 190,
        "rest_hr_bpm": 50,
    }
    assert (await athlete.put("/me/thresholds", thresholds)).status_code == 200
    ride = constant_ride(start=datetime(2026, 2, 10, 7, 0, tzinfo=UTC), power_w=250, hr_bpm=150)
    activity_id = (await athlete.upload("ride.fit", ride)).json()["activities"][0]["activity"]["id"]
    detail = (await athlete.get(f"/activities/{activity_id}")).json()
    assert len(detail["laps"]) == 1
    metrics = detail["metrics"]
    # One hour at FTP is 100 TSS by definition (Allen & Coggan 2010).
    assert metrics["load_method"] == "power_tss"
    assert metrics["load"] == pytest.approx(100.0, rel=1e-3)
    assert metrics["normalized_power_w"] == pytest.approx(250.0)
    assert metrics["intensity_factor"] == pytest.approx(1.0)
    # 250 W = 100 % of FTP: Coggan level 4 (91-105 %); 150 bpm = 88 % of LTHR 170: Friel bike
    # zone 2 (81-89 %).
    power = detail["power_zones"]
    assert power["zones"]["method"] == "coggan_power"
    assert power["seconds"][3] == 3600
    assert sum(power["seconds"]) == 3600
    hr = detail["hr_zones"]
    assert hr["zones"]["method"] == "friel_lthr_bike"
    assert hr["seconds"][1] == 3600
    power_bests = {p["duration_s"]: p["power_w"] for p in detail["bests"]["power"]}
    assert power_bests[5] == 250
    assert power_bests[3600] == 250


async def test_streams_are_parallel_channels(athlete: Athlete) -> None:
    ride = constant_ride(start=datetime(2026, 2, 10, 7, 0, tzinfo=UTC), seconds=120)
    activity_id = (await athlete.upload("ride.fit", ride)).json()["activities"][0]["activity"]["id"]
    streams = (await athlete.get(f"/activities/{activity_id}/streams")).json()
    assert streams["time_s"] == [float(i) for i in range(120)]
    assert streams["power_w"] == [250.0] * 120
    assert streams["hr_bpm"] == [150.0] * 120
    assert streams["lat_deg"] is None


async def test_unknown_and_foreign_activities_are_404(
    athlete: Athlete, client: AsyncTestClient[Litestar]
) -> None:
    ids = await _three_sports(athlete)
    other = await new_athlete(client)
    for path in (f"/activities/{ids['ride']}", f"/activities/{ids['ride']}/streams"):
        assert _problem(await other.get(path), 404)["code"] == "not_found"
        assert (await athlete.get(path)).status_code == 200
    _problem(await other.delete(f"/activities/{ids['ride']}"), 404)
    _problem(await athlete.get("/activities/no-such-id"), 404)
    assert await athlete.activity_count() == 3


async def _timeline_loads(athlete: Athlete, days: int = 30) -> dict[str, float]:
    body = (await athlete.get("/analytics/fitness-timeline", days=days)).json()
    return {d["day"]: d["load"] for d in body["days"] if d["load"] > 0}


async def test_delete_recomputes_loads(athlete: Athlete) -> None:
    await athlete.put(
        "/me/thresholds", {"effective_from": "2020-01-01", "ftp_w": 250, "lthr_bpm": 170}
    )
    ride = constant_ride(start=datetime(2026, 2, 20, 7, 0, tzinfo=UTC))
    activity_id = (await athlete.upload("ride.fit", ride)).json()["activities"][0]["activity"]["id"]
    assert (await _timeline_loads(athlete)) == {"2026-02-20": pytest.approx(100.0, rel=1e-3)}
    response = await athlete.delete(f"/activities/{activity_id}")
    assert response.status_code == 204
    assert await _timeline_loads(athlete) == {}
    _problem(await athlete.get(f"/activities/{activity_id}"), 404)
    assert await athlete.activity_count() == 0


async def test_deleting_the_canonical_record_promotes_its_duplicate(athlete: Athlete) -> None:
    await athlete.put(
        "/me/thresholds",
        {"effective_from": "2000-01-01", "lthr_bpm": 170, "max_hr_bpm": 190, "rest_hr_bpm": 50},
    )
    edge = (await athlete.upload("edge.fit", fixture_bytes("garmin-edge-820-bike.fit"))).json()
    fenix = (await athlete.upload("fenix.fit", fixture_bytes("garmin-fenix-5-bike.fit"))).json()
    edge_id = edge["activities"][0]["activity"]["id"]
    fenix_id = fenix["activities"][0]["activity"]["id"]
    assert (await athlete.delete(f"/activities/{edge_id}")).status_code == 204
    listed = (await athlete.get("/activities")).json()["items"]
    assert [(a["id"], a["duplicate_of"]) for a in listed] == [(fenix_id, None)]
    fenix_load = fenix["activities"][0]["activity"]["load"]
    assert fenix_load > 0
    timeline = (await athlete.get("/analytics/fitness-timeline", days=3650)).json()["days"]
    assert [d["load"] for d in timeline if d["load"] > 0] == [pytest.approx(fenix_load)]
