"""Accounts and identity: registration, sign-in (password and Google), token sessions, the
account itself, its deletion, and the administrator's audit view.

Choices a caller may ask about (docs/security.md and docs/decisions/0011-0014 say why):

- **Login never tells whether an email exists**: an unknown email, a wrong password, an account
  without a password and a disabled account all answer `Unauthorized("invalid email or
  password")`, and an unknown email runs a dummy password check so it costs the same time.
- **Registration cannot hide it completely**: a successful registration is itself the answer
  "this email was free". A taken email gets a Conflict that does not say why ("cannot register
  with this email address"); the password is hashed first either way (same timing), both
  counters (per IP and per email) are hit first, and the attempt is audited. The address
  owner learns nothing new and a prober pays a rate-limited request per guess.
- **Google sign-in** keys the account on the provider's `sub`. A first sign-in creates a Free
  account (no subscription row). An existing account with the same email is linked only when
  the provider vouches for the email (`email_verified`); if that account's own email was never
  verified, its password is dropped and its sessions revoked, because whoever set them may
  have registered the address before its owner did ("pre-hijacking").
- **A Google sign-in is bound to the browser that started it** (RFC 6749 §10.12): the start
  hands back a random browser binding, which the entrypoint keeps in an HttpOnly cookie, and
  the flow is stored under the digest of state and binding together. A callback is looked up
  with the binding its request carries, so another browser's callback (login CSRF: an
  attacker's code and state delivered to a victim) finds no flow and creates nothing.
- **Refresh tokens rotate on every use**; presenting one already rotated away (or losing a
  race to rotate it) revokes the whole family and is audited as reuse.
- Times come from the Clock port; ids from `training_analyzer.ids.new_id`.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from importlib import resources
from urllib.parse import urlsplit

import msgspec
import structlog

from training_analyzer.core.accounts import (
    AuditEvent,
    IdentityProvider,
    LinkedIdentity,
    OidcFlow,
    RefreshSession,
    Role,
    User,
)
from training_analyzer.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from training_analyzer.core.identity import (
    AccessClaims,
    VerifiedIdentity,
    check_opaque_value,
    check_password_rules,
    normalize_email,
)
from training_analyzer.core.quotas import zone
from training_analyzer.core.tiers import Tier
from training_analyzer.ids import new_id
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.identity import (
    AccessTokenIssuer,
    OidcProvider,
    PasswordHasher,
    RefreshTokenFactory,
)
from training_analyzer.ports.storage import Storage, SystemUnitOfWork, UnitOfWork
from training_analyzer.services.gates import FeatureGate
from training_analyzer.services.rate_limits import (
    RateLimit,
    RateLimiter,
    RateRule,
    account_key,
    ip_key,
)

log = structlog.get_logger(__name__)

TOKEN_TYPE = "Bearer"  # noqa: S105 - the OAuth 2.0 token type (RFC 6750), not a secret
DISPLAY_NAME_MAX = 100
USER_AGENT_MAX = 512
IP_MAX = 64
RETURN_TO_MAX = 2048
SIGN_IN_FLOW_TTL_S = 600
INVALID_CREDENTIALS = "invalid email or password"
REGISTRATION_REFUSED = "cannot register with this email address"


class Action(enum.StrEnum):
    """Audit actions (dotted verbs) written by this service."""

    REGISTERED = "auth.registered"
    REGISTER_REFUSED = "auth.register_refused"
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    EXTERNAL_SIGN_IN_FAILED = "auth.external_sign_in_failed"
    IDENTITY_LINKED = "auth.identity_linked"
    REFRESH_REUSED = "auth.refresh_reused"
    LOGGED_OUT = "auth.logged_out"
    SESSION_REVOKED = "auth.session_revoked"
    PROFILE_UPDATED = "account.updated"
    ACCOUNT_DELETED = "account.deleted"
    ADMIN_GRANTED = "admin.granted"
    ADMIN_AUDIT_VIEWED = "admin.audit_viewed"


class ClientInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: the client address and user agent, as the entrypoint saw them."""

    ip: str | None = None
    user_agent: str | None = None

    def clipped(self) -> ClientInfo:
        """The same info cut to storable lengths (both are client-controlled)."""
        agent = self.user_agent
        if agent is not None:
            agent = "".join(c for c in agent if c.isprintable())[:USER_AGENT_MAX] or None
        ip = self.ip[:IP_MAX] if self.ip else None
        return ClientInfo(ip=ip, user_agent=agent)


class AuthPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The numbers and origins the service enforces (from settings)."""

    refresh_token_ttl_s: int
    login_per_ip: RateLimit
    login_per_account: RateLimit
    register_per_ip: RateLimit
    register_per_account: RateLimit
    sign_in_flow_ttl_s: int = SIGN_IN_FLOW_TTL_S
    # Where a finished Google sign-in may send the browser (scheme://host[:port] origins).
    return_origins: frozenset[str] = frozenset()


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    """An OAuth 2.0-shaped token response (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = TOKEN_TYPE


class SignInResult(msgspec.Struct, frozen=True, kw_only=True):
    """A finished external sign-in: the tokens, whether an account was created, where to go."""

    tokens: TokenPair
    user_id: str
    created: bool
    return_to: str | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """The account as its owner sees it."""

    id: str
    email: str
    display_name: str
    timezone: str
    role: Role
    email_verified: bool
    has_password: bool
    tier: Tier
    linked_providers: tuple[IdentityProvider, ...]
    created_at: datetime


class SessionView(msgspec.Struct, frozen=True, kw_only=True):
    """One active refresh-token session, without its secret."""

    id: str
    created_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None


class _Refused(msgspec.Struct, frozen=True, kw_only=True):
    """A failure decided inside a transaction that must still commit (audit, revocation)."""

    error: Exception


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_browser_binding() -> str:
    """A fresh browser binding for an external sign-in: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _flow_key(state: str, browser_binding: str) -> str:
    """The stored key of a sign-in flow: the digest of its state and its browser binding.

    Neither value holds whitespace (check_opaque_value), so the newline cannot be forged.
    Looking the digest up is the comparison: no secret is compared byte by byte in Python.
    """
    return _sha256(f"{state}\n{browser_binding}")


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA zone names of the bundled tz database (`tzdata`), without "Factory"."""
    try:
        text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - tzdata is a dependency
        import zoneinfo

        return frozenset(zoneinfo.available_timezones() - {"Factory", "localtime"})
    return frozenset(text.split()) - {"Factory"}


def check_timezone(timezone: str) -> str:
    """Return `timezone` if it names an IANA zone, else raise InvalidInput('timezone').

    The host's own files are not enough: "localtime", "posixrules" or "right/UTC" may exist on
    one machine and not on another, so the name must be in the IANA list too.
    """
    if not isinstance(timezone, str) or timezone not in iana_zones():
        raise InvalidInput("timezone", "must be an IANA time zone name such as Europe/Berlin")
    zone(timezone)
    return timezone


def check_display_name(display_name: str) -> str:
    """Return a display name trimmed and NFC-normalised: 1-100 printable characters."""
    if not isinstance(display_name, str):
        raise InvalidInput("display_name", "must be a string")
    value = unicodedata.normalize("NFC", display_name).strip()
    if not 1 <= len(value) <= DISPLAY_NAME_MAX:
        raise InvalidInput("display_name", f"must be 1 to {DISPLAY_NAME_MAX} characters")
    if not value.isprintable():
        raise InvalidInput("display_name", "must not contain control characters")
    return value


def default_display_name(email: str, name: str | None = None) -> str:
    candidate = (name or "").strip() or email.split("@", 1)[0]
    try:
        return check_display_name(candidate[:DISPLAY_NAME_MAX])
    except InvalidInput:
        return "Athlete"


class AccountService:
    """Use cases of accounts and identity, on ports only."""

    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock,
        passwords: PasswordHasher,
        access_tokens: AccessTokenIssuer,
        refresh_tokens: RefreshTokenFactory,
        oidc: OidcProvider,
        policy: AuthPolicy,
        gate: FeatureGate,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._passwords = passwords
        self._access = access_tokens
        self._refresh = refresh_tokens
        self._oidc = oidc
        self._policy = policy
        # The tier shown on /me is the one the gate enforces (grace period included).
        self._gate = gate
        self._limiter = RateLimiter(storage=storage, clock=clock)

    @property
    def sign_in_flow_ttl_s(self) -> int:
        """How long a started external sign-in (and its browser binding) stays usable."""
        return self._policy.sign_in_flow_ttl_s

    @property
    def oidc_provider(self) -> IdentityProvider:
        """The provider that stands behind "Sign in with Google" in this deployment."""
        return IdentityProvider(self._oidc.name)

    # ---- registration and password login ----------------------------------------------------

    async def register(
        self, *, email: str, password: str, display_name: str | None, client: ClientInfo
    ) -> TokenPair:
        """Create a password account and sign it in.

        Raises InvalidInput (email, password, display_name), RateLimited, and Conflict with a
        generic message when the email cannot be used (see module doc).
        """
        client = client.clipped()
        normalized = normalize_email(email)
        check_password_rules(password)
        name = (
            check_display_name(display_name)
            if display_name is not None
            else default_display_name(normalized)
        )
        await self._limiter.check(
            action="register",
            rules=[
                RateRule(key=ip_key("register", client.ip), limit=self._policy.register_per_ip),
                RateRule(
                    key=account_key("register", normalized),
                    limit=self._policy.register_per_account,
                ),
            ],
        )
        # Hash before looking the email up, so a taken email answers as slowly as a free one.
        password_hash = await self._passwords.hash(password=password)
        now = self._clock.now()
        user = User(
            id=new_id(),
            email=normalized,
            display_name=name,
            created_at=now,
            updated_at=now,
            password_hash=password_hash,
        )
        outcome: TokenPair | _Refused
        async with self._storage.system(reason="register") as uow:
            existing = await uow.directory.find_user_by_email(email=normalized)
            if existing is None:
                try:
                    await uow.users.add(user_id=user.id, user=user)
                except Conflict:  # registered concurrently by another request
                    existing = await uow.directory.find_user_by_email(email=normalized)
            if existing is not None:
                await record(uow, Action.REGISTER_REFUSED, existing.id, client, now)
                outcome = _Refused(error=Conflict(REGISTRATION_REFUSED))
            else:
                await record(uow, Action.REGISTERED, user.id, client, now, method="password")
                outcome = await self._start_session(uow, user, client, now)
        if isinstance(outcome, _Refused):
            raise outcome.error
        log.info("auth.registered", user_id=user.id, method="password")
        return outcome

    async def login(self, *, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Sign in with email and password.

        Raises Unauthorized with one generic message for every kind of failure, InvalidInput
        for a malformed email, RateLimited over the per-IP limit (every attempt counts) or the
        per-account limit (only failed attempts count).
        """
        client = client.clipped()
        normalized = normalize_email(email)
        if not isinstance(password, str):
            raise InvalidInput("password", "must be a string")
        await self._limiter.check(
            action="login",
            rules=[RateRule(key=ip_key("login", client.ip), limit=self._policy.login_per_ip)],
        )
        # Per account only failures use the budget: a success is forgiven below, so nobody is
        # locked out by their own logins (an attacker's failures still trip it, by design).
        account_rule = RateRule(
            key=account_key("login", normalized), limit=self._policy.login_per_account
        )
        window_end = await self._limiter.check_failures(action="login", rule=account_rule)
        async with self._storage.system(reason="login-lookup") as uow:
            user = await uow.directory.find_user_by_email(email=normalized)
        # The slow check runs outside any transaction, so it never holds the database.
        reason: str | None = None
        if user is None or user.password_hash is None:
            await self._passwords.verify_dummy(password=password)
            reason = "unknown_email" if user is None else "no_password"
        elif not await self._passwords.verify(password=password, password_hash=user.password_hash):
            reason = "wrong_password"
        elif user.is_disabled:
            reason = "disabled"
        now = self._clock.now()
        if reason is not None or user is None:
            async with self._storage.system(reason="login-failed") as uow:
                await record(
                    uow,
                    Action.LOGIN_FAILED,
                    user.id if user is not None else None,
                    client,
                    now,
                    reason=reason or "unknown_email",
                )
            log.info("auth.login_failed", reason=reason)
            raise Unauthorized(INVALID_CREDENTIALS)
        rehash = None
        if self._passwords.needs_rehash(password_hash=user.password_hash or ""):
            rehash = await self._passwords.hash(password=password)
        async with self._storage.system(reason="login") as uow:
            if rehash is not None:
                fresh = await uow.users.get(user_id=user.id)
                if fresh is not None:
                    updated = msgspec.structs.replace(fresh, password_hash=rehash, updated_at=now)
                    await uow.users.update(user_id=user.id, user=updated)
            await record(uow, Action.LOGIN_SUCCEEDED, user.id, client, now, method="password")
            await self._limiter.forgive(uow=uow, rule=account_rule, window_end=window_end)
            tokens = await self._start_session(uow, user, client, now)
        log.info("auth.login_succeeded", user_id=user.id, method="password")
        return tokens

    # ---- Google (OpenID Connect) sign-in ----------------------------------------------------

    async def begin_external_sign_in(
        self,
        *,
        redirect_uri: str,
        return_to: str | None,
        browser_binding: str,
        client: ClientInfo,
    ) -> str:
        """Start a sign-in with the configured provider; return the URL to send the browser to.

        State, verifier and nonce are stored server-side for `sign_in_flow_ttl_s`, keyed by
        the state and `browser_binding` (see `new_browser_binding`), which the caller keeps in
        the browser and presents again at the callback. Raises
        InvalidInput for a `return_to` outside the allowed origins, RateLimited, and
        ExternalServiceError when the provider cannot be reached.
        """
        client = client.clipped()
        check_opaque_value("browser_binding", browser_binding)
        if return_to is not None:
            self._check_return_to(return_to)
        await self._limiter.check(
            action="external-sign-in",
            rules=[RateRule(key=ip_key("login", client.ip), limit=self._policy.login_per_ip)],
        )
        request = await self._oidc.begin(redirect_uri=redirect_uri)
        now = self._clock.now()
        flow = OidcFlow(
            state_hash=_flow_key(request.state, browser_binding),
            provider=IdentityProvider(request.provider),
            code_verifier=request.code_verifier,
            nonce=request.nonce,
            redirect_uri=redirect_uri,
            return_to=return_to,
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.sign_in_flow_ttl_s),
        )
        async with self._storage.system(reason="external-sign-in-begin") as uow:
            await uow.oidc_flows.put(flow=flow)
        return request.url

    async def complete_external_sign_in(
        self,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        browser_binding: str | None,
        client: ClientInfo,
    ) -> SignInResult:
        """Finish a sign-in from the provider's callback parameters and the browser's binding.

        Raises InvalidInput('state') for a missing, unknown, replayed or expired state, or one
        started in another browser, InvalidInput('cookie') when the browser presents no
        binding (400), Unauthorized when the provider refused or its ID token does not verify
        (401), and ExternalServiceError when the provider cannot be reached. Nothing is
        created unless every check passes; a flow asked for with the wrong binding stays, so
        a forged callback cannot spend the browser's own sign-in.
        """
        client = client.clipped()
        if not state:
            raise InvalidInput("state", "missing; start the sign-in again")
        check_opaque_value("state", state)
        if not browser_binding:
            raise InvalidInput(
                "cookie",
                "the sign-in cookie is missing: finish the sign-in in the browser that started "
                "it, with cookies enabled",
            )
        check_opaque_value("cookie", browser_binding)
        now = self._clock.now()
        async with self._storage.system(reason="external-sign-in-callback") as uow:
            flow = await uow.oidc_flows.take(state_hash=_flow_key(state, browser_binding), now=now)
        if flow is None or flow.provider != self.oidc_provider:
            raise InvalidInput(
                "state", "unknown, used or expired sign-in, or started in another browser"
            )
        try:
            if error is not None:
                raise Unauthorized("the provider did not sign you in", reason=error[:64])
            if not code:
                raise InvalidInput("code", "missing from the provider's answer")
            identity = await self._oidc.complete(
                code=code,
                code_verifier=flow.code_verifier,
                nonce=flow.nonce,
                redirect_uri=flow.redirect_uri,
                now=now,
            )
            if not identity.email_verified:
                raise Unauthorized(
                    "the email address is not verified by the provider", reason="email_verified"
                )
        except Unauthorized as refused:
            reason = str(refused.details.get("reason", "refused"))[:64]
            async with self._storage.system(reason="external-sign-in-failed") as uow:
                await record(
                    uow,
                    Action.EXTERNAL_SIGN_IN_FAILED,
                    None,
                    client,
                    now,
                    provider=str(flow.provider),
                    reason=reason,
                )
            log.info("auth.external_sign_in_failed", reason=reason)
            raise
        return await self._sign_in_identity(identity, flow, client, now)

    async def _sign_in_identity(
        self, identity: VerifiedIdentity, flow: OidcFlow, client: ClientInfo, now: datetime
    ) -> SignInResult:
        provider = IdentityProvider(identity.provider)
        outcome: SignInResult | _Refused
        async with self._storage.system(reason="external-sign-in") as uow:
            link = await uow.directory.find_identity(provider=provider, subject=identity.subject)
            created = False
            user: User | None
            if link is not None:
                user = await uow.users.get(user_id=link.user_id)
            else:
                user = await uow.directory.find_user_by_email(email=identity.email)
                if user is None:
                    user = User(
                        id=new_id(),
                        email=identity.email,
                        display_name=default_display_name(identity.email, identity.name),
                        created_at=now,
                        updated_at=now,
                        email_verified=True,
                    )
                    await uow.users.add(user_id=user.id, user=user)
                    created = True
                    await record(uow, Action.REGISTERED, user.id, client, now, method=str(provider))
                elif not user.is_disabled:
                    user = await self._link_existing(uow, user, identity, client, now)
                if user is not None and not user.is_disabled:
                    await uow.identities.link(
                        user_id=user.id,
                        identity=LinkedIdentity(
                            id=new_id(),
                            user_id=user.id,
                            provider=provider,
                            subject=identity.subject,
                            email=identity.email,
                            created_at=now,
                        ),
                    )
            if user is None or user.is_disabled:
                await record(
                    uow,
                    Action.LOGIN_FAILED,
                    user.id if user is not None else None,
                    client,
                    now,
                    method=str(provider),
                    reason="disabled" if user is not None else "account_gone",
                )
                outcome = _Refused(error=Unauthorized("this account cannot sign in"))
            else:
                await record(
                    uow, Action.LOGIN_SUCCEEDED, user.id, client, now, method=str(provider)
                )
                tokens = await self._start_session(uow, user, client, now)
                outcome = SignInResult(
                    tokens=tokens, user_id=user.id, created=created, return_to=flow.return_to
                )
        if isinstance(outcome, _Refused):
            raise outcome.error
        log.info(
            "auth.login_succeeded",
            user_id=outcome.user_id,
            method=str(provider),
            created=outcome.created,
        )
        return outcome

    async def _link_existing(
        self,
        uow: SystemUnitOfWork,
        user: User,
        identity: VerifiedIdentity,
        client: ClientInfo,
        now: datetime,
    ) -> User:
        """Link a verified external identity to the account holding its email."""
        if not identity.email_verified:  # the adapters refuse these already; never link one
            raise Unauthorized("the email address is not verified by the provider")
        existing_link = [
            i for i in await uow.identities.all(user_id=user.id) if i.provider == identity.provider
        ]
        if existing_link:
            # The account is tied to another account at this provider; linking a second one
            # would let either sign in as the other.
            raise Conflict("this account is linked to another account at the provider")
        password_cleared = not user.email_verified and user.password_hash is not None
        updated = msgspec.structs.replace(
            user,
            email_verified=True,
            password_hash=None if password_cleared else user.password_hash,
            updated_at=now,
        )
        await uow.users.update(user_id=user.id, user=updated)
        revoked = 0
        if password_cleared:
            revoked = await uow.sessions.revoke_all(user_id=user.id, at=now)
        await record(
            uow,
            Action.IDENTITY_LINKED,
            user.id,
            client,
            now,
            provider=str(identity.provider),
            password_cleared=str(password_cleared).lower(),
            sessions_revoked=str(revoked),
        )
        return updated

    # ---- tokens and sessions ----------------------------------------------------------------

    def authenticate(self, *, access_token: str) -> AccessClaims:
        """Verify a bearer access token now. Raises Unauthorized for anything but a good one."""
        return self._access.verify(token=access_token, now=self._clock.now())

    async def refresh(self, *, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Rotate a refresh token: the presented one is spent, a new pair is returned.

        Presenting a spent token revokes its whole session family and is audited as reuse.
        Raises Unauthorized for an unknown, spent, revoked or expired token.
        """
        client = client.clipped()
        token_hash = self._hash_presented(refresh_token)
        now = self._clock.now()
        outcome: TokenPair | _Refused
        async with self._storage.system(reason="refresh") as uow:
            session = await uow.directory.find_session(token_hash=token_hash)
            if session is None:
                outcome = _Refused(error=Unauthorized("the refresh token is not valid"))
            elif session.revoked_at is not None:
                if session.replaced_by is not None:
                    await self._reuse_detected(uow, session, client, now)
                outcome = _Refused(error=Unauthorized("the refresh token is not valid"))
            elif now >= session.expires_at:
                outcome = _Refused(error=Unauthorized("the refresh token has expired"))
            else:
                user = await uow.users.get(user_id=session.user_id)
                if user is None or user.is_disabled:
                    await uow.sessions.revoke_all(user_id=session.user_id, at=now)
                    outcome = _Refused(error=Unauthorized("this account cannot sign in"))
                else:
                    successor = new_id()
                    won = await uow.sessions.revoke(
                        user_id=session.user_id,
                        session_id=session.id,
                        at=now,
                        replaced_by=successor,
                    )
                    if not won:  # rotated by a concurrent request: the token was used twice
                        await self._reuse_detected(uow, session, client, now)
                        outcome = _Refused(error=Unauthorized("the refresh token is not valid"))
                    else:
                        outcome = await self._issue(
                            uow,
                            user,
                            client,
                            now,
                            family_id=session.family_id,
                            session_id=successor,
                        )
        if isinstance(outcome, _Refused):
            raise outcome.error
        return outcome

    async def logout(self, *, refresh_token: str, client: ClientInfo) -> None:
        """End the session of a refresh token (idempotent: an unknown token is a no-op).

        A token already rotated away is treated as reuse: its whole family is revoked.
        """
        client = client.clipped()
        try:
            token_hash = self._hash_presented(refresh_token)
        except Unauthorized:
            return
        now = self._clock.now()
        async with self._storage.system(reason="logout") as uow:
            session = await uow.directory.find_session(token_hash=token_hash)
            if session is None:
                return
            if session.revoked_at is None:
                await uow.sessions.revoke(user_id=session.user_id, session_id=session.id, at=now)
                await record(
                    uow, Action.LOGGED_OUT, session.user_id, client, now, session_id=session.id
                )
            elif session.replaced_by is not None:
                await self._reuse_detected(uow, session, client, now)

    async def list_sessions(self, *, user_id: str) -> list[SessionView]:
        """The user's active sessions, newest first."""
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            sessions = await uow.sessions.list_active(user_id=user_id, now=now)
        return [
            SessionView(
                id=s.id,
                created_at=s.created_at,
                expires_at=s.expires_at,
                user_agent=s.user_agent,
                ip=s.ip,
            )
            for s in sessions
        ]

    async def revoke_session(self, *, user_id: str, session_id: str, client: ClientInfo) -> None:
        """Revoke one of the user's active sessions. Raises NotFound for any other id."""
        client = client.clipped()
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            session = await uow.sessions.get(user_id=user_id, session_id=session_id)
            if session is None or not session.is_active(now):
                raise NotFound("no such session")
            await uow.sessions.revoke(user_id=user_id, session_id=session_id, at=now)
            await record(uow, Action.SESSION_REVOKED, user_id, client, now, session_id=session_id)

    # ---- the account ------------------------------------------------------------------------

    async def me(self, *, user_id: str) -> Profile:
        """The account of `user_id`. Raises Unauthorized if it no longer exists."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            return await self._profile(uow, user_id)

    async def update_me(
        self,
        *,
        user_id: str,
        display_name: str | None,
        timezone: str | None,
        client: ClientInfo,
    ) -> Profile:
        """Change the display name and/or the IANA timezone; InvalidInput names a bad field."""
        client = client.clipped()
        name = None if display_name is None else check_display_name(display_name)
        tz = None if timezone is None else check_timezone(timezone)
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise Unauthorized("the account no longer exists")
            changed = [f for f, v in (("display_name", name), ("timezone", tz)) if v is not None]
            if changed:
                updated = msgspec.structs.replace(
                    user,
                    display_name=name if name is not None else user.display_name,
                    timezone=tz if tz is not None else user.timezone,
                    updated_at=now,
                )
                await uow.users.update(user_id=user_id, user=updated)
                await record(
                    uow, Action.PROFILE_UPDATED, user_id, client, now, fields=",".join(changed)
                )
            return await self._profile(uow, user_id)

    async def delete_me(self, *, user_id: str, client: ClientInfo) -> None:
        """Erase the account and every row it owns, and audit it, in one transaction.

        Security records stay, detached from the account (see docs/security.md). Raises
        Unauthorized if the account no longer exists.
        """
        client = client.clipped()
        now = self._clock.now()
        async with self._storage.system(reason="account-deletion") as uow:
            if not await uow.users.delete(user_id=user_id):
                raise Unauthorized("the account no longer exists")
            await record(uow, Action.ACCOUNT_DELETED, None, client, now, account_id=user_id)
        log.info("account.deleted", user_id=user_id)

    async def purge_expired(self) -> dict[str, int]:
        """Delete expired sign-in flows, rate-limit windows and sessions; return the counts."""
        now = self._clock.now()
        async with self._storage.system(reason="purge-expired") as uow:
            return {
                "sign_in_flows": await uow.oidc_flows.purge_expired(now=now),
                "rate_limit_windows": await uow.rate_limits.purge_expired(now=now),
                "sessions": await uow.directory.purge_expired_sessions(before=now),
            }

    # ---- helpers ----------------------------------------------------------------------------

    def _check_return_to(self, return_to: str) -> None:
        if len(return_to) > RETURN_TO_MAX:
            raise InvalidInput("return_to", f"must be at most {RETURN_TO_MAX} characters")
        parts = urlsplit(return_to)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if (
            parts.scheme not in {"http", "https"}
            or not parts.netloc
            or parts.username is not None
            or origin not in self._policy.return_origins
        ):
            raise InvalidInput("return_to", "must be a URL on one of the allowed origins")

    def _hash_presented(self, refresh_token: str) -> str:
        try:
            return self._refresh.hash(token=refresh_token)
        except InvalidInput:
            raise Unauthorized("the refresh token is not valid") from None

    async def _start_session(
        self, uow: SystemUnitOfWork, user: User, client: ClientInfo, now: datetime
    ) -> TokenPair:
        """A new session family (a login or sign-in) and its first tokens."""
        return await self._issue(uow, user, client, now, family_id=new_id(), session_id=new_id())

    async def _issue(
        self,
        uow: SystemUnitOfWork,
        user: User,
        client: ClientInfo,
        now: datetime,
        *,
        family_id: str,
        session_id: str,
    ) -> TokenPair:
        refresh = self._refresh.new()
        session = RefreshSession(
            id=session_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=refresh.token_hash,
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.refresh_token_ttl_s),
            user_agent=client.user_agent,
            ip=client.ip,
        )
        await uow.sessions.add(user_id=user.id, session=session)
        access = self._access.issue(user_id=user.id, is_admin=user.role is Role.ADMIN, now=now)
        expires_in = max(0, int((access.expires_at - now).total_seconds()))
        return TokenPair(
            access_token=access.token, refresh_token=refresh.token, expires_in=expires_in
        )

    async def _reuse_detected(
        self, uow: SystemUnitOfWork, session: RefreshSession, client: ClientInfo, now: datetime
    ) -> None:
        revoked = await uow.sessions.revoke_family(
            user_id=session.user_id, family_id=session.family_id, at=now
        )
        await record(
            uow,
            Action.REFRESH_REUSED,
            session.user_id,
            client,
            now,
            family_id=session.family_id,
            sessions_revoked=str(revoked),
        )
        log.warning("auth.refresh_reused", user_id=session.user_id, revoked=revoked)

    async def _profile(self, uow: UnitOfWork, user_id: str) -> Profile:
        user = await uow.users.get(user_id=user_id)
        if user is None:
            raise Unauthorized("the account no longer exists")
        access = await self._gate.tier_in(uow, user_id=user_id, now=self._clock.now())
        links = await uow.identities.all(user_id=user_id)
        return Profile(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            timezone=user.timezone,
            role=user.role,
            email_verified=user.email_verified,
            has_password=user.password_hash is not None,
            tier=access.tier,
            linked_providers=tuple(link.provider for link in links),
            created_at=user.created_at,
        )


async def record(
    uow: UnitOfWork,
    action: Action,
    user_id: str | None,
    client: ClientInfo,
    now: datetime,
    **details: str,
) -> None:
    """Append an audit event (no secrets, no raw payloads in `details`)."""
    await uow.audit.append(
        user_id=user_id,
        event=AuditEvent(
            id=new_id(),
            action=str(action),
            at=now,
            user_id=user_id,
            ip=client.ip,
            details=details,
        ),
    )


def origins_of(urls: Sequence[str]) -> frozenset[str]:
    """The lower-cased `scheme://host[:port]` origins of absolute URLs (others are skipped)."""
    out = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in {"http", "https"} and parts.netloc:
            out.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(out)
