"""Access tokens as HS256 JWTs (joserfc) with a rotating key ring; opaque refresh tokens.

Access token (RFC 9068 profile): header `{"alg": "HS256", "kid": <key id>, "typ": "at+jwt"}`,
claims `iss`, `aud`, `sub` (user id), `iat`, `exp`, `jti` (random id) and `adm` (is admin).
The `typ` marks the token as an access token, so no other JWT signed with the same key (or a
provider's ID token) can be replayed as one (RFC 9068 §4).

Key ring: a list of (kid, secret); the first entry signs, every entry verifies. Rotation is
"prepend the new key, deploy, wait one token lifetime, drop the old key". HS256 keys must be at
least 256 bits (RFC 7518 §3.2), so a shorter secret is a configuration error.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from training_analyzer.core.errors import ConfigurationError, InvalidInput, Unauthorized
from training_analyzer.core.identity import (
    AccessClaims,
    AccessToken,
    IssuedRefreshToken,
    check_aware,
    from_numeric_date,
    refresh_token_hash,
)

ACCESS_TOKEN_LIFETIME_S = 15 * 60
# Instances of one deployment can disagree on the time by a few seconds; 30 s tolerates that
# and is small next to the 15-minute lifetime.
ACCESS_TOKEN_LEEWAY_S = 30
_ALGORITHM = "HS256"
_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type (RFC 9068), not a secret
_MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: a key at least as long as the SHA-256 output
_MAX_TOKEN_CHARS = 8192  # ours are ~350 characters; refuse to parse anything far larger
_KID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_REFRESH_TOKEN_BYTES = 32  # 256 bits from the OS CSPRNG


class JwtAccessTokenIssuer:
    """Issues and verifies HS256 access JWTs; the first key of the ring signs, all verify."""

    def __init__(
        self,
        *,
        keys: Sequence[tuple[str, str | bytes]],
        issuer: str,
        audience: str,
        lifetime_s: int = ACCESS_TOKEN_LIFETIME_S,
        leeway_s: int = ACCESS_TOKEN_LEEWAY_S,
    ) -> None:
        if not keys:
            raise ConfigurationError("the access-token key ring is empty")
        ring: dict[str, OctKey] = {}
        for kid, secret in keys:
            if not kid or len(kid) > 64 or not set(kid) <= _KID_CHARS:
                raise ConfigurationError(
                    "access-token key ids must be 1-64 characters of letters, digits, '.', '_', '-'"
                )
            if kid in ring:
                raise ConfigurationError(f"access-token key id {kid!r} appears twice")
            raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
            if len(raw) < _MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"access-token key {kid!r} is shorter than {_MIN_SECRET_BYTES} bytes"
                )
            ring[kid] = OctKey.import_key(raw, {"kid": kid})
        if not issuer or not audience:
            raise ConfigurationError("access tokens need a non-empty issuer and audience")
        if lifetime_s <= 0 or leeway_s < 0:
            raise ConfigurationError("access-token lifetime must be > 0 and leeway >= 0")
        self._ring = ring
        self._signing_kid = keys[0][0]
        self._issuer = issuer
        self._audience = audience
        self._lifetime_s = lifetime_s
        self._leeway_s = leeway_s

    @property
    def signing_key_id(self) -> str:
        """The id of the key new tokens are signed with."""
        return self._signing_kid

    def issue(self, *, user_id: str, is_admin: bool, now: datetime) -> AccessToken:
        """Return a token for `user_id`, valid for the configured lifetime from `now`."""
        if not isinstance(user_id, str) or not user_id:
            raise InvalidInput("user_id", "must be a non-empty string")
        if not isinstance(is_admin, bool):
            raise InvalidInput("is_admin", "must be a boolean")
        check_aware("now", now)
        issued_at = int(now.timestamp())
        expires_at = issued_at + self._lifetime_s
        token_id = secrets.token_urlsafe(16)
        token = jwt.encode(
            {"alg": _ALGORITHM, "kid": self._signing_kid, "typ": _TOKEN_TYPE},
            {
                "iss": self._issuer,
                "aud": self._audience,
                "sub": user_id,
                "iat": issued_at,
                "exp": expires_at,
                "jti": token_id,
                "adm": is_admin,
            },
            self._ring[self._signing_kid],
            algorithms=[_ALGORITHM],
            default_type=None,
        )
        return AccessToken(token=token, token_id=token_id, expires_at=from_numeric_date(expires_at))

    def verify(self, *, token: str, now: datetime) -> AccessClaims:
        """Return the claims of a genuine token; Unauthorized for anything else."""
        check_aware("now", now)
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
            raise Unauthorized("the access token is malformed", reason="malformed")
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError):
            raise Unauthorized("the access token is malformed", reason="malformed") from None
        if header.get("typ") != _TOKEN_TYPE or header.get("alg") != _ALGORITHM:
            raise Unauthorized("the token is not an access token", reason="typ")
        kid = header.get("kid")
        key = self._ring.get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise Unauthorized("the access token was signed with an unknown key", reason="kid")
        try:
            claims = jwt.decode(token, key, algorithms=[_ALGORITHM]).claims
        except (JoseError, ValueError):
            raise Unauthorized(
                "the access token signature is invalid", reason="signature"
            ) from None
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=self._leeway_s,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            sub={"essential": True},
            jti={"essential": True},
            iat={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise Unauthorized("the access token has expired", reason="exp") from None
        except JoseError as error:
            raise Unauthorized(
                "the access token claims are invalid", reason="claims", claim=error.description
            ) from None
        is_admin = claims.get("adm")
        if not isinstance(is_admin, bool):
            raise Unauthorized("the access token claims are invalid", reason="claims", claim="adm")
        return AccessClaims(
            user_id=claims["sub"],
            is_admin=is_admin,
            token_id=claims["jti"],
            key_id=kid,
            issued_at=from_numeric_date(int(claims["iat"])),
            expires_at=from_numeric_date(int(claims["exp"])),
        )


def new_refresh_token() -> IssuedRefreshToken:
    """Return a new opaque refresh token (256 random bits, URL-safe) and its storage hash."""
    token = secrets.token_urlsafe(_REFRESH_TOKEN_BYTES)
    return IssuedRefreshToken(token=token, token_hash=refresh_token_hash(token))


def hash_refresh_token(token: str) -> str:
    """Return the storage hash of a presented refresh token (SHA-256 hex)."""
    return refresh_token_hash(token)


class SecretsRefreshTokenFactory:
    """Refresh tokens from the OS CSPRNG (`secrets`), stored as SHA-256 digests."""

    def new(self) -> IssuedRefreshToken:
        """Return a fresh random token and its storage hash."""
        return new_refresh_token()

    def hash(self, *, token: str) -> str:
        """Return the storage hash of a presented token."""
        return hash_refresh_token(token)
