"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Reads the operating system's clock."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)
