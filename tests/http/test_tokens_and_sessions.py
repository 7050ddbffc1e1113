"""Access-token expiry, refresh rotation and reuse detection, logout, sessions, the account."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import PASSWORD, bearer, register
from training_analyzer.adapters.memory.clock import FakeClock


async def _refresh(client: AsyncTestClient[Litestar], token: str) -> tuple[int, dict[str, object]]:
    response = await client.post("/auth/refresh", json={"refresh_token": token})
    body: dict[str, object] = response.json() if response.content else {}
    return response.status_code, body


async def test_an_access_token_works_for_15_minutes_then_401_with_a_bearer_challenge(
    client: AsyncTestClient[Litestar], clock: FakeClock
) -> None:
    tokens = await register(client, "clock@example.com")
    headers = bearer(tokens["access_token"])
    clock.advance(minutes=15)  # the lifetime; the issuer allows 30 s of clock skew
    assert (await client.get("/me", headers=headers)).status_code == 200
    clock.advance(seconds=30)
    expired = await client.get("/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "unauthorized"
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Bearer a b", "bearer "],
)
async def test_a_malformed_or_forged_authorization_header_is_401(
    client: AsyncTestClient[Litestar], authorization: str
) -> None:
    response = await client.get("/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_refresh_rotates_the_token_on_every_use(client: AsyncTestClient[Litestar]) -> None:
    first = await register(client, "rotate@example.com")
    status, second = await _refresh(client, str(first["refresh_token"]))
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["token_type"] == "Bearer"
    status, third = await _refresh(client, str(second["refresh_token"]))
    assert status == 200
    me = await client.get("/me", headers=bearer(str(third["access_token"])))
    assert me.json()["email"] == "rotate@example.com"


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family_and_is_audited(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    stolen = await register(client, "victim@example.com")
    status, legit = await _refresh(client, str(stolen["refresh_token"]))
    assert status == 200
    # Another device of the same user: a separate family that must survive.
    other_device = await client.post(
        "/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
    )
    # The thief replays the spent token: refused, and every session of its family dies.
    status, _body = await _refresh(client, str(stolen["refresh_token"]))
    assert status == 401
    status, _ = await _refresh(client, str(legit["refresh_token"]))
    assert status == 401
    status, _ = await _refresh(client, other_device.json()["refresh_token"])
    assert status == 200
    async with aiosqlite.connect(db_path) as conn:
        rows = list(
            await conn.execute_fetchall(
                "SELECT details FROM audit_log WHERE action = 'auth.refresh_reused'"
            )
        )
    assert len(rows) == 1
    assert '"sessions_revoked":"1"' in rows[0][0]  # the legit successor was the live one


async def test_a_refresh_token_expires_after_its_lifetime(
    client: AsyncTestClient[Litestar], clock: FakeClock
) -> None:
    tokens = await register(client, "stale@example.com")
    clock.advance(days=30)  # TA_REFRESH_TOKEN_TTL_S defaults to 30 days
    status, body = await _refresh(client, str(tokens["refresh_token"]))
    assert status == 401
    assert body["detail"] == "the refresh token has expired"


@pytest.mark.parametrize("token", ["", "x" * 600, "not-a-token-we-issued"])
async def test_an_unknown_or_malformed_refresh_token_is_refused(
    client: AsyncTestClient[Litestar], token: str
) -> None:
    status, body = await _refresh(client, token)
    assert status in {400, 401}
    assert body["status"] == status


async def test_logout_ends_the_session_and_is_idempotent(
    client: AsyncTestClient[Litestar],
) -> None:
    tokens = await register(client, "bye@example.com")
    first = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    again = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == again.status_code == 204
    status, _ = await _refresh(client, str(tokens["refresh_token"]))
    assert status == 401
    sessions = await client.get("/me/sessions", headers=bearer(tokens["access_token"]))
    assert sessions.json() == {"items": []}


async def test_sessions_record_agent_and_address_and_can_be_revoked(
    client: AsyncTestClient[Litestar], clock: FakeClock
) -> None:
    phone = await client.post(
        "/auth/register",
        json={"email": "devices@example.com", "password": PASSWORD},
        headers={"User-Agent": "RunnerPhone/1.0"},
    )
    clock.advance(minutes=1)
    laptop = await client.post(
        "/auth/login",
        json={"email": "devices@example.com", "password": PASSWORD},
        headers={"User-Agent": "Laptop/2.0"},
    )
    headers = bearer(laptop.json()["access_token"])
    listed = (await client.get("/me/sessions", headers=headers)).json()["items"]
    assert [s["user_agent"] for s in listed] == ["Laptop/2.0", "RunnerPhone/1.0"]  # newest first
    assert all(s["ip"] == "testclient" for s in listed)  # the test client's peer address
    assert "token_hash" not in listed[0]
    phone_session = listed[1]["id"]
    revoked = await client.delete(f"/me/sessions/{phone_session}", headers=headers)
    assert revoked.status_code == 204
    status, _ = await _refresh(client, phone.json()["refresh_token"])
    assert status == 401
    again = await client.delete(f"/me/sessions/{phone_session}", headers=headers)
    assert again.status_code == 404
    remaining = (await client.get("/me/sessions", headers=headers)).json()["items"]
    assert [s["user_agent"] for s in remaining] == ["Laptop/2.0"]


async def test_patch_me_changes_name_and_timezone(client: AsyncTestClient[Litestar]) -> None:
    tokens = await register(client, "tz@example.com")
    headers = bearer(tokens["access_token"])
    response = await client.patch(
        "/me",
        json={"display_name": "  Rita Runner ", "timezone": "America/Argentina/Buenos_Aires"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Rita Runner"
    assert response.json()["timezone"] == "America/Argentina/Buenos_Aires"
    assert (await client.get("/me", headers=headers)).json()["timezone"] == (
        "America/Argentina/Buenos_Aires"
    )


@pytest.mark.parametrize(
    ("body", "argument"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),  # a host file, not an IANA zone
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": "Factory"}, "timezone"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "tab\there"}, "display_name"),
        ({}, "body"),
    ],
)
async def test_patch_me_refuses_bad_values_naming_the_field_and_changes_nothing(
    client: AsyncTestClient[Litestar], body: dict[str, str], argument: str
) -> None:
    tokens = await register(client, "strict@example.com")
    headers = bearer(tokens["access_token"])
    response = await client.patch("/me", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["argument"] == argument
    me = (await client.get("/me", headers=headers)).json()
    assert (me["timezone"], me["display_name"]) == ("UTC", "strict")


async def test_patch_me_refuses_fields_it_does_not_own(client: AsyncTestClient[Litestar]) -> None:
    tokens = await register(client, "climber@example.com")
    headers = bearer(tokens["access_token"])
    response = await client.patch("/me", json={"role": "admin"}, headers=headers)
    assert response.status_code == 400
    assert (await client.get("/me", headers=headers)).json()["role"] == "user"


async def test_every_response_carries_the_security_headers(
    client: AsyncTestClient[Litestar],
) -> None:
    for response in [
        await client.get("/health"),
        await client.get("/me"),
        await client.get("/no/such/route"),
        await client.post("/auth/login", json={"email": "x@example.com", "password": "y" * 10}),
    ]:
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        # Not in development/test: the server speaks plain http there.
        assert "strict-transport-security" not in headers


async def test_the_docs_page_may_load_its_scripts(client: AsyncTestClient[Litestar]) -> None:
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
