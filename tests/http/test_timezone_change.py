"""Changing the timezone re-buckets the daily loads into the new local days."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.activity_helpers import constant_ride, new_athlete


async def test_a_new_timezone_moves_a_late_ride_to_the_next_local_day(
    client: AsyncTestClient[Litestar],
) -> None:
    athlete = await new_athlete(client)
    thresholds = await athlete.put("/me/thresholds", {"effective_from": "2026-01-01", "ftp_w": 250})
    assert thresholds.status_code == 200, thresholds.text
    # 22:30 UTC on 10 Jan 2026 is 10 Jan in UTC but 11 Jan 07:30 in Tokyo.
    start = datetime(2026, 1, 10, 22, 30, tzinfo=UTC)
    upload = await client.post(
        "/activities",
        files={
            "file": (
                "late.fit",
                constant_ride(start=start, seconds=1800),
                "application/octet-stream",
            )
        },
        headers=athlete.headers,
    )
    assert upload.status_code == 201, upload.text

    async def loaded_days() -> set[str]:
        response = await athlete.get("/analytics/calendar", year=2026)
        assert response.status_code == 200, response.text
        return {d["day"] for d in response.json()["days"] if d["load"] > 0}

    assert await loaded_days() == {"2026-01-10"}
    changed = await client.patch("/me", json={"timezone": "Asia/Tokyo"}, headers=athlete.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Asia/Tokyo"
    assert await loaded_days() == {"2026-01-11"}
