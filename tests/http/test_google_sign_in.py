"""Google sign-in through the HTTP routes, with the real authlib adapter against the loopback
fake Google (tests/fakeservers/oidc.py): discovery, authorize, token with PKCE, JWKS.

Every refusal is a 400 (the state: missing, tampered, replayed, expired, started in another
browser; or no sign-in cookie) or a 401 (the provider's answer: wrong nonce, wrong audience,
expired id_token, replayed code, unverified email), with a problem body naming the reason, and
creates no account, link or session. The test client keeps cookies as a browser does, so the
sign-in cookie set at the start comes back at the callback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import aiosqlite
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fakeservers.oidc import Callback, FakeOidcServer, running_oidc_server
from tests.http.conftest import BASE_URL, PASSWORD, START, bearer, make_container, make_settings
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.entrypoints.http.app import create_app
from training_analyzer.settings import Secret

CLIENT_ID = "1234567890-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
CALLBACK = f"{BASE_URL}/auth/google/callback"
COOKIE = "ta_oidc"  # the binding cookie's name on a plain-http base URL such as BASE_URL


@pytest.fixture(scope="module")
def google() -> Iterator[FakeOidcServer]:
    """One loopback fake Google for the module."""
    with running_oidc_server(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        yield server


@pytest.fixture
async def client(
    google: FakeOidcServer, db_path: Path, clock: FakeClock
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app configured for Google at the fake server (whose clock matches the app's)."""
    google.reset()
    google.now = START
    settings = make_settings(
        db_path,
        google_client_id=CLIENT_ID,
        google_client_secret=Secret(CLIENT_SECRET),
        google_discovery_url=f"{google.issuer}/.well-known/openid-configuration",
    )
    await migrate(settings.effective_database_url)
    container = make_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url=BASE_URL) as test_client:
        yield test_client


async def counts(db: Path) -> dict[str, int]:
    """Rows that a sign-in creates."""
    out = {}
    async with aiosqlite.connect(db) as conn:
        for table in ("users", "linked_identities", "refresh_sessions", "oidc_flows"):
            rows = list(await conn.execute_fetchall(f"SELECT count(*) FROM {table}"))
            out[table] = int(rows[0][0])
    return out


async def begin(client: AsyncTestClient[Litestar], **query: str) -> str:
    """Start a sign-in; return the provider URL the app redirected to."""
    path = "/auth/google/login" + (f"?{urlencode(query)}" if query else "")
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 302, response.text
    assert response.headers["cache-control"] == "no-store"
    location: str = response.headers["location"]
    return location


async def browse(client: AsyncTestClient[Litestar], google: FakeOidcServer) -> Callback:
    """Start a sign-in and play the browser at the provider; return its callback."""
    callback = await google.authorize(await begin(client))
    assert callback.error is None
    assert callback.redirect_uri == CALLBACK
    return callback


async def finish(
    client: AsyncTestClient[Litestar],
    *,
    code: str | None,
    state: str | None,
    cookie: str | None = None,
    **extra: str,
) -> tuple[int, dict[str, object]]:
    """Deliver a callback to the app (with `cookie` as the sign-in cookie instead of the jar's)."""
    query = {k: v for k, v in {"code": code, "state": state, **extra}.items() if v is not None}
    # An explicit Cookie header replaces the jar's (http.cookiejar adds none then).
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else None
    response = await client.get(
        f"/auth/google/callback?{urlencode(query)}", headers=headers, follow_redirects=False
    )
    body: dict[str, object] = response.json() if response.content else {}
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code, body


async def test_the_authorization_url_carries_pkce_state_and_nonce_but_not_the_verifier(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    url = await begin(client)
    assert url.startswith(f"{google.issuer}/o/oauth2/v2/auth?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43
    assert "code_verifier" not in query
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT state_hash, code_verifier FROM oidc_flows"))
    # Kept server-side; the state only as its digest.
    assert len(rows) == 1
    assert rows[0][0] != query["state"]
    assert len(rows[0][0]) == 64
    assert len(rows[0][1]) >= 43


async def test_a_first_sign_in_creates_a_free_account_linked_on_the_subject(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    callback = await browse(client, google)
    status, tokens = await finish(client, code=callback.code, state=callback.state)
    assert status == 201
    assert tokens["token_type"] == "Bearer"
    me = (await client.get("/me", headers=bearer(str(tokens["access_token"])))).json()
    assert me["email"] == "rita.runner@example.com"  # normalised from Rita.Runner@Example.com
    assert me["display_name"] == "Rita Runner"
    assert me["email_verified"] is True
    assert me["has_password"] is False
    assert me["tier"] == "free"
    assert me["linked_providers"] == ["google"]
    assert await counts(db_path) == {
        "users": 1,
        "linked_identities": 1,
        "refresh_sessions": 1,
        "oidc_flows": 0,  # taken by the callback
    }
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT provider, subject FROM linked_identities"))
    assert rows == [("google", google.subject)]


async def test_the_next_sign_in_finds_the_account_by_subject_even_with_a_new_email(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    callback = await browse(client, google)
    _, first = await finish(client, code=callback.code, state=callback.state)
    google.email = "rita.new@example.com"  # the Google account changed its address
    callback = await browse(client, google)
    status, second = await finish(client, code=callback.code, state=callback.state)
    assert status == 200
    first_me = (await client.get("/me", headers=bearer(str(first["access_token"])))).json()
    second_me = (await client.get("/me", headers=bearer(str(second["access_token"])))).json()
    assert first_me["id"] == second_me["id"]
    assert (await counts(db_path))["users"] == 1


async def test_an_unverified_password_account_is_linked_and_loses_its_password(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    # Someone registered the address first (pre-hijacking): their password and sessions must
    # not survive the real owner's verified Google sign-in.
    early = await client.post(
        "/auth/register", json={"email": "rita.runner@example.com", "password": PASSWORD}
    )
    assert early.status_code == 201
    callback = await browse(client, google)
    status, tokens = await finish(client, code=callback.code, state=callback.state)
    assert status == 200  # an existing account: linked, not created
    me = (await client.get("/me", headers=bearer(str(tokens["access_token"])))).json()
    assert me["linked_providers"] == ["google"]
    assert me["has_password"] is False
    assert me["email_verified"] is True
    login = await client.post(
        "/auth/login", json={"email": "rita.runner@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401
    refreshed = await client.post(
        "/auth/refresh", json={"refresh_token": early.json()["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await counts(db_path))["users"] == 1


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        (lambda g: setattr(g, "nonce", "a-nonce-from-another-sign-in"), "nonce"),
        (lambda g: setattr(g, "audience", "another-client.apps.googleusercontent.com"), "aud"),
        # Expired two minutes ago: beyond the adapter's 60 s leeway.
        (lambda g: setattr(g, "id_token_lifetime_s", -120), "exp"),
        (lambda g: setattr(g, "email_verified", False), "email_verified"),
        (lambda g: setattr(g, "issuer_override", "https://accounts.example.net"), "iss"),
        (lambda g: setattr(g, "sign_with_rogue_key", True), "signature"),
    ],
    ids=["wrong-nonce", "wrong-audience", "expired", "unverified-email", "wrong-issuer", "forged"],
)
async def test_a_bad_id_token_is_401_naming_the_reason_and_creates_nothing(
    client: AsyncTestClient[Litestar],
    google: FakeOidcServer,
    db_path: Path,
    misbehave: object,
    reason: str,
) -> None:
    callback = await browse(client, google)
    misbehave(google)  # type: ignore[operator]
    status, body = await finish(client, code=callback.code, state=callback.state)
    assert status == 401
    assert body["code"] == "unauthorized"
    assert body["reason"] == reason
    assert await counts(db_path) == {
        "users": 0,
        "linked_identities": 0,
        "refresh_sessions": 0,
        "oidc_flows": 0,  # the flow is spent all the same
    }
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT action, details FROM audit_log"))
    assert [r[0] for r in rows] == ["auth.external_sign_in_failed"]
    assert f'"reason":"{reason}"' in rows[0][1]


async def test_an_unverified_email_never_links_to_an_existing_account(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    owner = await client.post(
        "/auth/register", json={"email": "rita.runner@example.com", "password": PASSWORD}
    )
    assert owner.status_code == 201
    google.email_verified = False
    callback = await browse(client, google)
    status, body = await finish(client, code=callback.code, state=callback.state)
    assert status == 401
    assert body["reason"] == "email_verified"
    assert (await counts(db_path))["linked_identities"] == 0
    login = await client.post(
        "/auth/login", json={"email": "rita.runner@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_a_replayed_code_is_refused_by_the_provider_and_creates_nothing_more(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    used = await browse(client, google)
    status, _ = await finish(client, code=used.code, state=used.state)
    assert status == 201
    before = await counts(db_path)
    # A fresh, valid state with the spent code: the app gets as far as the token endpoint.
    fresh = await browse(client, google)
    status, body = await finish(client, code=used.code, state=fresh.state)
    assert status == 401
    assert body["reason"] == "invalid_grant"
    assert await counts(db_path) == {**before, "oidc_flows": 0}


async def test_a_replayed_callback_finds_its_state_spent(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    callback = await browse(client, google)
    binding = client.cookies.get(COOKIE)
    assert binding is not None
    assert (await finish(client, code=callback.code, state=callback.state))[0] == 201
    assert client.cookies.get(COOKIE) is None  # cleared by the successful callback
    # Even with the cookie presented again, the state was spent.
    status, body = await finish(client, code=callback.code, state=callback.state, cookie=binding)
    assert status == 400
    assert body["argument"] == "state"
    assert (await counts(db_path))["refresh_sessions"] == 1


async def test_the_start_sets_an_http_only_lax_cookie_confined_to_the_sign_in_paths(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/auth/google/login", follow_redirects=False)
    assert response.status_code == 302
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    value, *attributes = [part.strip() for part in rest.split(";")]
    assert name == COOKIE
    assert len(value) >= 43  # 256 random bits, URL-safe base64
    lowered = {a.lower() for a in attributes}
    assert {"httponly", "path=/auth/google", "samesite=lax", "max-age=600"} <= lowered
    assert "secure" not in lowered  # a plain-http base URL could not send it back


async def test_over_https_the_cookie_is_a_host_prefixed_secure_cookie(
    db_path: Path, clock: FakeClock
) -> None:
    # RFC 6265bis §4.1.3.2: a `__Host-` cookie is Secure, has Path=/ and no Domain.
    settings = make_settings(db_path, public_base_url="https://api.example.com")
    await migrate(settings.effective_database_url)
    app = create_app(make_container(settings, clock))
    async with AsyncTestClient(app=app, base_url="https://api.example.com") as https_client:
        response = await https_client.get("/auth/google/login", follow_redirects=False)
    assert response.status_code == 302
    name, _, rest = response.headers["set-cookie"].partition("=")
    lowered = {part.strip().lower() for part in rest.split(";")[1:]}
    assert name == "__Host-ta_oidc"
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= lowered
    assert not any(a.startswith("domain=") for a in lowered)


async def test_a_callback_in_another_browser_is_refused_and_creates_nothing(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    # Login CSRF (RFC 6749 §10.12): the attacker starts a sign-in, stops at the callback and
    # has the victim's browser deliver it. The victim's browser has no cookie, or its own.
    callback = await browse(client, google)
    started_by = client.cookies.get(COOKIE)
    assert started_by is not None
    client.cookies.clear()  # from here on the client is the victim's browser
    status, body = await finish(client, code=callback.code, state=callback.state)
    assert (status, body["code"], body["argument"]) == (400, "invalid_input", "cookie")
    await begin(client)  # the victim's own sign-in in progress: a cookie of its own
    assert client.cookies.get(COOKIE) not in {None, started_by}
    status, body = await finish(client, code=callback.code, state=callback.state)
    assert (status, body["argument"]) == (400, "state")
    assert google.token_requests == 0  # refused before the code was ever exchanged
    assert await counts(db_path) == {
        "users": 0,
        "linked_identities": 0,
        "refresh_sessions": 0,
        "oidc_flows": 2,  # neither flow was spent by the refused callbacks
    }
    # The browser that started the sign-in still finishes it.
    finished = await finish(client, code=callback.code, state=callback.state, cookie=started_by)
    assert finished[0] == 201


@pytest.mark.parametrize(
    "tamper",
    [lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), lambda s: None, lambda s: "x" * 43],
    ids=["edited", "missing", "forged"],
)
async def test_a_tampered_or_missing_state_is_400_and_creates_nothing(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path, tamper: object
) -> None:
    callback = await browse(client, google)
    assert callback.state is not None
    state = tamper(callback.state)  # type: ignore[operator]
    status, body = await finish(client, code=callback.code, state=state)
    assert status == 400
    assert body["code"] == "invalid_input"
    assert body["argument"] == "state"
    assert google.token_requests == 0  # refused before the code was ever exchanged
    assert await counts(db_path) == {
        "users": 0,
        "linked_identities": 0,
        "refresh_sessions": 0,
        "oidc_flows": 1,  # the genuine flow is untouched; it expires on its own
    }


async def test_a_flow_older_than_ten_minutes_is_refused(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, clock: FakeClock, db_path: Path
) -> None:
    callback = await browse(client, google)
    clock.advance(minutes=10)
    status, body = await finish(client, code=callback.code, state=callback.state)
    assert status == 400
    assert body["argument"] == "state"
    assert (await counts(db_path))["users"] == 0


async def test_a_denied_consent_is_401_and_spends_the_flow(
    client: AsyncTestClient[Litestar], google: FakeOidcServer, db_path: Path
) -> None:
    callback = await browse(client, google)
    status, body = await finish(client, code=None, state=callback.state, error="access_denied")
    assert status == 401
    assert body["reason"] == "access_denied"
    assert await counts(db_path) == {
        "users": 0,
        "linked_identities": 0,
        "refresh_sessions": 0,
        "oidc_flows": 0,
    }


async def test_return_to_sends_the_browser_back_with_the_tokens_in_the_fragment(
    client: AsyncTestClient[Litestar], google: FakeOidcServer
) -> None:
    callback = await google.authorize(await begin(client, return_to=f"{BASE_URL}/app/welcome"))
    response = await client.get(
        f"/auth/google/callback?{urlencode({'code': callback.code, 'state': callback.state})}",
        follow_redirects=False,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{BASE_URL}/app/welcome"
    assert location.query == ""  # tokens never in the query (it reaches servers and logs)
    fragment = {k: v[0] for k, v in parse_qs(location.fragment).items()}
    assert fragment["token_type"] == "Bearer"
    me = await client.get("/me", headers=bearer(fragment["access_token"]))
    assert me.status_code == 200


@pytest.mark.parametrize(
    "return_to",
    ["https://evil.example/steal", "javascript:alert(1)", "//evil.example/x", "/relative"],
)
async def test_return_to_outside_the_allowed_origins_is_refused_before_redirecting(
    client: AsyncTestClient[Litestar], db_path: Path, return_to: str
) -> None:
    response = await client.get(
        f"/auth/google/login?{urlencode({'return_to': return_to})}", follow_redirects=False
    )
    assert response.status_code == 400
    assert response.json()["argument"] == "return_to"
    assert (await counts(db_path))["oidc_flows"] == 0
