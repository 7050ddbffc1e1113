"""Settings: typed, validated, named errors, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from training_analyzer.core.errors import ConfigurationError
from training_analyzer.settings import (
    Environment,
    LogFormat,
    Secret,
    Settings,
    load_settings,
    parse_dotenv,
)


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.env is Environment.DEVELOPMENT
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("training-analyzer/training-analyzer.db")


def test_values_are_typed_from_strings() -> None:
    settings = load_settings(
        {"TA_PORT": "9001", "TA_WORKERS": "2", "TA_LOG_FORMAT": "json", "TA_ENV": "production"},
        dotenv=None,
    )
    assert settings.port == 9001
    assert settings.workers == 2
    assert settings.log_format is LogFormat.JSON
    assert settings.env is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TA_PORT", "eighty", "TA_PORT: expected an integer port between 1 and 65535"),
        ("TA_PORT", "70000", "TA_PORT: expected an integer port between 1 and 65535"),
        ("TA_WORKERS", "0", "TA_WORKERS: expected an integer between 1 and 64"),
        ("TA_LOG_LEVEL", "loud", "TA_LOG_LEVEL: expected one of debug, info, warning, error"),
        ("TA_ENV", "prod", "TA_ENV: expected one of development, production, test"),
        ("TA_HOST", " ", "TA_HOST: expected a host name or address"),
    ],
)
def test_a_wrong_value_names_the_variable_and_what_it_expected(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({variable: value}, dotenv=None)
    assert str(info.value).startswith(expected)


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nTA_PORT=7000\nexport TA_HOST='10.1.2.3'\n\nTA_WORKERS=\"3\"\n")
    settings = load_settings({"TA_PORT": "7100"}, dotenv=dotenv)
    assert settings.port == 7100
    assert settings.host == "10.1.2.3"
    assert settings.workers == 3


def test_dotenv_rejects_a_line_without_equals() -> None:
    with pytest.raises(ConfigurationError, match="line 2"):
        parse_dotenv("TA_PORT=1\nnonsense\n")


def test_unknown_prefixed_variables_are_ignored() -> None:
    assert load_settings({"TA_SOMETHING_ELSE": "x"}, dotenv=None) == Settings()


def test_secret_never_shows_its_value() -> None:
    secret = Secret("sk_live_abc123")
    assert "sk_live_abc123" not in repr(secret)
    assert "sk_live_abc123" not in str(secret)
    assert "sk_live_abc123" not in f"{secret}"
    assert secret.reveal() == "sk_live_abc123"
