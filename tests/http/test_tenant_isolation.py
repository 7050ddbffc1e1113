"""Tenant isolation over every route of the app, walked from its OpenAPI schema.

New routes are covered without editing this test:
- without a token, every route that is not in PUBLIC answers 401 with a Bearer challenge;
- with user B's token, every route with a path parameter, called with each id user A owns
  (every id-like column of every row naming A, found by scanning the database), answers 404 -
  never 403, never A's data - and A's rows are all still there afterwards;
- with user B's token, every GET route without parameters answers without A's data.

`PUBLIC` is the explicit allow-list of routes that need no token: a new public route must be
added here on purpose (and declared with `exclude_from_auth=True, security=[{}]`). Routes under
/admin answer a signed-in non-administrator 403: the one place 403 is right, because B lacks a
privilege there rather than asking for A's resource. Path parameters that are not ids go in
`NOT_ID_PARAMETERS`, also on purpose.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.contract import storage_builders as make
from tests.http.conftest import bearer, register
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.core.accounts import IdentityProvider
from training_analyzer.ports.storage import Storage

PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("GET", "/auth/google/login"),
        ("GET", "/auth/google/callback"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        # Billing: the pricing page; Stripe's webhook (authenticated by its signature); the
        # fake checkout that stands in for Stripe's hosted page without a key (the session id
        # in the URL is the credential, as on Stripe's), and the page checkout returns to.
        ("GET", "/plans"),
        ("POST", "/webhooks/stripe"),
        ("GET", "/billing/fake-checkout/{session_id}"),
        ("POST", "/billing/fake-checkout/{session_id}"),
        ("GET", "/billing/return"),
    }
)
ADMIN_PREFIX = "/admin"
# Routes a Free user is refused with 402 (the plan decides there, not the tenant): B, on Free,
# must get that refusal, still without any of A's data.
PAYWALLED: frozenset[tuple[str, str]] = frozenset({("GET", "/export")})
# Path parameters that name no stored resource (a date, a period): none yet.
NOT_ID_PARAMETERS: frozenset[str] = frozenset()
_METHODS = ("get", "post", "put", "patch", "delete")


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (METHOD, path, operation) of the OpenAPI document."""
    found = []
    for path, item in schema["paths"].items():
        for method in _METHODS:
            if method in item:
                found.append((method.upper(), path, item[method]))
    return found


def path_parameters(operation: dict[str, Any]) -> list[str]:
    """The names of an operation's path parameters."""
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]


def example_body(schema: dict[str, Any], operation: dict[str, Any]) -> Any:
    """A minimal valid JSON body for the operation (required fields only), or None."""
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    return _example(schema, media["schema"])


def _example(document: dict[str, Any], node: dict[str, Any]) -> Any:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _example(document, document["components"]["schemas"][name])
    for combinator in ("oneOf", "anyOf"):
        if combinator in node:
            options = [o for o in node[combinator] if o.get("type") != "null"]
            return _example(document, options[0])
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    match kind:
        case "object":
            required = node.get("required", [])
            props = node.get("properties", {})
            return {name: _example(document, props[name]) for name in required}
        case "array":
            return []
        case "integer":
            return max(1, int(node.get("minimum", 1)))
        case "number":
            return float(node.get("minimum", 1.0))
        case "boolean":
            return False
        case _:
            fmt = node.get("format")
            if fmt == "date-time":
                return "2026-01-01T00:00:00Z"
            if fmt == "date":
                return "2026-01-01"
            return "x" * max(1, int(node.get("minLength", 1)))


async def _fill(db: Path, uid: str) -> None:
    """Give `uid` one row of every kind the storage knows (own connection: the app's lives on
    the app's event loop)."""
    storage = await SqliteStorage.open(path=str(db))
    try:
        await _fill_with(storage, uid)
    finally:
        await storage.close()


async def _fill_with(storage: Storage, uid: str) -> None:
    ride = make.activity(uid)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=make.streams(30))
        await uow.identities.link(
            user_id=uid, identity=make.identity(uid, provider=IdentityProvider.STRAVA)
        )
        await uow.athletes.save(user_id=uid, profile=make.profile(uid))
        await uow.daily_loads.upsert(user_id=uid, loads=[make.daily_load(uid, date(2026, 3, 1))])
        await uow.subscriptions.save(user_id=uid, subscription=make.subscription(uid))
        await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=5)
        await uow.audit.append(user_id=uid, event=make.audit_event(uid))


async def _rows_of(db: Path, uid: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row naming `uid`, per table with a user_id column (and the user row)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with aiosqlite.connect(db) as conn:
        tables = [
            r[0]
            for r in await conn.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [c[1] for c in await conn.execute_fetchall(f'PRAGMA table_info("{table}")')]
            owner = "id" if table == "users" else "user_id"
            if owner not in columns:
                continue
            rows = await conn.execute_fetchall(
                f'SELECT {", ".join(columns)} FROM "{table}" WHERE "{owner}" = ?',
                (uid,),
            )
            out[table] = sorted(tuple(r) for r in rows)
    return out


async def _ids_of(db: Path, uid: str) -> set[str]:
    """Every id-like value of every row naming `uid` (the ids a thief would try)."""
    ids = {uid}
    async with aiosqlite.connect(db) as conn:
        for table in await conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ):
            name = table[0]
            columns = [c[1] for c in await conn.execute_fetchall(f'PRAGMA table_info("{name}")')]
            owner = "id" if name == "users" else "user_id"
            id_columns = [c for c in columns if c == "id" or c.endswith("_id")]
            if owner not in columns or not id_columns:
                continue
            rows = await conn.execute_fetchall(
                f'SELECT {", ".join(id_columns)} FROM "{name}" WHERE "{owner}" = ?', (uid,)
            )
            ids.update(str(v) for r in rows for v in r if v is not None)
    return ids


async def _call(
    client: AsyncTestClient[Litestar],
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> Any:
    kwargs: dict[str, Any] = {"headers": headers or {}, "follow_redirects": False}
    if body is not None:
        kwargs["json"] = body
    return await client.request(method, path, **kwargs)


async def _schema(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_public_routes_are_exactly_the_allow_list_and_marked_in_the_schema(
    client: AsyncTestClient[Litestar],
) -> None:
    schema = await _schema(client)
    marked = {(m, p) for m, p, op in operations(schema) if op.get("security") == [{}]}
    assert marked == PUBLIC
    walked = {(m, p) for m, p, _ in operations(schema)}
    assert walked >= PUBLIC
    # The walk really sees the protected routes.
    assert {("GET", "/me"), ("DELETE", "/me/sessions/{session_id}"), ("GET", "/admin/audit")} <= (
        walked
    )


async def test_every_non_public_route_is_401_without_a_token(
    client: AsyncTestClient[Litestar],
) -> None:
    schema = await _schema(client)
    checked = 0
    for method, path, operation in operations(schema):
        if (method, path) in PUBLIC:
            continue
        concrete = path
        for name in path_parameters(operation):
            concrete = concrete.replace("{" + name + "}", "0190a4c4-0000-7000-8000-000000000000")
        response = await _call(client, method, concrete, body=example_body(schema, operation))
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert response.json()["code"] == "unauthorized"
        checked += 1
    assert checked >= 6


async def test_user_b_gets_404_for_every_resource_of_user_a_and_never_sees_it(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    tokens_a = await register(client, "alice@example.com")
    tokens_b = await register(client, "bob@example.com")
    me_a = (await client.get("/me", headers=bearer(tokens_a["access_token"]))).json()
    await _fill(db_path, me_a["id"])
    rows_before = await _rows_of(db_path, me_a["id"])
    ids_of_a = await _ids_of(db_path, me_a["id"])
    assert len(ids_of_a) >= 5  # the user, a session and its family, an activity, ...
    secrets_of_a = {me_a["email"], *ids_of_a}
    schema = await _schema(client)
    as_b = bearer(tokens_b["access_token"])
    parameterised = 0
    for method, path, operation in operations(schema):
        if (method, path) in PUBLIC:
            continue
        names = path_parameters(operation)
        body = example_body(schema, operation)
        if not names:
            if method != "GET":
                continue  # B's own side effects (DELETE /me) are not the point here
            response = await _call(client, method, path, headers=as_b)
            allowed = {403} if path.startswith(ADMIN_PREFIX) else {200}
            if (method, path) in PAYWALLED:
                allowed = {402}
            assert response.status_code in allowed, (method, path, response.text)
            assert not any(s in response.text for s in secrets_of_a), (method, path)
            continue
        unknown = [n for n in names if n in NOT_ID_PARAMETERS]
        assert not unknown, f"{method} {path}: handle non-id parameters {unknown} here"
        for resource_id in sorted(ids_of_a):
            concrete = path
            for name in names:
                concrete = concrete.replace("{" + name + "}", resource_id)
            response = await _call(client, method, concrete, headers=as_b, body=body)
            expected = 403 if path.startswith(ADMIN_PREFIX) else 404
            assert response.status_code == expected, (method, path, resource_id, response.text)
            assert not any(s in response.text for s in secrets_of_a if s != resource_id), (
                method,
                path,
            )
            parameterised += 1
    assert parameterised >= len(ids_of_a)  # at least DELETE /me/sessions/{id} was tried
    assert await _rows_of(db_path, me_a["id"]) == rows_before
    # A is untouched: A's own token and refresh token still work.
    assert (await client.get("/me", headers=bearer(tokens_a["access_token"]))).status_code == 200
    refreshed = await client.post(
        "/auth/refresh", json={"refresh_token": tokens_a["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_admin_routes_are_403_for_a_signed_in_non_administrator(
    client: AsyncTestClient[Litestar],
) -> None:
    tokens = await register(client, "curious@example.com")
    schema = await _schema(client)
    admin_routes = [(m, p) for m, p, _ in operations(schema) if p.startswith(ADMIN_PREFIX)]
    assert admin_routes
    for method, path in admin_routes:
        response = await _call(client, method, path, headers=bearer(tokens["access_token"]))
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "forbidden"
