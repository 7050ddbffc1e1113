"""Accounts: users, refresh-token sessions, linked identities, subscriptions, usage, audit.

These are the records the product keeps about people and their money, as plain frozen data.
Times are aware UTC datetimes supplied by the caller (the core reads no clock); money is in
integer cents; counts are integers. Secrets are never stored in clear: a session keeps the hash
of its refresh token, a user the argon2 hash of the password.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

from training_analyzer.core import identity
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.tiers import Tier


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(name, "must be a timezone-aware datetime (UTC)")


def _non_empty(name: str, value: str | None) -> None:
    if value is not None and not value.strip():
        raise InvalidInput(name, "must not be empty")


def normalize_email(email: str) -> str:
    """The canonical form of an email address used for lookups and storage.

    One rule for the whole product: this delegates to `core.identity.normalize_email`
    (trimmed, NFC, lower-cased, checked; the error never echoes the address).
    """
    return identity.normalize_email(email)


class Role(enum.StrEnum):
    """What an account may do beyond its own data."""

    USER = "user"
    ADMIN = "admin"


class User(msgspec.Struct, frozen=True, kw_only=True):
    """An account. `email` is stored normalised (see `normalize_email`)."""

    id: str
    email: str
    display_name: str
    created_at: datetime
    updated_at: datetime
    role: Role = Role.USER
    password_hash: str | None = None
    email_verified: bool = False
    # IANA zone name; days, weeks and quota windows are bucketed in it.
    timezone: str = "UTC"
    disabled_at: datetime | None = None

    def __post_init__(self) -> None:
        _non_empty("id", self.id)
        if normalize_email(self.email) != self.email:
            raise InvalidInput("email", "must be normalised (see normalize_email)")
        _aware("created_at", self.created_at)
        _aware("updated_at", self.updated_at)
        _aware("disabled_at", self.disabled_at)
        _non_empty("timezone", self.timezone)

    @property
    def is_disabled(self) -> bool:
        """True when the account has been disabled."""
        return self.disabled_at is not None


class RefreshSession(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh-token session. Rotation revokes a session and names its successor.

    `family_id` is shared by every session rotated from one login, so presenting an already
    rotated token (a sign of theft) can revoke the whole family.
    """

    id: str
    user_id: str
    family_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    replaced_by: str | None = None
    user_agent: str | None = None
    ip: str | None = None

    def __post_init__(self) -> None:
        _non_empty("id", self.id)
        _non_empty("user_id", self.user_id)
        _non_empty("token_hash", self.token_hash)
        _aware("created_at", self.created_at)
        _aware("expires_at", self.expires_at)
        _aware("revoked_at", self.revoked_at)
        if self.expires_at <= self.created_at:
            raise InvalidInput("expires_at", "must be after created_at")

    def is_active(self, now: datetime) -> bool:
        """True when the session is neither revoked nor expired at `now`."""
        return self.revoked_at is None and now < self.expires_at


class IdentityProvider(enum.StrEnum):
    """External accounts a user can link.

    FAKE is the development stand-in for Google (`adapters.memory.identity.FakeOidcProvider`,
    wired when no Google client id is configured). Its identities are stored under their own
    name so a development database never holds a "google" link that no Google account backs.
    """

    GOOGLE = "google"
    GARMIN = "garmin"
    STRAVA = "strava"
    FAKE = "fake"


class LinkedIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """A link between a user and an external account (`subject` is the provider's user id)."""

    id: str
    user_id: str
    provider: IdentityProvider
    subject: str
    created_at: datetime
    email: str | None = None

    def __post_init__(self) -> None:
        _non_empty("id", self.id)
        _non_empty("subject", self.subject)
        _aware("created_at", self.created_at)


class SubscriptionStatus(enum.StrEnum):
    """Lifecycle of a paid subscription (the states Stripe reports)."""

    ACTIVE = "active"
    TRIALING = "trialing"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    INCOMPLETE = "incomplete"
    CANCELED = "canceled"


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """A user's current subscription (one per user).

    `event_at` is the provider time of the event that produced this state; storage keeps the
    newest, so webhooks arriving out of order cannot roll a subscription back.
    """

    user_id: str
    tier: Tier
    status: SubscriptionStatus
    event_at: datetime
    updated_at: datetime
    provider_customer_id: str | None = None
    provider_subscription_id: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False

    def __post_init__(self) -> None:
        _non_empty("user_id", self.user_id)
        _aware("event_at", self.event_at)
        _aware("updated_at", self.updated_at)
        _aware("current_period_end", self.current_period_end)


class PaymentEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A payment-provider webhook event, stored once by its id (idempotency)."""

    id: str
    type: str
    received_at: datetime
    user_id: str | None = None
    processed_at: datetime | None = None
    amount_cents: int | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        _non_empty("id", self.id)
        _non_empty("type", self.type)
        _aware("received_at", self.received_at)
        _aware("processed_at", self.processed_at)


class UsageCounter(msgspec.Struct, frozen=True, kw_only=True):
    """Uses of a feature by a user in one window (`window_key` e.g. "2024-05" or "2024-05-01")."""

    user_id: str
    feature: str
    window_key: str
    used: int

    def __post_init__(self) -> None:
        if self.used < 0:
            raise InvalidInput("used", f"must be >= 0, got {self.used}")


class UsageGrant(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to "consume one use if below the limit": granted or not, and the count after."""

    granted: bool
    used: int


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A security-relevant event (`action` is a dotted verb, e.g. "auth.login_failed").

    `user_id` is None for events about no known account (a failed login for an unknown email).
    `details` must not hold secrets, tokens or raw payloads.
    """

    id: str
    action: str
    at: datetime
    user_id: str | None = None
    ip: str | None = None
    details: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        _non_empty("id", self.id)
        _non_empty("action", self.action)
        _aware("at", self.at)


class OidcFlow(msgspec.Struct, frozen=True, kw_only=True):
    """A started external sign-in, kept server-side until its callback (any instance may finish).

    Keyed by `state_hash`, a SHA-256 hex digest of the `state` the browser carries together
    with the browser binding from its sign-in cookie, so the stored row alone cannot be
    matched to a callback URL and a callback from another browser finds nothing.
    `code_verifier` never reaches the browser; `nonce` is the copy trusted when checking the ID
    token; `redirect_uri` is the callback the provider was told (the code exchange must repeat
    it); `return_to` is where the browser goes after a successful sign-in, if the caller asked
    for somewhere.
    """

    state_hash: str
    provider: IdentityProvider
    code_verifier: str
    nonce: str
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    return_to: str | None = None

    def __post_init__(self) -> None:
        _non_empty("state_hash", self.state_hash)
        _non_empty("code_verifier", self.code_verifier)
        _non_empty("nonce", self.nonce)
        _non_empty("redirect_uri", self.redirect_uri)
        _aware("created_at", self.created_at)
        _aware("expires_at", self.expires_at)
        if self.expires_at <= self.created_at:
            raise InvalidInput("expires_at", "must be after created_at")

    def is_live(self, now: datetime) -> bool:
        """True while the flow may still be completed at `now`."""
        return now < self.expires_at


class RateLimitHit(msgspec.Struct, frozen=True, kw_only=True):
    """One more attempt counted against `key`: the count in the current window, and its end.

    A window opens at the first hit after the previous one ended and lasts a fixed time;
    `count` includes the hit just made.
    """

    key: str
    count: int
    reset_at: datetime

    def __post_init__(self) -> None:
        _non_empty("key", self.key)
        if self.count < 1:
            raise InvalidInput("count", f"must be >= 1, got {self.count}")
        _aware("reset_at", self.reset_at)
