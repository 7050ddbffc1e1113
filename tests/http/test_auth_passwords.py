"""Email and password accounts through the API: register, login, rules, generic failures."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import PASSWORD, bearer, register


async def count_rows(db: Path, table: str) -> int:
    """Rows in a table of the test database."""
    async with aiosqlite.connect(db) as conn:
        rows = list(await conn.execute_fetchall(f"SELECT count(*) FROM {table}"))
    return int(rows[0][0])


async def test_register_answers_oauth_shaped_tokens_that_open_me(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.post(
        "/auth/register",
        json={"email": "  Ada.Lovelace@Example.COM ", "password": PASSWORD, "display_name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900  # 15 minutes, the access-token lifetime
    me = await client.get("/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    profile = me.json()
    # Stored normalised: trimmed and lower-cased (core.identity.normalize_email).
    assert profile["email"] == "ada.lovelace@example.com"
    assert profile["display_name"] == "Ada"
    assert profile["tier"] == "free"
    assert profile["has_password"] is True
    assert profile["role"] == "user"


async def test_login_with_any_case_of_the_email_succeeds(
    client: AsyncTestClient[Litestar],
) -> None:
    await register(client, "rita@example.com")
    response = await client.post(
        "/auth/login", json={"email": "RITA@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: AsyncTestClient[Litestar],
) -> None:
    await register(client, "known@example.com")
    wrong = await client.post(
        "/auth/login", json={"email": "known@example.com", "password": "not the password"}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == "invalid email or password"
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_a_google_only_account_cannot_log_in_with_a_password(
    client: AsyncTestClient[Litestar],
) -> None:
    # The development stand-in signs in athlete@example.com without a password.
    callback = await client.get("/auth/google/login", follow_redirects=False)
    signed_in = await client.get(callback.headers["location"])
    assert signed_in.status_code == 201
    response = await client.post(
        "/auth/login", json={"email": "athlete@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid email or password"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "password: must be at least 10 characters"),
        ("123456789", "password: must be at least 10 characters"),
        ("x" * 1025, "password: must be at most 1024 characters"),
    ],
)
async def test_register_refuses_a_password_outside_the_rules(
    client: AsyncTestClient[Litestar], db_path: Path, password: str, message: str
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "new@example.com", "password": password}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["argument"] == "password"
    assert body["detail"] == message
    assert await count_rows(db_path, "users") == 0


async def test_a_ten_character_password_is_enough(client: AsyncTestClient[Litestar]) -> None:
    # The minimum length is 10; exactly 10 passes.
    response = await client.post(
        "/auth/register", json={"email": "ten@example.com", "password": "0123456789"}
    )
    assert response.status_code == 201


async def test_register_refuses_a_malformed_email_without_echoing_it(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "not-an-address", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["argument"] == "email"
    assert "not-an-address" not in response.text
    assert await count_rows(db_path, "users") == 0


async def test_registering_a_taken_email_is_a_generic_conflict_and_changes_nothing(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    await register(client, "taken@example.com")
    sessions_before = await count_rows(db_path, "refresh_sessions")
    response = await client.post(
        "/auth/register", json={"email": "Taken@Example.com", "password": "another password"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "cannot register with this email address"
    assert "exist" not in body["detail"]
    assert await count_rows(db_path, "users") == 1
    assert await count_rows(db_path, "refresh_sessions") == sessions_before
    # The original password still works: the second registration changed nothing.
    login = await client.post(
        "/auth/login", json={"email": "taken@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"email": "a@example.com", "password": ', 400),  # malformed JSON
        (b"[]", 400),  # not an object
        (b'{"email": 42, "password": "correct horse battery"}', 400),  # wrong type
        (b'{"email": "a@example.com"}', 400),  # missing field
        (b'{"email": "a@example.com", "password": "correct horse battery", "role": "admin"}', 400),
        (b'{"email": "a@example.com", "password": "' + b"p" * 20_000 + b'"}', 413),
    ],
    ids=["malformed", "array", "wrong-type", "missing", "unknown-field", "oversized"],
)
async def test_bad_register_bodies_are_problem_4xx_and_create_nothing(
    client: AsyncTestClient[Litestar], db_path: Path, content: bytes, status: int
) -> None:
    response = await client.post(
        "/auth/register", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status
    assert await count_rows(db_path, "users") == 0
    assert await count_rows(db_path, "audit_log") == 0


async def test_an_unknown_field_is_named_in_the_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/auth/login",
        json={"email": "a@example.com", "password": PASSWORD, "remember_me": True},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input"
    assert "remember_me" in str(body["errors"])


async def test_logins_are_audited_without_passwords_or_unknown_addresses(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    await register(client, "audited@example.com")
    await client.post("/auth/login", json={"email": "audited@example.com", "password": "nope" * 3})
    await client.post("/auth/login", json={"email": "ghost@example.com", "password": "nope" * 3})
    await client.post("/auth/login", json={"email": "audited@example.com", "password": PASSWORD})
    async with aiosqlite.connect(db_path) as conn:
        rows = list(
            await conn.execute_fetchall(
                "SELECT action, user_id IS NULL, details FROM audit_log ORDER BY at, id"
            )
        )
    actions = [(r[0], bool(r[1])) for r in rows]
    assert actions == [
        ("auth.registered", False),
        ("auth.login_failed", False),
        ("auth.login_failed", True),  # unknown email: an event about no account
        ("auth.login_succeeded", False),
    ]
    assert '"reason":"wrong_password"' in rows[1][2]
    assert '"reason":"unknown_email"' in rows[2][2]
    # No password and no address in any audit row.
    assert all("nope" not in r[2] and "ghost" not in r[2] for r in rows)
