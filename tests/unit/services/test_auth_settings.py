"""Auth settings: typed and validated at start, secrets hidden; production refuses unsafe
defaults; the container picks the real or the development identity adapters."""

from __future__ import annotations

import pytest

from training_analyzer.adapters.identity.google_oidc import AuthlibGoogleOidcProvider
from training_analyzer.adapters.memory.identity import FakeOidcProvider
from training_analyzer.container import (
    auth_policy,
    build_container,
    check_settings_for_serving,
)
from training_analyzer.core.errors import ConfigurationError
from training_analyzer.settings import Environment, Secret, Settings, load_settings

KEY = "k" * 32  # RFC 7518 §3.2: an HS256 key of at least 256 bits


def test_auth_defaults_follow_the_issue() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.access_token_ttl_s == 15 * 60
    assert settings.refresh_token_ttl_s == 30 * 86_400
    assert settings.jwt_keys is None
    assert settings.cors_origins == ()
    assert settings.cors_allow_credentials is False
    assert settings.trusted_proxies == ()
    assert settings.effective_public_base_url == "http://127.0.0.1:8000"


def test_lists_and_keys_are_parsed_from_strings() -> None:
    settings = load_settings(
        {
            "TA_JWT_KEYS": f"new:{KEY}x, old:{KEY}y",
            "TA_CORS_ORIGINS": "https://app.example.com, http://localhost:5173",
            "TA_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1",
            "TA_LOGIN_LIMIT_PER_IP": "7",
            "TA_PUBLIC_BASE_URL": "https://api.example.com/",
        },
        dotenv=None,
    )
    assert settings.jwt_key_ring() == [("new", KEY + "x"), ("old", KEY + "y")]
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert settings.login_limit_per_ip == 7
    assert settings.effective_public_base_url == "https://api.example.com"
    shown = settings.describe()
    assert KEY not in str(shown)
    assert shown["TA_CORS_ORIGINS"] == "https://app.example.com,http://localhost:5173"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"TA_CORS_ORIGINS": "*", "TA_CORS_ALLOW_CREDENTIALS": "true"},
            "TA_CORS_ORIGINS: a wildcard '*' cannot be combined with TA_CORS_ALLOW_CREDENTIALS",
        ),
        ({"TA_CORS_ORIGINS": "https://app.example.com/"}, "TA_CORS_ORIGINS: expected origins"),
        ({"TA_CORS_ORIGINS": "app.example.com"}, "TA_CORS_ORIGINS: expected origins"),
        ({"TA_JWT_KEYS": "no-colon"}, "TA_JWT_KEYS: expected kid:secret pairs"),
        ({"TA_JWT_KEYS": "k1:short"}, "TA_JWT_KEYS: the secret of key 'k1' is shorter than 32"),
        ({"TA_JWT_KEYS": f"a:{KEY},a:{KEY}"}, "TA_JWT_KEYS: key id 'a' appears twice"),
        ({"TA_JWT_KEYS": f"bad kid:{KEY}"}, "TA_JWT_KEYS: key id 'bad kid' must be"),
        ({"TA_GOOGLE_CLIENT_ID": "x.apps"}, "TA_GOOGLE_CLIENT_SECRET: required"),
        ({"TA_TRUSTED_PROXIES": "my-proxy"}, "TA_TRUSTED_PROXIES: expected IP addresses"),
        ({"TA_PUBLIC_BASE_URL": "ftp://x"}, "TA_PUBLIC_BASE_URL: expected an absolute"),
        ({"TA_ACCESS_TOKEN_TTL_S": "30"}, "TA_ACCESS_TOKEN_TTL_S: expected a number of seconds"),
        ({"TA_LOGIN_WINDOW_S": "0"}, "TA_LOGIN_WINDOW_S: expected a number of seconds"),
        ({"TA_LOGIN_LIMIT_PER_IP": "many"}, "TA_LOGIN_LIMIT_PER_IP: expected an integer"),
    ],
)
def test_a_bad_auth_setting_names_the_variable(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(environ, dotenv=None)
    assert str(info.value).startswith(expected)


def test_a_bad_key_never_shows_its_secret() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"TA_JWT_KEYS": "k1:tiny-secret-value"}, dotenv=None)
    assert "tiny-secret-value" not in str(info.value)


def _production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.PRODUCTION,
        "database_url": "memory://",
        "jwt_keys": Secret(f"k1:{KEY}"),
        "public_base_url": "https://api.example.com",
        "google_client_id": "x.apps.googleusercontent.com",
        "google_client_secret": Secret("GOCSPX-x"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [({"jwt_keys": None}, "TA_JWT_KEYS"), ({"public_base_url": ""}, "TA_PUBLIC_BASE_URL")],
)
def test_production_refuses_to_serve_without_keys_or_public_url(
    overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_settings_for_serving(_production(**overrides))
    assert str(info.value).startswith(f"{variable}: required in production")


async def test_production_refuses_the_fake_sign_in_provider() -> None:
    container = build_container(_production(google_client_id="", google_client_secret=None))
    with pytest.raises(ConfigurationError, match="TA_GOOGLE_CLIENT_ID: required in production"):
        container.oidc()


def test_development_signs_with_an_ephemeral_key_and_the_fake_provider() -> None:
    container = build_container(Settings(env=Environment.DEVELOPMENT, database_url="memory://"))
    issuer = container.access_tokens()
    assert issuer.signing_key_id.startswith("ephemeral-")  # type: ignore[attr-defined]
    provider = container.oidc()
    assert isinstance(provider, FakeOidcProvider)
    assert provider.name == "fake"


def test_a_google_client_id_selects_the_authlib_adapter() -> None:
    container = build_container(_production())
    provider = container.oidc()
    assert isinstance(provider, AuthlibGoogleOidcProvider)
    assert provider.name == "google"


def test_the_policy_takes_the_limits_and_allowed_return_origins_from_settings() -> None:
    policy = auth_policy(
        Settings(
            public_base_url="https://api.example.com",
            cors_origins=("https://App.example.com", "*"),
            login_limit_per_account=4,
            login_window_s=120,
        )
    )
    assert policy.login_per_account.limit == 4
    assert policy.login_per_account.window_s == 120
    assert policy.return_origins == {"https://api.example.com", "https://app.example.com"}
