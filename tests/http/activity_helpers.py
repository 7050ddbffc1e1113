"""Helpers of the activity and analytics HTTP tests: FIT files made with Garmin's encoder,
zips, uploads, and a client per user.

Rides and runs here hold their power or speed constant, so their published figures are exact:
one hour at FTP is 100 TSS (Allen & Coggan, "Training and Racing with a Power Meter", 2nd ed.,
2010, ch. 7); 5 km in 20:00 is VDOT 49.8 (Daniels' Running Formula, 3rd ed., VDOT table).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import bearer, register
from tests.unit.files import fitgen

# The repository and shared/ are siblings on every machine (CI included).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "fit"


def fixture_bytes(name: str) -> bytes:
    """The bytes of one real device file."""
    return (FIXTURES / name).read_bytes()


def constant_ride(
    *,
    start: datetime,
    seconds: int = 3600,
    power_w: int = 250,
    hr_bpm: int = 150,
    speed_m_s: float = 9.0,
) -> bytes:
    """A 1 Hz ride at constant power, heart rate and speed, as an Edge would record it."""
    records = [
        {
            "mesg_num": fitgen.MESG["RECORD"],
            "timestamp": start + timedelta(seconds=i),
            "distance": i * speed_m_s,
            "enhanced_speed": speed_m_s,
            "heart_rate": hr_bpm,
            "cadence": 90,
            "power": power_w,
        }
        for i in range(seconds)
    ]
    return fitgen.encode(
        [
            fitgen.file_id(when=start),
            *records,
            fitgen.lap(start=start, seconds=seconds, total_distance=(seconds - 1) * speed_m_s),
            fitgen.session(
                start=start,
                seconds=seconds,
                sport="cycling",
                distance_m=(seconds - 1) * speed_m_s,
                avg_heart_rate=hr_bpm,
                avg_power=power_w,
            ),
            fitgen.activity(end=start + timedelta(seconds=seconds), utc_offset_s=0),
        ]
    )


def constant_run(*, start: datetime, seconds: int, speed_m_s: float, hr_bpm: int = 160) -> bytes:
    """A 1 Hz run at constant speed and heart rate (`seconds` samples)."""
    records = [
        {
            "mesg_num": fitgen.MESG["RECORD"],
            "timestamp": start + timedelta(seconds=i),
            "distance": i * speed_m_s,
            "enhanced_speed": speed_m_s,
            "heart_rate": hr_bpm,
            "cadence": 88,
        }
        for i in range(seconds)
    ]
    return fitgen.encode(
        [
            fitgen.file_id(when=start),
            *records,
            fitgen.lap(start=start, seconds=seconds, total_distance=(seconds - 1) * speed_m_s),
            fitgen.session(
                start=start,
                seconds=seconds,
                sport="running",
                distance_m=(seconds - 1) * speed_m_s,
                avg_heart_rate=hr_bpm,
            ),
            fitgen.activity(end=start + timedelta(seconds=seconds), utc_offset_s=0),
        ]
    )


def zip_of(members: dict[str, bytes]) -> bytes:
    """A deflated zip archive holding `members`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Athlete:
    """A registered user and their authenticated requests."""

    def __init__(self, client: AsyncTestClient[Litestar], token: str) -> None:
        self.client = client
        self.headers = bearer(token)

    async def upload(self, name: str, data: bytes) -> Response:
        """POST /activities with `data` as the multipart part `file`."""
        return await self.client.post(
            "/activities",
            files={"file": (name, data, "application/octet-stream")},
            headers=self.headers,
        )

    async def get(self, path: str, **params: Any) -> Response:
        """GET `path` with the user's token."""
        return await self.client.get(path, params=params or None, headers=self.headers)

    async def put(self, path: str, body: Any) -> Response:
        """PUT a JSON body."""
        return await self.client.put(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any) -> Response:
        """PATCH a JSON body."""
        return await self.client.patch(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> Response:
        """DELETE `path`."""
        return await self.client.delete(path, headers=self.headers)

    async def activity_count(self) -> int:
        """How many activities the user has (every page of GET /activities)."""
        count = 0
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor is not None:
                params["cursor"] = cursor
            response = await self.get("/activities", **params)
            assert response.status_code == 200, response.text
            body = response.json()
            count += len(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                return count


async def new_athlete(client: AsyncTestClient[Litestar], *, coach: bool = True) -> Athlete:
    """Register a fresh user (unique email) and return their authenticated handle.

    With `coach` (the default) the user buys Coach through the fake checkout first, so the
    whole history shows: Free hides activities older than 180 days (docs/billing.md), and the
    device fixtures are years old.
    """
    tokens = await register(client, f"athlete-{uuid.uuid4().hex[:12]}@example.com")
    athlete = Athlete(client, tokens["access_token"])
    if coach:
        checkout = await client.post(
            "/billing/checkout", json={"plan": "coach", "period": "month"}, headers=athlete.headers
        )
        assert checkout.status_code == 201, checkout.text
        page = checkout.json()["url"].split("/billing/", 1)[1]
        paid = await client.post(f"/billing/{page}", follow_redirects=False)
        assert paid.status_code == 303, paid.text
    return athlete
