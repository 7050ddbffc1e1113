"""Administrators: `training-analyzer users create-admin`, the admin guard, the audit log.

A signed-in non-administrator gets 403 on admin routes (a privilege they lack, not another
user's resource: the one place 403 is right); an anonymous caller 401.
"""

from __future__ import annotations

import io
from pathlib import Path

import aiosqlite
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import PASSWORD, bearer, register
from training_analyzer.entrypoints.cli import main

ADMIN_EMAIL = "coach@example.com"
ADMIN_PASSWORD = "an admin password"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_path: Path) -> Path:
    """The CLI's environment: the test database, no .env file, no inherited TA_* settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("TA_ADMIN_PASSWORD", "TA_JWT_KEYS", "TA_ENV", "TA_GOOGLE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TA_DATABASE_URL", f"sqlite:///{db_path}")
    monkeypatch.setenv("TA_LOG_LEVEL", "warning")
    return db_path


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


@pytest.fixture
def admin(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An administrator made with the CLI before the app starts."""
    _stdin(monkeypatch, ADMIN_PASSWORD + "\n")
    assert main(["users", "create-admin", ADMIN_EMAIL, "--password-stdin"]) == 0
    return ADMIN_EMAIL


async def _role(db: Path, email: str) -> str:
    async with aiosqlite.connect(db) as conn:
        rows = list(await conn.execute_fetchall("SELECT role FROM users WHERE email = ?", (email,)))
    return str(rows[0][0])


def test_create_admin_creates_the_account_with_the_password_from_stdin(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, ADMIN_PASSWORD + "\n")
    assert main(["users", "create-admin", "  Coach@Example.com ", "--password-stdin"]) == 0
    assert capsys.readouterr().out.strip() == "created administrator coach@example.com"


def test_create_admin_reads_the_password_from_the_environment(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TA_ADMIN_PASSWORD", ADMIN_PASSWORD)
    assert main(["users", "create-admin", ADMIN_EMAIL]) == 0
    assert "created administrator" in capsys.readouterr().out


def test_create_admin_twice_says_so_and_changes_nothing(
    admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["users", "create-admin", admin]) == 0
    assert capsys.readouterr().out.strip() == f"{admin} is already an administrator"


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["not-an-email"], "", "email: is not a valid email address"),
        (["new@example.com", "--password-stdin"], "short\n", "password: must be at least 10"),
        (["new@example.com"], "", "has no account yet"),
    ],
    ids=["bad-email", "weak-password", "no-password"],
)
def test_create_admin_refuses_bad_input_with_exit_2(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    _stdin(monkeypatch, stdin)
    assert main(["users", "create-admin", *argv]) == 2
    assert message in capsys.readouterr().err


async def test_create_admin_promotes_an_existing_account_without_a_password(
    client: AsyncTestClient[Litestar],
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await register(client, "rita@example.com")
    assert await _role(cli_env, "rita@example.com") == "user"
    _stdin(monkeypatch, "")
    # The CLI runs its own event loop: give it a thread of its own.
    import asyncio

    code = await asyncio.to_thread(main, ["users", "create-admin", "rita@example.com"])
    assert code == 0
    assert "rita@example.com is now an administrator" in capsys.readouterr().out
    assert await _role(cli_env, "rita@example.com") == "admin"
    # Her password is unchanged.
    login = await client.post(
        "/auth/login", json={"email": "rita@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_an_admin_reads_every_security_event_newest_first_in_pages(
    admin: str, client: AsyncTestClient[Litestar]
) -> None:
    user = await register(client, "someone@example.com")
    await client.post("/auth/login", json={"email": "ghost@example.com", "password": "x" * 12})
    await client.post("/auth/refresh", json={"refresh_token": user["refresh_token"]})
    await client.post("/auth/refresh", json={"refresh_token": user["refresh_token"]})  # reuse
    login = await client.post("/auth/login", json={"email": admin, "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    headers = bearer(login.json()["access_token"])
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(f"/admin/audit{query}", headers=headers)
        assert page.status_code == 200
        body = page.json()
        assert len(body["items"]) <= 2
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    actions = [e["action"] for e in seen]
    assert "admin.granted" in actions  # by the CLI, stamped by the real clock, not the app's
    in_app = [a for a in actions if a != "admin.granted"]
    # Newest first. Each read is audited after it is served, so it shows in the next fresh
    # listing, not in the pages that follow the cursor (those are older).
    assert in_app[:3] == ["auth.login_succeeded", "auth.refresh_reused", "auth.login_failed"]
    assert "admin.audit_viewed" not in actions
    assert set(actions) >= {"admin.granted", "auth.registered"}
    unknown = next(e for e in seen if e["action"] == "auth.login_failed")
    assert unknown["user_id"] is None  # a failed login for an address with no account
    # No secret ever reaches the log: passwords, refresh tokens, the guessed address.
    text = str(seen)
    for secret in (PASSWORD, ADMIN_PASSWORD, "x" * 12, user["refresh_token"], "ghost@"):
        assert secret not in text
    stamps = [str(e["at"]) for e in seen if e["action"] != "admin.granted"]
    assert stamps == sorted(stamps, reverse=True)
    again = (await client.get("/admin/audit?limit=200", headers=headers)).json()["items"]
    viewed = [e for e in again if e["action"] == "admin.audit_viewed"]
    assert len(viewed) == len(seen) // 2 + 1  # one per page read above


async def test_a_bad_audit_cursor_or_limit_is_400(
    admin: str, client: AsyncTestClient[Litestar]
) -> None:
    login = await client.post("/auth/login", json={"email": admin, "password": ADMIN_PASSWORD})
    headers = bearer(login.json()["access_token"])
    assert (await client.get("/admin/audit?cursor=garbage", headers=headers)).status_code == 400
    assert (await client.get("/admin/audit?limit=0", headers=headers)).status_code == 400
    assert (await client.get("/admin/audit?limit=201", headers=headers)).status_code == 400


async def test_admin_routes_are_401_anonymous_and_403_for_users(
    client: AsyncTestClient[Litestar],
) -> None:
    anonymous = await client.get("/admin/audit")
    assert anonymous.status_code == 401
    user = await register(client, "plain@example.com")
    refused = await client.get("/admin/audit", headers=bearer(user["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


async def test_a_demoted_admin_loses_access_at_once_despite_the_token_claim(
    admin: str, client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    login = await client.post("/auth/login", json={"email": admin, "password": ADMIN_PASSWORD})
    headers = bearer(login.json()["access_token"])
    assert (await client.get("/admin/audit", headers=headers)).status_code == 200
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute("UPDATE users SET role = 'user' WHERE email = ?", (admin,))
        await conn.commit()
    # The access token still says adm=true; the guard reads the role fresh.
    assert (await client.get("/admin/audit", headers=headers)).status_code == 403
