"""The composition root: the only place adapters are chosen, from settings.

Embedders and entrypoints call `build_container(settings)`, then `await container.start()`
(opens pools, applies nothing else) and `await container.stop()` when done, or use
`async with running(settings) as container:`.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from dependency_injector import containers, providers

from training_analyzer.adapters import files as activity_files
from training_analyzer.adapters.identity.google_oidc import AuthlibGoogleOidcProvider
from training_analyzer.adapters.identity.passwords import Argon2PasswordHasher
from training_analyzer.adapters.identity.tokens import (
    JwtAccessTokenIssuer,
    SecretsRefreshTokenFactory,
)
from training_analyzer.adapters.memory.identity import FakeOidcProvider
from training_analyzer.adapters.memory.payments import FakePaymentGateway
from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.adapters.sql import parse_database_url
from training_analyzer.adapters.sql.postgres import PostgresStorage
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.adapters.stripe_payments import StripePaymentGateway
from training_analyzer.adapters.system_clock import SystemClock
from training_analyzer.core.accounts import IdentityProvider
from training_analyzer.core.billing import BillingPeriod, CatalogPrice, PriceCatalog
from training_analyzer.core.errors import ConfigurationError
from training_analyzer.core.tiers import Tier
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.identity import (
    AccessTokenIssuer,
    OidcProvider,
    PasswordHasher,
    RefreshTokenFactory,
)
from training_analyzer.ports.payments import PaymentGateway
from training_analyzer.ports.storage import Storage
from training_analyzer.services.accounts import AccountService, AuthPolicy, origins_of
from training_analyzer.services.activities import ActivityService
from training_analyzer.services.admin import AdminService
from training_analyzer.services.analytics import AnalyticsService
from training_analyzer.services.athletes import AthleteService
from training_analyzer.services.billing import BillingService
from training_analyzer.services.billing_admin import BillingAdminService
from training_analyzer.services.demo import DemoSeeder
from training_analyzer.services.export import ExportService
from training_analyzer.services.gates import FeatureGate
from training_analyzer.services.rate_limits import RateLimit
from training_analyzer.settings import Settings

log = structlog.get_logger(__name__)


async def _open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """The storage resource: one adapter chosen by TA_DATABASE_URL, closed on shutdown.

    One Resource that matches on the URL, rather than a Selector over three Resources,
    because `init_resources()` initialises every Resource it can reach, selected or not.
    """
    dialect, location = parse_database_url(settings.effective_database_url)
    storage: Storage
    match dialect:
        case "memory":
            log.warning("storage.in_memory", detail="data lives in this process only")
            storage = InMemoryStorage()
        case "sqlite":
            storage = await SqliteStorage.open(path=location)
            log.info("storage.opened", dialect="sqlite", path=location)
        case _:
            storage = await PostgresStorage.open(
                dsn=location, app_role=settings.database_app_role or None
            )
            log.info("storage.opened", dialect="postgres")
    try:
        yield storage
    finally:
        await storage.close()


# The access tokens' audience: this API, whatever its public address.
ACCESS_TOKEN_AUDIENCE = "training-analyzer-api"  # noqa: S105 - a name, not a secret


def check_settings_for_serving(settings: Settings) -> None:
    """Refuse, with ConfigurationError naming the variable, settings unsafe to serve with.

    Production needs TA_JWT_KEYS (an ephemeral key would log everybody out at each restart and
    differ between instances) and real Google credentials rather than the fake provider.
    """
    if not settings.is_production:
        return
    if settings.jwt_keys is None:
        raise ConfigurationError(
            "TA_JWT_KEYS: required in production (kid:secret pairs, each secret >= 32 bytes)"
        )
    if not settings.public_base_url:
        raise ConfigurationError(
            "TA_PUBLIC_BASE_URL: required in production (sign-in redirects are built from it)"
        )


def _access_token_issuer(settings: Settings) -> AccessTokenIssuer:
    """The JWT issuer on TA_JWT_KEYS, or on an ephemeral key outside production."""
    check_settings_for_serving(settings)
    ring = settings.jwt_key_ring()
    if not ring:
        ring = [(f"ephemeral-{secrets.token_hex(4)}", secrets.token_urlsafe(48))]
        log.warning(
            "auth.ephemeral_signing_key",
            detail=(
                "TA_JWT_KEYS is not set: access tokens are signed with a key made at start and "
                "will not survive a restart (nor be accepted by another worker)"
            ),
            key_id=ring[0][0],
        )
    return JwtAccessTokenIssuer(
        keys=ring,
        issuer=settings.effective_public_base_url,
        audience=ACCESS_TOKEN_AUDIENCE,
        lifetime_s=settings.access_token_ttl_s,
    )


def _oidc_provider(settings: Settings) -> OidcProvider:
    """Google through authlib when TA_GOOGLE_CLIENT_ID is set; else the fake (never in
    production)."""
    if settings.google_client_id:
        secret = settings.google_client_secret
        assert secret is not None, "Settings require the secret with the client id"
        return AuthlibGoogleOidcProvider(
            client_id=settings.google_client_id,
            client_secret=secret.reveal(),
            discovery_url=settings.google_discovery_url,
            provider_name=IdentityProvider.GOOGLE.value,
        )
    if settings.is_production:
        raise ConfigurationError(
            "TA_GOOGLE_CLIENT_ID: required in production (the fake sign-in provider is for "
            "development only)"
        )
    log.warning(
        "auth.fake_oidc_provider",
        detail=(
            "TA_GOOGLE_CLIENT_ID is absent: a fake provider stands in for Google and signs "
            "anyone in as athlete@example.com"
        ),
    )
    return FakeOidcProvider(provider_name=IdentityProvider.FAKE.value)


def auth_policy(settings: Settings) -> AuthPolicy:
    """The accounts service's limits and allowed redirect origins, from settings."""
    return AuthPolicy(
        refresh_token_ttl_s=settings.refresh_token_ttl_s,
        login_per_ip=RateLimit(limit=settings.login_limit_per_ip, window_s=settings.login_window_s),
        login_per_account=RateLimit(
            limit=settings.login_limit_per_account, window_s=settings.login_window_s
        ),
        register_per_ip=RateLimit(
            limit=settings.register_limit_per_ip, window_s=settings.register_window_s
        ),
        register_per_account=RateLimit(
            limit=settings.register_limit_per_account, window_s=settings.register_window_s
        ),
        return_origins=origins_of(
            [settings.effective_public_base_url, *(o for o in settings.cors_origins if o != "*")]
        ),
    )


def price_catalog(settings: Settings) -> PriceCatalog:
    """The prices sold: Stripe price ids from settings, or the fake's own when none are set."""
    prices = []
    for tier in (Tier.PRO, Tier.COACH):
        for period in (BillingPeriod.MONTH, BillingPeriod.YEAR):
            configured = getattr(settings, f"stripe_price_{tier.value}_{period.value}").strip()
            price_id = configured or f"price_fake_{tier.value}_{period.value}"
            prices.append(CatalogPrice(tier=tier, period=period, price_id=price_id))
    return PriceCatalog(prices=tuple(prices))


def _payment_gateway(settings: Settings) -> PaymentGateway:
    """Stripe when TA_STRIPE_SECRET_KEY is set; else the fake (never in production)."""
    if settings.stripe_secret_key is not None:
        webhook_secret = settings.stripe_webhook_secret
        assert webhook_secret is not None, "Settings require the webhook secret with the key"
        log.info("billing.stripe", api=settings.stripe_api_base_url or "stripe")
        return StripePaymentGateway(
            api_key=settings.stripe_secret_key.reveal(),
            webhook_secret=webhook_secret.reveal(),
            api_base_url=settings.stripe_api_base_url or None,
        )
    if settings.is_production:
        raise ConfigurationError(
            "TA_STRIPE_SECRET_KEY: required in production (the fake payment provider is for "
            "development only)"
        )
    log.warning(
        "billing.fake_payments",
        detail=(
            "TA_STRIPE_SECRET_KEY is absent: a fake payment provider stands in for Stripe; "
            "checkout leads to /billing/fake-checkout/<session>, which completes the purchase"
        ),
    )
    # The fake signs the webhooks it sends to this same process: any secret will do.
    return FakePaymentGateway(
        catalog=price_catalog(settings),
        webhook_secret=secrets.token_urlsafe(32),
        app_base_url=settings.effective_public_base_url,
    )


class Container(containers.DeclarativeContainer):
    """Providers for every port, each chosen by settings."""

    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Clock] = providers.Singleton(SystemClock)
    storage: providers.Provider[Storage] = providers.Resource(_open_storage, settings)
    passwords: providers.Provider[PasswordHasher] = providers.Singleton(Argon2PasswordHasher)
    access_tokens: providers.Provider[AccessTokenIssuer] = providers.Singleton(
        _access_token_issuer, settings
    )
    refresh_tokens: providers.Provider[RefreshTokenFactory] = providers.Singleton(
        SecretsRefreshTokenFactory
    )
    oidc: providers.Provider[OidcProvider] = providers.Singleton(_oidc_provider, settings)
    payments: providers.Singleton[PaymentGateway] = providers.Singleton(_payment_gateway, settings)


class AppContainer:
    """A started container's typed facade: what entrypoints and embedders use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._di = Container(settings=settings)
        self._accounts: AccountService | None = None
        self._billing: _BillingServices | None = None
        self._payments: PaymentGateway | None = None

    async def start(self, *, serving: bool = True) -> None:
        """Open resources (database pools); when `serving`, first build the identity adapters.

        Serving raises ConfigurationError for settings unsafe to serve with (see
        `check_settings_for_serving`). Tools that need storage only (the CLI's `users`) pass
        `serving=False` and need no signing keys.
        """
        if serving:
            # Built first so a refusal happens before any pool opens, and so the start-up log
            # says at once which signing key and sign-in provider are in force.
            self.access_tokens()
            self.oidc()
            self.payments()
        result = self._di.init_resources()
        if inspect.isawaitable(result):
            await result

    async def stop(self) -> None:
        """Close resources."""
        if isinstance(self._payments, StripePaymentGateway):
            await self._payments.aclose()  # its HTTP connection pool
            self._di.payments.reset()
        self._payments = None
        self._billing = None
        result = self._di.shutdown_resources()
        if inspect.isawaitable(result):
            await result

    async def storage(self) -> Storage:
        """The storage adapter selected by TA_DATABASE_URL."""
        return await resolve(self._di.storage)

    def clock(self) -> Clock:
        """The clock."""
        value: Clock = self._di.clock()
        return value

    def passwords(self) -> PasswordHasher:
        """The password hasher (argon2id)."""
        value: PasswordHasher = self._di.passwords()
        return value

    def access_tokens(self) -> AccessTokenIssuer:
        """The access-token issuer on the configured key ring."""
        value: AccessTokenIssuer = self._di.access_tokens()
        return value

    def refresh_tokens(self) -> RefreshTokenFactory:
        """The refresh-token factory."""
        value: RefreshTokenFactory = self._di.refresh_tokens()
        return value

    def oidc(self) -> OidcProvider:
        """The sign-in provider behind "Sign in with Google" (the real one, or the dev fake)."""
        value: OidcProvider = self._di.oidc()
        return value

    async def accounts(self) -> AccountService:
        """The accounts and identity use cases."""
        if self._accounts is None:
            storage = await self.storage()
            # Its own gate (not the billing one): showing a tier needs no payment provider.
            gate = FeatureGate(
                storage=storage,
                clock=self.clock(),
                catalog=price_catalog(self.settings),
                grace_period_s=self.settings.billing_grace_period_s,
            )
            self._accounts = AccountService(
                storage=storage,
                clock=self.clock(),
                passwords=self.passwords(),
                access_tokens=self.access_tokens(),
                refresh_tokens=self.refresh_tokens(),
                oidc=self.oidc(),
                policy=auth_policy(self.settings),
                gate=gate,
            )
        return self._accounts

    async def admin(self) -> AdminService:
        """Administration: the admin guard, the audit log, creating administrators.

        Needs neither signing keys nor a sign-in provider, so the CLI can use it anywhere.
        """
        return AdminService(
            storage=await self.storage(), clock=self.clock(), passwords=self.passwords()
        )

    def payments(self) -> PaymentGateway:
        """The payment provider: Stripe, or the fake that stands in without a key."""
        value: PaymentGateway = self._di.payments()
        self._payments = value
        return value

    async def _billing_services(self) -> _BillingServices:
        if self._billing is None:
            self._billing = _BillingServices(
                storage=await self.storage(),
                clock=self.clock(),
                payments=self.payments(),
                settings=self.settings,
            )
        return self._billing

    async def billing(self) -> BillingService:
        """Checkout, portal, Stripe webhooks and the user's current plan."""
        return (await self._billing_services()).billing

    async def gates(self) -> FeatureGate:
        """The feature gate: tiers, plan limits, atomic quota use, history window."""
        return (await self._billing_services()).gate

    async def export(self) -> ExportService:
        """The data export (Pro and Coach)."""
        return (await self._billing_services()).export

    async def billing_admin(self) -> BillingAdminService:
        """Billing metrics and plan limits for administrators."""
        return (await self._billing_services()).admin

    async def activities(self) -> ActivityService:
        """Activity import (the file decoders of adapters.files), listing, reading, deletion."""
        return ActivityService(
            storage=await self.storage(),
            clock=self.clock(),
            files=activity_files,
            max_upload_bytes=self.settings.max_upload_bytes,
        )

    async def athletes(self) -> AthleteService:
        """Athlete thresholds, their zones, and the rescoring they trigger."""
        return AthleteService(storage=await self.storage(), clock=self.clock())

    async def analytics(self) -> AnalyticsService:
        """The fitness timeline, volumes, zones, calendar, load analysis, records."""
        return AnalyticsService(storage=await self.storage(), clock=self.clock())

    async def demo(self) -> DemoSeeder:
        """The demo athlete seeder (`serve` with TA_DEMO_DATA)."""
        return DemoSeeder(
            storage=await self.storage(),
            clock=self.clock(),
            hasher=self.passwords(),
            activities=await self.activities(),
        )

    def override(self, name: str, instance: Any) -> None:
        """Replace one port with an instance (tests and embedders use this for fakes).

        Call before the first use of a service built on it (services are built once).
        """
        getattr(self._di, name).override(providers.Object(instance))
        self._accounts = None
        self._billing = None


class _BillingServices:
    """The billing use cases, built together because they share the gate and the catalog."""

    def __init__(
        self, *, storage: Storage, clock: Clock, payments: PaymentGateway, settings: Settings
    ) -> None:
        catalog = price_catalog(settings)
        grace_s = settings.billing_grace_period_s
        self.gate = FeatureGate(
            storage=storage, clock=clock, catalog=catalog, grace_period_s=grace_s
        )
        self.billing = BillingService(
            storage=storage,
            payments=payments,
            clock=clock,
            catalog=catalog,
            grace_period_s=grace_s,
            public_base_url=settings.effective_public_base_url,
        )
        self.export = ExportService(storage=storage, clock=clock, gate=self.gate)
        self.admin = BillingAdminService(
            storage=storage, clock=clock, catalog=catalog, grace_period_s=grace_s, gate=self.gate
        )


async def resolve[T](provider: providers.Provider[T]) -> T:
    """Call a provider, awaiting the result when it is an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    result: T = value
    return result


def build_container(settings: Settings) -> AppContainer:
    """Wire every adapter the settings select; call `start()` before use."""
    return AppContainer(settings)


@asynccontextmanager
async def running(settings: Settings, *, serving: bool = True) -> AsyncIterator[AppContainer]:
    """A started container for the duration of the block (the embedding entry point).

    `serving=False` opens storage only (no signing keys or sign-in provider are built).
    """
    container = build_container(settings)
    await container.start(serving=serving)
    try:
        yield container
    finally:
        await container.stop()
