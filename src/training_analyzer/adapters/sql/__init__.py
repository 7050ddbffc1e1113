"""SQL storage: one schema and one SQL set on SQLite (aiosqlite) and PostgreSQL (asyncpg).

URL forms (TA_DATABASE_URL):
- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (three slashes, then the path);
- `postgresql://user@host:port/db` or `postgres://...` (query parameters go to asyncpg, e.g.
  `?search_path=...` selects a schema);
- `memory://` selects the in-memory adapter (data lost on exit; demos and tests).
"""

from __future__ import annotations

from typing import Literal

from training_analyzer.core.errors import ConfigurationError

type Dialect = Literal["sqlite", "postgres", "memory"]


def parse_database_url(url: str) -> tuple[Dialect, str]:
    """Split a database URL into its dialect and the SQLite path or PostgreSQL DSN.

    Raises ConfigurationError naming the accepted forms for anything else.
    """
    value = url.strip()
    if value.startswith("sqlite:///"):
        path = value.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError(
                f"database URL {url!r}: missing file path (sqlite:///relative.db or "
                "sqlite:////absolute/path.db)"
            )
        return "sqlite", path
    if value.startswith(("postgresql://", "postgres://")):
        rest = value.split("://", 1)[1]
        if not rest or (rest.startswith(("/", "?")) and "host=" not in rest):
            raise ConfigurationError(
                "PostgreSQL database URL without a host: expected postgresql://user@host:port/db"
            )
        return "postgres", "postgresql://" + rest
    if value in ("memory://", "memory:"):
        return "memory", ""
    # Show the scheme (the usual mistake) but never the credentials before '@'.
    scheme, sep, rest = value.partition("://")
    shown = f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else value.rsplit("@", 1)[-1]
    raise ConfigurationError(
        f"unsupported database URL {shown!r}: expected sqlite:///path.db, "
        "postgresql://user@host:port/db or memory://"
    )
