"""The accounts service on fakes: in-memory storage, the fake OIDC provider, a fake clock.

These pin the rules the HTTP tests cannot reach cheaply: linking, pre-hijacking defence,
disabled accounts, refresh races, rehashing, rate-limit arithmetic, validation helpers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.services import test_billing as billing
from training_analyzer.adapters.identity.passwords import Argon2PasswordHasher
from training_analyzer.adapters.identity.tokens import (
    JwtAccessTokenIssuer,
    SecretsRefreshTokenFactory,
)
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.identity import FakeOidcProvider
from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.core.accounts import IdentityProvider, Role, User
from training_analyzer.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    RateLimited,
    Unauthorized,
)
from training_analyzer.core.tiers import Tier
from training_analyzer.services.accounts import (
    AccountService,
    AuthPolicy,
    ClientInfo,
    TokenPair,
    check_display_name,
    check_timezone,
    iana_zones,
    new_browser_binding,
    origins_of,
)
from training_analyzer.services.admin import AdminOutcome, AdminService
from training_analyzer.services.gates import FeatureGate
from training_analyzer.services.rate_limits import RateLimit, RateLimiter, RateRule

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
CALLBACK = "https://api.example.com/auth/google/callback"
CLIENT = ClientInfo(ip="203.0.113.9", user_agent="pytest")
GENEROUS = RateLimit(limit=1000, window_s=60)
BROWSER = new_browser_binding()  # the binding cookie of the browser that starts sign-ins


def _hasher(time_cost: int = 1) -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=time_cost, memory_cost_kib=64, parallelism=1)


class World:
    """The service under test and its fakes."""

    def __init__(self, *, policy: AuthPolicy | None = None) -> None:
        self.storage = InMemoryStorage()
        self.clock = FakeClock(NOW)
        self.oidc = FakeOidcProvider(
            subject="google-sub-1",
            email="Rita@Example.com",
            display_name="Rita Runner",
            provider_name="google",
        )
        self.hasher = _hasher()
        self.accounts = self.service(self.hasher, policy=policy)
        self.admin = AdminService(storage=self.storage, clock=self.clock, passwords=self.hasher)

    def service(
        self, hasher: Argon2PasswordHasher, *, policy: AuthPolicy | None = None
    ) -> AccountService:
        return AccountService(
            storage=self.storage,
            clock=self.clock,
            passwords=hasher,
            access_tokens=JwtAccessTokenIssuer(
                keys=[("k1", "s" * 40)], issuer="https://api.example.com", audience="api"
            ),
            refresh_tokens=SecretsRefreshTokenFactory(),
            oidc=self.oidc,
            gate=FeatureGate(
                storage=self.storage,
                clock=self.clock,
                catalog=billing.CATALOG,
                grace_period_s=billing.GRACE_S,
            ),
            policy=policy
            or AuthPolicy(
                refresh_token_ttl_s=30 * 86_400,
                login_per_ip=GENEROUS,
                login_per_account=GENEROUS,
                register_per_ip=GENEROUS,
                register_per_account=GENEROUS,
                return_origins=frozenset({"https://app.example.com"}),
            ),
        )

    async def google(self) -> tuple[str, str]:
        """Begin a sign-in; return the callback's (state, code)."""
        url = await self.accounts.begin_external_sign_in(
            redirect_uri=CALLBACK, return_to=None, browser_binding=BROWSER, client=CLIENT
        )
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        return query["state"], query["code"]

    async def sign_in_with_google(self) -> str:
        state, code = await self.google()
        result = await self.accounts.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=BROWSER, client=CLIENT
        )
        return result.user_id

    async def user(self, email: str) -> User:
        async with self.storage.system(reason="test") as uow:
            found = await uow.directory.find_user_by_email(email=email)
        assert found is not None
        return found

    async def put(self, user: User) -> None:
        async with self.storage.system(reason="test") as uow:
            await uow.users.update(user_id=user.id, user=user)

    async def audit_actions(self) -> list[str]:
        async with self.storage.system(reason="test") as uow:
            page = await uow.directory.audit_page(limit=200)
        return [e.action for e in reversed(page.items)]


@pytest.fixture
def world() -> World:
    """A fresh world per test."""
    return World()


# ---- Google linking -------------------------------------------------------------------------


async def test_a_verified_password_account_keeps_its_password_when_google_links(
    world: World,
) -> None:
    await world.accounts.register(
        email="rita@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    rita = await world.user("rita@example.com")
    await world.put(msgspec.structs.replace(rita, email_verified=True))
    linked_id = await world.sign_in_with_google()
    assert linked_id == rita.id
    after = await world.user("rita@example.com")
    assert after.password_hash == rita.password_hash
    tokens = await world.accounts.login(email="rita@example.com", password=PASSWORD, client=CLIENT)
    assert tokens.token_type == "Bearer"
    actions = await world.audit_actions()
    assert "auth.identity_linked" in actions


async def test_an_unverified_password_account_loses_password_and_sessions_on_linking(
    world: World,
) -> None:
    squatter = await world.accounts.register(
        email="rita@example.com", password=PASSWORD, display_name="Not Rita", client=CLIENT
    )
    await world.sign_in_with_google()
    rita = await world.user("rita@example.com")
    assert rita.password_hash is None
    assert rita.email_verified is True
    with pytest.raises(Unauthorized):
        await world.accounts.refresh(refresh_token=squatter.refresh_token, client=CLIENT)
    with pytest.raises(Unauthorized):
        await world.accounts.login(email="rita@example.com", password=PASSWORD, client=CLIENT)


async def test_an_account_linked_to_another_google_subject_is_not_linked_again(
    world: World,
) -> None:
    await world.sign_in_with_google()
    # The same email now comes back from a different Google account.
    world.oidc.subject = "google-sub-2"
    state, code = await world.google()
    with pytest.raises(Conflict):
        await world.accounts.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=BROWSER, client=CLIENT
        )
    async with world.storage.system(reason="test") as uow:
        assert await uow.directory.count_users() == 1
        link = await uow.directory.find_identity(
            provider=IdentityProvider.GOOGLE, subject="google-sub-2"
        )
    assert link is None


async def test_a_disabled_account_cannot_sign_in_either_way(world: World) -> None:
    uid = await world.sign_in_with_google()
    await world.accounts.register(
        email="off@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    for email in ("rita@example.com", "off@example.com"):
        user = await world.user(email)
        await world.put(msgspec.structs.replace(user, disabled_at=NOW))
    with pytest.raises(Unauthorized, match="invalid email or password"):
        await world.accounts.login(email="off@example.com", password=PASSWORD, client=CLIENT)
    state, code = await world.google()
    with pytest.raises(Unauthorized):
        await world.accounts.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=BROWSER, client=CLIENT
        )
    async with world.storage.unit_of_work(user_id=uid) as uow:
        assert await uow.sessions.list_active(user_id=uid, now=NOW) != []  # old ones stay
    assert (await world.audit_actions()).count("auth.login_failed") == 2


async def test_a_flow_of_another_provider_is_refused(world: World) -> None:
    state, code = await world.google()
    other = World()
    other.storage = world.storage  # same database, deployment switched to the fake provider
    other.oidc = FakeOidcProvider(provider_name="fake")
    service = other.service(world.hasher)
    with pytest.raises(InvalidInput) as info:
        await service.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=BROWSER, client=CLIENT
        )
    assert info.value.argument == "state"


async def test_a_callback_from_another_browser_finds_no_flow_and_leaves_it_usable(
    world: World,
) -> None:
    state, code = await world.google()
    with pytest.raises(InvalidInput) as info:
        await world.accounts.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=new_browser_binding(), client=CLIENT
        )
    assert info.value.argument == "state"
    async with world.storage.system(reason="test") as uow:
        assert await uow.directory.count_users() == 0
    # The forged callback did not spend the flow: the browser that started it still finishes.
    await world.accounts.complete_external_sign_in(
        state=state, code=code, error=None, browser_binding=BROWSER, client=CLIENT
    )
    async with world.storage.system(reason="test") as uow:
        assert await uow.directory.count_users() == 1


async def test_a_callback_without_a_binding_is_refused_naming_the_cookie(world: World) -> None:
    state, code = await world.google()
    with pytest.raises(InvalidInput) as info:
        await world.accounts.complete_external_sign_in(
            state=state, code=code, error=None, browser_binding=None, client=CLIENT
        )
    assert info.value.argument == "cookie"
    async with world.storage.system(reason="test") as uow:
        assert await uow.directory.count_users() == 0


# ---- refresh and logout ---------------------------------------------------------------------


async def test_of_two_concurrent_refreshes_one_wins_and_the_loser_revokes_the_family(
    world: World,
) -> None:
    tokens = await world.accounts.register(
        email="race@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    results = await asyncio.gather(
        world.accounts.refresh(refresh_token=tokens.refresh_token, client=CLIENT),
        world.accounts.refresh(refresh_token=tokens.refresh_token, client=CLIENT),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, TokenPair)]
    losers = [r for r in results if isinstance(r, Unauthorized)]
    assert len(winners) == 1
    assert len(losers) == 1
    # The reuse revoked the whole family, the winner's new session included.
    with pytest.raises(Unauthorized):
        await world.accounts.refresh(refresh_token=winners[0].refresh_token, client=CLIENT)
    assert (await world.audit_actions()).count("auth.refresh_reused") == 1


async def test_logging_out_with_a_spent_token_revokes_the_family(world: World) -> None:
    first = await world.accounts.register(
        email="stale@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    second = await world.accounts.refresh(refresh_token=first.refresh_token, client=CLIENT)
    await world.accounts.logout(refresh_token=first.refresh_token, client=CLIENT)
    with pytest.raises(Unauthorized):
        await world.accounts.refresh(refresh_token=second.refresh_token, client=CLIENT)


async def test_refresh_keeps_the_family_and_slides_the_expiry(world: World) -> None:
    first = await world.accounts.register(
        email="slide@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    world.clock.advance(days=10)
    await world.accounts.refresh(refresh_token=first.refresh_token, client=CLIENT)
    uid = (await world.user("slide@example.com")).id
    async with world.storage.unit_of_work(user_id=uid) as uow:
        active = await uow.sessions.list_active(user_id=uid, now=world.clock.now())
    assert len(active) == 1
    assert active[0].expires_at == NOW + timedelta(days=40)
    assert active[0].user_agent == "pytest"


async def test_access_tokens_say_admin_only_for_admins(world: World) -> None:
    tokens = await world.accounts.register(
        email="boss@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    assert world.accounts.authenticate(access_token=tokens.access_token).is_admin is False
    _, outcome = await world.admin.create_admin(
        email="boss@example.com", password=None, client=CLIENT
    )
    assert outcome is AdminOutcome.PROMOTED
    again = await world.accounts.login(email="boss@example.com", password=PASSWORD, client=CLIENT)
    assert world.accounts.authenticate(access_token=again.access_token).is_admin is True


# ---- passwords ------------------------------------------------------------------------------


async def test_login_rehashes_a_password_made_with_older_parameters(world: World) -> None:
    await world.accounts.register(
        email="old@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    before = (await world.user("old@example.com")).password_hash
    assert before is not None
    assert "t=1" in before
    stronger = world.service(_hasher(time_cost=2))
    await stronger.login(email="old@example.com", password=PASSWORD, client=CLIENT)
    after = (await world.user("old@example.com")).password_hash
    assert after is not None
    assert "t=2" in after
    await stronger.login(email="old@example.com", password=PASSWORD, client=CLIENT)


async def test_passwords_compare_in_nfkc_form(world: World) -> None:
    # U+FB01 LATIN SMALL LIGATURE FI is NFKC-equal to "fi" (core.identity.normalize_password).
    await world.accounts.register(
        email="lig@example.com", password="\ufb01ve miles out", display_name=None, client=CLIENT
    )
    tokens = await world.accounts.login(
        email="lig@example.com", password="five miles out", client=CLIENT
    )
    assert tokens.expires_in == 900


# ---- administration -------------------------------------------------------------------------


async def test_create_admin_outcomes(world: World) -> None:
    with pytest.raises(InvalidInput) as info:
        await world.admin.create_admin(email="new@example.com", password=None, client=CLIENT)
    assert info.value.argument == "password"
    user, outcome = await world.admin.create_admin(
        email="New@Example.com", password=PASSWORD, client=CLIENT
    )
    assert (user.email, user.role, outcome) == ("new@example.com", Role.ADMIN, AdminOutcome.CREATED)
    _, outcome = await world.admin.create_admin(
        email="new@example.com", password=None, client=CLIENT
    )
    assert outcome is AdminOutcome.ALREADY_ADMIN
    assert (await world.audit_actions()).count("admin.granted") == 1


async def test_only_enabled_admins_pass_the_guard(world: World) -> None:
    user, _ = await world.admin.create_admin(
        email="a@example.com", password=PASSWORD, client=CLIENT
    )
    assert (await world.admin.require_admin(user_id=user.id)).id == user.id
    await world.put(msgspec.structs.replace(user, disabled_at=NOW))
    with pytest.raises(Forbidden):
        await world.admin.require_admin(user_id=user.id)
    with pytest.raises(Forbidden):
        await world.admin.require_admin(user_id="no-such-user")


async def test_purge_deletes_only_what_expired(world: World) -> None:
    await world.google()  # a started, never finished sign-in
    await world.accounts.register(
        email="p@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    assert await world.accounts.purge_expired() == {
        "sign_in_flows": 0,
        "rate_limit_windows": 0,
        "sessions": 0,
    }
    world.clock.advance(days=31)
    assert await world.accounts.purge_expired() == {
        "sign_in_flows": 1,
        # register per IP and per email; the Google sign-in counts as a login per IP
        "rate_limit_windows": 3,
        "sessions": 1,
    }


# ---- rate limits ----------------------------------------------------------------------------


async def test_the_rate_limiter_refuses_over_the_limit_with_the_latest_reset() -> None:
    storage = InMemoryStorage()
    clock = FakeClock(NOW)
    limiter = RateLimiter(storage=storage, clock=clock)
    rules = [
        RateRule(key="a", limit=RateLimit(limit=2, window_s=60)),
        RateRule(key="b", limit=RateLimit(limit=1, window_s=600)),
    ]
    await limiter.check(action="t", rules=rules)
    clock.advance(seconds=10.5)
    with pytest.raises(RateLimited) as info:
        await limiter.check(action="t", rules=rules)
    # Only "b" is over (2 > 1); its window ends 600 s after the first hit: 589.5 s -> 590.
    assert info.value.retry_after_s == 590
    clock.advance(seconds=1)
    with pytest.raises(RateLimited) as both:
        await limiter.check(action="t", rules=rules)
    assert both.value.retry_after_s == 589  # "a" (3 > 2) ends sooner; the later one counts


@pytest.mark.parametrize(("limit", "window_s"), [(0, 60), (1, 0), (-1, 10)])
def test_a_rate_limit_needs_positive_numbers(limit: int, window_s: int) -> None:
    with pytest.raises(InvalidInput):
        RateLimit(limit=limit, window_s=window_s)


def _tight(limit: int) -> AuthPolicy:
    return AuthPolicy(
        refresh_token_ttl_s=86_400,
        login_per_ip=GENEROUS,
        login_per_account=RateLimit(limit=limit, window_s=60),
        register_per_ip=GENEROUS,
        register_per_account=GENEROUS,
    )


async def test_failed_logins_trip_the_account_limit_before_the_password_is_checked() -> None:
    world = World(policy=_tight(1))
    await world.accounts.register(
        email="x@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    with pytest.raises(Unauthorized):
        await world.accounts.login(email="x@example.com", password="wrong guess", client=CLIENT)
    # Even the right password is refused now: the limit is decided before any check.
    with pytest.raises(RateLimited):
        await world.accounts.login(email="X@example.com", password=PASSWORD, client=CLIENT)


async def test_successful_logins_never_use_the_account_budget() -> None:
    world = World(policy=_tight(2))
    await world.accounts.register(
        email="x@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    for _ in range(5):  # more successes than the limit, in one window
        await world.accounts.login(email="x@example.com", password=PASSWORD, client=CLIENT)
    # The whole budget of two failures is still there.
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await world.accounts.login(email="x@example.com", password="wrong!", client=CLIENT)
    with pytest.raises(RateLimited) as info:
        await world.accounts.login(email="x@example.com", password=PASSWORD, client=CLIENT)
    assert info.value.details["limited_by"] == "account"
    world.clock.advance(seconds=60)  # the window has ended
    await world.accounts.login(email="x@example.com", password=PASSWORD, client=CLIENT)


async def test_failures_from_many_addresses_still_trip_the_account_limit() -> None:
    world = World(policy=_tight(3))
    await world.accounts.register(
        email="x@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    for i in range(3):
        attacker = ClientInfo(ip=f"198.51.100.{i}", user_agent="bot")
        with pytest.raises(Unauthorized):
            await world.accounts.login(email="x@example.com", password="guess!", client=attacker)
    with pytest.raises(RateLimited):
        await world.accounts.login(
            email="x@example.com", password=PASSWORD, client=ClientInfo(ip="198.51.100.99")
        )


async def test_concurrent_guesses_cannot_slip_past_the_account_limit() -> None:
    world = World(policy=_tight(2))
    await world.accounts.register(
        email="x@example.com", password=PASSWORD, display_name=None, client=CLIENT
    )
    results = await asyncio.gather(
        *(
            world.accounts.login(
                email="x@example.com", password=f"guess {i}", client=ClientInfo(ip=f"10.0.0.{i}")
            )
            for i in range(6)
        ),
        return_exceptions=True,
    )
    # Each attempt is counted before its password is checked, so only two were checked.
    assert sum(isinstance(r, Unauthorized) for r in results) == 2
    assert sum(isinstance(r, RateLimited) for r in results) == 4


# ---- the tier on /me -------------------------------------------------------------------------


async def test_me_shows_the_tier_the_gate_grants_through_and_after_the_grace_period() -> None:
    shop = billing.World()  # billing on fakes, with its own clock and storage
    accounts = World()
    accounts.storage, accounts.clock = shop.storage, shop.clock
    service = accounts.service(accounts.hasher)
    user_id = await shop.add_user()
    sub_id = await shop.subscribe(user_id)
    assert (await service.me(user_id=user_id)).tier is Tier.PRO
    failed_at = billing.NOW + timedelta(days=31)
    await shop.deliver(shop.gateway.fail_renewal(subscription_id=sub_id, now=failed_at))
    shop.clock.set(failed_at + timedelta(seconds=billing.GRACE_S - 1))
    assert (await service.me(user_id=user_id)).tier is Tier.PRO  # past due, within grace
    # The grace period is half-open (core.billing.access_for): at its end the user is Free,
    # although the stored summary row still says past_due on the Pro tier.
    shop.clock.set(failed_at + timedelta(seconds=billing.GRACE_S))
    assert (await service.me(user_id=user_id)).tier is Tier.FREE
    async with shop.storage.unit_of_work(user_id=user_id) as uow:
        summary = await uow.subscriptions.get(user_id=user_id)
    assert summary is not None
    assert (summary.tier, summary.status.value) == (Tier.PRO, "past_due")


# ---- validation helpers ---------------------------------------------------------------------


@given(st.sampled_from(sorted(iana_zones())))
def test_every_iana_zone_is_accepted(name: str) -> None:
    assert check_timezone(name) == name


@given(st.text(max_size=40).filter(lambda s: s not in iana_zones()))
def test_anything_else_is_refused_as_a_timezone(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_timezone(name)
    assert info.value.argument == "timezone"


def test_the_iana_list_is_the_bundled_one() -> None:
    zones = iana_zones()
    # tzdata ships the IANA database: about 600 names (598 in tzdata 2025b).
    assert 500 < len(zones) < 700
    assert {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"} <= zones
    assert "Factory" not in zones
    assert "localtime" not in zones


@given(st.text(min_size=1, max_size=100).filter(lambda s: s.strip() and s.isprintable()))
def test_a_printable_display_name_comes_back_trimmed(name: str) -> None:
    result = check_display_name(name)
    assert result == result.strip()
    assert 1 <= len(result) <= 100


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 101])
def test_a_bad_display_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_display_name(name)
    assert info.value.argument == "display_name"


def test_client_info_is_clipped_to_storable_printable_values() -> None:
    clipped = ClientInfo(ip="1" * 100, user_agent="agent\x00\x1b[31m" + "x" * 600).clipped()
    assert clipped.ip == "1" * 64
    assert clipped.user_agent is not None
    assert clipped.user_agent.startswith("agent[31m")
    assert len(clipped.user_agent) == 512


def test_origins_are_scheme_and_host_lower_cased() -> None:
    assert origins_of(["https://App.Example.com/path", "nonsense", "http://localhost:3000"]) == {
        "https://app.example.com",
        "http://localhost:3000",
    }
