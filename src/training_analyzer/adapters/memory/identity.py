"""A fake OpenID Connect provider for `make run` and tests that need no server.

It keeps the real contract: codes are single-use, bound to their redirect URI and PKCE
challenge, and every sign-in mints ID-token claims that go through the same
`verify_id_token_claims` rule as the real adapter. Knobs (`audience`, `nonce`,
`id_token_lifetime_s`, `email_verified`) make it misbehave the way a provider or an attacker
could, so the contract tests can run the same cases against it and against the real adapter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from urllib.parse import urlencode

import msgspec

from training_analyzer.core.errors import Unauthorized
from training_analyzer.core.identity import (
    AuthorizationRequest,
    VerifiedIdentity,
    check_aware,
    check_code_verifier,
    check_opaque_value,
    check_redirect_uri,
    verify_id_token_claims,
)

_MAX_PENDING = 1000  # a dev server left running must not grow without bound


class _Grant(msgspec.Struct, frozen=True, kw_only=True):
    redirect_uri: str
    code_challenge: str
    nonce: str


class FakeOidcProvider:
    """Signs anyone in as the configured identity; `begin` redirects straight to the callback."""

    def __init__(
        self,
        *,
        subject: str = "fake-subject-1",
        email: str = "athlete@example.com",
        display_name: str | None = "Fake Athlete",
        email_verified: bool = True,
        provider_name: str = "fake",
        client_id: str = "fake-client",
        issuer: str = "https://fake-oidc.invalid",
        leeway_s: int = 60,
    ) -> None:
        self.subject = subject
        self.email = email
        self.display_name = display_name
        self.email_verified = email_verified
        self.audience: str | None = None  # None: the client id; anything else is foreign
        self.nonce: str | None = None  # None: the nonce given to `begin`'s request
        self.id_token_lifetime_s = 3600
        self._name = provider_name
        self._client_id = client_id
        self._issuer = issuer
        self._leeway_s = leeway_s
        self._grants: dict[str, _Grant] = {}
        self.sign_ins: list[VerifiedIdentity] = []

    @property
    def name(self) -> str:
        """The provider name recorded on identities."""
        return self._name

    async def begin(self, *, redirect_uri: str) -> AuthorizationRequest:
        """Return a URL of the app's own callback carrying a fresh code and the state."""
        check_redirect_uri(redirect_uri)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(32)
        code = secrets.token_urlsafe(32)
        if len(self._grants) >= _MAX_PENDING:
            del self._grants[next(iter(self._grants))]
        self._grants[code] = _Grant(
            redirect_uri=redirect_uri, code_challenge=_s256(code_verifier), nonce=nonce
        )
        separator = "&" if "?" in redirect_uri else "?"
        url = f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}"
        return AuthorizationRequest(
            provider=self._name, url=url, state=state, nonce=nonce, code_verifier=code_verifier
        )

    async def complete(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str, now: datetime
    ) -> VerifiedIdentity:
        """Redeem the code once and return the configured identity, checked like a real token."""
        check_opaque_value("code", code)
        check_code_verifier(code_verifier)
        check_opaque_value("nonce", nonce)
        check_redirect_uri(redirect_uri)
        check_aware("now", now)
        grant = self._grants.pop(code, None)  # single use, even when the rest fails
        if grant is None:
            raise Unauthorized("the sign-in code was refused", reason="invalid_grant")
        if grant.redirect_uri != redirect_uri:
            raise Unauthorized("the sign-in code was refused", reason="redirect_uri_mismatch")
        if not hmac.compare_digest(_s256(code_verifier), grant.code_challenge):
            raise Unauthorized("the sign-in code was refused", reason="invalid_grant")
        issued_at = int(now.timestamp())
        audience = self.audience or self._client_id
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": audience,
            "azp": audience,
            "sub": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            "iat": issued_at,
            "exp": issued_at + self.id_token_lifetime_s,
            "nonce": self.nonce if self.nonce is not None else grant.nonce,
        }
        if self.display_name is not None:
            claims["name"] = self.display_name
        identity = verify_id_token_claims(
            claims,
            provider=self._name,
            issuers={self._issuer},
            client_id=self._client_id,
            nonce=nonce,
            now=now,
            leeway_s=self._leeway_s,
        )
        self.sign_ins.append(identity)
        return identity


def _s256(code_verifier: str) -> str:
    # RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), no padding.
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
