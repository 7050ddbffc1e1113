"""Free-tier history: activities older than the plan's 180 local days are hidden (404, left
out of listings and records), never deleted, and come back on upgrade (core/tiers.py: Free
shows 180 days of history, Pro all). The test clock is 2026-03-02 08:00 UTC."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.activity_helpers import Athlete, new_athlete


def _gpx(day: str) -> bytes:
    points = "".join(
        f'<trkpt lat="52.5{i:03d}" lon="13.4"><time>{day}T10:00:{i * 10:02d}Z</time></trkpt>'
        for i in range(4)
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>Run</name><type>running</type>'
        f"<trkseg>{points}</trkseg></trk></gpx>"
    ).encode()


async def _upload(athlete: Athlete, day: str) -> str:
    response = await athlete.upload(f"{day}.gpx", _gpx(day))
    assert response.status_code == 201, response.text
    body = response.json()
    (item,) = body["activities"]
    activity_id: str = item["activity"]["id"]
    return activity_id


async def test_free_history_is_hidden_then_shown_again_on_upgrade(
    client: AsyncTestClient[Litestar],
) -> None:
    athlete = await new_athlete(client, coach=False)
    # 2025-09-04 is the first of the last 180 UTC days on 2026-03-02; 2025-09-03 is hidden.
    old = await _upload(athlete, "2025-09-03")
    edge = await _upload(athlete, "2025-09-04")
    listed = (await athlete.get("/activities")).json()["items"]
    assert [a["id"] for a in listed] == [edge]
    assert (await athlete.get(f"/activities/{old}")).status_code == 404
    assert (await athlete.get(f"/activities/{old}/streams")).status_code == 404
    assert (await athlete.get(f"/activities/{edge}")).status_code == 200
    before = (await athlete.get("/activities", to="2025-09-03")).json()["items"]
    assert before == []

    checkout = await client.post(
        "/billing/checkout", json={"plan": "pro", "period": "year"}, headers=athlete.headers
    )
    page = checkout.json()["url"].split("/billing/", 1)[1]
    assert (await client.post(f"/billing/{page}", follow_redirects=False)).status_code == 303
    listed = (await athlete.get("/activities")).json()["items"]
    assert {a["id"] for a in listed} == {old, edge}
    assert (await athlete.get(f"/activities/{old}")).status_code == 200
