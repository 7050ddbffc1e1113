"""Logging: JSON lines off a terminal, secrets never rendered."""

from __future__ import annotations

import io
import json

import structlog

from training_analyzer.logging import configure_logging
from training_analyzer.settings import LogFormat, LogLevel, Secret


def _log_one(**fields: object) -> dict[str, object]:
    out = io.StringIO()
    configure_logging(level=LogLevel.INFO, fmt=LogFormat.AUTO, stream=out)
    structlog.get_logger("t").info("user.logged_in", **fields)
    line = out.getvalue().strip().splitlines()[-1]
    parsed: dict[str, object] = json.loads(line)  # not a terminal -> JSON
    return parsed


def test_secret_named_fields_are_redacted() -> None:
    entry = _log_one(password="hunter2hunter2", access_token="eyJabc", user_id="u1")
    assert entry["password"] == "[redacted]"
    assert entry["access_token"] == "[redacted]"
    assert entry["user_id"] == "u1"
    assert entry["event"] == "user.logged_in"


def test_secret_values_and_url_passwords_are_redacted_anywhere() -> None:
    entry = _log_one(
        key=Secret("sk_test_123"),
        url="postgresql://app:s3cr3t@db:5432/prod",
        header="Bearer abc.def.ghi",
        nested={"client_secret": "xyz", "ok": "visible"},
    )
    text = json.dumps(entry)
    assert "sk_test_123" not in text
    assert "s3cr3t" not in text
    assert "abc.def.ghi" not in text
    assert "xyz" not in text
    assert entry["nested"] == {"client_secret": "[redacted]", "ok": "visible"}
    assert entry["url"] == "postgresql://app:[redacted]@db:5432/prod"


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging(level=LogLevel.WARNING, fmt=LogFormat.JSON, stream=out)
    structlog.get_logger("t").info("quiet")
    structlog.get_logger("t").warning("loud")
    lines = out.getvalue().strip().splitlines()
    assert [json.loads(x)["event"] for x in lines] == ["loud"]


def test_stdlib_loggers_render_as_json_with_redaction() -> None:
    import logging

    out = io.StringIO()
    configure_logging(level=LogLevel.INFO, fmt=LogFormat.JSON, stream=out)
    logging.getLogger("uvicorn.error").info("connecting to postgresql://app:pw123@db/x")
    entry = json.loads(out.getvalue().strip().splitlines()[-1])
    assert entry["logger"] == "uvicorn.error"
    assert entry["level"] == "info"
    assert "pw123" not in entry["event"]


def test_uvicorn_access_lines_never_reach_the_log() -> None:
    import logging

    out = io.StringIO()
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # as a prior uvicorn.run leaves it
    configure_logging(level=LogLevel.INFO, fmt=LogFormat.JSON, stream=out)
    logging.getLogger("uvicorn.access").info("GET /auth/google/callback?code=abc&state=xyz")
    logging.getLogger("uvicorn.error").info("server started")
    text = out.getvalue()
    assert "code=abc" not in text
    assert "server started" in text
