"""A fake Google OpenID Connect provider: a real HTTP server on 127.0.0.1 (Litestar + uvicorn).

It speaks Google's wire format as documented in "OpenID Connect" (developers.google.com/
identity/openid-connect/openid-connect) and Google's discovery document
(accounts.google.com/.well-known/openid-configuration):

- `GET /.well-known/openid-configuration`: discovery, endpoints on this server.
- `GET /o/oauth2/v2/auth`: auto-consent; `302` to `redirect_uri?state=...&code=...&scope=...`.
- `POST /token` (form): client_secret_post or client_secret_basic; one-time code, same
  `redirect_uri`, PKCE S256 check; answers `{access_token, expires_in, scope, token_type,
  id_token}` or Google's errors (`400 invalid_grant`, `400 redirect_uri_mismatch`,
  `401 invalid_client`).
- `GET /oauth2/v3/certs`: the JWKS; `GET /v1/userinfo` (Bearer): the user's claims.

Knobs (plain attributes, set them in a test, `reset()` between tests) make it misbehave:
wrong audience, wrong nonce, wrong issuer, expired id_token, unverified email, signing with a
key not in the JWKS, a failing token endpoint; `rotate_key()` publishes a new signing key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

_CODE_LIFETIME_S = 600  # Google: an authorization code is short-lived and single-use


@dataclass(frozen=True, kw_only=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    issued_at: int


@dataclass(frozen=True, kw_only=True)
class Callback:
    """What the browser brought back to the app's redirect URI."""

    code: str | None
    state: str | None
    error: str | None
    redirect_uri: str


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class FakeOidcServer:
    """State and knobs of one fake provider; `running_oidc_server` serves it on loopback."""

    def __init__(self, *, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.issuer = ""  # set once the server is listening
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self._key_serial = 1
        self._keys = [_new_key("fake-key-1")]
        self._rogue_key: RSAKey | None = None
        self.reset()

    def reset(self) -> None:
        """Restore well-behaved defaults and zero the counters (keys are kept)."""
        self.subject = "108123456789012345678"
        self.email = "Rita.Runner@Example.com"
        self.email_verified: object = True
        self.name: str | None = "Rita Runner"
        self.audience: str | None = None  # None: the client id
        self.nonce: str | None = None  # None: the nonce of the authorize request
        self.issuer_override: str | None = None
        self.id_token_lifetime_s = 3600
        self.now: datetime | None = None  # None: the real time
        self.sign_with_rogue_key = False
        self.token_endpoint_status: int | None = None
        self.discovery_requests = 0
        self.jwks_requests = 0
        self.token_requests = 0
        with self._lock:
            self._grants.clear()
            self._access_tokens.clear()

    def rotate_key(self) -> str:
        """Sign with a new key from now on; the JWKS lists it first and keeps the old one."""
        self._key_serial += 1
        kid = f"fake-key-{self._key_serial}"
        self._keys.insert(0, _new_key(kid))
        return kid

    # ---- the browser's side -------------------------------------------------------------

    async def authorize(self, url: str) -> Callback:
        """Play the browser: open the authorization URL and return where it redirects."""
        async with httpx.AsyncClient(follow_redirects=False, timeout=10.0) as browser:
            response = await browser.get(url)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        parts = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return Callback(
            code=query.get("code"),
            state=query.get("state"),
            error=query.get("error"),
            redirect_uri=f"{parts.scheme}://{parts.netloc}{parts.path}",
        )

    # ---- the provider's side ------------------------------------------------------------

    def _now_s(self) -> int:
        return int((self.now or datetime.now(UTC)).timestamp())

    def _discovery(self) -> dict[str, Any]:
        self.discovery_requests += 1
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/v1/userinfo",
            "jwks_uri": f"{base}/oauth2/v3/certs",
            "response_types_supported": ["code", "token", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }

    def _jwks(self) -> dict[str, Any]:
        self.jwks_requests += 1
        return {"keys": [key.as_dict(private=False) for key in self._keys]}

    def _authorize(self, params: dict[str, str]) -> Response[Any]:
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or not redirect_uri:
            # Google shows an error page rather than redirecting to an unverified URI.
            return Response({"error": "invalid_client"}, status_code=400)
        state = params.get("state")
        problem = None
        if params.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif "openid" not in params.get("scope", "").split():
            problem = "invalid_scope"
        elif params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problem = "invalid_request"
        answer: dict[str, str] = {}
        if state is not None:
            answer["state"] = state
        if problem is not None:
            answer["error"] = problem
        else:
            code = "4/0A" + secrets.token_urlsafe(32)
            with self._lock:
                self._grants[code] = _Grant(
                    client_id=self.client_id,
                    redirect_uri=redirect_uri,
                    code_challenge=params["code_challenge"],
                    nonce=params.get("nonce"),
                    scope=params["scope"],
                    issued_at=self._now_s(),
                )
            answer["code"] = code
            answer["scope"] = params["scope"]
        separator = "&" if "?" in redirect_uri else "?"
        return Redirect(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)

    def _token(self, form: dict[str, str], authorization: str | None) -> Response[Any]:
        self.token_requests += 1
        if self.token_endpoint_status is not None:
            return Response("<html>Server Error</html>", status_code=self.token_endpoint_status)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8")
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error("invalid_client", "Unauthorized", status_code=401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "Invalid grant_type")
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # single use, even on failure
        if grant is None or self._now_s() - grant.issued_at > _CODE_LIFETIME_S:
            return _oauth_error("invalid_grant", "Bad Request")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if not verifier:
            return _oauth_error("invalid_grant", "Missing code verifier.")
        # RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
        if _b64url(hashlib.sha256(verifier.encode("ascii")).digest()) != grant.code_challenge:
            return _oauth_error("invalid_grant", "Invalid code verifier.")
        access_token = "ya29." + secrets.token_urlsafe(32)
        claims = self._id_token_claims(grant, access_token)
        with self._lock:
            self._access_tokens[access_token] = claims
        return Response(
            {
                "access_token": access_token,
                "expires_in": 3599,
                "scope": grant.scope,
                "token_type": "Bearer",
                "id_token": self._sign(claims),
            }
        )

    def _id_token_claims(self, grant: _Grant, access_token: str) -> dict[str, Any]:
        now = self._now_s()
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims: dict[str, Any] = {
            "iss": self.issuer_override or self.issuer,
            "azp": self.audience or grant.client_id,
            "aud": self.audience or grant.client_id,
            "sub": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            # OIDC Core §3.1.3.6: left half of the SHA-256 of the access token, base64url.
            "at_hash": _b64url(digest[:16]),
            "iat": now,
            "exp": now + self.id_token_lifetime_s,
        }
        nonce = self.nonce if self.nonce is not None else grant.nonce
        if nonce is not None:
            claims["nonce"] = nonce
        if self.name is not None:
            claims["name"] = self.name
        return claims

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self._keys[0]
        if self.sign_with_rogue_key:
            # Same kid as the published key, different private key: a forged signature.
            if self._rogue_key is None:
                self._rogue_key = _new_key("rogue")
            key = self._rogue_key
        return jwt.encode({"alg": "RS256", "kid": self._keys[0].kid}, claims, key)

    def _userinfo(self, authorization: str | None) -> Response[Any]:
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            claims = self._access_tokens.get(token)
        if claims is None:
            return _oauth_error("invalid_token", "Invalid Credentials", status_code=401)
        keys = ("sub", "email", "email_verified", "name")
        return Response({k: claims[k] for k in keys if k in claims})

    def app(self) -> Litestar:
        """The ASGI app serving this provider."""

        @get("/.well-known/openid-configuration", sync_to_thread=False)
        def discovery() -> dict[str, Any]:
            return self._discovery()

        @get("/oauth2/v3/certs", sync_to_thread=False)
        def certs() -> dict[str, Any]:
            return self._jwks()

        @get("/o/oauth2/v2/auth", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            return self._authorize(dict(request.query_params.items()))

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = await request.form()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            return self._token(fields, request.headers.get("authorization"))

        @get("/v1/userinfo", sync_to_thread=False)
        def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
            return self._userinfo(request.headers.get("authorization"))

        return Litestar(
            route_handlers=[discovery, certs, authorize, token, userinfo],
            openapi_config=None,
            logging_config=None,  # leave the test process's logging alone
        )


def _oauth_error(error: str, description: str, *, status_code: int = 400) -> Response[Any]:
    return Response({"error": error, "error_description": description}, status_code=status_code)


@contextmanager
def running_oidc_server(
    *, client_id: str = "fake-client.apps.example", client_secret: str = "fake-client-secret"
) -> Iterator[FakeOidcServer]:
    """Serve a FakeOidcServer on 127.0.0.1 (ephemeral port) in a thread; stop it on exit."""
    fake = FakeOidcServer(client_id=client_id, client_secret=client_secret)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fake.issuer = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        fake.app(),
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OIDC server did not start")
            time.sleep(0.005)
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
