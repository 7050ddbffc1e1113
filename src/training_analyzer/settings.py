"""All configuration, read once from `TA_*` environment variables (and an optional `.env` file).

Every setting is typed and validated at start: a wrong value names the variable and what it
expected. Secrets are wrapped in `Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import msgspec

from training_analyzer.core.errors import ConfigurationError

PREFIX: Final = "TA_"


class Secret:
    """A string that never shows itself in repr, str or logs; call `reveal()` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value (only at the point of use)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Environment(enum.StrEnum):
    """Where the service runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class LogFormat(enum.StrEnum):
    """How log lines are rendered: console in a terminal, JSON otherwise (auto)."""

    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class LogLevel(enum.StrEnum):
    """The minimum level logged."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Workers = Annotated[int, msgspec.Meta(ge=1, le=64)]
# Access tokens: 1 to 60 minutes (the design says 15; longer widens the revocation lag).
AccessTokenTtl = Annotated[int, msgspec.Meta(ge=60, le=3600)]
# Refresh tokens: 1 hour to 1 year, sliding on each rotation.
RefreshTokenTtl = Annotated[int, msgspec.Meta(ge=3600, le=31_536_000)]
# Attempts allowed per rate-limit window.
AttemptLimit = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
# Rate-limit windows: 1 second to 1 day.
WindowSeconds = Annotated[int, msgspec.Meta(ge=1, le=86_400)]
# How long a past-due subscription keeps its tier: 0 to 90 days.
GraceSeconds = Annotated[int, msgspec.Meta(ge=0, le=7_776_000)]
# Activity uploads (a file or a zip, and what a zip unpacks to): 1 KiB to 1 GiB.
UploadBytes = Annotated[int, msgspec.Meta(ge=1024, le=1_073_741_824)]

GOOGLE_DISCOVERY_URL: Final = "https://accounts.google.com/.well-known/openid-configuration"
# RFC 7518 §3.2: an HS256 key at least as long as the hash output (256 bits).
MIN_JWT_SECRET_BYTES: Final = 32
_KID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def default_data_dir() -> Path:
    """The per-user data directory (XDG_DATA_HOME, else ~/.local/share) for the SQLite file."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "training-analyzer"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The whole configuration. Field `x` is read from `TA_X`; see `.env.example` and README."""

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Workers = 1
    database_url: str = ""
    # PostgreSQL: every pooled connection runs SET ROLE to this non-superuser role, so the
    # row-level-security policies bind even when the login is the schema owner. Empty: no
    # SET ROLE (the login itself must then be a plain role).
    database_app_role: str = "training_analyzer_app"
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.AUTO
    # Where browsers reach this service (Google redirect URIs are built from it);
    # empty means http://TA_HOST:TA_PORT.
    public_base_url: str = ""
    # Access-token signing keys `kid:secret,kid2:secret2`; the first signs, all verify.
    jwt_keys: Secret | None = None
    access_token_ttl_s: AccessTokenTtl = 900
    refresh_token_ttl_s: RefreshTokenTtl = 30 * 86_400
    # Google sign-in; without a client id a fake provider stands in (not in production).
    google_client_id: str = ""
    google_client_secret: Secret | None = None
    google_discovery_url: str = GOOGLE_DISCOVERY_URL
    # Browser origins allowed to call the API (CORS), `https://app.example.com,...`.
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    # Peers whose X-Forwarded-For is believed (IPs or networks); empty: trust nobody.
    trusted_proxies: tuple[str, ...] = ()
    login_limit_per_ip: AttemptLimit = 30
    login_limit_per_account: AttemptLimit = 10
    login_window_s: WindowSeconds = 900
    register_limit_per_ip: AttemptLimit = 10
    register_limit_per_account: AttemptLimit = 5
    register_window_s: WindowSeconds = 3600
    # Stripe; without a secret key a fake payment provider stands in (not in production).
    stripe_secret_key: Secret | None = None
    stripe_webhook_secret: Secret | None = None
    stripe_api_base_url: str = ""  # empty: Stripe's own; tests point it at a local fake
    stripe_price_pro_month: str = ""
    stripe_price_pro_year: str = ""
    stripe_price_coach_month: str = ""
    stripe_price_coach_year: str = ""
    billing_grace_period_s: GraceSeconds = 7 * 86_400
    # Activities: the upload limit (25 MiB) and the demo athlete seeded by `serve`.
    max_upload_bytes: UploadBytes = 25 * 1024 * 1024
    demo_data: bool = True

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ConfigurationError("TA_HOST: expected a host name or address, got an empty value")
        if self.public_base_url:
            _check_base_url(self.public_base_url)
        if self.jwt_keys is not None:
            parse_jwt_keys(self.jwt_keys)
        if self.google_client_id and self.google_client_secret is None:
            raise ConfigurationError(
                "TA_GOOGLE_CLIENT_SECRET: required when TA_GOOGLE_CLIENT_ID is set"
            )
        _check_discovery_url(self.google_discovery_url)
        for origin in self.cors_origins:
            _check_origin(origin)
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ConfigurationError(
                "TA_CORS_ORIGINS: a wildcard '*' cannot be combined with "
                "TA_CORS_ALLOW_CREDENTIALS=true (browsers refuse it, and it would let any site "
                "make credentialed calls); list the origins instead"
            )
        for proxy in self.trusted_proxies:
            _check_proxy(proxy)
        _check_stripe(self)

    @property
    def effective_public_base_url(self) -> str:
        """The public base URL in force, without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_production(self) -> bool:
        """True when TA_ENV is production."""
        return self.env is Environment.PRODUCTION

    def jwt_key_ring(self) -> list[tuple[str, str]]:
        """The configured access-token keys as (kid, secret), signing key first; [] if unset."""
        return [] if self.jwt_keys is None else parse_jwt_keys(self.jwt_keys)

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: TA_DATABASE_URL, else a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{default_data_dir() / 'training-analyzer.db'}"

    def describe(self) -> dict[str, str]:
        """Settings as printable strings, secrets masked (for `config` output and start-up logs)."""
        out: dict[str, str] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Secret):
                out[PREFIX + name.upper()] = repr(value)
            elif isinstance(value, tuple):
                out[PREFIX + name.upper()] = ",".join(value)
            else:
                out[PREFIX + name.upper()] = str(value)
        return out


def parse_jwt_keys(keys: Secret) -> list[tuple[str, str]]:
    """Split `kid:secret,kid2:secret2` into pairs; ConfigurationError (no secret shown) if bad."""
    ring: list[tuple[str, str]] = []
    for entry in keys.reveal().split(","):
        kid, sep, secret = entry.strip().partition(":")
        kid = kid.strip()
        if not sep or not kid or not secret:
            raise ConfigurationError(
                "TA_JWT_KEYS: expected kid:secret pairs separated by commas (value hidden)"
            )
        if len(kid) > 64 or not set(kid) <= _KID_CHARS:
            raise ConfigurationError(
                f"TA_JWT_KEYS: key id {kid!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if any(kid == known for known, _ in ring):
            raise ConfigurationError(f"TA_JWT_KEYS: key id {kid!r} appears twice")
        if len(secret.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
            raise ConfigurationError(
                f"TA_JWT_KEYS: the secret of key {kid!r} is shorter than "
                f"{MIN_JWT_SECRET_BYTES} bytes (generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        ring.append((kid, secret))
    return ring


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"TA_PUBLIC_BASE_URL: expected an absolute http(s) URL such as "
            f"https://api.example.com, got {url!r}"
        )


STRIPE_PRICE_FIELDS: Final = (
    "stripe_price_pro_month",
    "stripe_price_pro_year",
    "stripe_price_coach_month",
    "stripe_price_coach_year",
)


def _check_stripe(settings: Settings) -> None:
    if settings.stripe_secret_key is None:
        return
    if settings.stripe_webhook_secret is None:
        raise ConfigurationError(
            "TA_STRIPE_WEBHOOK_SECRET: required when TA_STRIPE_SECRET_KEY is set (the "
            "endpoint's signing secret, whsec_...)"
        )
    for name in STRIPE_PRICE_FIELDS:
        if not getattr(settings, name).strip():
            raise ConfigurationError(
                f"{PREFIX}{name.upper()}: required when TA_STRIPE_SECRET_KEY is set (a Stripe "
                "price id, price_...)"
            )
    if settings.stripe_api_base_url:
        parts = urlsplit(settings.stripe_api_base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigurationError(
                "TA_STRIPE_API_BASE_URL: expected an absolute http(s) URL, got "
                f"{settings.stripe_api_base_url!r}"
            )


def _check_discovery_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            f"TA_GOOGLE_DISCOVERY_URL: expected an absolute http(s) URL, got {url!r}"
        )


def _check_origin(origin: str) -> None:
    if origin == "*":
        return
    parts = urlsplit(origin)
    # An origin is scheme://host[:port] exactly (RFC 6454): no path, query or trailing slash.
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigurationError(
            f"TA_CORS_ORIGINS: expected origins like https://app.example.com (no path), "
            f"or '*', got {origin!r}"
        )


def _check_proxy(proxy: str) -> None:
    try:
        ipaddress.ip_network(proxy, strict=False)
    except ValueError:
        raise ConfigurationError(
            f"TA_TRUSTED_PROXIES: expected IP addresses or networks (10.0.0.0/8), got {proxy!r}"
        ) from None


SECRET_FIELDS: Final[frozenset[str]] = frozenset(
    name
    for name, typ in Settings.__annotations__.items()
    if "Secret" in str(typ)  # annotations are strings under `from __future__ import annotations`
)


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse `KEY=VALUE` lines (comments, blank lines, `export`, and quotes allowed)."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f".env line {lineno}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


_RANGES: Final[dict[str, str]] = {
    "Port": "an integer port between 1 and 65535",
    "Workers": "an integer between 1 and 64",
    "AccessTokenTtl": "a number of seconds between 60 and 3600",
    "RefreshTokenTtl": "a number of seconds between 3600 and 31536000",
    "AttemptLimit": "an integer between 1 and 1000000",
    "WindowSeconds": "a number of seconds between 1 and 86400",
    "GraceSeconds": "a number of seconds between 0 and 7776000 (90 days)",
    "UploadBytes": "a number of bytes between 1024 and 1073741824",
}


def _expected(field_type: Any) -> str:
    """Say in words what a field expects, for error messages."""
    text = str(field_type)
    if text in _RANGES:
        return _RANGES[text]
    if text == "bool":
        return "true or false"
    for enum_type in (Environment, LogFormat, LogLevel):
        if enum_type.__name__ in text:
            return "one of " + ", ".join(m.value for m in enum_type)
    return text


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings from the environment (which wins) and an optional `.env` file.

    Raises ConfigurationError naming the variable and what it expected.
    """
    env = dict(os.environ if environ is None else environ)
    raw: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        raw.update(parse_dotenv(dotenv.read_text(encoding="utf-8")))
    raw.update(env)
    fields = Settings.__struct_fields__
    annotations = Settings.__annotations__
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in fields:
            continue  # unknown TA_* variables are ignored so older configs keep working
        typ = str(annotations[name])
        if typ == "bool":
            lowered = value.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ConfigurationError(f"{key}: expected true or false, got {value!r}")
            values[name] = lowered in _TRUE
        elif "Secret" in typ:
            values[name] = Secret(value) if value else None
        elif typ.startswith("tuple[str"):
            values[name] = [item.strip() for item in value.split(",") if item.strip()]
        else:
            values[name] = value.strip()
    try:
        return msgspec.convert(
            values,
            Settings,
            strict=False,
            dec_hook=lambda t, v: v if isinstance(v, Secret) else msgspec.convert(v, t),
        )
    except msgspec.ValidationError as exc:
        field = _field_from_error(str(exc))
        if field is None:
            raise ConfigurationError(f"invalid configuration: {exc}") from None
        shown = "(hidden)" if field in SECRET_FIELDS else repr(values.get(field))
        raise ConfigurationError(
            f"{PREFIX}{field.upper()}: expected {_expected(annotations[field])}, got {shown}"
        ) from None


def _field_from_error(message: str) -> str | None:
    """Pull the field name out of msgspec's '... - at `$.field`' message."""
    marker = "`$."
    start = message.rfind(marker)
    if start < 0:
        return None
    end = message.find("`", start + len(marker))
    return message[start + len(marker) : end].split("[")[0].split(".")[0] or None
