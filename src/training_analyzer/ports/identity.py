"""Identity ports: password hashing, access and refresh tokens, and OpenID Connect sign-in.

Token issuing and refresh-token minting are synchronous like `Clock`: they are microseconds of
pure computation with no I/O. Password hashing is async because a good hash takes tens of
milliseconds of CPU and must leave the event loop free; sign-in is async because it talks to
the provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from training_analyzer.core.identity import (
    AccessClaims,
    AccessToken,
    AuthorizationRequest,
    IssuedRefreshToken,
    VerifiedIdentity,
)


class PasswordHasher(Protocol):
    """Slow, salted password hashing; passwords are compared in their NFKC form."""

    async def hash(self, *, password: str) -> str:
        """Return a self-describing hash (algorithm, parameters, salt) of the password.

        Raises InvalidInput('password') for a non-string or an over-long password.
        """
        ...

    async def verify(self, *, password: str, password_hash: str) -> bool:
        """Return whether the password matches; False (never an error) on a mismatch."""
        ...

    def needs_rehash(self, *, password_hash: str) -> bool:
        """Return whether the hash was made with other parameters and should be redone."""
        ...

    async def verify_dummy(self, *, password: str) -> None:
        """Spend the time of one `verify`, so an unknown email costs as much as a wrong password."""
        ...


class AccessTokenIssuer(Protocol):
    """Signs and verifies short-lived access tokens, with key ids so keys can rotate."""

    def issue(self, *, user_id: str, is_admin: bool, now: datetime) -> AccessToken:
        """Return a signed token for the user, valid from `now` for the issuer's lifetime.

        Raises InvalidInput for an empty user id or a naive `now`.
        """
        ...

    def verify(self, *, token: str, now: datetime) -> AccessClaims:
        """Return the claims of a genuine, unexpired token.

        Raises Unauthorized for a malformed, tampered, expired, foreign or unknown-key token.
        """
        ...


class RefreshTokenFactory(Protocol):
    """Mints opaque refresh tokens and computes the hash under which they are stored."""

    def new(self) -> IssuedRefreshToken:
        """Return a fresh random token and its storage hash."""
        ...

    def hash(self, *, token: str) -> str:
        """Return the storage hash of a presented token; InvalidInput if it is not token-shaped."""
        ...


class OidcProvider(Protocol):
    """An OpenID Connect provider driven through the authorization code flow with PKCE.

    `begin` returns an AuthorizationRequest whose `state`, `nonce` and `code_verifier` the
    caller persists server-side (short TTL, any instance may finish the flow); on the callback
    the caller matches `state` itself and passes the rest to `complete`.
    """

    @property
    def name(self) -> str:
        """The provider's stable name, stored with linked identities ('google', 'fake')."""
        ...

    async def begin(self, *, redirect_uri: str) -> AuthorizationRequest:
        """Start a sign-in that will come back to `redirect_uri`.

        Raises InvalidInput('redirect_uri') for a malformed URI, ExternalServiceError when the
        provider's configuration cannot be fetched.
        """
        ...

    async def complete(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str, now: datetime
    ) -> VerifiedIdentity:
        """Exchange the code and return the identity its verified ID token vouches for.

        Raises Unauthorized for a refused, replayed or foreign code, a wrong verifier, and an ID
        token that is badly signed, expired, for another client, for another nonce or for an
        unverified email; InvalidInput for malformed arguments; ExternalServiceError when the
        provider cannot be reached or answers nonsense.
        """
        ...
