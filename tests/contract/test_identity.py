"""Identity port contracts: OIDC sign-in ([fake], [google]), password hashing, access tokens.

The [google] id runs the real authlib adapter over real HTTP against the loopback fake Google
provider in tests/fakeservers/oidc.py; the [fake] id runs the in-memory FakeOidcProvider. Both
must behave alike, so a fake that drifts from the real adapter fails exactly one id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import argon2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakeservers.oidc import FakeOidcServer, running_oidc_server
from training_analyzer.adapters.identity.google_oidc import AuthlibGoogleOidcProvider
from training_analyzer.adapters.identity.passwords import Argon2PasswordHasher
from training_analyzer.adapters.identity.tokens import JwtAccessTokenIssuer
from training_analyzer.adapters.memory.identity import FakeOidcProvider
from training_analyzer.core.errors import (
    ConfigurationError,
    ExternalServiceError,
    InvalidInput,
    Unauthorized,
)
from training_analyzer.core.identity import AuthorizationRequest, VerifiedIdentity
from training_analyzer.ports.identity import AccessTokenIssuer, OidcProvider, PasswordHasher

NOW = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
CLIENT_ID = "1234567890-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
REDIRECT_URI = "http://127.0.0.1:8000/auth/google/callback"
SUBJECT = "108123456789012345678"
EMAIL = "Rita.Runner@Example.com"
NAME = "Rita Runner"

# ---------------------------------------------------------------------------------------------
# OpenID Connect provider contract
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_server() -> Iterator[FakeOidcServer]:
    """One loopback fake Google for the module; each test resets its knobs."""
    with running_oidc_server(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        yield server


@dataclass
class OidcWorld:
    """A provider under test plus the levers to make its far side misbehave."""

    provider: OidcProvider
    fake: FakeOidcProvider | None = None
    server: FakeOidcServer | None = None

    async def authorize(self, request: AuthorizationRequest) -> tuple[str, str]:
        """Play the browser; return the (code, redirect_uri) the callback receives."""
        if self.server is not None:
            callback = await self.server.authorize(request.url)
            assert callback.error is None
            code, state, redirect_uri = callback.code, callback.state, callback.redirect_uri
        else:
            parts = urlsplit(request.url)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            code, state = query.get("code"), query.get("state")
            redirect_uri = f"{parts.scheme}://{parts.netloc}{parts.path}"
        assert state == request.state  # the callback must carry the state unchanged
        assert code is not None
        return code, redirect_uri

    def issue_for_audience(self, audience: str) -> None:
        """Make the provider mint id_tokens for another client."""
        if self.server is not None:
            self.server.audience = audience
        if self.fake is not None:
            self.fake.audience = audience

    def id_token_lifetime(self, seconds: int) -> None:
        """Make the provider mint id_tokens with `exp = iat + seconds`."""
        if self.server is not None:
            self.server.id_token_lifetime_s = seconds
        if self.fake is not None:
            self.fake.id_token_lifetime_s = seconds

    def email_unverified(self) -> None:
        """Make the provider report the email as not verified."""
        if self.server is not None:
            self.server.email_verified = False
        if self.fake is not None:
            self.fake.email_verified = False


def _google(server: FakeOidcServer, **overrides: Any) -> AuthlibGoogleOidcProvider:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "discovery_url": f"{server.issuer}/.well-known/openid-configuration",
    }
    options.update(overrides)
    return AuthlibGoogleOidcProvider(**options)


@pytest.fixture(params=["fake", "google"])
def oidc(request: pytest.FixtureRequest) -> OidcWorld:
    """The OIDC provider contract runs over the fake and the real adapter."""
    if request.param == "fake":
        fake = FakeOidcProvider(
            subject=SUBJECT, email=EMAIL, display_name=NAME, client_id=CLIENT_ID
        )
        return OidcWorld(provider=fake, fake=fake)
    server: FakeOidcServer = request.getfixturevalue("oidc_server")
    server.reset()
    server.now = NOW  # the provider stamps iat/exp from the same instant the test passes
    return OidcWorld(provider=_google(server), server=server)


async def _sign_in(world: OidcWorld, **overrides: Any) -> VerifiedIdentity:
    request = await world.provider.begin(redirect_uri=REDIRECT_URI)
    code, redirect_uri = await world.authorize(request)
    arguments: dict[str, Any] = {
        "code": code,
        "code_verifier": request.code_verifier,
        "nonce": request.nonce,
        "redirect_uri": redirect_uri,
        "now": NOW,
    }
    arguments.update(overrides)
    return await world.provider.complete(**arguments)


async def test_sign_in_returns_the_vouched_identity_with_a_normalised_email(
    oidc: OidcWorld,
) -> None:
    identity = await _sign_in(oidc)
    assert identity == VerifiedIdentity(
        provider=oidc.provider.name,
        subject=SUBJECT,
        email="rita.runner@example.com",
        email_verified=True,
        name=NAME,
    )


async def test_each_sign_in_gets_its_own_state_nonce_and_verifier(oidc: OidcWorld) -> None:
    first = await oidc.provider.begin(redirect_uri=REDIRECT_URI)
    second = await oidc.provider.begin(redirect_uri=REDIRECT_URI)
    assert first.provider == second.provider == oidc.provider.name
    assert len({first.state, second.state, first.nonce, second.nonce}) == 4
    assert first.code_verifier != second.code_verifier
    # RFC 7636 §4.1: 43 to 128 characters; 43 URL-safe characters carry 256 bits.
    assert 43 <= len(first.code_verifier) <= 128
    # The PKCE verifier stays server-side: the browser's URL never carries it.
    assert first.code_verifier not in first.url


async def test_a_wrong_nonce_is_unauthorized(oidc: OidcWorld) -> None:
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc, nonce="a-nonce-from-another-sign-in")
    assert caught.value.details["reason"] == "nonce"


async def test_a_replayed_code_is_unauthorized(oidc: OidcWorld) -> None:
    request = await oidc.provider.begin(redirect_uri=REDIRECT_URI)
    code, redirect_uri = await oidc.authorize(request)
    arguments: dict[str, Any] = {
        "code": code,
        "code_verifier": request.code_verifier,
        "nonce": request.nonce,
        "redirect_uri": redirect_uri,
        "now": NOW,
    }
    assert (await oidc.provider.complete(**arguments)).subject == SUBJECT
    with pytest.raises(Unauthorized) as caught:
        await oidc.provider.complete(**arguments)
    assert caught.value.details["reason"] == "invalid_grant"


async def test_a_wrong_code_verifier_is_unauthorized(oidc: OidcWorld) -> None:
    # RFC 7636 Appendix B's verifier: well-formed, but not the one this sign-in began with.
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc, code_verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    assert caught.value.details["reason"] == "invalid_grant"


async def test_a_code_presented_with_another_redirect_uri_is_unauthorized(
    oidc: OidcWorld,
) -> None:
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc, redirect_uri="http://127.0.0.1:8000/elsewhere")
    assert caught.value.details["reason"] == "redirect_uri_mismatch"


async def test_an_unknown_code_is_unauthorized(oidc: OidcWorld) -> None:
    with pytest.raises(Unauthorized):
        await _sign_in(oidc, code="4/0A-a-code-nobody-issued")


async def test_an_expired_id_token_is_unauthorized(oidc: OidcWorld) -> None:
    oidc.id_token_lifetime(-3600)
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc)
    assert caught.value.details["reason"] == "exp"


async def test_an_id_token_within_the_60_second_leeway_is_accepted(oidc: OidcWorld) -> None:
    oidc.id_token_lifetime(-59)  # exp = now - 59 s: within the documented 60 s of skew
    assert (await _sign_in(oidc)).subject == SUBJECT


async def test_an_id_token_expired_by_exactly_the_leeway_is_unauthorized(oidc: OidcWorld) -> None:
    oidc.id_token_lifetime(-60)
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc)
    assert caught.value.details["reason"] == "exp"


async def test_an_id_token_for_another_audience_is_unauthorized(oidc: OidcWorld) -> None:
    oidc.issue_for_audience("someone-else.apps.googleusercontent.com")
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(oidc)
    assert caught.value.details["reason"] == "aud"


async def test_an_unverified_email_is_unauthorized_and_says_so(oidc: OidcWorld) -> None:
    oidc.email_unverified()
    with pytest.raises(Unauthorized, match="email address is not verified") as caught:
        await _sign_in(oidc)
    assert caught.value.details["reason"] == "email_verified"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("code", ""),
        ("code", "has space"),
        ("code_verifier", "too-short"),
        ("code_verifier", "x" * 129),
        ("code_verifier", "not allowed characters like spaces and !!" + "a" * 10),
        ("nonce", ""),
        ("redirect_uri", "/relative/callback"),
        ("redirect_uri", "http://127.0.0.1:8000/cb#fragment"),
        ("now", datetime(2026, 3, 2, 7, 30)),  # naive
    ],
)
async def test_malformed_callback_input_is_invalid_input_naming_the_argument(
    oidc: OidcWorld, argument: str, value: object
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await _sign_in(oidc, **{argument: value})
    assert caught.value.argument == argument


async def test_begin_refuses_a_relative_redirect_uri(oidc: OidcWorld) -> None:
    with pytest.raises(InvalidInput) as caught:
        await oidc.provider.begin(redirect_uri="/auth/callback")
    assert caught.value.argument == "redirect_uri"


# ---- the real adapter's own wire behaviour (only [google] has a wire) ----------------------


@pytest.fixture
def server(oidc_server: FakeOidcServer) -> FakeOidcServer:
    """The module's fake Google, reset and pinned to NOW."""
    oidc_server.reset()
    oidc_server.now = NOW
    return oidc_server


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


async def test_google_authorization_url_carries_pkce_s256_state_nonce_and_scopes(
    server: FakeOidcServer,
) -> None:
    request = await _google(server).begin(redirect_uri=REDIRECT_URI)
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{server.issuer}/o/oauth2/v2/auth"
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": _s256(request.code_verifier),
        "code_challenge_method": "S256",
    }


def test_pkce_challenge_helper_matches_rfc_7636_appendix_b() -> None:
    # RFC 7636 Appendix B: this verifier has this S256 challenge; guards the helper above.
    assert (
        _s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


async def test_google_fetches_discovery_and_jwks_once_for_many_sign_ins(
    server: FakeOidcServer,
) -> None:
    world = OidcWorld(provider=_google(server), server=server)
    for _ in range(3):
        assert (await _sign_in(world)).subject == SUBJECT
    assert (server.discovery_requests, server.jwks_requests, server.token_requests) == (1, 1, 3)


async def test_google_refetches_the_jwks_once_when_the_provider_rotates_its_key(
    server: FakeOidcServer,
) -> None:
    world = OidcWorld(provider=_google(server), server=server)
    await _sign_in(world)
    server.rotate_key()
    assert (await _sign_in(world)).subject == SUBJECT
    assert server.jwks_requests == 2


async def test_google_rejects_an_id_token_signed_with_a_key_not_in_the_jwks(
    server: FakeOidcServer,
) -> None:
    server.sign_with_rogue_key = True
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(OidcWorld(provider=_google(server), server=server))
    assert caught.value.details["reason"] == "signature"


async def test_google_rejects_an_id_token_from_another_issuer(server: FakeOidcServer) -> None:
    server.issuer_override = "https://evil.example"
    with pytest.raises(Unauthorized) as caught:
        await _sign_in(OidcWorld(provider=_google(server), server=server))
    assert caught.value.details["reason"] == "iss"


async def test_google_authenticates_with_client_secret_basic_too(server: FakeOidcServer) -> None:
    provider = _google(server, token_endpoint_auth_method="client_secret_basic")
    assert (await _sign_in(OidcWorld(provider=provider, server=server))).subject == SUBJECT


async def test_google_with_a_wrong_client_secret_is_an_external_service_error(
    server: FakeOidcServer,
) -> None:
    provider = _google(server, client_secret="not-the-secret")
    with pytest.raises(ExternalServiceError) as caught:
        await _sign_in(OidcWorld(provider=provider, server=server))
    assert caught.value.details["error"] == "invalid_client"


async def test_google_token_endpoint_failure_is_an_external_service_error(
    server: FakeOidcServer,
) -> None:
    server.token_endpoint_status = 503
    with pytest.raises(ExternalServiceError):
        await _sign_in(OidcWorld(provider=_google(server), server=server))


async def test_google_unreachable_provider_is_an_external_service_error() -> None:
    with running_oidc_server() as gone:
        discovery_url = f"{gone.issuer}/.well-known/openid-configuration"
    # The server has stopped and its port is closed: connecting is refused.
    provider = AuthlibGoogleOidcProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, discovery_url=discovery_url
    )
    with pytest.raises(ExternalServiceError) as caught:
        await provider.begin(redirect_uri=REDIRECT_URI)
    assert caught.value.details["cause"] == "ConnectError"


async def test_google_refuses_a_discovery_document_naming_another_issuer(
    server: FakeOidcServer,
) -> None:
    # Same server reached as "localhost": its document names 127.0.0.1 (Discovery 1.0 §4.3).
    port = urlsplit(server.issuer).port
    provider = AuthlibGoogleOidcProvider(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        discovery_url=f"http://localhost:{port}/.well-known/openid-configuration",
    )
    with pytest.raises(ExternalServiceError, match="another issuer"):
        await provider.begin(redirect_uri=REDIRECT_URI)


@pytest.mark.parametrize(
    "discovery_url",
    [
        "http://accounts.example.com/.well-known/openid-configuration",  # http off loopback
        "https://accounts.example.com/openid-configuration",  # not a discovery URL
    ],
)
def test_google_refuses_unsafe_discovery_urls_at_construction(discovery_url: str) -> None:
    with pytest.raises(ConfigurationError):
        AuthlibGoogleOidcProvider(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, discovery_url=discovery_url
        )


# ---------------------------------------------------------------------------------------------
# Password hasher contract
# ---------------------------------------------------------------------------------------------

# Cheap parameters keep the suite fast; one test below pins the production defaults.
_FAST = {"time_cost": 1, "memory_cost_kib": 64, "parallelism": 1}


@pytest.fixture(params=["argon2"])
def hasher(request: pytest.FixtureRequest) -> PasswordHasher:
    """Every PasswordHasher adapter (only Argon2id today)."""
    return Argon2PasswordHasher(**_FAST)


async def test_a_password_verifies_against_its_own_hash_only(hasher: PasswordHasher) -> None:
    stored = await hasher.hash(password="correct horse battery")
    assert await hasher.verify(password="correct horse battery", password_hash=stored)
    assert not await hasher.verify(password="correct horse batterY", password_hash=stored)
    assert not await hasher.verify(password="", password_hash=stored)


async def test_the_same_password_hashes_differently_each_time(hasher: PasswordHasher) -> None:
    first = await hasher.hash(password="correct horse battery")
    second = await hasher.hash(password="correct horse battery")
    assert first != second  # salted


async def test_unicode_forms_of_one_password_verify_alike(hasher: PasswordHasher) -> None:
    # NFKC maps fullwidth letters and digits to ASCII (NIST SP 800-63B §5.1.1.2 normalisation).
    stored = await hasher.hash(password="password1234")
    assert await hasher.verify(password="ｐａｓｓｗｏｒｄ１２３４", password_hash=stored)
    # "é" composed (U+00E9) and decomposed (e + U+0301) are one password.
    stored = await hasher.hash(password="caf\u00e9-au-lait-10")
    assert await hasher.verify(password="cafe\u0301-au-lait-10", password_hash=stored)


async def test_a_corrupt_stored_hash_verifies_false_and_needs_rehash(
    hasher: PasswordHasher,
) -> None:
    assert not await hasher.verify(password="correct horse battery", password_hash="garbage")
    assert hasher.needs_rehash(password_hash="garbage")


async def test_an_over_long_password_is_refused_on_hash_and_false_on_verify(
    hasher: PasswordHasher,
) -> None:
    stored = await hasher.hash(password="x" * 1024)
    assert await hasher.verify(password="x" * 1024, password_hash=stored)
    with pytest.raises(InvalidInput) as caught:
        await hasher.hash(password="x" * 1025)
    assert caught.value.argument == "password"
    assert not await hasher.verify(password="x" * 1025, password_hash=stored)


async def test_argon2_dummy_hash_has_the_real_parameters_and_never_matches() -> None:
    hasher = Argon2PasswordHasher(**_FAST)
    real = await hasher.hash(password="correct horse battery")
    real_parameters = argon2.extract_parameters(real)
    assert argon2.extract_parameters(hasher.dummy_hash) == real_parameters
    assert not hasher.needs_rehash(password_hash=hasher.dummy_hash)
    assert not await hasher.verify(password="", password_hash=hasher.dummy_hash)
    # Any input runs the dummy check without an error, even one `verify` would refuse early.
    for password in ("correct horse battery", "", "x" * 5000):
        await hasher.verify_dummy(password=password)


async def test_argon2_defaults_are_rfc_9106_second_recommendation() -> None:
    stored = await Argon2PasswordHasher().hash(password="correct horse battery")
    # RFC 9106 §4, second recommended option: Argon2id, t=3, m=64 MiB, p=4, 128-bit salt,
    # 256-bit tag.
    assert argon2.extract_parameters(stored) == argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
    )
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_argon2_asks_for_a_rehash_when_parameters_change() -> None:
    old = await Argon2PasswordHasher(**_FAST).hash(password="correct horse battery")
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost_kib=64, parallelism=1)
    assert stronger.needs_rehash(password_hash=old)
    assert await stronger.verify(password="correct horse battery", password_hash=old)


@pytest.mark.parametrize(
    "parameters",
    [
        {"time_cost": 0},
        {"parallelism": 0},
        {"memory_cost_kib": 16, "parallelism": 4},  # RFC 9106 §3.1: m >= 8p KiB
        {"salt_len": 8},
        {"hash_len": 4},
    ],
)
def test_argon2_refuses_weak_parameters(parameters: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        Argon2PasswordHasher(**parameters)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(min_size=1, max_size=64))
def test_any_password_round_trips_and_a_changed_one_does_not(password: str) -> None:
    hasher = Argon2PasswordHasher(**_FAST)

    async def check() -> tuple[bool, bool]:
        stored = await hasher.hash(password=password)
        same = await hasher.verify(password=password, password_hash=stored)
        other = await hasher.verify(password=password + "\u2603", password_hash=stored)
        return same, other

    assert asyncio.run(check()) == (True, False)


# ---------------------------------------------------------------------------------------------
# Access token issuer contract
# ---------------------------------------------------------------------------------------------

KEY_2026 = ("2026-03", "k" * 32)
KEY_2025 = ("2025-12", "o" * 32)


def _issuer(*keys: tuple[str, str | bytes], **overrides: Any) -> JwtAccessTokenIssuer:
    options: dict[str, Any] = {"issuer": "training-analyzer", "audience": "training-analyzer-api"}
    options.update(overrides)
    return JwtAccessTokenIssuer(keys=list(keys), **options)


@pytest.fixture(params=["jwt"])
def tokens(request: pytest.FixtureRequest) -> AccessTokenIssuer:
    """Every AccessTokenIssuer adapter (only HS256 JWT today)."""
    return _issuer(KEY_2026, KEY_2025)


def test_an_issued_token_verifies_to_its_claims(tokens: AccessTokenIssuer) -> None:
    issued = tokens.issue(user_id="user-42", is_admin=True, now=NOW)
    claims = tokens.verify(token=issued.token, now=NOW + timedelta(minutes=5))
    assert claims.user_id == "user-42"
    assert claims.is_admin is True
    assert claims.token_id == issued.token_id
    assert claims.issued_at == NOW
    assert claims.expires_at == issued.expires_at


def test_access_tokens_live_15_minutes(tokens: AccessTokenIssuer) -> None:
    issued = tokens.issue(user_id="user-42", is_admin=False, now=NOW)
    assert issued.expires_at == NOW + timedelta(minutes=15)
    assert tokens.verify(token=issued.token, now=NOW).is_admin is False


def test_an_expired_token_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    issued = tokens.issue(user_id="user-42", is_admin=False, now=NOW)
    # Accepted up to 30 s of instance clock skew past exp, refused from then on.
    tokens.verify(token=issued.token, now=issued.expires_at + timedelta(seconds=29))
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token=issued.token, now=issued.expires_at + timedelta(seconds=30))
    assert caught.value.details["reason"] == "exp"


def test_a_token_with_a_changed_payload_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    issued = tokens.issue(user_id="user-42", is_admin=False, now=NOW)
    header, payload, signature = issued.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["adm"] = True
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token=f"{header}.{forged}.{signature}", now=NOW)
    assert caught.value.details["reason"] == "signature"


def test_a_token_signed_with_an_unknown_key_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    stranger = _issuer(("2027-01", "s" * 32)).issue(user_id="user-42", is_admin=True, now=NOW)
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token=stranger.token, now=NOW)
    assert caught.value.details["reason"] == "kid"


def test_a_same_kid_token_with_another_secret_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    forged = _issuer(("2026-03", "f" * 32)).issue(user_id="user-42", is_admin=True, now=NOW)
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token=forged.token, now=NOW)
    assert caught.value.details["reason"] == "signature"


def test_a_token_for_another_deployment_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    other = _issuer(KEY_2026, audience="another-api").issue(user_id="u", is_admin=False, now=NOW)
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token=other.token, now=NOW)
    assert caught.value.details["reason"] == "claims"


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-jwt", "a.b.c", "e30.e30.", "x" * 9000, "ünïcode.token.here"],
)
def test_a_malformed_token_is_unauthorized(tokens: AccessTokenIssuer, garbage: str) -> None:
    with pytest.raises(Unauthorized):
        tokens.verify(token=garbage, now=NOW)


def test_an_unsigned_or_non_access_jwt_is_unauthorized(tokens: AccessTokenIssuer) -> None:
    def b64(value: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    body = b64({"sub": "user-42", "adm": True, "exp": 4102444800})
    for header in ({"alg": "none", "typ": "at+jwt"}, {"alg": "HS256", "kid": "2026-03"}):
        with pytest.raises(Unauthorized) as caught:
            tokens.verify(token=f"{b64(header)}.{body}.", now=NOW)
        assert caught.value.details["reason"] == "typ"


def test_rotation_old_key_verifies_while_in_the_ring_and_fails_once_removed() -> None:
    before = _issuer(KEY_2025)
    old_token = before.issue(user_id="user-42", is_admin=False, now=NOW).token

    during = _issuer(KEY_2026, KEY_2025)  # new key prepended: it signs, the old one verifies
    assert during.verify(token=old_token, now=NOW).key_id == "2025-12"
    new_token = during.issue(user_id="user-42", is_admin=False, now=NOW).token
    assert during.verify(token=new_token, now=NOW).key_id == "2026-03"

    after = _issuer(KEY_2026)  # old key dropped after one token lifetime
    assert after.verify(token=new_token, now=NOW).user_id == "user-42"
    with pytest.raises(Unauthorized) as caught:
        after.verify(token=old_token, now=NOW)
    assert caught.value.details["reason"] == "kid"


def test_issue_refuses_an_empty_user_id_and_a_naive_now(tokens: AccessTokenIssuer) -> None:
    with pytest.raises(InvalidInput) as caught:
        tokens.issue(user_id="", is_admin=False, now=NOW)
    assert caught.value.argument == "user_id"
    with pytest.raises(InvalidInput) as caught:
        tokens.issue(user_id="u", is_admin=False, now=datetime(2026, 3, 2, 7, 30))
    assert caught.value.argument == "now"


@pytest.mark.parametrize(
    "keys",
    [
        [],
        [("2026-03", "short")],  # RFC 7518 §3.2: HS256 keys of at least 256 bits
        [("2026-03", "k" * 32), ("2026-03", "o" * 32)],  # duplicate kid
        [("bad kid!", "k" * 32)],
    ],
)
def test_a_bad_key_ring_is_a_configuration_error(keys: list[tuple[str, str]]) -> None:
    with pytest.raises(ConfigurationError):
        _issuer(*keys)


def test_a_bytes_secret_and_its_utf8_text_are_the_same_key() -> None:
    token = _issuer(("k1", "k" * 32)).issue(user_id="u", is_admin=False, now=NOW).token
    assert _issuer(("k1", b"k" * 32)).verify(token=token, now=NOW).user_id == "u"


def test_the_fake_server_stops_its_thread_on_exit() -> None:
    before = set(threading.enumerate())
    with running_oidc_server() as temporary:
        started = set(threading.enumerate()) - before
        assert temporary.issuer.startswith("http://127.0.0.1:")
    assert len(started) == 1
    assert not any(thread.is_alive() for thread in started)
