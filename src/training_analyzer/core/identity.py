"""Identity: the types the identity ports speak in, and the pure rules behind sign-in.

Rules decided here (adapters and services apply them, they never re-decide them):

- **Emails** are normalised by `normalize_email`: surrounding whitespace stripped, Unicode NFC,
  the *whole* address lower-cased. RFC 5321 §2.4 lets a local part be case-sensitive, but
  almost no mail provider treats it so, and two accounts that differ only in case would be a
  support and take-over trap. Dots and `+tags` are kept: removing them is a Gmail habit that
  would merge distinct mailboxes elsewhere. Malformed addresses raise InvalidInput naming
  `email` with a neutral message that never echoes the address.
- **Passwords** (NIST SP 800-63B §3.1.1.2 / §5.1.1.2): any characters, compared after Unicode
  NFKC normalisation so the same password typed on two keyboards verifies; at least 10 and at
  most 1024 characters (counted after normalisation). The upper bound caps hashing work.
- **Refresh tokens** carry 256 random bits, so they are stored as a plain SHA-256 hex digest
  (`refresh_token_hash`): with that much entropy a slow hash buys nothing against guessing,
  and a deterministic digest can be looked up by index. The database never holds the token.
- **ID tokens** are checked by `verify_id_token_claims` (OpenID Connect Core 1.0 §3.1.3.7)
  once an adapter has verified the signature; the fake provider applies the same rule.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import unicodedata
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import msgspec

from training_analyzer.core.errors import InvalidInput, Unauthorized

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024

# RFC 5321 §4.5.3.1.1-3: local part <= 64 octets, domain <= 255 octets, and a path of at most
# 256 octets including the angle brackets leaves 254 for the address itself.
_EMAIL_MAX_OCTETS = 254
_LOCAL_MAX_OCTETS = 64
_DOMAIN_LABEL_MAX = 63
# RFC 5322 §3.2.3 "atext"; dots are handled separately (dot-atom).
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")

# RFC 7636 §4.1: code_verifier = 43*128unreserved.
_VERIFIER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CODE_VERIFIER_MIN = 43
_CODE_VERIFIER_MAX = 128
# Neither RFC 6749 nor Google bounds a code's length; 2048 is far above what providers issue
# and keeps junk out of logs and the token request.
_OPAQUE_VALUE_MAX = 2048
_REFRESH_TOKEN_MAX = 512
# OpenID Connect Core 1.0 §2: "sub" MUST NOT exceed 255 ASCII characters.
_SUBJECT_MAX = 255


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A started sign-in: send the browser to `url`; persist the rest server-side until callback.

    `state` must come back unchanged on the callback. `nonce` travels in `url` but only the
    server-side copy is trusted when checking the ID token; `code_verifier` must never reach
    the browser (only its S256 challenge does).
    """

    provider: str
    url: str
    state: str
    nonce: str
    code_verifier: str


class VerifiedIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the provider vouches for; key accounts on (`provider`, `subject`), never on email."""

    provider: str
    subject: str
    email: str  # normalised with `normalize_email`
    email_verified: bool
    name: str | None = None


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """A signed, short-lived bearer token and when it stops being accepted."""

    token: str
    token_id: str
    expires_at: datetime


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    """What a verified access token says about its bearer."""

    user_id: str
    is_admin: bool
    token_id: str
    key_id: str
    issued_at: datetime
    expires_at: datetime


class IssuedRefreshToken(msgspec.Struct, frozen=True, kw_only=True):
    """A new opaque refresh token: `token` goes to the client once, `token_hash` is stored."""

    token: str
    token_hash: str


def normalize_email(email: str) -> str:
    """Return the canonical form of an address (see module doc) or raise InvalidInput('email')."""
    if not isinstance(email, str):
        raise InvalidInput("email", "must be a string")
    candidate = unicodedata.normalize("NFC", email.strip()).lower()
    if not _is_plausible_email(candidate):
        raise InvalidInput("email", "is not a valid email address")
    return candidate


def _is_plausible_email(address: str) -> bool:
    if len(address.encode("utf-8")) > _EMAIL_MAX_OCTETS or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    return _is_local_part(local) and _is_domain(domain)


def _is_local_part(local: str) -> bool:
    if not local or len(local.encode("utf-8")) > _LOCAL_MAX_OCTETS:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    # RFC 6531 §3.3 extends atext with any non-ASCII character; exclude spaces and controls.
    return all(
        c == "." or c in _ATEXT or (ord(c) > 127 and c.isprintable() and not c.isspace())
        for c in local
    )


def _is_domain(domain: str) -> bool:
    # ASCII (A-label) domains only: converting Unicode domains needs IDNA 2008, which the
    # standard library lacks; browsers and mail clients send punycode ("xn--...") anyway.
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    for label in labels:
        if not 1 <= len(label) <= _DOMAIN_LABEL_MAX:
            return False
        if label.startswith("-") or label.endswith("-") or not set(label) <= _LABEL_CHARS:
            return False
    # A top-level domain is never all digits (RFC 3696 §2), which also rejects bare IPv4.
    return not labels[-1].isdigit()


def normalize_password(password: str) -> str:
    """Return the NFKC form of a password, the form that is hashed and verified."""
    if not isinstance(password, str):
        raise InvalidInput("password", "must be a string")
    return unicodedata.normalize("NFKC", password)


def check_password_rules(password: str) -> None:
    """Raise InvalidInput('password') unless a new password is 10 to 1024 characters long."""
    length = len(normalize_password(password))
    if length < PASSWORD_MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if length > PASSWORD_MAX_LENGTH:
        raise InvalidInput("password", f"must be at most {PASSWORD_MAX_LENGTH} characters")


def refresh_token_hash(token: str) -> str:
    """Return the stored form of a refresh token: the SHA-256 hex digest of its UTF-8 bytes."""
    if not isinstance(token, str) or not 1 <= len(token) <= _REFRESH_TOKEN_MAX:
        raise InvalidInput("refresh_token", "is not a well-formed refresh token")
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_code_verifier(code_verifier: str) -> None:
    """Raise InvalidInput('code_verifier') unless it is 43-128 unreserved characters (RFC 7636)."""
    if (
        not isinstance(code_verifier, str)
        or not _CODE_VERIFIER_MIN <= len(code_verifier) <= _CODE_VERIFIER_MAX
        or not set(code_verifier) <= _VERIFIER_CHARS
    ):
        raise InvalidInput("code_verifier", "must be 43 to 128 unreserved characters (RFC 7636)")


def check_opaque_value(argument: str, value: str) -> None:
    """Raise InvalidInput(argument) unless `value` is a short, non-empty, printable token."""
    if not isinstance(value, str) or not 1 <= len(value) <= _OPAQUE_VALUE_MAX:
        raise InvalidInput(argument, f"must be 1 to {_OPAQUE_VALUE_MAX} characters")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidInput(argument, "must not contain spaces or control characters")


def check_redirect_uri(redirect_uri: str) -> None:
    """Raise InvalidInput('redirect_uri') unless it is an absolute http(s) URL without fragment."""
    check_opaque_value("redirect_uri", redirect_uri)
    scheme, sep, rest = redirect_uri.partition("://")
    # RFC 6749 §3.1.2: an absolute URI that MUST NOT include a fragment.
    if not sep or scheme.lower() not in {"http", "https"} or not rest or "#" in redirect_uri:
        raise InvalidInput("redirect_uri", "must be an absolute http(s) URL without a fragment")


def check_aware(argument: str, instant: datetime) -> None:
    """Raise InvalidInput(argument) unless `instant` is a timezone-aware datetime."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise InvalidInput(argument, "must be a timezone-aware datetime")


def verify_id_token_claims(
    claims: Mapping[str, object],
    *,
    provider: str,
    issuers: Collection[str],
    client_id: str,
    nonce: str,
    now: datetime,
    leeway_s: int,
) -> VerifiedIdentity:
    """Check a signature-verified ID token's claims (OIDC Core §3.1.3.7); return who it names.

    Raises Unauthorized (with a `reason` detail) when the token is for another issuer or client,
    expired, issued in the future, carries another nonce, or vouches for an unverified email.
    """
    check_aware("now", now)
    now_s = now.timestamp()

    iss = claims.get("iss")
    if not isinstance(iss, str) or iss not in issuers:
        raise Unauthorized("the id_token was not issued by the expected provider", reason="iss")

    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise Unauthorized("the id_token was issued for another client", reason="aud")
    azp = claims.get("azp")
    # §3.1.3.7 items 4-5: with several audiences the authorised party must be us.
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise Unauthorized("the id_token was issued for another client", reason="azp")

    exp = _numeric_date(claims, "exp")
    if now_s >= exp + leeway_s:
        raise Unauthorized("the id_token has expired", reason="exp")
    iat = _numeric_date(claims, "iat")
    if iat > now_s + leeway_s:
        raise Unauthorized("the id_token was issued in the future", reason="iat")

    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode("utf-8"), nonce.encode("utf-8")
    ):
        raise Unauthorized("the id_token does not belong to this sign-in", reason="nonce")

    sub = claims.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= _SUBJECT_MAX or not sub.isascii():
        raise Unauthorized("the id_token names no valid subject", reason="sub")

    email = claims.get("email")
    if not isinstance(email, str):
        raise Unauthorized("the provider did not share an email address", reason="email")
    try:
        normalized = normalize_email(email)
    except InvalidInput:
        raise Unauthorized(
            "the provider shared a malformed email address", reason="email"
        ) from None
    if not _is_true(claims.get("email_verified")):
        raise Unauthorized(
            "the email address is not verified by the provider", reason="email_verified"
        )

    name = claims.get("name")
    return VerifiedIdentity(
        provider=provider,
        subject=sub,
        email=normalized,
        email_verified=True,
        name=name if isinstance(name, str) and name else None,
    )


def _numeric_date(claims: Mapping[str, object], claim: str) -> float:
    value = claims.get(claim)
    seconds = math.nan
    # RFC 7519 §2 NumericDate: a finite JSON number; a bool is an int in Python and must not
    # pass, and an int beyond float range (Python's json accepts it) is not a date either.
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.nan
    if not math.isfinite(seconds):
        raise Unauthorized(f"the id_token has no valid '{claim}' time", reason=claim)
    return seconds


def _is_true(value: object) -> bool:
    # Google documents a boolean, but some providers (and old Google tokens) send "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


def from_numeric_date(seconds: int) -> datetime:
    """Return the aware UTC datetime for an RFC 7519 NumericDate (whole seconds since epoch)."""
    return datetime.fromtimestamp(seconds, UTC)
