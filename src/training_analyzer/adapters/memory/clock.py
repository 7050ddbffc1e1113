"""A clock tests can set and advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Stands still until told to move: `advance(seconds=...)` or `set(instant)`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("start: FakeClock needs an aware datetime")

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to an instant (aware)."""
        if instant.tzinfo is None:
            raise ValueError("instant: FakeClock needs an aware datetime")
        self._now = instant

    def advance(self, **delta: float) -> None:
        """Move forward by a timedelta given as keyword arguments (seconds=, days=, ...)."""
        self._now += timedelta(**delta)
