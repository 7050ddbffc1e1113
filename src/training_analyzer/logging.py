"""structlog set-up for the entrypoints: console in a terminal, JSON otherwise, secrets redacted.

Only entrypoints call `configure_logging`; an application embedding the library owns its logging.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

import msgspec
import structlog

from training_analyzer.settings import LogFormat, LogLevel, Secret

REDACTED: Final = "[redacted]"

# Field names whose values are never logged, whatever their content.
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential|private[_-]?key"
    r"|signature|session[_-]?key|refresh|dsn)",
    re.IGNORECASE,
)
# Credentials embedded in URLs (postgresql://user:password@host) inside any string value.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _scrub(value: Any, depth: int = 0) -> Any:
    """Redact secrets inside one value (strings, Secrets, nested mappings and lists)."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, str):
        return _BEARER.sub(
            r"\1" + REDACTED, _URL_PASSWORD.sub(r"\g<scheme>" + REDACTED + "@", value)
        )
    if depth > 4:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-named fields, Secret values and URL passwords."""
    for key in list(event_dict):
        if key == "event":
            event_dict[key] = _scrub(event_dict[key])
        elif _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _json_serializer(obj: Any, **_: Any) -> str:
    return msgspec.json.encode(obj, enc_hook=str).decode()


def configure_logging(
    *, level: LogLevel = LogLevel.INFO, fmt: LogFormat = LogFormat.AUTO, stream: Any = None
) -> None:
    """Configure structlog (and stdlib logging) once for an entrypoint process."""
    out = stream if stream is not None else sys.stderr
    use_console = fmt is LogFormat.CONSOLE or (
        fmt is LogFormat.AUTO and hasattr(out, "isatty") and out.isatty()
    )
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=use_console and out.isatty())
        if use_console
        else structlog.processors.JSONRenderer(serializer=_json_serializer)
    )
    numeric = logging.getLevelNamesMapping()[level.value.upper()]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, redact_secrets, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Stdlib loggers (uvicorn, asyncio, libraries) render through the same processors, so
    # every line has one format (JSON off a terminal) and passes the same redaction.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_training_analyzer", False):
            root.removeHandler(old)
    handler._training_analyzer = True  # type: ignore[attr-defined]  # marks our handler for reconfiguration
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.setLevel(logging.NOTSET)  # an earlier uvicorn.run may have set its own
        server_logger.propagate = True
    # uvicorn's access line carries the query string (OAuth codes and states live there):
    # keep it silent; the request middleware logs method, path and status with a request id.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
