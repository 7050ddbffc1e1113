"""Rate limits on unauthenticated entry points (login, register, Google sign-in), shared by
every instance through the database.

Each rule is a fixed window per key: the first attempt opens a window of `window_s` seconds
and every attempt in it counts, refused ones included (so hammering does not help). An attempt
is refused when any of its keys has counted more than its limit in the current window; the
answer says when the latest of those windows ends (`Retry-After`). Keys name what they count
(`login:ip:203.0.113.9`, `login:account:<sha256 of the email>`): an account key holds a digest,
never the address.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import msgspec
import structlog

from training_analyzer.core.errors import InvalidInput, RateLimited
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage

log = structlog.get_logger(__name__)


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    """At most `limit` attempts per `window_s` seconds."""

    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or self.limit < 1:
            raise InvalidInput("limit", f"must be an integer >= 1, got {self.limit!r}")
        if isinstance(self.window_s, bool) or self.window_s < 1:
            raise InvalidInput("window_s", f"must be an integer >= 1, got {self.window_s!r}")


class RateRule(msgspec.Struct, frozen=True, kw_only=True):
    """One counter an attempt is checked against."""

    key: str
    limit: RateLimit


def account_key(action: str, email: str) -> str:
    """The counter key of an account (a normalised email) for `action`, as a digest."""
    return f"{action}:account:{hashlib.sha256(email.encode('utf-8')).hexdigest()}"


def ip_key(action: str, ip: str | None) -> str:
    """The counter key of a client address for `action` ("unknown" when the address is not)."""
    return f"{action}:ip:{ip or 'unknown'}"


def _kind(key: str) -> str:
    """What a key counts ("ip", "account") for logs and the problem body; never the value."""
    parts = key.split(":")
    return parts[1] if len(parts) > 2 else "key"


class RateLimiter:
    """Counts attempts in the database and refuses those over a limit."""

    def __init__(self, *, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def check(self, *, action: str, rules: Sequence[RateRule]) -> None:
        """Count one attempt against every rule; raise RateLimited if any is over its limit.

        All counters move in one transaction. RateLimited carries `retry_after_s`, the whole
        seconds until the latest exceeded window ends (at least 1).
        """
        if not rules:
            return
        now = self._clock.now()
        exceeded = []
        async with self._storage.system(reason=f"rate-limit:{action}") as uow:
            for rule in rules:
                hit = await uow.rate_limits.hit(key=rule.key, window_s=rule.limit.window_s, now=now)
                if hit.count > rule.limit.limit:
                    exceeded.append(hit)
        if exceeded:
            reset_at = max(hit.reset_at for hit in exceeded)
            retry_after_s = max(1, math.ceil((reset_at - now).total_seconds()))
            kinds = sorted({_kind(hit.key) for hit in exceeded})
            log.warning("rate_limit.refused", action=action, by=",".join(kinds))
            raise RateLimited(
                "too many attempts; try again later",
                retry_after_s=retry_after_s,
                limited_by=",".join(kinds),
            )
