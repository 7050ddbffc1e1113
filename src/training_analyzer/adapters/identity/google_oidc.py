"""Google sign-in: OpenID Connect authorization code flow with PKCE, through authlib.

Wire contract (Google "OpenID Connect" guide, developers.google.com/identity/openid-connect/
openid-connect, and OpenID Connect Core 1.0 / Discovery 1.0):

- Endpoints come from the discovery document; its `issuer` must be the discovery URL's prefix
  (Discovery §4.3), so a document cannot claim to speak for another issuer.
- The authorization URL carries `response_type=code`, `client_id`, `redirect_uri`,
  `scope=openid email profile`, `state`, `nonce` and a PKCE S256 `code_challenge` (RFC 7636).
- The code is exchanged with `AsyncOAuth2Client.fetch_token` (client_secret_post by default).
  `invalid_grant` (Google also answers `redirect_uri_mismatch`) means the code was refused:
  replayed, expired, for another redirect or with a wrong verifier -> Unauthorized.
- The `id_token` signature is checked with joserfc against the provider's JWKS (cached; fetched
  again once when a token names an unknown `kid`, which is how provider key rotation shows),
  then its claims by `core.identity.verify_id_token_claims`. Google's documented issuers are
  `https://accounts.google.com` and `accounts.google.com`; both are accepted for Google.
- Leeway for `exp`/`iat`: 60 s, for clock skew between us and the provider.

Endpoints must be https; plain http is allowed only on loopback hosts, for local fakes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.integrations.httpx_client import oauth2_client as _authlib_http
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from training_analyzer.core.errors import ConfigurationError, ExternalServiceError, Unauthorized
from training_analyzer.core.identity import (
    AuthorizationRequest,
    VerifiedIdentity,
    check_aware,
    check_code_verifier,
    check_opaque_value,
    check_redirect_uri,
    verify_id_token_claims,
)

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
ID_TOKEN_LEEWAY_S = 60
_WELL_KNOWN = "/.well-known/openid-configuration"
_GOOGLE_ISSUER = "https://accounts.google.com"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Refused codes: RFC 6749 §5.2 says invalid_grant; Google answers redirect_uri_mismatch for a
# code presented with another redirect URI.
_REFUSED_CODE_ERRORS = frozenset({"invalid_grant", "redirect_uri_mismatch"})
# authlib 1.9 speaks httpx2 (falling back to httpx); take the error base class from the module
# authlib itself imported, so transport failures are caught whichever library that is.
_HTTP_ERROR: type[Exception] = _authlib_http.httpx2.HTTPError
_MAX_ID_TOKEN_CHARS = 16384
# Asymmetric JWS algorithms (RFC 7518 §3.1); a symmetric or "none" alg is never accepted.
_ASYM = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})


class _ProviderMetadata(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    accepted_issuers: frozenset[str]
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: frozenset[str]


class AuthlibGoogleOidcProvider:
    """Google (or any OpenID Connect provider with a discovery document) via authlib + joserfc."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        discovery_url: str = GOOGLE_DISCOVERY_URL,
        provider_name: str = "google",
        scope: str = "openid email profile",
        token_endpoint_auth_method: str = "client_secret_post",  # noqa: S107 - a method name
        leeway_s: int = ID_TOKEN_LEEWAY_S,
        timeout_s: float = 10.0,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigurationError("Google sign-in needs a client id and a client secret")
        if not discovery_url.endswith(_WELL_KNOWN):
            raise ConfigurationError(f"the OIDC discovery URL must end with {_WELL_KNOWN}")
        _require_safe_url(discovery_url, error=ConfigurationError)
        if token_endpoint_auth_method not in {"client_secret_post", "client_secret_basic"}:
            raise ConfigurationError("token_endpoint_auth_method must be client_secret_post/basic")
        if leeway_s < 0 or timeout_s <= 0:
            raise ConfigurationError("leeway must be >= 0 and the timeout > 0")
        self._client_id = client_id
        self._client_secret = client_secret
        self._discovery_url = discovery_url
        self._name = provider_name
        self._scope = scope
        self._auth_method = token_endpoint_auth_method
        self._leeway_s = leeway_s
        self._timeout_s = timeout_s
        self._metadata: _ProviderMetadata | None = None
        self._keys: KeySet | None = None
        self._fetch_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The provider name recorded on identities ('google' unless configured otherwise)."""
        return self._name

    async def begin(self, *, redirect_uri: str) -> AuthorizationRequest:
        """Return the provider's authorization URL with fresh state, nonce and PKCE verifier."""
        check_redirect_uri(redirect_uri)
        metadata = await self._provider_metadata()
        # 256 bits each from the OS CSPRNG; 43 URL-safe characters is also the shortest
        # code_verifier RFC 7636 §4.1 allows.
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(32)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=state,
                code_verifier=code_verifier,
                nonce=nonce,
                redirect_uri=redirect_uri,
            )
        return AuthorizationRequest(
            provider=self._name, url=url, state=state, nonce=nonce, code_verifier=code_verifier
        )

    async def complete(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str, now: datetime
    ) -> VerifiedIdentity:
        """Exchange the code, verify the ID token and return the identity it vouches for."""
        check_opaque_value("code", code)
        check_code_verifier(code_verifier)
        check_opaque_value("nonce", nonce)
        check_redirect_uri(redirect_uri)
        check_aware("now", now)
        metadata = await self._provider_metadata()
        token = await self._exchange_code(
            metadata, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not 0 < len(id_token) <= _MAX_ID_TOKEN_CHARS:
            raise ExternalServiceError("the provider's token response has no usable id_token")
        claims = await self._verified_claims(metadata, id_token)
        return verify_id_token_claims(
            claims,
            provider=self._name,
            issuers=metadata.accepted_issuers,
            client_id=self._client_id,
            nonce=nonce,
            now=now,
            leeway_s=self._leeway_s,
        )

    def _client(self) -> AsyncOAuth2Client:
        # A client per operation: nothing is bound to an event loop between sign-ins, and
        # concurrent sign-ins share no mutable client state.
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope=self._scope,
            code_challenge_method="S256",
            token_endpoint_auth_method=self._auth_method,
            timeout=self._timeout_s,
        )

    async def _exchange_code(
        self, metadata: _ProviderMetadata, *, code: str, code_verifier: str, redirect_uri: str
    ) -> Mapping[str, Any]:
        try:
            async with self._client() as client:
                token: Mapping[str, Any] = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                )
        except OAuthError as error:
            if error.error in _REFUSED_CODE_ERRORS:
                raise Unauthorized(
                    "the sign-in code was refused (used, expired or not issued for this request)",
                    reason=error.error,
                ) from None
            raise ExternalServiceError(
                "the provider refused the token request", provider=self._name, error=error.error
            ) from None
        except (_HTTP_ERROR, ValueError) as error:
            raise ExternalServiceError(
                "the provider's token endpoint could not be used",
                provider=self._name,
                cause=type(error).__name__,
            ) from None
        return token

    async def _verified_claims(self, metadata: _ProviderMetadata, id_token: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError):
            raise Unauthorized("the id_token is malformed", reason="malformed") from None
        alg = header.get("alg")
        # Only the provider's asymmetric algorithms: never "none", never HS* keyed by a secret.
        if not isinstance(alg, str) or alg not in metadata.signing_algorithms:
            raise Unauthorized("the id_token uses an unexpected algorithm", reason="alg")
        kid = header.get("kid")
        keys = await self._signing_keys(metadata, refresh=False)
        if not _has_key(keys, kid):
            keys = await self._signing_keys(metadata, refresh=True)
            if not _has_key(keys, kid):
                raise Unauthorized("the id_token was signed with an unknown key", reason="kid")
        try:
            claims: dict[str, Any] = jwt.decode(id_token, keys, algorithms=[alg]).claims
        except BadSignatureError:
            raise Unauthorized("the id_token signature is invalid", reason="signature") from None
        except (JoseError, ValueError):
            raise Unauthorized("the id_token is malformed", reason="malformed") from None
        return claims

    async def _provider_metadata(self) -> _ProviderMetadata:
        if self._metadata is not None:
            return self._metadata
        async with self._fetch_lock:
            if self._metadata is None:
                document = await self._get_json(self._discovery_url, what="discovery document")
                self._metadata = self._parse_discovery(document)
            return self._metadata

    async def _signing_keys(self, metadata: _ProviderMetadata, *, refresh: bool) -> KeySet:
        stale = self._keys
        if stale is not None and not refresh:
            return stale
        async with self._fetch_lock:
            # Another sign-in may have refetched while this one waited: use its result.
            if self._keys is None or self._keys is stale:
                document = await self._get_json(metadata.jwks_uri, what="JWKS")
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, KeyError, TypeError):
                    raise ExternalServiceError(
                        "the provider's JWKS is malformed", provider=self._name
                    ) from None
            return self._keys

    async def _get_json(self, url: str, *, what: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.request("GET", url, withhold_token=True)
        except _HTTP_ERROR as error:
            raise ExternalServiceError(
                f"the provider's {what} could not be fetched",
                provider=self._name,
                cause=type(error).__name__,
            ) from None
        if response.status_code != 200:
            raise ExternalServiceError(
                f"the provider's {what} answered HTTP {response.status_code}",
                provider=self._name,
            )
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ExternalServiceError(f"the provider's {what} is not a JSON object")
        return document

    def _parse_discovery(self, document: Mapping[str, Any]) -> _ProviderMetadata:
        fields = {}
        for field in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(field)
            if not isinstance(value, str) or not value:
                raise ExternalServiceError(f"the provider's discovery document lacks {field}")
            fields[field] = value
        issuer = fields["issuer"]
        if issuer.rstrip("/") + _WELL_KNOWN != self._discovery_url:
            raise ExternalServiceError(
                "the discovery document names another issuer than its URL", issuer=issuer
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            _require_safe_url(fields[field], error=ExternalServiceError)
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ExternalServiceError("the provider does not support PKCE S256")
        advertised = document.get("id_token_signing_alg_values_supported")
        algorithms = frozenset(
            a for a in (advertised if isinstance(advertised, list) else ["RS256"]) if a in _ASYM
        )
        if not algorithms:
            raise ExternalServiceError("the provider signs id_tokens with no supported algorithm")
        accepted = {issuer}
        if issuer == _GOOGLE_ISSUER:
            # Google documents both forms of its issuer for ID tokens.
            accepted.add("accounts.google.com")
        return _ProviderMetadata(
            issuer=issuer,
            accepted_issuers=frozenset(accepted),
            authorization_endpoint=fields["authorization_endpoint"],
            token_endpoint=fields["token_endpoint"],
            jwks_uri=fields["jwks_uri"],
            signing_algorithms=algorithms,
        )


def _has_key(keys: KeySet, kid: object) -> bool:
    if kid is None:
        # OIDC Core §10.1: without a kid, the key set must hold exactly one signing key.
        return len(keys.keys) == 1
    return isinstance(kid, str) and any(key.kid == kid for key in keys.keys)


def _require_safe_url(url: str, *, error: type[ConfigurationError | ExternalServiceError]) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise error(f"{url!r} must be an https URL (plain http only on loopback)")
